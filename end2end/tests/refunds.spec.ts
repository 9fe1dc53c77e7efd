import { test, expect, browserProblems, paidOrder, seriousViolations } from './fixtures';

// `make test` starts the end-to-end server with this merchant password.
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? 'e2e-merchant-token-0123456789';

test('the merchant refunds part of an order, the shopper sees it, then the rest', async ({ page, gotoHydrated, browser }) => {
  const { order: orderPath } = await paidOrder(page, gotoHydrated);
  const orderId = orderPath.split('/').pop()!;
  await gotoHydrated(orderPath);
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
  await expect(page.getByTestId('order-refunds')).toHaveCount(0);

  // The merchant, in a browser of their own, signed in with ADMIN_TOKEN.
  const merchantContext = await browser.newContext({ httpCredentials: { username: 'merchant', password: ADMIN_TOKEN } });
  const merchant = await merchantContext.newPage();
  const merchantProblems = browserProblems(merchant);
  await merchant.goto(`/admin/orders/${orderId}`);
  // No table of refunds before there is one.
  await expect(merchant.getByRole('columnheader', { name: 'Reason' })).toHaveCount(0);
  await merchant.getByTestId('admin-refund-amount').fill('5.00');
  await merchant.getByTestId('admin-refund-reason').selectOption('requested_by_customer');
  await merchant.getByTestId('admin-refund-submit').click();
  await expect(merchant.getByTestId('admin-refund-done')).toBeVisible();
  await expect(merchant.getByTestId('admin-refund')).toHaveCount(1);
  await expect(merchant.getByTestId('admin-refund')).toHaveAttribute('data-status', 'succeeded');
  await expect(merchant.getByRole('columnheader', { name: 'Reason' })).toHaveCount(1);

  await page.reload();
  await expect(page.getByTestId('order-refund')).toHaveCount(1);
  await expect(page.getByTestId('order-refund')).toHaveAttribute('data-done', 'true');
  await expect(page.getByTestId('order-refunded')).toContainText('5.00');
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'partially_refunded');

  // The rest: the form offers what is left.
  await merchant.getByTestId('admin-refund-submit').click();
  await expect(merchant.getByTestId('admin-refund-done')).toBeVisible();
  await expect(merchant.getByTestId('admin-refund')).toHaveCount(2);
  await expect(merchant.getByTestId('admin-refund-form')).toHaveCount(0);

  await page.reload();
  await expect(page.getByTestId('order-refund')).toHaveCount(2);
  await expect(page.getByTestId('order-refunded')).toContainText('18.00');
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'refunded');
  // The receipt is Stripe's page for the payment, as it stands now: with the refunds.
  await page.getByTestId('order-receipt').click();
  await expect(page).toHaveURL(/\/receipts\/payment\/[A-Za-z0-9]+$/);
  await expect(page.getByText(/Refunded: −€18\.00/)).toBeVisible();
  expect(merchantProblems, "the merchant's browser reported errors").toEqual([]);
  await merchantContext.close();
});

test('the merchant finds a disputed order among the flagged ones and marks it handled', async ({ page, gotoHydrated, browser }) => {
  // Stripe's test card whose payment succeeds, then is disputed as fraudulent.
  const { order: orderPath } = await paidOrder(page, gotoHydrated, '4000000000000259');
  const orderId = orderPath.split('/').pop()!;

  const merchantContext = await browser.newContext({ httpCredentials: { username: 'merchant', password: ADMIN_TOKEN } });
  const merchant = await merchantContext.newPage();
  const row = merchant.getByTestId(`admin-order-${orderId}`);
  // The dispute arrives by webhook, after the payment.
  await expect(async () => {
    await merchant.goto('/admin/orders?flagged=1');
    await expect(row).toContainText('disputed', { timeout: 1_000 });
  }).toPass();
  await expect(merchant.getByTestId('admin-filter-flagged')).toHaveAttribute('aria-current', 'page');

  expect(await seriousViolations(merchant), 'the merchant\'s flagged orders').toEqual([]);

  await row.getByRole('link', { name: orderId }).click();
  await expect(merchant.getByTestId('admin-needs-you')).toBeVisible();
  expect(await seriousViolations(merchant), 'the merchant\'s page of a disputed order').toEqual([]);
  await merchant.getByTestId('admin-handled-submit').click();
  await expect(merchant.getByTestId('admin-handled-done')).toBeVisible();
  await expect(merchant.getByTestId('admin-handled')).toContainText('Marked handled');
  await expect(merchant.getByTestId('admin-handled-form')).toHaveCount(0);

  await merchant.goto('/admin/orders?flagged=1');
  await expect(row).toHaveCount(0);
  await merchant.getByTestId('admin-filter-all').click();
  await expect(row).toContainText('disputed');
  await merchantContext.close();
});
