// The soak (part of make bench): the storefront (release build, SQLite) and the Stripe
// emulator on loopback, fed a steady mix of traffic for a bounded time: browsing,
// checkouts with every kind of test card (3-D Secure completed through the emulator), and
// webhook events delivered again (duplicates). Reports unexpected replies (must be 0),
// latency percentiles, and resident memory over time with its trend; stops by itself.
//
// SOAK_SECS (default 180) and SOAK_RATE (jobs started per second, default 30) tune it.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { healthy as healthyOr } from './common.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const Database = require(path.join(ROOT, 'benches/reference-node/node_modules/better-sqlite3'));

const SECS = Number(process.env.SOAK_SECS ?? 180);
const RATE = Number(process.env.SOAK_RATE ?? 30);
const WORK = path.join(ROOT, 'target/bench/soak');
const SHOP = 'http://127.0.0.1:3202';
const STRIPE = 'http://127.0.0.1:12202';
const SECRET_KEY = 'sk_test_soak';
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('hex')}`;

// What each test card must lead to (status of the confirm reply, and what follows).
const CARDS = [
  ['pm_card_visa', 200, 'Succeeded'],
  ['pm_card_mastercard', 200, 'Succeeded'],
  ['pm_card_chargeDeclined', 402],
  ['pm_card_chargeDeclinedInsufficientFunds', 402],
  ['pm_card_chargeDeclinedExpiredCard', 402],
  ['pm_card_chargeDeclinedIncorrectCvc', 402],
  ['pm_card_threeDSecure2Required', 200, 'RequiresAction'],
];

const children = [];
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

function start(name, command, args, env) {
  const log = fs.openSync(path.join(WORK, `${name}.log`), 'w');
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  children.push(child);
  return child;
}


function rssMb(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

const healthy = (url) => healthyOr(url, 'target/bench/soak/*.log');

// ---- measuring ------------------------------------------------------------------------

const latencies = {};
const unexpected = [];
let jobs = 0;

async function timed(kind, request, expect) {
  const began = performance.now();
  let reply;
  try {
    reply = await request();
  } catch (error) {
    unexpected.push(`${kind}: ${error.cause?.code ?? error.message}`);
    return null;
  }
  (latencies[kind] ??= []).push(performance.now() - began);
  const body = await reply.text();
  if (!expect(reply.status)) {
    unexpected.push(`${kind}: HTTP ${reply.status} ${body.slice(0, 160)}`);
    return null;
  }
  return { reply, body };
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

// ---- the traffic ----------------------------------------------------------------------

const form = (fields) => new URLSearchParams(fields).toString();
const formHeaders = (cookie, address) => ({
  'content-type': 'application/x-www-form-urlencoded',
  'x-forwarded-for': address,
  ...(cookie ? { cookie } : {}),
});

async function browse(n) {
  const page = ['/', '/', '/cart', '/?page=1'][n % 4];
  await timed(`GET ${page.split('?')[0]}`, () => fetch(`${SHOP}${page}`), (s) => s === 200);
}

async function checkout(n) {
  const [card, status, outcome] = CARDS[n % CARDS.length];
  const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const added = await timed('cart/add', () => fetch(`${SHOP}/api/cart/add`, {
    method: 'POST', headers: formHeaders(null, address), body: form({ product_id: 'ceramic-mug', quantity: '1' }),
  }), (s) => s === 200);
  if (!added) return;
  const cookie = added.reply.headers.get('set-cookie').split(';')[0];
  const token = await timed('stripe: token', () => fetch(`${STRIPE}/v1/test_helpers/confirmation_tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' }, body: form({ payment_method: card }),
  }), (s) => s === 200);
  if (!token) return;
  const confirmed = await timed('checkout/confirm', () => fetch(`${SHOP}/api/checkout/confirm`, {
    method: 'POST', headers: formHeaders(cookie, address), body: form({ confirmation_token: JSON.parse(token.body).id }),
  }), (s) => s === status);
  if (!confirmed || !outcome) return;
  const reply = JSON.parse(confirmed.body);
  if (reply.status !== outcome) unexpected.push(`checkout/confirm with ${card}: ${reply.status}, expected ${outcome}`);
  if (outcome === 'RequiresAction') {
    await timed('stripe: 3-D Secure', () => fetch(`${STRIPE}/_emulator/3ds/${reply.payment_intent}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: reply.client_secret, result: 'complete' }),
    }), (s) => s === 200);
  }
}

async function duplicateWebhook() {
  const events = await (await fetch(`${STRIPE}/_emulator/events`)).json();
  if (!events.data.length) return;
  const event = events.data[Math.floor(Math.random() * events.data.length)];
  await timed('stripe: resend event', () => fetch(`${STRIPE}/_emulator/events/${event.id}/resend`, { method: 'POST' }), (s) => s === 200);
}

async function job(n) {
  jobs += 1;
  const pick = n % 10;
  if (pick < 6) return browse(n);
  if (pick < 9) return checkout(n);
  return duplicateWebhook();
}

// ---- the run --------------------------------------------------------------------------

async function main() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const db = path.join(WORK, 'storefront.db');
  start('emulator', path.join(ROOT, 'target/release/stripe-emulator'), [
    '--addr', '127.0.0.1:12202', '--webhook-url', `${SHOP}/webhook`, '--webhook-secret', WEBHOOK_SECRET, '--retry-schedule', '1,2,5,10',
  ]);
  const shop = start('storefront', path.join(ROOT, 'target/release/storefront'), [], {
    STOREFRONT_CONFIG: 'benches/bench.toml',
    LEPTOS_SITE_ADDR: '127.0.0.1:3202',
    DATABASE_URL: `sqlite://${db}`,
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_PUBLISHABLE_KEY: 'pk_test_soak',
    STRIPE_API_BASE: STRIPE,
    STRIPE_JS_URL: `${STRIPE}/v3/`,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    PUBLIC_URL: SHOP,
    TRUST_X_FORWARDED_FOR: 'true',
    RUST_LOG: 'warn',
  });
  await Promise.all([healthy(STRIPE), healthy(SHOP)]);
  new Database(db).exec('UPDATE inventory SET on_hand = 1000000000');

  process.stderr.write(`soak: ${SECS} s at ${RATE} jobs/s (60% browsing, 30% checkouts with ${CARDS.length} test cards, 10% webhook duplicates)\n`);
  const memory = [];
  const began = Date.now();
  const sampler = setInterval(() => memory.push([(Date.now() - began) / 1000, rssMb(shop.pid)]), 5_000);
  const running = new Set();
  let n = 0;
  while (Date.now() - began < SECS * 1000) {
    const due = began + (n * 1000) / RATE;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const work = job(n).catch((error) => unexpected.push(`job: ${error.message}`));
    running.add(work);
    work.finally(() => running.delete(work));
    n += 1;
  }
  await Promise.all(running);
  clearInterval(sampler);
  memory.push([(Date.now() - began) / 1000, rssMb(shop.pid)]);

  // Settled: every succeeded PaymentIntent became exactly one paid order. The last
  // jobs' webhooks are still on their way when the last reply is in: wait for them
  // (up to 30 s), so that what is counted is the outcome, not the race.
  const orders = new Database(db, { readonly: true });
  const unsettled = orders.prepare("SELECT COUNT(*) AS n FROM orders WHERE status IN ('pending', 'confirming')");
  const settleBy = Date.now() + 30_000;
  while (unsettled.get().n > 0 && Date.now() < settleBy) await new Promise((resolve) => setTimeout(resolve, 100));
  const awaiting = unsettled.get().n;
  const paid = orders.prepare("SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'").get().n;
  const confirmations = orders.prepare("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'order_confirmation'").get().n;
  if (paid !== confirmations) unexpected.push(`${paid} paid orders but ${confirmations} confirmations`);

  const steady = memory.filter(([t]) => t >= SECS / 3);
  const trend = slope(steady) * 60;
  const rows = Object.entries(latencies).map(([kind, values]) =>
    `| ${kind} | ${values.length} | ${percentile(values, 50).toFixed(1)} | ${percentile(values, 99).toFixed(1)} | ${Math.max(...values).toFixed(1)} |`);
  let out = `\n## Soak — ${new Date().toISOString()}\n\n${SECS} s, ${jobs} jobs at ${RATE}/s; storefront (release, SQLite) and the emulator on loopback.\n\n`;
  out += `| request | count | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}\n\n`;
  out += `Unexpected replies: ${unexpected.length}${unexpected.length ? ` (first: ${unexpected.slice(0, 5).join('; ')})` : ''}.\n`;
  out += `Orders paid: ${paid}, confirmations sent: ${confirmations}, still settling at the end: ${awaiting}.\n`;
  out += `Storefront RSS (MB) every 5 s: ${memory.map(([, mb]) => mb.toFixed(0)).join(' ')}; trend over the last two thirds: ${trend >= 0 ? '+' : ''}${trend.toFixed(2)} MB/min.\n`;
  process.stdout.write(out);
  fs.writeFileSync(path.join(ROOT, 'target/bench/soak.md'), out);
  fs.writeFileSync(path.join(ROOT, 'target/bench/soak.json'), JSON.stringify({ secs: SECS, rate: RATE, jobs, unexpected, paid, confirmations, memory, trendMbPerMin: trend, latencies: Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, { count: v.length, p50: percentile(v, 50), p99: percentile(v, 99) }])) }, null, 2));
  process.exit(unexpected.length ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
