import type { Page } from '@playwright/test';
import { test, expect, paidOrderAndNextCart, seriousViolations } from './fixtures';

// Accessibility: axe on every page, in both languages and both colour schemes (zero
// violations of serious or critical impact); a checkout done with the keyboard alone;
// and a phone-sized screen (360 px) that never scrolls sideways.

/** Every page of the shop, reached as a shopper reaches it. Returns [name, path]. */
async function everyPage(page: Page, gotoHydrated: (path: string) => Promise<void>): Promise<[string, string][]> {
  const { complete, order } = await paidOrderAndNextCart(page, gotoHydrated);
  return [
    ['catalog', '/'],
    ['cart', '/cart'],
    ['checkout', '/checkout'],
    ['payment result', complete.pathname + complete.search],
    ['order', order],
    ['account', '/account'],
    ['not found', '/no-such-page'],
  ];
}

for (const locale of ['en-GB', 'fr-FR']) {
  for (const colorScheme of ['light', 'dark'] as const) {
    test.describe(`${locale}, ${colorScheme}`, () => {
      test.use({ locale, colorScheme, expectedErrorStatuses: [404] });

      test('every page passes axe', async ({ page, gotoHydrated }) => {
        test.setTimeout(60_000);
        for (const [name, path] of await everyPage(page, gotoHydrated)) {
          await gotoHydrated(path);
          if (name === 'checkout') await expect(page.getByTestId('pay-button')).toBeEnabled();
          expect(await seriousViolations(page), `${name} (${path})`).toEqual([]);
        }
      });
    });
  }
}

/** Presses Tab (or `key`) until `isFocused` holds (at most 60 times). */
async function tabUntil(page: Page, what: string, isFocused: () => Promise<boolean>, key = 'Tab') {
  for (let presses = 0; presses < 60; presses++) {
    if (await isFocused()) return;
    await page.keyboard.press(key);
  }
  throw new Error(`${key} never reached ${what}`);
}

const focusedIn = (page: Page, frame: string, name: string) => () =>
  page.frameLocator(`${frame} iframe`).locator(`[name="${name}"]`).evaluate((field) => field === document.activeElement).catch(() => false);
const focused = (page: Page, testId: string) => () => page.getByTestId(testId).evaluate((node) => node === document.activeElement);

test('a shopper checks out with the keyboard alone', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  // The first Tab offers a way straight to the content.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await tabUntil(page, 'the add button', focused(page, 'add-to-cart-ceramic-mug'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  // Back up to the header's cart link.
  await tabUntil(page, 'the cart link', () => page.getByRole('link', { name: /^Cart/ }).evaluate((node) => node === document.activeElement), 'Shift+Tab');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/cart$/);
  await tabUntil(page, 'the checkout link', () => page.getByRole('link', { name: 'Go to checkout' }).evaluate((node) => node === document.activeElement));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('pay-button')).toBeEnabled();

  const fields: [string, string, string][] = [
    ['#address-element', 'name', 'Jenny Rosen'],
    // A select answers to its options' first letters, as a shopper would type them.
    ['#address-element', 'country', 'France'],
    ['#address-element', 'line1', '1 Rue de Rivoli'],
    ['#address-element', 'city', 'Paris'],
    ['#address-element', 'postal_code', '75001'],
    ['#payment-element', 'number', '4242424242424242'],
    ['#payment-element', 'expiry', '12 / 34'],
    ['#payment-element', 'cvc', '123'],
    ['#payment-element', 'postalCode', '10001'],
  ];
  for (const [frame, name, value] of fields) {
    await tabUntil(page, name, focusedIn(page, frame, name));
    await page.keyboard.type(value);
  }
  await tabUntil(page, 'the pay button', focused(page, 'pay-button'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  // The result is announced: it sits in a status region.
  await expect(page.getByTestId('payment-result')).toHaveAttribute('role', 'status');
});

test.describe('on a 360 px phone', () => {
  test.use({ viewport: { width: 360, height: 740 } });

  test('no page scrolls sideways', async ({ page, gotoHydrated }) => {
    test.setTimeout(60_000);
    for (const [name, path] of await everyPage(page, gotoHydrated)) {
      if (name === 'not found') continue;
      await gotoHydrated(path);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${name} is ${width} px wide`).toBeLessThanOrEqual(360);
    }
  });
});
