import { test, expect, waitForHydration, paidOrderAndNextCart } from './fixtures';
import type { Page } from '@playwright/test';

// A budget for whole page loads as a returning shopper's browser makes them: warm (the
// cache filled by an earlier visit), over kept-alive connections. It fails when a
// first-party response is slow on loopback (as every static file was, 41 ms, when
// responses were written without TCP_NODELAY), or when a page asks the network for
// more than it needs (as every page did before /pkg names carried a content hash: the
// CSS and JS revalidated, the wasm fetched again).
//
// Runs in its own Playwright project after every other test has finished, so that the
// times are the server's and not those of a machine busy with other browsers.

/** Slowest first-party response allowed on loopback, request sent to last byte. */
const MAX_RESPONSE_MS = 20;
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
  /** Request sent to response's last byte, in ms. */
  ms: number;
}

/** The shop's own responses to the page now loaded: the document and every resource. */
async function firstPartyFetches(page: Page): Promise<Fetched[]> {
  return page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[];
    return entries
      .filter((entry) => new URL(entry.name).origin === location.origin)
      .map((entry) => ({ url: entry.name, transferSize: entry.transferSize, ms: entry.responseEnd - entry.requestStart }));
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
    const seen = network.map((fetched) => `${new URL(fetched.url).pathname} ${fetched.ms.toFixed(1)} ms`).join(', ');
    expect(network.length, `${name}, warm load ${load}: requests to the shop: ${seen}`).toBeLessThanOrEqual(MAX_REQUESTS[name]);
    for (const fetched of network) {
      expect(fetched.ms, `${name}, warm load ${load}: ${fetched.url} took ${fetched.ms.toFixed(1)} ms`).toBeLessThanOrEqual(MAX_RESPONSE_MS);
    }
  }
}

test('warm page loads make one request each, and every response is fast', async ({ page, gotoHydrated }) => {
  // An order and a cart to look at.
  const { order } = await paidOrderAndNextCart(page, gotoHydrated);

  await warmLoads(page, 'catalog', '/');
  await warmLoads(page, 'cart', '/cart');
  await warmLoads(page, 'checkout', '/checkout');
  await warmLoads(page, 'order', order);
});
