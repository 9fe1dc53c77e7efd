import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';

/**
 * `page` that fails the test on any console error or uncaught exception in the
 * browser (but the refusals a test declares in `expectedErrorStatuses`), and on
 * Stripe.js warning of an option it does not have; and `gotoHydrated`, which loads a
 * path and waits for the app's hydration marker instead of sleeping.
 */
export const test = base.extend<{
  /** HTTP statuses a test expects the shop to answer with (a refused request). */
  expectedErrorStatuses: number[];
  gotoHydrated: (path: string) => Promise<void>;
}>({
  expectedErrorStatuses: [[], { option: true }],
  page: async ({ page, expectedErrorStatuses }, use) => {
    const problems = browserProblems(page, expectedErrorStatuses);
    await use(page);
    expect(problems, 'the browser reported errors').toEqual([]);
  },
  gotoHydrated: async ({ page }, use) => {
    await use(async (path: string) => {
      await page.goto(path);
      await waitForHydration(page);
    });
  },
});

/**
 * Collects, from now on, every console error and uncaught exception of `page` (a page of
 * a context of the test's own: the merchant's), but the refusals with `expectedStatuses`,
 * and every option Stripe.js says it does not have (it ignores them: one of another
 * release's, or misspelt, would silently change what the Payment Element offers).
 */
export function browserProblems(page: Page, expectedStatuses: number[] = []): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'warning' && text.includes('is not a recognized parameter')) {
      problems.push(`Stripe.js: ${text}`);
      return;
    }
    if (message.type() !== 'error') return;
    const expected = expectedStatuses.some((status) =>
      text === `Failed to load resource: the server responded with a status of ${status} (${statusText(status)})`,
    );
    if (!expected) problems.push(`console error: ${text}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  return problems;
}

/**
 * A page of its own in `context`, with its `gotoHydrated`, outside the fixture's check
 * of the console: for a test that drops a connection, which the browser reports as an
 * error.
 */
export async function pageOfItsOwn(context: BrowserContext) {
  const page = await context.newPage();
  const gotoHydrated = async (path: string) => {
    await page.goto(path);
    await waitForHydration(page);
  };
  return { page, gotoHydrated };
}

/**
 * The first request to `url` reaches the server, which acts on it; its reply is then
 * lost (the connection reset). Later requests pass. Returns how many were sent so far.
 */
export async function loseFirstReply(page: Page, url: string): Promise<() => number> {
  let sent = 0;
  await page.route(url, async (route) => {
    sent += 1;
    if (sent > 1) return route.continue();
    await route.fetch();
    await route.abort('connectionreset');
  });
  return () => sent;
}

function statusText(status: number): string {
  return { 400: 'Bad Request', 402: 'Payment Required', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] ?? '';
}

export async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Fills Stripe's Address Element (the emulator's stand-in) with an address in Paris. */
export async function typeAddress(page: Page) {
  const address = page.frameLocator('[data-testid="address-element"] iframe');
  await address.locator('[name="name"]').fill('Jenny Rosen');
  await address.locator('[name="line1"]').fill('1 Rue de Rivoli');
  await address.locator('[name="city"]').fill('Paris');
  await address.locator('[name="postal_code"]').fill('75001');
  await address.locator('[name="country"]').selectOption('FR');
}

/** Fills Stripe's Address and Payment Elements (the emulator's stand-in) with a test card. */
export async function typeCard(page: Page, number: string) {
  await typeAddress(page);
  await typeCardDetails(page, number);
}

/** Fills the Payment Element alone (the add-card form has no Address Element) with a test card. */
export async function typeCardDetails(page: Page, number: string) {
  const frame = page.frameLocator('[data-testid="payment-element"] iframe');
  await frame.locator('[name="number"]').fill(number);
  await frame.locator('[name="expiry"]').fill('12 / 34');
  await frame.locator('[name="cvc"]').fill('123');
  await frame.locator('[name="country"]').selectOption('US');
  await frame.locator('[name="postalCode"]').fill('10001');
}

/**
 * Another tab of the same browser changes the cart (`change` drives it), then the page,
 * which still shows the old cart, presses Pay: the server refuses it as changed (409).
 */
export async function payAfterAnotherTabChangesTheCart(page: Page, change: (other: Page) => Promise<void>) {
  const other = await page.context().newPage();
  await change(other);
  await other.close();
  const refused = page.waitForResponse('**/api/checkout/confirm');
  await page.getByTestId('pay-button').click();
  expect((await refused).status()).toBe(409);
}

/** Puts a mug in the cart and opens the checkout, ready to pay. */
export async function mugAtCheckout(page: Page, gotoHydrated: (path: string) => Promise<void>) {
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('pay-button')).toBeEnabled();
}

/**
 * Pays for a mug with a Visa (or the test `card` given); returns the result page's URL
 * and the order page's path.
 */
export async function paidOrder(page: Page, gotoHydrated: (path: string) => Promise<void>, card = '4242424242424242') {
  await mugAtCheckout(page, gotoHydrated);
  await typeCard(page, card);
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  const complete = new URL(page.url());
  const order = await page.getByTestId('payment-result').locator('xpath=following::a[contains(@href, "/orders/")]').first().getAttribute('href');
  return { complete, order: order! };
}

/**
 * Pays for a mug with a Visa (an order to look at), then puts a tote in the next cart
 * (a checkout to look at). Returns the result page's URL and the order page's path.
 */
export async function paidOrderAndNextCart(page: Page, gotoHydrated: (path: string) => Promise<void>) {
  const paid = await paidOrder(page, gotoHydrated);
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-linen-tote').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  return paid;
}

export const PASSWORD = 'correct horse battery staple';

/** An email address no other test uses. */
export function uniqueEmail(who: string): string {
  return `${who}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
}

/** Creates an account on `/account` and waits until it is signed in. */
export async function signUp(page: Page, gotoHydrated: (path: string) => Promise<void>, email: string) {
  await gotoHydrated('/account');
  await page.locator('#sign-up-email').fill(email);
  await page.locator('#sign-up-password').fill(PASSWORD);
  await page.getByTestId('sign-up-button').click();
  await expect(page.getByTestId('signed-in-as')).toContainText(email);
}

/**
 * The subscription `product` alone in the cart, at the checkout: signed up first as
 * `email` when given (a guest otherwise), the catalog showing `shows` for it if given.
 */
export async function subscriptionAtCheckout(
  page: Page,
  gotoHydrated: (path: string) => Promise<void>,
  product: string,
  { email, shows }: { email?: string; shows?: string } = {},
) {
  if (email) await signUp(page, gotoHydrated, email);
  await gotoHydrated('/');
  if (shows) await expect(page.getByTestId(`product-${product}`)).toContainText(shows);
  await page.getByTestId(`add-to-cart-${product}`).click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/checkout');
}

export { expect };

/** axe's violations of serious or critical impact on the page as it is now. */
export async function seriousViolations(page: Page) {
  // Stripe's own iframes (here the emulator's stand-in) are Stripe's to make accessible:
  // the checkout's Elements and the account page's add-card form.
  const results = await new AxeBuilder({ page })
    .exclude('[data-testid="payment-element"]')
    .exclude('[data-testid="address-element"]')
    .analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}
