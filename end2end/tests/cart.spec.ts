import { test, expect, waitForHydration } from './fixtures';

test('a shopper adds two products and finds the cart intact after a reload', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  await expect(page.getByTestId('cart-count')).toHaveText('0');

  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await page.getByTestId('add-to-cart-linen-tote').click();
  await expect(page.getByTestId('cart-count')).toHaveText('2');

  await page.getByRole('link', { name: /Cart/ }).click();
  await expect(page).toHaveURL(/\/cart$/);
  await expect(page.getByTestId('cart-line-ceramic-mug')).toBeVisible();
  await expect(page.getByTestId('cart-line-linen-tote')).toBeVisible();
  await expect(page.getByTestId('order-total')).toHaveText('€42.50');

  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('cart-count')).toHaveText('2');
  await expect(page.getByTestId('order-total')).toHaveText('€42.50');
});

test('quantity steppers and remove re-price the cart on the server', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-beeswax-candle').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');

  await gotoHydrated('/cart');
  await page.getByRole('button', { name: 'One more Beeswax candle' }).click();
  await expect(page.getByTestId('order-total')).toHaveText('€25.98');
  await expect(page.getByTestId('cart-count')).toHaveText('2');

  await page.getByRole('button', { name: 'Remove Beeswax candle from the cart' }).click();
  await expect(page.getByText('Your cart is empty.')).toBeVisible();
  await expect(page.getByTestId('cart-count')).toHaveText('0');
});

test('a sold-out product cannot be added', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  await expect(page.getByTestId('product-notebook')).toContainText('Sold out');
  await expect(page.getByTestId('add-to-cart-notebook')).toBeDisabled();
});

test.describe('refusals', () => {
  test.use({ expectedErrorStatuses: [400] });

  test('more than the stock is refused with a message and the cart is unchanged', async ({ page, gotoHydrated }) => {
    await gotoHydrated('/');
    const add = page.getByTestId('add-to-cart-walnut-board');
    for (let n = 1; n <= 8; n++) {
      await add.click();
      await expect(page.getByTestId('cart-count')).toHaveText(String(n));
    }
    await add.click();
    await expect(page.getByRole('alert')).toContainText('Only 8 in stock');
    await expect(page.getByTestId('cart-count')).toHaveText('8');
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the catalog and the cart still work through plain forms', async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('add-to-cart-ceramic-mug').click();
    await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/\??$/);
    await expect(page.getByTestId('cart-count')).toHaveText('1');
    await page.goto('/cart');
    await expect(page.getByTestId('order-total')).toHaveText('€18.00');
    // The quantity stepper and the discount code are plain forms too.
    await page.getByRole('button', { name: 'One more Ceramic mug' }).click();
    await expect(page.getByTestId('order-total')).toHaveText('€36.00');
    await page.getByTestId('discount-code').fill('welcome10');
    await page.getByTestId('apply-discount').click();
    await expect(page.getByTestId('discount-line')).toContainText('WELCOME10');
    await expect(page.getByTestId('order-total')).toHaveText('€32.40');
  });

  test('the checkout page says plainly that paying needs JavaScript', async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('add-to-cart-ceramic-mug').click();
    await page.goto('/checkout');
    await expect(page.getByTestId('needs-javascript')).toContainText('Paying needs JavaScript');
  });
});
