// Fails unless the Playwright run whose JSON report is named on the command line ran
// tests and every one passed the first time. `cargo leptos end-to-end` exits 0 when the
// server fails to build (no test runs at all), so its exit status proves nothing.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.error(`no Playwright report at ${file}: the end-to-end run did not happen (did the build fail?)\n${error.message}`);
  process.exit(1);
}
const { expected = 0, unexpected = 0, flaky = 0, skipped = 0 } = report.stats ?? {};
const errors = report.errors ?? [];
console.log(`end-to-end: ${expected} passed, ${unexpected} failed, ${flaky} flaky, ${skipped} skipped`);
if (expected === 0 || unexpected > 0 || flaky > 0 || skipped > 0 || errors.length > 0) {
  for (const error of errors) console.error(error.message ?? error);
  console.error('the end-to-end run is not a clean pass');
  process.exit(1);
}
