import type { FullConfig } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Storefronts with other settings than the one `cargo leptos end-to-end` starts: the
 * same release binary, each with its own database and embedded Stripe emulator.
 * Specs reach them with `test.use({ baseURL: VARIANTS.… })`.
 */
export const VARIANTS = {
  /** `STORE_REQUIRE_CVC_RECOLLECTION=true`: saved cards ask for the CVC again. */
  cvc: { url: 'http://127.0.0.1:3102', emulator: 'http://127.0.0.1:12112', env: { STORE_REQUIRE_CVC_RECOLLECTION: 'true' } },
  /** The legacy path: `paymentMethodCreation: 'manual'` + `createPaymentMethod`. */
  legacy: { url: 'http://127.0.0.1:3103', emulator: 'http://127.0.0.1:12113', env: { STORE_PAYMENT_METHOD_CREATION: 'manual' } },
  /** `STORE_CAPTURE_METHOD=manual`: payments are authorised, the merchant captures them. */
  capture: { url: 'http://127.0.0.1:3104', emulator: 'http://127.0.0.1:12114', env: { STORE_CAPTURE_METHOD: 'manual' } },
};

/** Polls (bounded) until `url/health` answers 200. */
async function healthy(url: string, what: string) {
  const deadline = Date.now() + 120_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} at ${url} did not become healthy in 120 s (${last})`);
}

/** Waits for the storefront under test, starts the variants, and stops them afterwards. */
export default async function globalSetup(config: FullConfig) {
  const baseURL = config.projects[0].use.baseURL as string;
  await healthy(baseURL, 'the storefront');

  const root = resolve(__dirname, '..');
  const dir = resolve(root, 'target/e2e');
  mkdirSync(dir, { recursive: true });
  const children: ChildProcess[] = [];
  for (const [name, variant] of Object.entries(VARIANTS)) {
    const db = resolve(dir, `${name}.db`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
    const log = openSync(resolve(dir, `${name}.log`), 'w');
    const child = spawn(resolve(root, 'target/release/storefront'), [], {
      cwd: root,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        LEPTOS_SITE_ADDR: new URL(variant.url).host,
        DATABASE_URL: `sqlite://${db}`,
        STRIPE_EMULATOR_ADDR: new URL(variant.emulator).host,
        ...variant.env,
      },
    });
    children.push(child);
  }
  await Promise.all(Object.entries(VARIANTS).map(([name, variant]) => healthy(variant.url, `the ${name} storefront (see target/e2e/${name}.log)`)));
  return async () => {
    for (const child of children) child.kill('SIGTERM');
  };
}
