import { defineConfig } from '@playwright/test';

// The storefront is started by `cargo leptos end-to-end` (see the Makefile); the global
// set-up waits until it answers /health. Chromium is Debian's: Playwright never
// downloads a browser here.
const baseURL = process.env.STOREFRONT_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  testDir: './tests',
  globalSetup: './global-setup.ts',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: true,
  retries: 0,
  // The JSON report is what `make test` checks: `cargo leptos end-to-end` exits 0 even
  // when the server fails to build and no test runs (scripts/e2e-passed.mjs).
  reporter: [['list'], ['json', { outputFile: '../target/e2e/results.json' }]],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      ],
    },
  },
  projects: [
    { name: 'chromium', use: { browserName: 'chromium' } },
  ],
});
