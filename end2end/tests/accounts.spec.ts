import { test, expect, loseFirstReply, pageOfItsOwn, PASSWORD, signUp, typeAddress, typeCardDetails, uniqueEmail } from './fixtures';
import type { Page } from '@playwright/test';
import { VARIANTS } from '../global-setup';

// Returning shoppers: accounts, cards saved while paying (a CustomerSession shows them
// in the Payment Element), paying with a saved card, removing it, adding one in setup
// mode, and the walls between accounts.

async function mugInCart(page: Page, gotoHydrated: (path: string) => Promise<void>) {
  await gotoHydrated('/');
  const before = Number(await page.getByTestId('cart-count').textContent());
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText(String(before + 1));
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('pay-button')).toBeEnabled();
}

const paymentFrame = (page: Page) => page.frameLocator('[data-testid="payment-element"] iframe');

/** Pays for the cart with a new card, ticking "save". */
async function payAndSave(page: Page, number: string) {
  await typeAddress(page);
  await typeCardDetails(page, number);
  await paymentFrame(page).locator('[name="save"]').check();
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
}

test('a returning shopper pays with a saved card, then removes it', async ({ page, gotoHydrated }) => {
  await signUp(page, gotoHydrated, uniqueEmail('jenny'));
  await mugInCart(page, gotoHydrated);
  await payAndSave(page, '4242424242424242');

  // Second purchase: the Payment Element offers the saved card, the page names it.
  await mugInCart(page, gotoHydrated);
  await expect(paymentFrame(page).getByTestId('saved-payment-method-4242')).toBeVisible();
  await expect(page.getByTestId('saved-method-4242')).toContainText('Visa •••• 4242');
  // The Address Element has where the last order shipped: nothing to type again.
  const address = page.frameLocator('[data-testid="address-element"] iframe');
  await expect(address.locator('[name="name"]')).toHaveValue('Jenny Rosen');
  await expect(address.locator('[name="line1"]')).toHaveValue('1 Rue de Rivoli');
  await expect(address.locator('[name="country"]')).toHaveValue('FR');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await page.getByRole('link', { name: 'View your order' }).click();
  expect(await page.getByTestId('order-shipping').innerText()).toBe('Jenny Rosen\n1 Rue de Rivoli\n75001 Paris\nFrance');

  // The account page lists it; removing it removes it everywhere.
  await gotoHydrated('/account');
  await expect(page.getByTestId('saved-method-4242')).toContainText('Expires 12/34');
  await expect(page.locator('[data-testid^="account-order-"]')).toHaveCount(2);
  await page.getByTestId('remove-method-4242').click();
  await expect(page.getByTestId('no-saved-cards')).toBeVisible();
  await expect(page.getByTestId('saved-method-4242')).toHaveCount(0);
  await mugInCart(page, gotoHydrated);
  await expect(paymentFrame(page).locator('[name="number"]')).toBeVisible();
  await expect(paymentFrame(page).getByTestId('saved-payment-method-4242')).toHaveCount(0);
  await expect(page.getByTestId('saved-method-4242')).toHaveCount(0);
});

test('the guest cart comes along on sign-in, and signing out leaves it behind', async ({ page, gotoHydrated }) => {
  const email = uniqueEmail('carry');
  await signUp(page, gotoHydrated, email);
  await page.getByTestId('sign-out-button').click();
  await expect(page.getByTestId('sign-in-button')).toBeVisible();

  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-linen-tote').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/account');
  await page.locator('#sign-in-email').fill(email);
  await page.locator('#sign-in-password').fill(PASSWORD);
  await page.getByTestId('sign-in-button').click();
  await expect(page.getByTestId('signed-in-as')).toContainText(email);
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await page.getByTestId('sign-out-button').click();
  await expect(page.getByTestId('cart-count')).toHaveText('0');
});

test.describe('wrong passwords', () => {
  test.use({ expectedErrorStatuses: [400] });

  test('a wrong password is refused with a message that does not say which part was wrong, and the email stays typed', async ({ page, gotoHydrated }) => {
    const email = uniqueEmail('typo');
    await signUp(page, gotoHydrated, email);
    await page.getByTestId('sign-out-button').click();
    await page.locator('#sign-in-email').fill(email);
    await page.locator('#sign-in-password').fill('not the password');
    await page.getByTestId('sign-in-button').click();
    await expect(page.getByRole('alert').filter({ hasText: 'email or password' })).toBeVisible();
    await expect(page.getByTestId('sign-in-button')).toBeVisible();
    // Only the password is to be typed again (never kept).
    await expect(page.locator('#sign-in-email')).toHaveValue(email);
    await expect(page.locator('#sign-in-password')).toHaveValue('');
    expect(page.url()).not.toContain(email.split('@')[0]);
  });
});

test('a card is added in setup mode through 3-D Secure', async ({ page, gotoHydrated }) => {
  await signUp(page, gotoHydrated, uniqueEmail('setup'));
  await expect(page.getByTestId('no-saved-cards')).toBeVisible();
  await expect(page.getByTestId('add-card-button')).toBeEnabled();
  await typeCardDetails(page, '4000002500003155');
  await page.getByTestId('add-card-button').click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page.getByTestId('setup-result')).toHaveText('Your card was saved.');
  await expect(page.getByTestId('saved-method-3155')).toBeVisible();
  // The form is emptied for another card: pressing Save again saves nothing twice.
  await expect(paymentFrame(page).locator('[name="number"]')).toHaveValue('');
  await page.getByTestId('add-card-button').click();
  await expect(page.getByTestId('setup-error')).toHaveText('Your card number is incomplete.');
  await expect(page.locator('[data-testid^="saved-method-"]')).toHaveCount(1);
  // It is offered at checkout.
  await mugInCart(page, gotoHydrated);
  await expect(page.getByTestId('saved-method-3155')).toBeVisible();
});

test('a card whose saving reply is lost is asked for again, and saved once', async ({ context }) => {
  const { page, gotoHydrated } = await pageOfItsOwn(context);
  await signUp(page, gotoHydrated, uniqueEmail('lost-setup'));
  await expect(page.getByTestId('add-card-button')).toBeEnabled();
  await typeCardDetails(page, '4242424242424242');
  // The first setup reaches the server, which saves the card; its reply is then lost.
  const setups = await loseFirstReply(page, '**/api/account/confirm-setup');
  await page.getByTestId('add-card-button').click();
  await expect(page.getByTestId('setup-result')).toHaveText('No answer about your card yet. Checking whether it was saved…');
  await expect(page.getByTestId('setup-result')).toHaveText('Your card was saved.');
  await expect(page.getByTestId('setup-error')).toHaveText(/^\s*$/);
  expect(setups()).toBe(2);
  await gotoHydrated('/account');
  await expect(page.locator('[data-testid^="saved-method-"]')).toHaveCount(1);
});

test.describe('two accounts', () => {
  test.use({ expectedErrorStatuses: [404] });

  test("a second account never sees or touches the first one's cards and orders", async ({ page, gotoHydrated, browser }) => {
    await signUp(page, gotoHydrated, uniqueEmail('first'));
    await mugInCart(page, gotoHydrated);
    await payAndSave(page, '5555555555554444');
    const orderHref = await page.getByRole('link', { name: 'View your order' }).getAttribute('href');
    await mugInCart(page, gotoHydrated);
    const firstCard = (await (await page.request.post('/api/checkout/view')).json()).saved_methods[0].id as string;
    expect(firstCard).toMatch(/^pm_/);

    const other = await browser.newContext();
    const second = await other.newPage();
    await second.goto('/account');
    await expect(second.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await second.locator('#sign-up-email').fill(uniqueEmail('second'));
    await second.locator('#sign-up-password').fill(PASSWORD);
    await second.getByTestId('sign-up-button').click();
    await expect(second.getByTestId('no-saved-cards')).toBeVisible();
    await expect(second.getByText('No orders yet.')).toBeVisible();
    await expect(second.getByTestId('saved-method-4444')).toHaveCount(0);

    // Direct calls with the first account's ids: refused, and nothing changes.
    const removal = await second.request.post('/api/account/remove-payment-method', { form: { payment_method: firstCard } });
    expect(removal.status()).toBe(404);
    const order = await second.request.post('/api/orders/get', { form: { id: orderHref!.split('/').pop()! } });
    expect(order.status()).toBe(404);
    const methods = await (await second.request.post('/api/account/payment-methods')).json();
    expect(methods).toEqual([]);
    await other.close();

    const stillThere = await (await page.request.post('/api/account/payment-methods')).json();
    expect(stillThere.map((m: { id: string }) => m.id)).toEqual([firstCard]);
  });
});

test.describe('CVC re-collection and Stripe faults (own storefront)', () => {
  test.describe.configure({ mode: 'serial' });
  test.use({ baseURL: VARIANTS.cvc.url });

  test('a saved card asks for its CVC again before paying', async ({ page, gotoHydrated }) => {
    await signUp(page, gotoHydrated, uniqueEmail('cvc'));
    await mugInCart(page, gotoHydrated);
    await payAndSave(page, '4242424242424242');
    await mugInCart(page, gotoHydrated);
    await expect(page.getByTestId('saved-method-4242')).toBeVisible();
    await typeAddress(page);
    const cvc = paymentFrame(page).locator('[name="savedCvc"]');
    await expect(cvc).toBeVisible();
    await cvc.fill('123');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    const events = await (await fetch(`${VARIANTS.cvc.emulator}/_emulator/events`)).json();
    const paid = events.data.filter((e: any) => e.type === 'payment_intent.succeeded');
    expect(paid.at(-1).data.object.payment_method_options.card.require_cvc_recollection).toBe(true);
  });

  test('checkout still works when Stripe cannot make a CustomerSession', async ({ page, gotoHydrated }) => {
    await signUp(page, gotoHydrated, uniqueEmail('nosession'));
    const fault = await fetch(`${VARIANTS.cvc.emulator}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/v1/customer_sessions', method: 'POST', status: 500, count: 100 }),
    });
    expect(fault.status).toBe(200);
    try {
      await mugInCart(page, gotoHydrated);
      await typeAddress(page);
      await typeCardDetails(page, '4242424242424242');
      await expect(paymentFrame(page).locator('[name="save"]')).toBeHidden();
      await page.getByTestId('pay-button').click();
      await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    } finally {
      await fetch(`${VARIANTS.cvc.emulator}/_emulator/faults`, { method: 'DELETE' });
    }
  });
});

test.describe('legacy createPaymentMethod path (own storefront)', () => {
  test.use({ baseURL: VARIANTS.legacy.url });

  test('a card pays through createPaymentMethod, confirmed with the PaymentMethod', async ({ page, gotoHydrated }) => {
    await mugInCart(page, gotoHydrated);
    await typeAddress(page);
    await typeCardDetails(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    const intentId = new URL(page.url()).searchParams.get('payment_intent');
    const events = await (await fetch(`${VARIANTS.legacy.emulator}/_emulator/events`)).json();
    const paid = events.data.find((e: any) => e.type === 'payment_intent.succeeded' && e.data.object.id === intentId);
    expect(paid.data.object.payment_method).toMatch(/^pm_/);
    // The Address Element's value went with the PaymentMethod: on the PaymentIntent and on the order.
    expect(paid.data.object.shipping.address.line1).toBe('1 Rue de Rivoli');
    await page.getByRole('link', { name: 'View your order' }).click();
    await expect(page.getByTestId('order-shipping')).toContainText('1 Rue de Rivoli');
  });

  test('3-D Secure on the legacy path is handled with handleNextAction', async ({ page, gotoHydrated }) => {
    await mugInCart(page, gotoHydrated);
    await typeAddress(page);
    await typeCardDetails(page, '4000002500003155');
    await page.getByTestId('pay-button').click();
    await page.locator('#test-source-authorize-3ds').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  });
});
