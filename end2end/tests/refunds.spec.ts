import { test, expect, typeCard } from './fixtures';

// `make test` starts the end-to-end server with this merchant password.
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? 'e2e-merchant-token-0123456789';

test('the merchant refunds part of an order, the shopper sees it, then the rest', async ({ page, gotoHydrated, browser }) => {
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  const orderPath = await page.getByTestId('payment-result').locator('xpath=following::a[contains(@href, "/orders/")]').first().getAttribute('href');
  const orderId = orderPath!.split('/').pop()!;
  await gotoHydrated(orderPath!);
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
  await expect(page.getByTestId('order-refunds')).toHaveCount(0);

  // The merchant, in a browser of their own, signed in with ADMIN_TOKEN.
  const merchantContext = await browser.newContext({ httpCredentials: { username: 'merchant', password: ADMIN_TOKEN } });
  const merchant = await merchantContext.newPage();
  await merchant.goto(`/admin/orders/${orderId}`);
  await merchant.getByTestId('admin-refund-amount').fill('5.00');
  await merchant.getByTestId('admin-refund-reason').selectOption('requested_by_customer');
  await merchant.getByTestId('admin-refund-submit').click();
  await expect(merchant.getByTestId('admin-refund-done')).toBeVisible();
  await expect(merchant.getByTestId('admin-refund')).toHaveCount(1);
  await expect(merchant.getByTestId('admin-refund')).toHaveAttribute('data-status', 'succeeded');

  await page.reload();
  await expect(page.getByTestId('order-refund')).toHaveCount(1);
  await expect(page.getByTestId('order-refund')).toHaveAttribute('data-done', 'true');
  await expect(page.getByTestId('order-refunded')).toContainText('5.00');

  // The rest: the form offers what is left.
  await merchant.getByTestId('admin-refund-submit').click();
  await expect(merchant.getByTestId('admin-refund-done')).toBeVisible();
  await expect(merchant.getByTestId('admin-refund')).toHaveCount(2);
  await expect(merchant.getByTestId('admin-refund-form')).toHaveCount(0);

  await page.reload();
  await expect(page.getByTestId('order-refund')).toHaveCount(2);
  await expect(page.getByTestId('order-refunded')).toContainText('18.00');
  await merchantContext.close();
});
