import { test, expect, waitForHydration } from './fixtures';
import type { Page } from '@playwright/test';

// Pages render on the server; only islands (the checkout form, the account's cards) load
// the wasm bundle. A page without one is interactive as soon as it is parsed.

/** Every request the page makes to the shop's `/pkg/` (the bundle, its JS glue, the CSS). */
function pkgRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/pkg/')) seen.push(url.pathname);
  });
  return seen;
}

const bundle = (paths: string[]) => paths.filter((path) => /\.(wasm|js)$/.test(path));

test('the catalog and the cart load no wasm; the checkout hydrates its one island', async ({ page, gotoHydrated }) => {
  const requested = pkgRequests(page);
  await gotoHydrated('/');
  await expect(page.locator('leptos-island')).toHaveCount(0);
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/cart');
  await expect(page.getByTestId('cart-line-ceramic-mug')).toBeVisible();
  expect(bundle(requested), 'catalog and cart').toEqual([]);

  await gotoHydrated('/checkout');
  await expect(page.locator('leptos-island')).toHaveCount(1);
  expect(bundle(requested).some((path) => path.endsWith('.wasm')), 'checkout').toBe(true);
  // Preloaded from the head, and the preloads are what the loader's `import` and `fetch`
  // take: each file of the bundle is requested once.
  expect(bundle(requested).length, `checkout: ${bundle(requested)}`).toBe(new Set(bundle(requested)).size);
  // Hydrated: the island's Payment Element is mounted and Pay becomes usable.
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  // The account's island is a module of its own (`make` builds with `--split`): the
  // checkout never downloads it.
  expect(bundle(requested).filter((path) => path.includes('/split_')), 'checkout').toEqual([]);
});

test("the account page's island loads its own module, and works", async ({ page, gotoHydrated }) => {
  const requested = pkgRequests(page);
  await gotoHydrated('/account');
  await page.locator('#sign-up-email').fill(`islands-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`);
  await page.locator('#sign-up-password').fill('correct horse battery staple');
  await page.getByTestId('sign-up-button').click();
  await expect(page.getByTestId('no-saved-cards')).toBeVisible();
  // Hydrated once its module is in: the add-card form's Payment Element is ready.
  await expect(page.getByTestId('add-card-button')).toBeEnabled();
  expect(bundle(requested).filter((path) => path.includes('/split_cards_panel')).length, 'account').toBeGreaterThan(0);
});

// The contract's `data-hydrated` means every island on the page is hydrated. An island
// the bundle has no function for (a page and `/pkg` from different builds) must not be
// passed over in silence. This test renames the checkout's island as it is parsed.
// It uses a page of its own because the shared `page` fixture fails on the error this
// test expects.
test('a page whose island the bundle lacks says so and is never marked hydrated', async ({ context }) => {
  const page = await context.newPage();
  await page.goto('/');
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await page.addInitScript(() => {
    new MutationObserver(() => {
      for (const island of document.querySelectorAll<HTMLElement>('leptos-island')) island.dataset.component = 'MissingIsland';
    }).observe(document, { childList: true, subtree: true });
  });
  const logged = page.waitForEvent('console', (message) => message.type() === 'error' && message.text().includes('no island MissingIsland in the bundle'));
  await page.goto('/checkout');
  await logged;
  await expect(page.getByTestId('page-unfinished')).toHaveText('This page could not finish loading. Check your connection and reload the page.');
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
});

// A shopper whose connection drops a file of the page, or whose blocker refuses it, is
// told what to do, in their language, rather than left before a form that never comes.
// Pages of their own: the browser's console reports each refused file.
for (const [what, file] of [
  ['wasm', /\/pkg\/.*\.wasm$/],
  ['JS glue', /\/pkg\/.*\/storefront\.[^/]*\.js$/],
] as const) {
  test(`a checkout whose bundle's ${what} does not arrive says to reload, in French too`, async ({ context }) => {
    const page = await context.newPage();
    await page.goto('/');
    await page.getByTestId('language-fr').click();
    await page.getByTestId('add-to-cart-ceramic-mug').click();
    await expect(page.getByTestId('cart-count')).toHaveText('1');
    await page.route(file, (route) => route.abort('connectionfailed'));
    await page.goto('/checkout');
    await expect(page.getByTestId('page-unfinished')).toHaveText(
      "Cette page n'a pas pu finir de se charger. Vérifiez votre connexion et rechargez la page.",
    );
    await expect(page.getByTestId('page-unfinished')).toHaveAttribute('role', 'alert');
    await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
    // Once the file comes through, reloading is all it takes.
    await page.unroute(file);
    await page.reload();
    await waitForHydration(page);
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await expect(page.getByTestId('page-unfinished')).toHaveCount(0);
  });
}

test("a checkout whose Stripe.js is blocked says so in the shopper's language", async ({ context }) => {
  const page = await context.newPage();
  await page.goto('/');
  await page.getByTestId('language-fr').click();
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  const stripeJs = await page.locator('script[src*="/v3"]').getAttribute('src');
  await page.route(stripeJs!, (route) => route.abort('blockedbyclient'));
  await page.goto('/checkout');
  await waitForHydration(page);
  await expect(page.getByTestId('payment-error')).toHaveText(
    "Le formulaire de paiement n'a pas pu se charger. Vérifiez votre connexion et rechargez la page.",
  );
  await expect(page.getByTestId('pay-button')).toBeDisabled();
});
