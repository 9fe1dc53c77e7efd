import { test, expect, waitForHydration, paidOrderAndNextCart } from './fixtures';
import type { Page } from '@playwright/test';

// A request budget for whole page loads as a returning shopper's browser makes them:
// warm (the cache filled by an earlier visit). It fails when a page asks the network for
// more than it needs (as every page did before /pkg names carried a content hash: the
// CSS and JS revalidated, the wasm fetched again). How fast those loads and responses
// are is measured in `make bench` (its warm page loads, beside the reference's), not
// here: a time limit in a test fails on a busy machine, not on a slow server.

/** Warm loads measured per page (after one load that fills the cache). */
const WARM_LOADS = 5;
/**
 * Requests a warm load may make to the shop: the document itself. Everything else
 * (stylesheet, JS, wasm, favicon, product images) comes from the cache: /pkg names
 * carry a hash of their content and are `immutable`, the site root's files are fresh
 * for an hour. Stripe.js and its frames are another origin and not counted.
 */
const MAX_REQUESTS: Record<string, number> = { catalog: 1, cart: 1, checkout: 1, order: 1 };

interface Fetched {
  url: string;
  /** Bytes over the network; 0 when the cache answered. */
  transferSize: number;
}

/** The shop's own responses to the page now loaded: the document and every resource. */
async function firstPartyFetches(page: Page): Promise<Fetched[]> {
  return page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[];
    return entries
      .filter((entry) => new URL(entry.name).origin === location.origin)
      .map((entry) => ({ url: entry.name, transferSize: entry.transferSize }));
  });
}

async function warmLoads(page: Page, name: string, path: string) {
  await page.goto(path);
  await waitForHydration(page);
  for (let load = 1; load <= WARM_LOADS; load++) {
    await page.goto('about:blank');
    await page.goto(path);
    await waitForHydration(page);
    await page.waitForLoadState('load');
    const network = (await firstPartyFetches(page)).filter((fetched) => fetched.transferSize > 0);
    const seen = network.map((fetched) => new URL(fetched.url).pathname).join(', ');
    expect(network.length, `${name}, warm load ${load}: requests to the shop: ${seen}`).toBeLessThanOrEqual(MAX_REQUESTS[name]);
  }
}

test('warm page loads make one request each', async ({ page, gotoHydrated }) => {
  // A payment and twenty-four whole page loads, each waited for until hydrated: the
  // axe tests' budget (they visit every page), not the default's 30 s, in which the
  // slowest machines CI runs on (2 × AMD EPYC, 2026-12-06) could not finish them.
  test.setTimeout(60_000);
  // An order and a cart to look at.
  const { order } = await paidOrderAndNextCart(page, gotoHydrated);

  await warmLoads(page, 'catalog', '/');
  await warmLoads(page, 'cart', '/cart');
  await warmLoads(page, 'checkout', '/checkout');
  await warmLoads(page, 'order', order);
});
