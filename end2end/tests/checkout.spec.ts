import { test, expect, loseFirstReply, pageOfItsOwn, waitForHydration, typeCard, payAfterAnotherTabChangesTheCart } from './fixtures';
import type { Page } from '@playwright/test';
import { VARIANTS } from '../global-setup';

// Checkout through the real page: the Payment Element (the embedded emulator's Stripe.js
// stand-in), a ConfirmationToken, and one create-and-confirm request on the server.

const EMULATOR = process.env.STRIPE_EMULATOR_URL ?? 'http://127.0.0.1:12111';

async function cartWithMug(page: Page, gotoHydrated: (path: string) => Promise<void>) {
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('order-total')).toHaveText('€18.00');
  await expect(page.getByTestId('pay-button')).toBeEnabled();
}

/** PaymentIntents the emulator created for an order (its control API). */
async function intentsFor(orderId: string): Promise<number> {
  const events = await (await fetch(`${EMULATOR}/_emulator/events`)).json();
  return events.data.filter(
    (event: any) => event.type === 'payment_intent.created' && event.data.object.metadata.order_id === orderId,
  ).length;
}

async function orderIdFromCompletePage(page: Page): Promise<string> {
  const href = await page.getByRole('link', { name: 'View your order' }).getAttribute('href');
  return href!.split('/').pop()!;
}

test('a Visa card pays for the cart and the order page shows it', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  await expect(page).toHaveURL(/\/checkout\/complete\?payment_intent=pi_/);
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await expect(page.getByTestId('cart-count')).toHaveText('0');
  const orderId = await orderIdFromCompletePage(page);
  expect(await intentsFor(orderId)).toBe(1);
  const events = await (await fetch(`${EMULATOR}/_emulator/events`)).json();
  const paid = events.data.find((e: any) => e.type === 'payment_intent.succeeded' && e.data.object.metadata.order_id === orderId);
  expect(paid.data.object.shipping.name).toBe('Jenny Rosen');
  await page.getByRole('link', { name: 'View your order' }).click();
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
});

test('checkout reached through the app\'s own links (whole page loads, no gotoHydrated) takes payment', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await page.getByRole('link', { name: /^Cart/ }).click();
  await page.getByRole('link', { name: 'Go to checkout' }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
});

test('pay, close the page, and the order shows paid when reopened', async ({ page, gotoHydrated, context }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '5555555555554444');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  const orderId = await orderIdFromCompletePage(page);
  await page.close();
  const reopened = await context.newPage();
  await reopened.goto(`/orders/${orderId}`);
  await expect(reopened.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
});

test.describe('declines', () => {
  test.use({ expectedErrorStatuses: [402] });

  test('insufficient funds is shown, then another card pays the same order', async ({ page, gotoHydrated }) => {
    await cartWithMug(page, gotoHydrated);
    await typeCard(page, '4000000000009995');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-error')).toHaveText('Your card has insufficient funds.');
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await typeCard(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    const orderId = await orderIdFromCompletePage(page);
    expect(await intentsFor(orderId)).toBe(2);
  });
});

test.describe('discounts', () => {
  test.use({ expectedErrorStatuses: [400] });

  test('a discount code changes the total shown and the amount charged', async ({ page, gotoHydrated }) => {
    await cartWithMug(page, gotoHydrated);
    await typeCard(page, '4242424242424242');
    await page.getByTestId('discount-code').fill('NOPE');
    await page.getByTestId('apply-discount').click();
    await expect(page.getByTestId('discount-message')).toHaveText('That discount code is not valid.');
    await expect(page.getByTestId('order-total')).toHaveText('€18.00');
    await expect(page.frameLocator('[data-testid="payment-element"] iframe').locator('html')).toHaveAttribute('data-amount', '1800');
    await page.getByTestId('discount-code').fill('welcome10');
    await page.getByTestId('apply-discount').click();
    await expect(page.getByTestId('discount-message')).toHaveText('WELCOME10 applied.');
    await expect(page.getByTestId('order-total')).toHaveText('€16.20');
    await expect(page.getByTestId('pay-button')).toHaveText('Pay €16.20');
    // elements.update({amount}) reached Stripe.js (the emulator's frame shows what it holds).
    const elementsAmount = page.frameLocator('[data-testid="payment-element"] iframe').locator('html');
    await expect(elementsAmount).toHaveAttribute('data-amount', '1620');
    // Repricing left the payment form in place: what the shopper typed is still there.
    await expect(page.frameLocator('[data-testid="payment-element"] iframe').locator('[name="number"]')).toHaveValue('4242 4242 4242 4242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    const orderId = await orderIdFromCompletePage(page);
    const events = await (await fetch(`${EMULATOR}/_emulator/events`)).json();
    const created = events.data.find(
      (event: any) => event.type === 'payment_intent.created' && event.data.object.metadata.order_id === orderId,
    );
    expect(created.data.object.amount).toBe(1620);
  });
});

test.describe('a discount that leaves a total Stripe cannot charge', () => {
  test.use({ baseURL: VARIANTS.free.url });

  test('is said beside Pay, which waits; taking the code off brings Pay back', async ({ page, gotoHydrated }) => {
    await cartWithMug(page, gotoHydrated);
    const elementsAmount = page.frameLocator('[data-testid="payment-element"] iframe').locator('html');
    await expect(elementsAmount).toHaveAttribute('data-amount', '1800');
    const confirms: string[] = [];
    page.on('request', (request) => request.url().endsWith('/api/checkout/confirm') && confirms.push(request.url()));
    await page.getByTestId('discount-code').fill('e2e-free');
    await page.getByTestId('apply-discount').click();
    await expect(page.getByTestId('discount-message')).toHaveText('E2E-FREE applied.');
    await expect(page.getByTestId('order-total')).toHaveText('€0.00');
    await expect(page.getByTestId('charge-limit')).toHaveText('The smallest order we can charge is €0.50.');
    await expect(page.getByTestId('pay-button')).toBeDisabled();
    // Elements keeps the last amount Stripe could charge.
    await expect(elementsAmount).toHaveAttribute('data-amount', '1800');
    // Enter in the form's email field submits nothing either.
    await page.getByTestId('email-input').press('Enter');
    await page.getByTestId('discount-code').fill('');
    await page.getByTestId('apply-discount').click();
    await expect(page.getByTestId('discount-message')).toHaveText('Discount removed.');
    await expect(page.getByTestId('order-total')).toHaveText('€18.00');
    await expect(page.getByTestId('charge-limit')).toHaveCount(0);
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await expect(page.getByTestId('pay-button')).toHaveText('Pay €18.00');
    expect(confirms).toEqual([]);
  });
});

test.describe('an explicit list of payment methods', () => {
  test.use({ baseURL: VARIANTS.free.url });

  test('is what the Payment Element offers', async ({ page, gotoHydrated }) => {
    await cartWithMug(page, gotoHydrated);
    const offered = page.frameLocator('[data-testid="payment-element"] iframe');
    await expect(offered.getByTestId('payment-method-card')).toBeVisible();
    await expect(offered.getByTestId('payment-method-ideal')).toBeVisible();
    // Euros: without the list, SEPA Debit would be offered too.
    await expect(offered.getByTestId('payment-method-sepa_debit')).toHaveCount(0);
  });
});

test.describe('a cart changed in another tab', () => {
  test.use({ expectedErrorStatuses: [409] });

  test('is not charged at the old total: the page shows the new one, and the next Pay pays it', async ({ page, gotoHydrated }) => {
    await cartWithMug(page, gotoHydrated);
    await typeCard(page, '4242424242424242');
    await expect(page.getByTestId('pay-button')).toHaveText('Pay €18.00');
    // Another tab adds a tote (the catalog's plain form).
    await payAfterAnotherTabChangesTheCart(page, async (other) => {
      await other.goto('/');
      await other.getByTestId('add-to-cart-linen-tote').click();
      await expect(other.getByTestId('cart-count')).toHaveText('2');
    });
    await expect(page.getByTestId('payment-error')).toContainText('Your cart changed since this page was shown, so nothing was charged. It now comes to €42.50');
    await expect(page.getByTestId('order-total')).toHaveText('€42.50');
    await expect(page.getByTestId('pay-button')).toHaveText('Pay €42.50');
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await expect(page.frameLocator('[data-testid="payment-element"] iframe').locator('html')).toHaveAttribute('data-amount', '4250');

    // What the shopper typed is still there; Pay now pays for the cart as shown.
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    const orderId = await orderIdFromCompletePage(page);
    expect(await intentsFor(orderId)).toBe(1);
    const created = (await (await fetch(`${EMULATOR}/_emulator/events`)).json()).data.find(
      (event: any) => event.type === 'payment_intent.created' && event.data.object.metadata.order_id === orderId,
    );
    expect(created.data.object.amount).toBe(4250);
  });
});

test('3-D Secure: Complete pays', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4000002500003155');
  await page.getByTestId('pay-button').click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
});

test('3-D Secure: Fail shows the failure and the shopper can pay again', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4000000000003220');
  await page.getByTestId('pay-button').click();
  await page.locator('#test-source-fail-3ds').click();
  await expect(page.getByTestId('payment-error')).toContainText('failed authentication');
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
});

test('a redirect method comes back to /checkout/complete with its outcome', async ({ page, gotoHydrated, browser }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  await page.frameLocator('[data-testid="payment-element"] iframe').getByRole('tab', { name: 'iDEAL' }).click();
  await page.getByTestId('pay-button').click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page).toHaveURL(/\/checkout\/complete\?payment_intent=pi_.*redirect_status=succeeded/);
  await waitForHydration(page);
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  // Reading the outcome turned the cart into the order; the header, rendered in the same
  // page, counts what is left.
  await expect(page.getByTestId('cart-count')).toHaveText('0');

  // The same return URL in another browser (a bank's app may open it there): the outcome
  // from the client secret in the URL, and where the cart and order are; no order link.
  const elsewhere = await browser.newContext();
  const other = await elsewhere.newPage();
  await other.goto(page.url());
  await expect(other.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await expect(other.getByTestId('payment-elsewhere')).toHaveText('This payment was started in another browser: go back to it for your cart and your order.');
  await expect(other.getByRole('link', { name: 'View your order' })).toHaveCount(0);
  await elsewhere.close();
});

test('a double click makes one PaymentIntent', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').dblclick();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  expect(await intentsFor(await orderIdFromCompletePage(page))).toBe(1);
});

test.describe('other shoppers', () => {
  test.use({ expectedErrorStatuses: [404] });

  test("a second shopper gets 404 on the first shopper's order", async ({ page, gotoHydrated, browser }) => {
    await cartWithMug(page, gotoHydrated);
    await typeCard(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    const orderId = await orderIdFromCompletePage(page);

    const stranger = await browser.newContext();
    const other = await stranger.newPage();
    const response = await other.goto(`/orders/${orderId}`);
    expect(response?.status()).toBe(404);
    await expect(other.getByRole('heading', { name: 'Order not found' })).toBeVisible();
    await stranger.close();
  });
});

test('an old result page opened again keeps the next cart', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  const resultUrl = page.url();
  await expect(page.getByTestId('cart-count')).toHaveText('0');
  // The shopper fills a new cart, then goes back to the earlier result page.
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-linen-tote').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await page.goto(resultUrl);
  await waitForHydration(page);
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('cart-count')).toHaveText('1');
});

test('the order page adds up: the discount taken off and where it ships', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  await page.getByTestId('discount-code').fill('WELCOME10');
  await page.getByTestId('apply-discount').click();
  await expect(page.getByTestId('pay-button')).toHaveText('Pay €16.20');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await page.getByRole('link', { name: 'View your order' }).click();
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
  await expect(page.getByTestId('order-discount')).toHaveText('Discount (WELCOME10) −€1.80');
  // A line each, as a French address is written, and the country by its name (the text as rendered).
  expect(await page.getByTestId('order-shipping').innerText()).toBe('Jenny Rosen\n1 Rue de Rivoli\n75001 Paris\nFrance');
});

test('Pay waits while a discount is being applied', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  // Hold the repricing request until the test has looked at the button.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/cart/discount', async (route) => {
    await held;
    await route.continue();
  });
  await page.getByTestId('discount-code').fill('WELCOME10');
  await page.getByTestId('apply-discount').click();
  await expect(page.getByTestId('pay-button')).toBeDisabled();
  release();
  await expect(page.getByTestId('pay-button')).toHaveText('Pay €16.20');
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  await expect(page.frameLocator('[data-testid="payment-element"] iframe').locator('html')).toHaveAttribute('data-amount', '1620');
});

// Elements get the page's design values (a copy in src/ui.rs) in the scheme the browser
// prefers: each appearance variable the Payment Element holds equals the page's own
// custom property, and the dark scheme gets Stripe's `night` theme. When the scheme
// changes while the page is open (a system turning dark at sunset), the page's
// stylesheet follows at once, and so do Elements.
async function expectElementsLikePage(page: Page, colorScheme: 'light' | 'dark') {
  const pairs = { colorPrimary: '--accent', colorBackground: '--surface', colorText: '--text', colorTextSecondary: '--muted', colorDanger: '--danger', fontFamily: '--font', borderRadius: '--radius' };
  const pageValues = await page.evaluate((names) => {
    const style = getComputedStyle(document.documentElement);
    return names.map((name) => style.getPropertyValue(name).trim());
  }, Object.values(pairs));
  expect(pageValues.every((value) => value !== '')).toBe(true);
  // Colours compared as the browser reads them (the built stylesheet is minified: #fff).
  const canonical = (values: string[]) => page.evaluate((values) => values.map((value) => {
    if (!/^#|^rgb/.test(value)) return value;
    const probe = document.createElement('span');
    probe.style.color = value;
    document.body.append(probe);
    const color = getComputedStyle(probe).color;
    probe.remove();
    return color;
  }), values);
  const expected = await canonical(pageValues);
  const frame = page.frameLocator('[data-testid="payment-element"] iframe').locator('html');
  // Elements hear of a new look asynchronously (Stripe.js posts it to its frames).
  await expect(async () => {
    const elementValues = await frame.evaluate((root, names) => names.map((name) => root.style.getPropertyValue(`--${name}`).trim()), [...Object.keys(pairs), 'colorBorder']);
    expect(await canonical(elementValues.slice(0, -1))).toEqual(expected);
    // The emulator's `night` theme sets a border colour; `stripe` leaves it alone.
    expect(elementValues.at(-1)).toBe(colorScheme === 'dark' ? '#424353' : '');
  }).toPass({ timeout: 5_000 });
}

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`Elements look like the page, ${colorScheme}`, () => {
    test.use({ colorScheme });

    test('the Payment Element has the page\'s colours, font and radius, also once the scheme changes', async ({ page, gotoHydrated }) => {
      await cartWithMug(page, gotoHydrated);
      await expectElementsLikePage(page, colorScheme);
      const other = colorScheme === 'dark' ? 'light' : 'dark';
      await page.emulateMedia({ colorScheme: other });
      await expectElementsLikePage(page, other);
    });
  });
}

test('3-D Secure: the outcome shown is the server\'s, even when the browser lost the answer', async ({ page, gotoHydrated }) => {
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4000002500003155');
  // The authentication reaches Stripe and succeeds, but its answer never reaches the
  // page: Stripe.js reports an error.
  await page.route('**/_emulator/3ds/**', async (route) => {
    const response = await route.fetch();
    await route.fulfill({
      response,
      body: JSON.stringify({ error: { type: 'api_connection_error', message: 'The connection dropped during authentication.' } }),
    });
  });
  await page.getByTestId('pay-button').click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await expect(page.getByTestId('cart-count')).toHaveText('0');
});

// The confirmation reaches the shop and Stripe charges the card, but the connection drops
// before the page hears back. The page asks again with the same details (the shop then
// answers with the payment it made) instead of telling the shopper to try again, which
// would have had them make new details for a cart that is now an order.
test('a reply lost on the way back is asked for again, and the one payment shown', async ({ context }) => {
  const { page, gotoHydrated } = await pageOfItsOwn(context);
  await cartWithMug(page, gotoHydrated);
  await typeCard(page, '4242424242424242');
  const confirmations = await loseFirstReply(page, '**/api/checkout/confirm');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-checking')).toBeVisible();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  expect(confirmations()).toBe(2);
  expect(await intentsFor(await orderIdFromCompletePage(page))).toBe(1);
});

test.describe('an unknown outcome', () => {
  test.use({ expectedErrorStatuses: [504] });

  test('is said, asked again, and the real outcome shown', async ({ page, gotoHydrated }) => {
    await cartWithMug(page, gotoHydrated);
    await typeCard(page, '4242424242424242');
    // The first confirmation goes through, but the page is told what the server says
    // when Stripe's reply was lost: the outcome is unknown.
    let first = true;
    await page.route('**/api/checkout/confirm', async (route) => {
      const response = await route.fetch();
      if (!first) return route.fulfill({ response });
      first = false;
      const reply = await response.json();
      await route.fulfill({ response, status: 504, body: JSON.stringify({ PaymentUnknown: { order_id: reply.order_id } }) });
    });
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-checking')).toBeVisible();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    expect(await intentsFor(await orderIdFromCompletePage(page))).toBe(1);
  });
});
