import { test, expect, typeCard } from './fixtures';

// The whole purchase in French: the browser asks for French (Accept-Language), the shop
// answers in French, Stripe's fields are in French, and a declined card is explained in
// French before a good one pays.

test.describe('in French', () => {
  test.use({ locale: 'fr-FR', expectedErrorStatuses: [402] });

  test('a shopper buys in French, with a decline explained in French', async ({ page, gotoHydrated }) => {
    await gotoHydrated('/');
    await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Boutique');
    await expect(page.getByTestId('product-ceramic-mug')).toContainText('Mug en céramique');
    await expect(page.getByTestId('product-ceramic-mug')).toContainText('18,00\u00a0€');
    await page.getByTestId('add-to-cart-ceramic-mug').click();
    await expect(page.getByTestId('cart-count')).toHaveText('1');
    await page.getByRole('link', { name: /^Panier/ }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Votre panier');
    await page.getByRole('link', { name: 'Passer la commande' }).click();
    await expect(page.getByTestId('order-total')).toHaveText('18,00\u00a0€');
    const pay = page.getByTestId('pay-button');
    await expect(pay).toBeEnabled();
    await expect(pay).toHaveText('Payer 18,00\u00a0€');
    // Stripe's fields speak French too (Elements was given the page's locale).
    const frame = page.frameLocator('[data-testid="payment-element"] iframe');
    await expect(frame.locator('html')).toHaveAttribute('lang', 'fr');
    await expect(frame.getByText('Numéro de carte')).toBeVisible();

    await typeCard(page, '4000000000000002');
    await pay.click();
    await expect(page.getByTestId('payment-error')).toHaveText('Votre carte a été refusée.');
    await expect(pay).toBeEnabled();

    await frame.locator('[name="number"]').fill('4242424242424242');
    await page.frameLocator('[data-testid="address-element"] iframe').locator('[name="country"]').selectOption('BE');
    await pay.click();
    await expect(page.getByTestId('payment-result')).toHaveText('Merci ! Votre paiement a bien été reçu.');
    await page.getByRole('link', { name: 'Voir votre commande' }).click();
    await expect(page.getByTestId('order-status')).toHaveText('Payée');
    // French puts a (no-break) space before a colon.
    await expect(page.getByText('Statut\u00a0: Payée')).toBeVisible();
    // The country by its French name (Stripe gives its code, BE).
    await expect(page.getByTestId('order-shipping')).toContainText('Belgique');
  });
});

test('the language switch changes the page and is remembered', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.getByTestId('language-fr').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
  await expect(page.getByTestId('add-to-cart-ceramic-mug')).toHaveText('Ajouter au panier');
  await gotoHydrated('/account');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Votre compte');
  await page.getByTestId('language-en').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your account');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the switch works as a plain form', async ({ page }) => {
    await page.goto('/cart');
    await page.getByTestId('language-fr').click();
    await expect(page).toHaveURL(/\/cart\??$/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Votre panier');
  });
});
