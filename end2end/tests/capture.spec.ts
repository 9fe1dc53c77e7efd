import { test, expect, typeCard, mugAtCheckout } from './fixtures';
import { VARIANTS } from '../global-setup';

// `make test` starts the end-to-end servers with this merchant password.
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? 'e2e-merchant-token-0123456789';

test.describe('manual capture (own storefront)', () => {
  test.use({ baseURL: VARIANTS.capture.url });

  test('the merchant captures less than was authorised; the order ends paid for that', async ({ page, gotoHydrated, browser }) => {
    await mugAtCheckout(page, gotoHydrated);
    // The shopper is told the card is charged later.
    await expect(page.getByTestId('capture-notice')).toBeVisible();
    await typeCard(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'requires_capture');
    const orderPath = await page.getByTestId('payment-result').locator('xpath=following::a[contains(@href, "/orders/")]').first().getAttribute('href');
    const orderId = orderPath!.split('/').pop()!;
    await gotoHydrated(orderPath!);
    await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'authorized');

    // The merchant ships part of it and captures 10.00 of 18.00.
    const merchantContext = await browser.newContext({
      baseURL: VARIANTS.capture.url,
      httpCredentials: { username: 'merchant', password: ADMIN_TOKEN },
    });
    const merchant = await merchantContext.newPage();
    await merchant.goto(`/admin/orders/${orderId}`);
    await expect(merchant.getByTestId('admin-status')).toHaveText('authorized');
    await merchant.getByTestId('admin-capture-amount').fill('10.00');
    await merchant.getByTestId('admin-capture-submit').click();
    await expect(merchant.getByTestId('admin-capture-done')).toBeVisible();
    await expect(merchant.getByTestId('admin-status')).toHaveText('paid');
    await expect(merchant.getByTestId('admin-charged')).toContainText('10.00');
    await expect(merchant.getByTestId('admin-capture-form')).toHaveCount(0);

    // The shopper's order page: paid, 10.00 charged.
    await page.reload();
    await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
    await expect(page.getByTestId('order-charged')).toContainText('10.00');
    await merchantContext.close();
  });
});
