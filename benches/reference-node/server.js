// The reference for `make bench`: the storefront's hot endpoints written as the Node.js
// community would write them — Express 5, Stripe's official SDK, better-sqlite3 —
// doing the same work against the same Stripe emulator. Not a handicapped strawman:
// prepared statements, WAL, synchronous SQLite (better-sqlite3's strength), one
// pooled Stripe client with keep-alive, no per-request logging (the storefront runs
// with RUST_LOG=warn in the bench too).
//
// Environment: PORT, DATABASE_PATH, CATALOG_FILE, STRIPE_SECRET_KEY,
// STRIPE_PUBLISHABLE_KEY, STRIPE_API_BASE (http://host:port), STRIPE_JS_URL,
// STRIPE_WEBHOOK_SECRET, PUBLIC_URL.

import express from 'express';
import Stripe from 'stripe';
import Database from 'better-sqlite3';
import { parse as parseToml } from 'smol-toml';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const env = (name, fallback) => process.env[name] ?? fallback;
const PORT = Number(env('PORT', '3202'));
const PUBLIC_URL = env('PUBLIC_URL', `http://127.0.0.1:${PORT}`);
const PAGE_SIZE = 24;
const MAX_QUANTITY = 99;

// ---- catalog (prices live here, stock in the database) -----------------------------
const catalogFile = parseToml(readFileSync(env('CATALOG_FILE', '../../catalog.toml'), 'utf8'));
const products = catalogFile.products;
const productById = new Map(products.map((p) => [p.id, p]));

// ---- database ------------------------------------------------------------------------
const db = new Database(env('DATABASE_PATH', 'reference.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.exec(`
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS cart_lines (
    session_id TEXT NOT NULL REFERENCES sessions (id), product_id TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99), PRIMARY KEY (session_id, product_id));
  CREATE TABLE IF NOT EXISTS inventory (product_id TEXT PRIMARY KEY, on_hand INTEGER NOT NULL CHECK (on_hand >= 0));
  CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions (id), status TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, payment_intent_id TEXT UNIQUE,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS orders_by_session ON orders (session_id, status);
  CREATE TABLE IF NOT EXISTS order_lines (
    order_id TEXT NOT NULL REFERENCES orders (id), product_id TEXT NOT NULL, name TEXT NOT NULL,
    unit_amount INTEGER NOT NULL, quantity INTEGER NOT NULL, PRIMARY KEY (order_id, product_id));
  CREATE TABLE IF NOT EXISTS payment_attempts (
    order_id TEXT NOT NULL REFERENCES orders (id), attempt INTEGER NOT NULL,
    confirmation_token_id TEXT NOT NULL UNIQUE, idempotency_key TEXT NOT NULL UNIQUE,
    amount INTEGER NOT NULL, payment_intent_id TEXT, outcome TEXT, PRIMARY KEY (order_id, attempt));
  CREATE TABLE IF NOT EXISTS processed_events (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, received_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS outbox (order_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (order_id, kind));
`);
const seed = db.prepare('INSERT INTO inventory (product_id, on_hand) VALUES (?, ?) ON CONFLICT DO NOTHING');
db.transaction(() => products.forEach((p) => seed.run(p.id, p.stock)))();

const sql = {
  session: db.prepare('SELECT 1 FROM sessions WHERE id = ?'),
  newSession: db.prepare('INSERT INTO sessions (id, created_at) VALUES (?, ?)'),
  cart: db.prepare('SELECT product_id, quantity FROM cart_lines WHERE session_id = ? ORDER BY rowid'),
  cartCount: db.prepare('SELECT COALESCE(SUM(quantity), 0) AS n FROM cart_lines WHERE session_id = ?'),
  stockOf: db.prepare('SELECT on_hand FROM inventory WHERE product_id = ?'),
  addLine: db.prepare(`INSERT INTO cart_lines (session_id, product_id, quantity) VALUES (?, ?, ?)
    ON CONFLICT (session_id, product_id) DO UPDATE SET quantity = quantity + excluded.quantity
    WHERE quantity + excluded.quantity <= ?`),
  openOrder: db.prepare("SELECT id FROM orders WHERE session_id = ? AND status IN ('pending', 'failed') ORDER BY created_at DESC LIMIT 1"),
  insertOrder: db.prepare("INSERT INTO orders (id, session_id, status, amount, currency, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)"),
  updateOrder: db.prepare('UPDATE orders SET amount = ?, updated_at = ? WHERE id = ?'),
  clearLines: db.prepare('DELETE FROM order_lines WHERE order_id = ?'),
  insertLine: db.prepare('INSERT INTO order_lines (order_id, product_id, name, unit_amount, quantity) VALUES (?, ?, ?, ?, ?)'),
  nextAttempt: db.prepare('SELECT COALESCE(MAX(attempt), 0) + 1 AS n FROM payment_attempts WHERE order_id = ?'),
  tokenUsed: db.prepare('SELECT order_id FROM payment_attempts WHERE confirmation_token_id = ?'),
  insertAttempt: db.prepare('INSERT INTO payment_attempts (order_id, attempt, confirmation_token_id, idempotency_key, amount) VALUES (?, ?, ?, ?, ?)'),
  finishAttempt: db.prepare('UPDATE payment_attempts SET payment_intent_id = ?, outcome = ? WHERE order_id = ? AND attempt = ?'),
  orderStatus: db.prepare("UPDATE orders SET status = ?, payment_intent_id = COALESCE(?, payment_intent_id), updated_at = ? WHERE id = ? AND status IN ('pending', 'failed', 'confirming')"),
  emptyCart: db.prepare('DELETE FROM cart_lines WHERE session_id = ?'),
  markEvent: db.prepare('INSERT INTO processed_events (event_id, type, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
  orderById: db.prepare('SELECT session_id, status, amount, currency FROM orders WHERE id = ?'),
  orderLines: db.prepare('SELECT product_id, name, quantity FROM order_lines WHERE order_id = ?'),
  orderOfSession: db.prepare('SELECT id, status, amount FROM orders WHERE id = ? AND session_id = ?'),
  orderPage: db.prepare('SELECT name, unit_amount, quantity FROM order_lines WHERE order_id = ? ORDER BY product_id'),
  takeStock: db.prepare('UPDATE inventory SET on_hand = MAX(on_hand - ?, 0) WHERE product_id = ?'),
  paid: db.prepare("UPDATE orders SET status = 'paid', updated_at = ? WHERE id = ?"),
  failed: db.prepare("UPDATE orders SET status = 'failed', updated_at = ? WHERE id = ? AND status IN ('pending', 'confirming')"),
  queueMail: db.prepare("INSERT INTO outbox (order_id, kind, body) VALUES (?, 'confirmation', ?) ON CONFLICT DO NOTHING"),
};

// ---- Stripe ---------------------------------------------------------------------------
const apiBase = new URL(env('STRIPE_API_BASE', 'https://api.stripe.com'));
const stripe = new Stripe(env('STRIPE_SECRET_KEY', ''), {
  host: apiBase.hostname,
  port: Number(apiBase.port || (apiBase.protocol === 'https:' ? 443 : 80)),
  protocol: apiBase.protocol.replace(':', ''),
  maxNetworkRetries: 2,
  timeout: 20_000,
});
const webhookSecret = env('STRIPE_WEBHOOK_SECRET', '');
const publishableKey = env('STRIPE_PUBLISHABLE_KEY', '');
const stripeJsUrl = env('STRIPE_JS_URL', 'https://js.stripe.com/clover/stripe.js');

// ---- helpers -----------------------------------------------------------------------------
const now = () => Math.floor(Date.now() / 1000);
const money = (cents) => `€${(cents / 100).toFixed(2)}`;
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function sessionOf(req) {
  const match = /(?:^|;\s*)sid=([A-Za-z0-9_-]{43})/.exec(req.headers.cookie ?? '');
  return match && sql.session.get(match[1]) ? match[1] : null;
}

function startSession(res) {
  const id = randomBytes(32).toString('base64url');
  sql.newSession.run(id, now());
  res.cookie('sid', id, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 30 * 24 * 3600 * 1000 });
  return id;
}

function pricedCart(session) {
  const lines = session ? sql.cart.all(session) : [];
  const priced = lines.flatMap(({ product_id, quantity }) => {
    const product = productById.get(product_id);
    return product ? [{ product, quantity, total: product.unit_amount * quantity }] : [];
  });
  return { lines: priced, total: priced.reduce((sum, line) => sum + line.total, 0), count: priced.reduce((n, l) => n + l.quantity, 0) };
}

const layout = (title, count, body, head = '') => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/style.css"><script src="${escape(stripeJsUrl)}"></script>${head}</head>
<body><header class="site-header"><a href="/" class="brand">Lumen &amp; Loam</a>
<nav><a href="/account">Account</a> <a href="/cart">Cart <span data-testid="cart-count">${count}</span></a></nav></header>
<main>${body}</main><script>document.body.dataset.hydrated = 'true';</script></body></html>`;

// ---- app -----------------------------------------------------------------------------------
const app = express();
app.disable('x-powered-by');
app.use('/style.css', express.static(new URL('../../style/main.css', import.meta.url).pathname, { maxAge: '1h' }));

// The shop's pictures and icon, cached for an hour like the storefront's.
const publicDir = new URL('../../public', import.meta.url).pathname;
app.use('/images', express.static(`${publicDir}/images`, { maxAge: '1h' }));
app.get('/favicon.svg', (_req, res) => res.sendFile(`${publicDir}/favicon.svg`, { maxAge: '1h' }));

app.get('/health', (_req, res) => res.send('ok'));

app.get('/cart', (req, res) => {
  const cart = pricedCart(sessionOf(req));
  const lines = cart.lines
    .map((l) => `<li data-testid="cart-line-${l.product.id}"><span>${l.quantity} × ${escape(l.product.name)}</span><span>${money(l.total)}</span></li>`)
    .join('');
  const body = cart.lines.length
    ? `<h1>Cart</h1><ul class="summary-lines">${lines}</ul><p class="total">Total <strong data-testid="order-total">${money(cart.total)}</strong></p><p><a href="/checkout">Go to checkout</a></p>`
    : '<h1>Cart</h1><p data-testid="cart-empty">Your cart is empty.</p>';
  res.send(layout('Cart', cart.count, body));
});

app.get('/orders/:id', (req, res) => {
  const session = sessionOf(req);
  const order = session && sql.orderOfSession.get(req.params.id, session);
  if (!order) return res.status(404).send(layout('Order not found', 0, '<h1>Order not found</h1>'));
  const lines = sql.orderPage.all(order.id).map((l) => `<li><span>${l.quantity} × ${escape(l.name)}</span><span>${money(l.unit_amount * l.quantity)}</span></li>`).join('');
  const settling = order.status === 'pending' || order.status === 'confirming';
  res.send(layout(`Order ${order.id}`, sql.cartCount.get(session).n, `<h1>Order ${escape(order.id)}</h1>
<p>Status: <strong data-testid="order-status" data-status="${escape(order.status)}">${escape(order.status)}</strong></p>
<ul class="summary-lines">${lines}</ul><p class="total">Total <strong>${money(order.amount)}</strong></p>`, settling ? '<meta http-equiv="refresh" content="3">' : ''));
});

app.get('/', (req, res) => {
  const page = Math.max(1, Number.parseInt(req.query.page ?? '1', 10) || 1);
  const pageProducts = products.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const session = sessionOf(req);
  const count = session ? sql.cartCount.get(session).n : 0;
  const cards = pageProducts.map((p) => {
    const stock = sql.stockOf.get(p.id)?.on_hand ?? 0;
    return `<li class="product" data-testid="product-${p.id}"><img src="${escape(p.image)}" alt="" width="240" height="240">
<h2>${escape(p.name)}</h2><p class="description">${escape(p.description)}</p><p class="price">${money(p.unit_amount)}</p>
<p class="availability">${stock === 0 ? 'Sold out' : stock <= 5 ? `Only ${stock} left` : 'In stock'}</p>
<form method="post" action="/cart/add"><input type="hidden" name="product_id" value="${p.id}"><input type="hidden" name="quantity" value="1">
<button type="submit" data-testid="add-to-cart-${p.id}"${stock === 0 ? ' disabled' : ''}>Add to cart</button></form></li>`;
  });
  res.send(layout('Shop', count, `<h1>Shop</h1><ul class="products">${cards.join('')}</ul>`));
});

app.post('/cart/add', express.urlencoded({ extended: false, limit: '64kb' }), (req, res) => {
  const product = productById.get(String(req.body.product_id));
  const quantity = Number.parseInt(req.body.quantity, 10);
  if (!product || !(quantity >= 1 && quantity <= MAX_QUANTITY)) return res.status(400).json({ error: 'That product is not in our catalog.' });
  const session = sessionOf(req) ?? startSession(res);
  const stock = sql.stockOf.get(product.id)?.on_hand ?? 0;
  const changed = sql.addLine.run(session, product.id, quantity, Math.min(MAX_QUANTITY, stock)).changes;
  if (!changed) return res.status(400).json({ error: `Only ${stock} in stock: your cart cannot hold more.` });
  res.json(pricedCart(session).count);
});

app.get('/checkout', (req, res) => {
  const cart = pricedCart(sessionOf(req));
  if (!cart.lines.length) return res.send(layout('Checkout', 0, '<h1>Checkout</h1><p class="empty">Your cart is empty.</p>'));
  const lines = cart.lines.map((l) => `<li><span>${l.quantity} × ${escape(l.product.name)}</span><span>${money(l.total)}</span></li>`).join('');
  const config = JSON.stringify({ publishableKey, amount: cart.total, currency: 'eur', returnUrl: `${PUBLIC_URL}/checkout/complete` });
  res.send(layout('Checkout', cart.count, `<h1>Checkout</h1>
<section class="summary"><h2>Your order</h2><ul class="summary-lines">${lines}</ul>
<p class="total">Total <strong data-testid="order-total">${money(cart.total)}</strong></p></section>
<form class="payment" id="payment-form"><h2>Shipping address</h2><div id="address-element" data-testid="address-element"></div>
<h2>Payment</h2><div id="payment-element" data-testid="payment-element"></div>
<p class="error" data-testid="payment-error" role="alert"></p>
<button type="submit" class="primary" data-testid="pay-button">Pay ${money(cart.total)}</button></form>
<script>
const config = ${config.replace(/</g, '\\u003c')};
const stripe = Stripe(config.publishableKey);
const elements = stripe.elements({ mode: 'payment', amount: config.amount, currency: config.currency });
elements.create('address', { mode: 'shipping' }).mount('#address-element');
elements.create('payment', { layout: 'accordion' }).mount('#payment-element');
document.getElementById('payment-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.querySelector('[data-testid=payment-error]');
  const submitted = elements.submit();
  const { error: invalid } = await submitted;
  if (invalid) return (error.textContent = invalid.message);
  const { confirmationToken, error: failed } = await stripe.createConfirmationToken({ elements, params: { return_url: config.returnUrl } });
  if (failed) return (error.textContent = failed.message);
  const reply = await fetch('/checkout/confirm', { method: 'POST', body: new URLSearchParams({ confirmation_token: confirmationToken.id }) });
  const body = await reply.json();
  if (!reply.ok) return (error.textContent = body.error);
  if (body.status === 'requires_action') await stripe.handleNextAction({ clientSecret: body.client_secret });
  location.href = '/checkout/complete?payment_intent=' + body.payment_intent;
});
document.body.dataset.hydrated = 'true';
</script>`));
});

app.post('/checkout/confirm', express.urlencoded({ extended: false, limit: '64kb' }), async (req, res, next) => {
  try {
    const token = String(req.body.confirmation_token ?? '');
    if (!/^ctoken_[A-Za-z0-9]+$/.test(token)) return res.status(400).json({ error: 'The payment details were not received correctly.' });
    const session = sessionOf(req);
    const cart = pricedCart(session);
    if (!cart.lines.length) return res.status(400).json({ error: 'Your cart is empty: add something before paying.' });
    for (const line of cart.lines) {
      const stock = sql.stockOf.get(line.product.id)?.on_hand ?? 0;
      if (line.quantity > stock) return res.status(400).json({ error: `Only ${stock} × ${line.product.name} left in stock.` });
    }
    const attempt = db.transaction(() => {
      if (sql.tokenUsed.get(token)) return null;
      const t = now();
      let orderId = sql.openOrder.get(session)?.id;
      if (orderId) {
        sql.updateOrder.run(cart.total, t, orderId);
        sql.clearLines.run(orderId);
      } else {
        orderId = `ord_${randomBytes(12).toString('hex')}`;
        sql.insertOrder.run(orderId, session, cart.total, 'eur', t, t);
      }
      for (const line of cart.lines) sql.insertLine.run(orderId, line.product.id, line.product.name, line.product.unit_amount, line.quantity);
      const number = sql.nextAttempt.get(orderId).n;
      const key = `${orderId}-attempt-${number}`;
      sql.insertAttempt.run(orderId, number, token, key, cart.total);
      return { orderId, number, key };
    }).immediate();
    if (!attempt) return res.status(400).json({ error: 'These payment details were already used.' });
    let intent;
    try {
      intent = await stripe.paymentIntents.create(
        {
          amount: cart.total,
          currency: 'eur',
          confirm: true,
          confirmation_token: token,
          automatic_payment_methods: { enabled: true },
          return_url: `${PUBLIC_URL}/checkout/complete`,
          metadata: { order_id: attempt.orderId },
        },
        { idempotencyKey: attempt.key },
      );
    } catch (error) {
      if (error.type === 'StripeCardError') {
        sql.finishAttempt.run(error.payment_intent?.id ?? null, error.decline_code ?? error.code ?? 'card_error', attempt.orderId, attempt.number);
        sql.orderStatus.run('failed', null, now(), attempt.orderId);
        return res.status(402).json({ error: error.message });
      }
      throw error;
    }
    db.transaction(() => {
      sql.finishAttempt.run(intent.id, intent.status, attempt.orderId, attempt.number);
      sql.orderStatus.run('confirming', intent.id, now(), attempt.orderId);
      if (intent.status !== 'requires_action') sql.emptyCart.run(session);
    })();
    res.json({ order_id: attempt.orderId, payment_intent: intent.id, status: intent.status, client_secret: intent.client_secret });
  } catch (error) {
    next(error);
  }
});

app.post('/webhook', express.raw({ type: 'application/json', limit: '512kb' }), (req, res) => {
  let event;
  try {
    event = stripe.webhooks.constructEvent(req.body, req.headers['stripe-signature'], webhookSecret);
  } catch {
    return res.status(400).send('invalid signature');
  }
  if (!event.type.startsWith('payment_intent.')) return res.send('ignored');
  const intent = event.data.object;
  const orderId = intent.metadata?.order_id;
  db.transaction(() => {
    if (!sql.markEvent.run(event.id, event.type, now()).changes) return; // a duplicate
    const order = orderId && sql.orderById.get(orderId);
    if (!order) return;
    if (event.type === 'payment_intent.succeeded' && order.status !== 'paid' && order.amount === intent.amount && order.currency === intent.currency) {
      const lines = sql.orderLines.all(orderId);
      for (const line of lines) sql.takeStock.run(line.quantity, line.product_id);
      sql.paid.run(now(), orderId);
      sql.emptyCart.run(order.session_id);
      sql.queueMail.run(orderId, `Thank you for your order ${orderId}: ${lines.map((l) => `${l.quantity} × ${l.name}`).join(', ')}.`);
    } else if (event.type === 'payment_intent.payment_failed' || event.type === 'payment_intent.canceled') {
      sql.failed.run(now(), orderId);
    }
  }).immediate();
  res.send('ok');
});

app.use((error, _req, res, _next) => {
  console.error(error);
  res.status(error.type === 'StripeConnectionError' ? 503 : 500).json({ error: 'Something went wrong on our side.' });
});

app.listen(PORT, '127.0.0.1', () => console.log(`reference listening on http://127.0.0.1:${PORT}`));
