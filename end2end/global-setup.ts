import type { FullConfig } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { connect } from 'node:net';

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
  /** Order emails sent over SMTP, to the aiosmtpd below (it keeps them in MAILDIR). */
  mail: { url: 'http://127.0.0.1:3105', emulator: 'http://127.0.0.1:12115', env: { SMTP_URL: 'smtp://127.0.0.1:12525', MAIL_RETRY_SECS: '1' } },
  /**
   * The default settings, for the subscription specs: their accounts do not count
   * against the main storefront's limit of 10 sign-ups per address an hour, which the
   * account specs use up.
   */
  subscriptions: { url: 'http://127.0.0.1:3106', emulator: 'http://127.0.0.1:12116', env: {} },
  /**
   * The shop's catalog with one more code, `E2E-FREE`, that takes everything off
   * (`writeFreeCatalog`); and an explicit list of payment methods, card and iDEAL.
   */
  free: {
    url: 'http://127.0.0.1:3107',
    emulator: 'http://127.0.0.1:12117',
    env: { STORE_CATALOG_FILE: 'target/e2e/free-catalog.toml', STORE_PAYMENT_METHOD_TYPES: 'card,ideal' },
  },
};

/** `catalog.toml` and a discount code that takes 100% off: totals Stripe cannot charge. */
function writeFreeCatalog(root: string) {
  const code = '\n[[discounts]]\ncode = "E2E-FREE"\npercent_off = 100\n';
  writeFileSync(resolve(root, VARIANTS.free.env.STORE_CATALOG_FILE), readFileSync(resolve(root, 'catalog.toml'), 'utf8') + code);
}

/** Where the SMTP server of the `mail` storefront keeps what it receives (`new/`). */
export const MAILDIR = resolve(__dirname, '../target/e2e/maildir');

/** Polls (bounded) until `url/health` answers 200, while `running()`. */
async function healthy(url: string, what: string, running = () => true) {
  const deadline = Date.now() + 120_000;
  let last = '';
  while (Date.now() < deadline && running()) {
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

/** Whether something accepts TCP connections on `port` now. */
function accepting(port: number): Promise<boolean> {
  return new Promise<boolean>((done) => {
    const socket = connect(port, '127.0.0.1', () => { socket.end(); done(true); });
    socket.on('error', () => done(false));
  });
}

/** Polls (bounded) until something accepts TCP connections on `port`. */
async function listening(port: number, what: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await accepting(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not listen on port ${port} in 30 s`);
}

/**
 * Polls until `url/health` answers 200, failing at once if `child` exits first: a
 * storefront that cannot start (its port taken, say) says why in its log, and waiting
 * the whole 120 s for it would only hide that.
 */
async function healthyWhileRunning(child: ChildProcess, url: string, what: string) {
  let onExit: (code: number | null, signal: NodeJS.Signals | null) => void = () => {};
  const exited = new Promise<never>((_, fail) => {
    onExit = (code, signal) => fail(new Error(`${what} exited (${signal ?? `code ${code}`}) before it was healthy`));
    child.once('exit', onExit);
  });
  try {
    await Promise.race([healthy(url, what, () => child.exitCode === null && child.signalCode === null), exited]);
  } finally {
    child.off('exit', onExit);
  }
}

/**
 * Waits for the storefront under test, starts the variants, and stops them afterwards,
 * or at once if one cannot start (Playwright runs no teardown for a setup that failed,
 * and a storefront left running would hold its ports against the next run).
 */
export default async function globalSetup(config: FullConfig) {
  const baseURL = config.projects[0].use.baseURL as string;
  await healthy(baseURL, 'the storefront');

  const root = resolve(__dirname, '..');
  const dir = resolve(root, 'target/e2e');
  mkdirSync(dir, { recursive: true });
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const child of children) child.kill('SIGTERM');
  };
  try {
    await startVariants(root, dir, children);
  } catch (error) {
    stop();
    throw error;
  }
  return async () => stop();
}

/** The SMTP server and the variants, each pushed to `children` as it is spawned; resolves once all are up. */
async function startVariants(root: string, dir: string, children: ChildProcess[]) {
  // A real SMTP server (Debian's aiosmtpd, `make smtp`) for the `mail` storefront.
  rmSync(MAILDIR, { recursive: true, force: true });
  // Another process on its port (an SMTP server left by an interrupted run) would take
  // the messages instead, into another folder: the mail tests would fail, saying nothing
  // of why.
  if (await accepting(12525)) {
    throw new Error('port 12525, where the SMTP server of the tests listens, is taken: stop what holds it (`ss -ltnp sport = :12525`; an aiosmtpd left by an interrupted run: `pkill -f aiosmtpd`)');
  }
  const smtpLog = openSync(resolve(dir, 'smtp.log'), 'w');
  children.push(
    spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', '127.0.0.1:12525', '-c', 'aiosmtpd.handlers.Mailbox', MAILDIR], {
      stdio: ['ignore', smtpLog, smtpLog],
    }),
  );
  await listening(12525, 'aiosmtpd (`make smtp`; see target/e2e/smtp.log)');
  writeFreeCatalog(root);
  const started: Promise<void>[] = [];
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
    started.push(healthyWhileRunning(child, variant.url, `the ${name} storefront (see target/e2e/${name}.log)`));
  }
  await Promise.all(started);
}
