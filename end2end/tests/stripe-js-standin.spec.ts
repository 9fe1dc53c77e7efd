import { test, expect, pageOfItsOwn } from './fixtures';
import type { FrameLocator, Page } from '@playwright/test';
import { startMerchant, stripeApi, type Merchant } from '../stripe-js/merchant';

// The emulator's Stripe.js stand-in on a bare merchant page of another origin: typing a
// card into its iframe, createConfirmationToken, a server-side create-and-confirm, and
// handleNextAction through the 3-D Secure modal.

let merchant: Merchant;

test.beforeAll(async () => {
  merchant = await startMerchant();
});

test.afterAll(async () => {
  await merchant.stop();
});

function paymentFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe[name^="__stripe_emulator_payment"]');
}

const ADDRESS_FRAME = 'iframe[name^="__stripe_emulator_address"]';

function addressFrame(page: Page): FrameLocator {
  return page.frameLocator(ADDRESS_FRAME);
}

/** Types a shipping address into the Address Element, a field at a time. */
async function typeShipping(address: FrameLocator, fields: { name: string; line1: string; city: string; postal_code: string }) {
  for (const [name, value] of Object.entries(fields)) await address.locator(`[name="${name}"]`).fill(value);
}

async function open(page: Page, query = '') {
  await page.goto(merchant.pageUrl + query);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
}

async function typeCard(page: Page, number: string, expiry = '12 / 34', cvc = '123') {
  const frame = paymentFrame(page);
  await frame.locator('[name="number"]').fill(number);
  await frame.locator('[name="expiry"]').pressSequentially(expiry.replace(/\D/g, ''));
  await frame.locator('[name="cvc"]').fill(cvc);
  await frame.locator('[name="country"]').selectOption('US');
  await frame.locator('[name="postalCode"]').fill('10001');
}

test('a Visa card pays through the stand-in and the server confirms it', async ({ page }) => {
  await open(page);
  await typeCard(page, '4242424242424242');
  await expect(page.locator('#events')).toContainText('"complete":true');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('status')).toHaveText('succeeded');
});

test('card fields format as typed and report what is incomplete', async ({ page }) => {
  await open(page);
  const frame = paymentFrame(page);
  await frame.locator('[name="number"]').fill('4242424242424242');
  await expect(frame.locator('[name="number"]')).toHaveValue('4242 4242 4242 4242');
  await frame.locator('[name="expiry"]').pressSequentially('1234');
  await expect(frame.locator('[name="expiry"]')).toHaveValue('12 / 34');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('alert').first()).toHaveText("Your card's security code is incomplete.");
  await expect(frame.getByText("Your card's security code is incomplete.")).toBeVisible();
});

test('a declined card shows the decline and the page never sees the card number', async ({ page }) => {
  const requests: string[] = [];
  page.on('request', (request) => {
    if (request.frame() === page.mainFrame()) requests.push(`${request.url()} ${request.postData() ?? ''}`);
  });
  await open(page);
  await typeCard(page, '4000000000009995');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.locator('#error')).toHaveText('Your card has insufficient funds.');
  expect(requests.join('\n')).not.toContain('4000000000009995');
});

test('3-D Secure: Complete pays, Fail reports the failure', async ({ page }) => {
  await open(page);
  await typeCard(page, '4000002500003155');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page.getByRole('status')).toHaveText('succeeded');

  await open(page);
  await typeCard(page, '4000000000003220');
  await page.getByRole('button', { name: 'Pay' }).click();
  await page.locator('#test-source-fail-3ds').click();
  await expect(page.locator('#error')).toContainText('failed authentication');
});

test('a redirect method goes to the bank page and returns to return_url', async ({ page }) => {
  await open(page);
  await paymentFrame(page).getByRole('tab', { name: 'iDEAL' }).click();
  await page.getByRole('button', { name: 'Pay' }).click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page).toHaveURL(/\/complete\?payment_intent=pi_.*redirect_status=succeeded/);
});

test('saved cards from a customer session can be chosen, need the CVC again, and can be removed', async ({ page }) => {
  const customer = await stripeApi(merchant.emulatorUrl, '/v1/customers', { email: 'saved@example.com' });
  await stripeApi(merchant.emulatorUrl, '/v1/payment_methods/pm_card_visa/attach', { customer: customer.id });
  const session = await stripeApi(merchant.emulatorUrl, '/v1/customer_sessions', {
    customer: customer.id,
    'components[payment_element][enabled]': 'true',
    'components[payment_element][features][payment_method_redisplay]': 'enabled',
    'components[payment_element][features][payment_method_remove]': 'enabled',
    'components[payment_element][features][payment_method_allow_redisplay_filters][]': 'unspecified',
  });
  await open(page, `?session=${session.client_secret}&customer=${customer.id}&cvc=1`);
  const frame = paymentFrame(page);
  await expect(frame.getByTestId('saved-payment-method-4242')).toBeVisible();
  await expect(page.locator('#events')).toContainText('"payment_method":{"id":"pm_');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('alert').first()).toHaveText("Your card's security code is incomplete.");
  await frame.locator('[name="savedCvc"]').fill('123');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('status')).toHaveText('succeeded');

  await open(page, `?session=${session.client_secret}&customer=${customer.id}`);
  await frame.getByRole('button', { name: /Remove Visa/ }).click();
  await expect(frame.getByTestId('saved-payment-method-4242')).toHaveCount(0);
});

test('the Address Element gives the token its shipping address', async ({ page }) => {
  await open(page, '?address=1');
  const address = addressFrame(page);
  await typeCard(page, '4242424242424242');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.locator('#error')).toHaveText('This field is incomplete.');
  await typeShipping(address, { name: 'Jenny Rosen', line1: '1 Rue de Rivoli', city: 'Paris', postal_code: '75001' });
  await address.locator('[name="country"]').selectOption('FR');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('status')).toHaveText('succeeded');
  await expect(page.locator('#shipping')).toHaveText('Ships to Jenny Rosen');
});

test('the Address Element asks a US address its state, a Canadian one its province, and a French one neither', async ({ page }) => {
  await open(page, '?address=1');
  const address = addressFrame(page);
  const country = address.locator('[name="country"]');
  const state = address.locator('[name="state"]');
  // An English page starts in the United States.
  await expect(country).toHaveValue('US');
  await expect(address.getByLabel('State', { exact: true })).toBeVisible();
  // On a phone the state takes a line of its own, and the frame gives it back without.
  await page.setViewportSize({ width: 360, height: 740 });
  const height = () => page.locator(ADDRESS_FRAME).evaluate((frame) => frame.getBoundingClientRect().height);
  await expect.poll(height).toBeGreaterThan(0);
  const withState = await height();
  await country.selectOption('FR');
  await expect(state).toBeHidden();
  await expect.poll(height).toBeLessThan(withState);
  await country.selectOption('CA');
  await expect(address.getByLabel('Province', { exact: true })).toBeVisible();
  await state.selectOption('QC');
  // Another country's list: a province is no state of the United States.
  await country.selectOption('US');
  await expect(state).toHaveValue('');

  await typeCard(page, '4242424242424242');
  await typeShipping(address, { name: 'Jenny Rosen', line1: '20 W 34th St', city: 'New York', postal_code: '10118' });
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.locator('#error')).toHaveText('This field is incomplete.');
  await expect(state).toBeFocused();
  await expect(state).toHaveAttribute('aria-invalid', 'true');
  await state.selectOption('NY');
  await expect(state).not.toHaveAttribute('aria-invalid');
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('status')).toHaveText('succeeded');
  await expect(page.locator('#shipping')).toHaveText('Ships to Jenny Rosen, NY');
});

test('setupFutureUsage and a CustomerSession save usage together are refused; either alone shows the save box', async ({ page }) => {
  const customer = await stripeApi(merchant.emulatorUrl, '/v1/customers', { email: 'keeps@example.com' });
  const session = (saveUsage?: string) =>
    stripeApi(merchant.emulatorUrl, '/v1/customer_sessions', {
      customer: customer.id,
      'components[payment_element][enabled]': 'true',
      'components[payment_element][features][payment_method_save]': 'enabled',
      ...(saveUsage ? { 'components[payment_element][features][payment_method_save_usage]': saveUsage } : {}),
    });
  // Both: Stripe.js refuses to render (an IntegrationError since 2026-03-25.dahlia).
  await open(page, `?session=${(await session('off_session')).client_secret}&sfu=off_session`);
  await expect(page.getByRole('alert').first()).toContainText('IntegrationError');
  // setupFutureUsage alone: the box is offered (it decides whether the card is shown again).
  await open(page, `?session=${(await session()).client_secret}&sfu=off_session&customer=${customer.id}`);
  await expect(page.getByRole('alert').first()).toHaveText('');
  await expect(paymentFrame(page).locator('#save')).toBeVisible();
  // The save usage alone: the box too.
  await open(page, `?session=${(await session('on_session')).client_secret}`);
  await expect(paymentFrame(page).locator('#save')).toBeVisible();
});

test('allowedPaymentMethodTypes limits the methods offered; the paymentMethodTypes of earlier releases is ignored with a warning', async ({ page, context }) => {
  await open(page, '?allowed=card,sepa_debit');
  await expect(paymentFrame(page).getByTestId('payment-method-sepa_debit')).toBeVisible();
  await expect(paymentFrame(page).getByTestId('payment-method-card')).toBeVisible();
  await expect(paymentFrame(page).getByTestId('payment-method-ideal')).toHaveCount(0);
  // (On a page of its own: the fixture's page fails a test on that warning.)
  const { page: earlier } = await pageOfItsOwn(context);
  const warnings: string[] = [];
  earlier.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
  await open(earlier, '?types=card');
  await expect(paymentFrame(earlier).getByTestId('payment-method-ideal')).toBeVisible();
  expect(warnings).toContainEqual(expect.stringContaining('paymentMethodTypes is not a recognized parameter'));
});

test('captureMethod manual offers only methods that can be captured later', async ({ page }) => {
  await open(page);
  await expect(paymentFrame(page).getByTestId('payment-method-sepa_debit')).toBeVisible();
  await open(page, '?capture=manual');
  await expect(paymentFrame(page).getByTestId('payment-method-card')).toBeVisible();
  await expect(paymentFrame(page).getByTestId('payment-method-sepa_debit')).toHaveCount(0);
  await expect(paymentFrame(page).getByTestId('payment-method-ideal')).toHaveCount(0);
});
