import type { Locator, Page } from '@playwright/test';
import { test, expect, typeCard, subscriptionAtCheckout, uniqueEmail } from './fixtures';
import { VARIANTS } from '../global-setup';

// The README's pictures: catalog, checkout, the 3-D Secure challenge, the order
// confirmation and a subscriber's account page, light and dark, desktop and phone.
// Written to target/screenshots/; `make screenshots` copies them to docs/screenshots/.
//
// Pictures are of the viewport, never of the full page: Chromium does not paint an
// iframe below the fold into a full-page screenshot, which showed Stripe's Address and
// Payment Elements empty. The checkout is shot in parts instead, each part scrolled
// into view and its iframe's fields visible first.

const OUT = '../target/screenshots';
const SIZES = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } };

async function shot(page: Page, name: string) {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: `${OUT}/${name}.png`, animations: 'disabled', caret: 'hide' });
}

/** Scrolls `element` to the top of the viewport and waits for `field` (in its iframe) to show. */
async function scrollTo(page: Page, element: Locator, field: Locator) {
  await element.evaluate((node) => node.scrollIntoView({ block: 'start' }));
  await expect(field).toBeInViewport();
  await expect(field).toBeVisible();
}

for (const [size, viewport] of Object.entries(SIZES)) {
  for (const colorScheme of ['light', 'dark'] as const) {
    test.describe(`${size}, ${colorScheme}`, () => {
      test.use({ viewport, colorScheme, locale: 'en-GB' });

      test('screenshots of a purchase through 3-D Secure', async ({ page, gotoHydrated }) => {
        const suffix = `${colorScheme}-${size}`;
        await gotoHydrated('/');
        await shot(page, `catalog-${suffix}`);
        await page.getByTestId('add-to-cart-beeswax-candle').click();
        await expect(page.getByTestId('cart-count')).toHaveText('1');
        await gotoHydrated('/checkout');
        await expect(page.getByTestId('pay-button')).toBeEnabled();
        await typeCard(page, '4000002760003184');
        await page.evaluate(() => window.scrollTo(0, 0));
        await shot(page, `checkout-${suffix}`);
        const address = page.frameLocator('[data-testid="address-element"] iframe');
        await scrollTo(page, page.getByRole('heading', { name: 'Shipping address' }), address.locator('[name="line1"]'));
        await shot(page, `checkout-address-${suffix}`);
        const payment = page.frameLocator('[data-testid="payment-element"] iframe');
        await scrollTo(page, page.getByRole('heading', { name: 'Payment', exact: true }), payment.locator('[name="number"]'));
        await expect(page.getByTestId('pay-button')).toBeInViewport();
        await shot(page, `checkout-payment-${suffix}`);
        await page.getByTestId('pay-button').click();
        const challenge = page.locator('#test-source-authorize-3ds');
        await expect(challenge).toBeVisible();
        await shot(page, `3ds-${suffix}`);
        await challenge.click();
        await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
        await page.getByRole('link', { name: 'View your order' }).click();
        await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
        await shot(page, `confirmation-${suffix}`);
      });
    });
  }
}

test.describe('a subscriber', () => {
  // A storefront of its own settings (`free`: the same catalog), so that this account
  // does not count against the sign-ups per address an hour of the subscription specs'.
  test.use({ baseURL: VARIANTS.free.url, locale: 'en-GB' });

  test('screenshots of the account page with a subscription and a saved card', async ({ page, gotoHydrated }) => {
    await subscriptionAtCheckout(page, gotoHydrated, 'coffee-beans', { email: uniqueEmail('screenshot-subscriber') });
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await typeCard(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    for (const [size, viewport] of Object.entries(SIZES)) {
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.setViewportSize(viewport);
        await page.emulateMedia({ colorScheme });
        await gotoHydrated('/account');
        await expect(page.locator('[data-testid^="subscription-sub_"]')).toHaveAttribute('data-status', 'active');
        await expect(page.getByTestId('saved-method-4242')).toBeVisible();
        await shot(page, `account-${colorScheme}-${size}`);
      }
    }
  });
});
