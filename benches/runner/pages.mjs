// Whole page loads as a browser makes them: headless Chromium loads a page with its CSS,
// scripts, wasm, images and favicon over keep-alive connections, and we time it to the
// `load` event and to `data-hydrated`, counting requests and bytes. Cold: a fresh browser
// context with the cache disabled. Warm: one context, cache on, each load a plain
// navigation from another page (navigating to the current URL would be a reload, which
// revalidates everything). First visit (the checkout only): a fresh context loads the
// cart, then goes to the checkout, as a shopper does the first time: the renderer is up
// and the cart's files (CSS, Stripe.js) are cached, the checkout's own are not.
// Throttled: the checkout page cold, under Chromium's network emulation at a 4G-like
// profile.

/** 4G-like: 9 Mbit/s down, 1.5 Mbit/s up, 60 ms round trip (Chrome DevTools' "Fast 4G" figures, rounded). */
export const FOUR_G = { offline: false, latency: 60, downloadThroughput: (9 * 1024 * 1024) / 8, uploadThroughput: (1.5 * 1024 * 1024) / 8 };

/** Notes when the page is marked hydrated (`window.__hydratedAt`, ms since its navigation began). */
export const HYDRATED = () => {
  new MutationObserver((_, observer) => {
    if (document.body?.dataset.hydrated === 'true') {
      window.__hydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
};

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** One navigation to `url` in `page`: ms to `load`, ms to hydrated, requests and bytes that reached the network. */
async function measure(page, cdp, url) {
  const requests = new Map();
  // Chromium may say "served from cache" before or after the response itself.
  const cached = new Set();
  const onResponse = (event) => {
    const { response } = event;
    if (cached.has(event.requestId) || response.fromDiskCache || response.fromPrefetchCache || response.fromServiceWorker) return;
    requests.set(event.requestId, { url: response.url, status: response.status, bytes: 0 });
  };
  const onCached = (event) => {
    cached.add(event.requestId);
    requests.delete(event.requestId);
  };
  const onFinished = (event) => {
    const request = requests.get(event.requestId);
    if (request) request.bytes = event.encodedDataLength;
  };
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.requestServedFromCache', onCached);
  cdp.on('Network.loadingFinished', onFinished);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 60_000 });
  await page.waitForLoadState('networkidle');
  const { load, hydrated } = await page.evaluate(() => ({
    load: performance.getEntriesByType('navigation')[0].loadEventEnd,
    hydrated: window.__hydratedAt,
  }));
  cdp.off('Network.responseReceived', onResponse);
  cdp.off('Network.requestServedFromCache', onCached);
  cdp.off('Network.loadingFinished', onFinished);
  const all = [...requests.values()];
  return { load, hydrated, requests: all.length, bytes: all.reduce((sum, r) => sum + r.bytes, 0) };
}

function summary(samples) {
  const pick = (key) => samples.map((s) => s[key]);
  return {
    load: { p50: quantile(pick('load'), 0.5), p95: quantile(pick('load'), 0.95) },
    hydrated: { p50: quantile(pick('hydrated'), 0.5), p95: quantile(pick('hydrated'), 0.95) },
    requests: quantile(pick('requests'), 0.5),
    kb: quantile(pick('bytes'), 0.5) / 1024,
  };
}

/** A page in a fresh context holding the shopper's `cookie`, with its DevTools session's
 * network log on: `cache: false` disables the HTTP cache, `network` emulates conditions. */
async function freshPage(browser, origin, cookie, { cache = true, network } = {}) {
  const ctx = await browser.newContext();
  const [name, ...value] = cookie.split('=');
  await ctx.addCookies([{ name, value: value.join('='), url: origin }]);
  await ctx.addInitScript(HYDRATED);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  if (!cache) await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (network) await cdp.send('Network.emulateNetworkConditions', network);
  return { ctx, page, cdp };
}

/** `runs` loads of each of `paths` on `origin` (with the shopper's `cookie`): cold, warm, and the checkout from the cart and throttled. */
export async function pageLoads(browser, origin, cookie, paths, runs) {
  const results = {};
  for (const [name, path] of paths) {
    const url = `${origin}${path}`;
    const cold = [];
    for (let i = 0; i < runs; i++) {
      const { ctx, page, cdp } = await freshPage(browser, origin, cookie, { cache: false });
      cold.push(await measure(page, cdp, url));
      await ctx.close();
    }
    const { ctx, page, cdp } = await freshPage(browser, origin, cookie);
    await measure(page, cdp, url); // fills the cache
    const warm = [];
    for (let i = 0; i < runs; i++) {
      await page.goto('about:blank');
      warm.push(await measure(page, cdp, url));
    }
    await ctx.close();
    results[name] = { cold: summary(cold), warm: summary(warm) };
  }
  const checkout = paths.find(([name]) => name === 'checkout');
  if (checkout) {
    const first = [];
    for (let i = 0; i < runs; i++) {
      const { ctx, page, cdp } = await freshPage(browser, origin, cookie);
      await page.goto(`${origin}/cart`, { waitUntil: 'load' });
      await page.waitForLoadState('networkidle');
      first.push(await measure(page, cdp, `${origin}${checkout[1]}`));
      await ctx.close();
    }
    results.checkout['first visit'] = summary(first);
    const throttled = [];
    for (let i = 0; i < Math.max(3, Math.floor(runs / 2)); i++) {
      const { ctx, page, cdp } = await freshPage(browser, origin, cookie, { cache: false, network: FOUR_G });
      throttled.push(await measure(page, cdp, `${origin}${checkout[1]}`));
      await ctx.close();
    }
    results['checkout, 4G'] = { cold: summary(throttled) };
  }
  return results;
}

/** The README's table: each page and mode, the storefront beside the reference. */
export function pageTable(storefront, reference) {
  const fmt = (value, digits = 0) => (value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
  const header = ['page, cache', 'storefront load p50 / p95 ms', 'hydrated p50 / p95 ms', 'requests', 'KB', 'reference load p50 / p95 ms', 'interactive p50 / p95 ms', 'requests', 'KB'];
  const lines = [header, header.map(() => '---')];
  for (const name of Object.keys(storefront)) {
    for (const mode of ['cold', 'first visit', 'warm']) {
      const s = storefront[name]?.[mode];
      if (!s) continue;
      const r = reference?.[name]?.[mode];
      lines.push([
        `${name}, ${mode}`,
        `${fmt(s.load.p50)} / ${fmt(s.load.p95)}`, `${fmt(s.hydrated.p50)} / ${fmt(s.hydrated.p95)}`, fmt(s.requests), fmt(s.kb, 1),
        r ? `${fmt(r.load.p50)} / ${fmt(r.load.p95)}` : 'n/a', r ? `${fmt(r.hydrated.p50)} / ${fmt(r.hydrated.p95)}` : 'n/a', r ? fmt(r.requests) : 'n/a', r ? fmt(r.kb, 1) : 'n/a',
      ]);
    }
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
