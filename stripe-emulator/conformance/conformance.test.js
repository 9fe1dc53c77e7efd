// @ts-check
// Stripe's official Node SDK, pointed at the emulator, runs the server side of the
// deferred-intent flow. Type-checked against the SDK's own TypeScript types (tsc
// --checkJs), so a shape the SDK does not expect fails before a test runs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { startEmulator, startReceiver, waitFor } from './harness.js';

/** @type {Awaited<ReturnType<typeof startEmulator>>} */
let emulator;
/** @type {Stripe} */
let stripe;

before(async () => {
  emulator = await startEmulator(['--retry-schedule', '0.05,0.05']);
  stripe = new Stripe('sk_test_conformance', {
    host: '127.0.0.1',
    port: emulator.port,
    protocol: 'http',
    maxNetworkRetries: 2,
  });
});

after(() => emulator.stop());

/** @param {string} paymentMethod */
async function token(paymentMethod) {
  /** @type {Stripe.ConfirmationToken} */
  const token = await stripe.testHelpers.confirmationTokens.create({
    payment_method: paymentMethod,
    return_url: 'https://shop.example/checkout/complete',
  });
  return token.id;
}

/**
 * A new customer (`email`, with a `balance` if given) subscribed to 12.00 EUR a month,
 * `default_incomplete`: the subscription, its first invoice and that invoice's
 * PaymentIntent (none when the balance paid it).
 * @param {string} email
 * @param {number} [balance]
 */
async function incompleteSubscription(email, balance = 0) {
  const customer = await stripe.customers.create({ email, balance });
  const product = await stripe.products.create({ name: 'Coffee beans, monthly' });
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price_data: { currency: 'eur', unit_amount: 1200, product: product.id, recurring: { interval: 'month' } } }],
    payment_behavior: 'default_incomplete',
    payment_settings: { save_default_payment_method: 'on_subscription' },
    expand: ['latest_invoice.payments', 'pending_setup_intent'],
  });
  const invoice = /** @type {Stripe.Invoice} */ (subscription.latest_invoice);
  const intentId = /** @type {string} */ (invoice.payments?.data[0]?.payment.payment_intent);
  return { subscription, invoice, intentId };
}

/**
 * Confirms a subscription's first PaymentIntent with a token for test card `paymentMethod`.
 * @param {string} intentId
 * @param {string} paymentMethod
 */
async function confirmFirstPayment(intentId, paymentMethod) {
  return stripe.paymentIntents.confirm(intentId, {
    confirmation_token: await token(paymentMethod),
    return_url: 'https://shop.example/subscribe/complete',
  });
}

/**
 * @param {string} path
 * @param {Record<string, unknown>} body
 */
async function control(path, body) {
  const response = await fetch(`${emulator.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.json();
}

test('customer, customer session and a create-and-confirm payment with a test token', async () => {
  const customer = await stripe.customers.create({ email: 'jenny@example.com', metadata: { account: '42' } });
  assert.equal(customer.object, 'customer');
  assert.equal(customer.metadata.account, '42');

  const session = await stripe.customerSessions.create({
    customer: customer.id,
    components: {
      payment_element: {
        enabled: true,
        features: { payment_method_save: 'enabled', payment_method_redisplay: 'enabled', payment_method_remove: 'enabled' },
      },
    },
  });
  assert.match(session.client_secret, /^cuss_secret_/);
  assert.equal(session.components?.payment_element.features?.payment_method_redisplay, 'enabled');

  const ctoken = await token('pm_card_visa');
  const retrieved = await stripe.confirmationTokens.retrieve(ctoken);
  assert.equal(retrieved.payment_method_preview?.card?.last4, '4242');

  /** @type {Stripe.PaymentIntentCreateParams} */
  const params = {
    amount: 2599,
    currency: 'eur',
    confirm: true,
    confirmation_token: ctoken,
    automatic_payment_methods: { enabled: true },
    return_url: 'https://shop.example/checkout/complete',
    customer: customer.id,
    metadata: { order_id: 'ord_1' },
  };
  const intent = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-ord_1-attempt-1' });
  assert.equal(intent.status, 'succeeded');
  assert.equal(intent.amount_received, 2599);
  assert.equal(intent.metadata.order_id, 'ord_1');

  const again = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-ord_1-attempt-1' });
  assert.equal(again.id, intent.id, 'an idempotent replay returns the same PaymentIntent');
  assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
});

test('declines surface as StripeCardError with the decline code and the intent', async () => {
  const ctoken = await token('pm_card_visa_chargeDeclinedInsufficientFunds');
  await assert.rejects(
    stripe.paymentIntents.create({
      amount: 1000,
      currency: 'eur',
      confirm: true,
      confirmation_token: ctoken,
      return_url: 'https://shop.example/checkout/complete',
    }),
    (/** @type {any} */ error) => {
      assert.ok(error instanceof Stripe.errors.StripeCardError, `got ${error?.type}`);
      assert.equal(error.code, 'card_declined');
      assert.equal(error.decline_code, 'insufficient_funds');
      assert.equal(error.statusCode, 402);
      assert.equal(error.payment_intent?.status, 'requires_payment_method');
      assert.match(String(error.requestId), /^req_/);
      return true;
    },
  );
});

test('a 3-D Secure card needs action; the SDK sees use_stripe_sdk', async () => {
  const intent = await stripe.paymentIntents.create({
    amount: 1000,
    currency: 'eur',
    confirm: true,
    confirmation_token: await token('pm_card_threeDSecure2Required'),
    return_url: 'https://shop.example/checkout/complete',
  });
  assert.equal(intent.status, 'requires_action');
  assert.equal(intent.next_action?.type, 'use_stripe_sdk');
  await control(`/_emulator/3ds/${intent.id}`, { client_secret: intent.client_secret, result: 'complete' });
  const after = await stripe.paymentIntents.retrieve(intent.id);
  assert.equal(after.status, 'succeeded');
});

test('invalid requests surface as StripeInvalidRequestError naming the parameter', async () => {
  await assert.rejects(
    stripe.paymentIntents.create({ amount: 10, currency: 'eur' }),
    (/** @type {any} */ error) => error instanceof Stripe.errors.StripeInvalidRequestError && error.param === 'amount',
  );
  await assert.rejects(
    stripe.paymentIntents.create({ amount: 0, currency: 'eur' }),
    (/** @type {any} */ error) =>
      error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'parameter_invalid_integer' && error.param === 'amount',
  );
  await assert.rejects(
    stripe.paymentIntents.retrieve('pi_does_not_exist'),
    (/** @type {any} */ error) => error.statusCode === 404 && error.code === 'resource_missing',
  );
});

test('the SDK retries a 503 with Stripe-Should-Retry and a dropped connection, with one idempotency key', async () => {
  await control('/_emulator/faults', { path: '/v1/customers', method: 'POST', status: 503, should_retry: true, count: 1 });
  await control('/_emulator/faults', { path: '/v1/customers', method: 'POST', drop: true, phase: 'after', count: 1 });
  const before = (await stripe.customers.list({ limit: 100 })).data.length;
  const customer = await stripe.customers.create({ email: 'retry@example.com' });
  assert.equal(customer.email, 'retry@example.com');
  const afterCount = (await stripe.customers.list({ limit: 100 })).data.length;
  assert.equal(afterCount, before + 1, 'the retries created exactly one customer');
});

test('saved cards: list through both routes, detach', async () => {
  const customer = await stripe.customers.create({});
  const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
  const viaCustomer = await stripe.customers.listPaymentMethods(customer.id, { type: 'card' });
  const viaList = await stripe.paymentMethods.list({ customer: customer.id, type: 'card' });
  assert.deepEqual(viaCustomer.data.map((m) => m.id), [pm.id]);
  assert.deepEqual(viaList.data.map((m) => m.id), [pm.id]);
  const detached = await stripe.paymentMethods.detach(pm.id);
  assert.equal(detached.customer, null);
});

test('setup intents confirm from a token and save the card', async () => {
  const customer = await stripe.customers.create({});
  const setup = await stripe.setupIntents.create({
    customer: customer.id,
    confirm: true,
    confirmation_token: await token('pm_card_visa'),
    automatic_payment_methods: { enabled: true },
  });
  assert.equal(setup.status, 'succeeded');
  const saved = await stripe.customers.listPaymentMethods(customer.id);
  assert.equal(saved.data.length, 1);
});

test('webhooks are signed so that the SDK\'s constructEvent accepts them', async () => {
  const receiver = await startReceiver();
  const secret = 'whsec_conformance_secret';
  await control('/_emulator/webhook_endpoints', { url: receiver.url, secret });
  try {
    const customer = await stripe.customers.create({ email: 'hooks@example.com' });
    await waitFor(() => receiver.received.some((r) => r.body.includes(customer.id)));
    const delivery = receiver.received.find((r) => r.body.includes(customer.id));
    assert.ok(delivery);
    const event = stripe.webhooks.constructEvent(delivery.body, delivery.signature, secret);
    assert.equal(event.type, 'customer.created');
    assert.equal(/** @type {Stripe.Customer} */ (event.data.object).id, customer.id);
    assert.throws(() => stripe.webhooks.constructEvent(delivery.body, delivery.signature, 'whsec_wrong'));

    const listed = await stripe.events.retrieve(event.id);
    assert.equal(listed.type, 'customer.created');
  } finally {
    receiver.close();
  }
});

test('the SDK signs a test header exactly as the emulator does (shared vector)', () => {
  // The emulator's Rust unit test pins this signature (computed with openssl); the SDK,
  // an independent implementation, must produce the same one.
  const payload = '{"id":"evt_1"}';
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_test_secret', timestamp: 1_700_000_000 });
  assert.equal(header, 't=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a');
});

test('webhook endpoints made through the API sign with their own secret and filter events', async () => {
  const receiver = await startReceiver();
  try {
    const endpoint = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['customer.updated'] });
    assert.match(String(endpoint.secret), /^whsec_/);
    const customer = await stripe.customers.create({ email: 'endpoint@example.com' });
    await stripe.customers.update(customer.id, { name: 'Jenny' });
    await waitFor(() => receiver.received.some((r) => r.body.includes(customer.id)));
    const event = stripe.webhooks.constructEvent(receiver.received[0].body, receiver.received[0].signature, String(endpoint.secret));
    assert.equal(event.type, 'customer.updated', 'customer.created is not enabled');

    const updated = await stripe.webhookEndpoints.update(endpoint.id, { enabled_events: ['*'], description: 'all' });
    assert.deepEqual(updated.enabled_events, ['*']);
    assert.equal(updated.secret, undefined, 'the secret is shown only on create');
    const listed = await stripe.webhookEndpoints.list({ limit: 100 });
    assert.ok(listed.data.some((e) => e.id === endpoint.id));
    const deleted = await stripe.webhookEndpoints.del(endpoint.id);
    assert.equal(deleted.deleted, true);
    await assert.rejects(stripe.webhookEndpoints.retrieve(endpoint.id), (/** @type {any} */ error) => error.statusCode === 404);
  } finally {
    receiver.close();
  }
});

test('refunds through the SDK: part, then the rest, and an over-refund refused', async () => {
  const intent = await stripe.paymentIntents.create({
    amount: 3000,
    currency: 'eur',
    confirm: true,
    confirmation_token: await token('pm_card_visa'),
    return_url: 'https://shop.example/checkout/complete',
  });
  const part = await stripe.refunds.create({ payment_intent: intent.id, amount: 1000 }, { idempotencyKey: `refund-${intent.id}-1` });
  const again = await stripe.refunds.create({ payment_intent: intent.id, amount: 1000 }, { idempotencyKey: `refund-${intent.id}-1` });
  assert.equal(again.id, part.id, 'a double click refunds once');
  await assert.rejects(
    stripe.refunds.create({ payment_intent: intent.id, amount: 2001 }),
    (/** @type {any} */ error) => error instanceof Stripe.errors.StripeInvalidRequestError && error.param === 'amount',
  );
  await stripe.refunds.create({ payment_intent: intent.id });
  const charge = await stripe.charges.retrieve(String(intent.latest_charge));
  assert.equal(charge.amount_refunded, 3000);
  assert.equal(charge.refunded, true);
  const refunds = await stripe.refunds.list({ payment_intent: intent.id });
  assert.deepEqual(refunds.data.map((r) => r.amount).sort(), [1000, 2000]);
});

test('subscriptions through the SDK: default_incomplete, the first invoice paid from a token, renewal, a new quantity and a new price without proration, cancel at period end', async () => {
  const { subscription, invoice, intentId } = await incompleteSubscription('subscriber@example.com');
  assert.equal(subscription.status, 'incomplete');
  assert.equal(invoice.amount_due, 1200);
  // The SDK turned the decimal string into its Decimal type.
  assert.equal(String(subscription.items.data[0].price.unit_amount_decimal), '1200');
  assert.equal(invoice.payments?.data[0]?.payment.type, 'payment_intent');
  assert.ok(invoice.confirmation_secret?.client_secret.startsWith(`${intentId}_secret_`));

  const confirmed = await confirmFirstPayment(intentId, 'pm_card_visa');
  assert.equal(confirmed.status, 'succeeded');
  const active = await stripe.subscriptions.retrieve(subscription.id);
  assert.equal(active.status, 'active');
  assert.equal(active.default_payment_method, confirmed.payment_method);

  await control('/_emulator/clock', { advance_seconds: 32 * 24 * 3600 });
  const invoices = await stripe.invoices.list({ subscription: subscription.id });
  assert.deepEqual(
    invoices.data.map((i) => [i.billing_reason, i.status]),
    [
      ['subscription_cycle', 'paid'],
      ['subscription_create', 'paid'],
    ],
  );

  // A new quantity without proration: the next renewal bills it for the whole period.
  const item = active.items.data[0];
  await assert.rejects(stripe.subscriptions.update(subscription.id, { items: [{ id: item.id, quantity: 3 }] }), (/** @type {any} */ error) => {
    assert.equal(error.param, 'proration_behavior');
    return true;
  });
  const three = await stripe.subscriptions.update(subscription.id, { items: [{ id: item.id, quantity: 3 }], proration_behavior: 'none' });
  assert.equal(three.items.data[0].quantity, 3);
  assert.equal(three.items.data[0].id, item.id);
  await assert.rejects(
    stripe.subscriptions.update(subscription.id, { items: [{ id: 'si_nope', quantity: 2 }], proration_behavior: 'none' }),
    (/** @type {any} */ error) => error.code === 'resource_missing' && error.param === 'items[0][id]',
  );
  await control('/_emulator/clock', { advance_seconds: 31 * 24 * 3600 });
  const [renewal] = (await stripe.invoices.list({ subscription: subscription.id, limit: 1 })).data;
  assert.deepEqual([renewal.billing_reason, renewal.status, renewal.amount_paid], ['subscription_cycle', 'paid', 3600]);

  // A new price, as the Dashboard's "update subscription" sets it: billed from the next renewal.
  const product = /** @type {string} */ (item.price.product);
  const dearer = await stripe.prices.create({ product, currency: 'eur', unit_amount: 1500, recurring: { interval: 'month' } });
  const repriced = await stripe.subscriptions.update(subscription.id, { items: [{ id: item.id, price: dearer.id }], proration_behavior: 'none' });
  assert.deepEqual([repriced.items.data[0].price.id, repriced.items.data[0].quantity], [dearer.id, 3]);
  const yearly = await stripe.prices.create({ product, currency: 'eur', unit_amount: 9900, recurring: { interval: 'year' } });
  await assert.rejects(
    stripe.subscriptions.update(subscription.id, { items: [{ id: item.id, price: yearly.id }], proration_behavior: 'none' }),
    (/** @type {any} */ error) => error.param === 'items[0][price]',
  );
  await control('/_emulator/clock', { advance_seconds: 31 * 24 * 3600 });
  const [repricedRenewal] = (await stripe.invoices.list({ subscription: subscription.id, limit: 1 })).data;
  assert.deepEqual([repricedRenewal.status, repricedRenewal.amount_paid], ['paid', 4500]);

  const ending = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
  assert.equal(ending.cancel_at, ending.items.data[0].current_period_end);
  const resumed = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: false });
  assert.equal(resumed.cancel_at, null);
  const canceled = await stripe.subscriptions.cancel(subscription.id);
  assert.equal(canceled.status, 'canceled');
  await assert.rejects(stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true }), (/** @type {any} */ error) => {
    assert.equal(error.type, 'StripeInvalidRequestError');
    return true;
  });
});

test('a subscription set to end on a date (the Dashboard\'s "on a custom date") ends then, and the date can be cleared', async () => {
  const { subscription, intentId } = await incompleteSubscription('custom-date@example.com');
  await confirmFirstPayment(intentId, 'pm_card_visa');
  const periodEnd = (await stripe.subscriptions.retrieve(subscription.id)).items.data[0].current_period_end;
  const date = periodEnd - 5 * 24 * 3600;
  await assert.rejects(stripe.subscriptions.update(subscription.id, { cancel_at: date, cancel_at_period_end: true }));
  const dated = await stripe.subscriptions.update(subscription.id, { cancel_at: date });
  assert.deepEqual([dated.cancel_at, dated.cancel_at_period_end], [date, false]);
  const cleared = await stripe.subscriptions.update(subscription.id, { cancel_at: '' });
  assert.deepEqual([cleared.cancel_at, cleared.canceled_at], [null, null]);
  await stripe.subscriptions.update(subscription.id, { cancel_at: date });
  await control('/_emulator/clock', { advance_seconds: 28 * 24 * 3600 });
  const ended = await stripe.subscriptions.retrieve(subscription.id);
  assert.equal(ended.status, 'canceled');
  assert.equal((await stripe.invoices.list({ subscription: subscription.id })).data.length, 1, 'no renewal');
});

test('payment collection paused in the Dashboard: renewals are invoiced, none charged, until it resumes', async () => {
  const { subscription, intentId } = await incompleteSubscription('paused@example.com');
  await confirmFirstPayment(intentId, 'pm_card_visa');
  const day = 24 * 3600;
  const periodEnd = (await stripe.subscriptions.retrieve(subscription.id)).items.data[0].current_period_end;
  const resumesAt = periodEnd + 10 * day;
  await assert.rejects(
    stripe.subscriptions.update(subscription.id, { pause_collection: { behavior: 'sometimes' } }),
    /pause_collection\[behavior\]/,
  );
  const paused = await stripe.subscriptions.update(subscription.id, { pause_collection: { behavior: 'void', resumes_at: resumesAt } });
  assert.deepEqual([paused.status, paused.pause_collection], ['active', { behavior: 'void', resumes_at: resumesAt }]);

  // Past the period's end, before the resumption: the renewal's invoice is void, nothing charged.
  await control('/_emulator/clock', { advance_seconds: periodEnd - subscription.created + day });
  const renewed = await stripe.subscriptions.retrieve(subscription.id);
  assert.deepEqual([renewed.status, renewed.pause_collection?.behavior], ['active', 'void']);
  const voided = await stripe.invoices.retrieve(/** @type {string} */ (renewed.latest_invoice));
  assert.deepEqual([voided.billing_reason, voided.status, voided.attempted, voided.confirmation_secret], ['subscription_cycle', 'void', false, null]);

  // Past the resumption and the next period's end: collection resumed, that renewal charged.
  const nextEnd = renewed.items.data[0].current_period_end;
  await control('/_emulator/clock', { advance_seconds: nextEnd - periodEnd });
  const resumed = await stripe.subscriptions.retrieve(subscription.id, { expand: ['latest_invoice'] });
  const charged = /** @type {Stripe.Invoice} */ (resumed.latest_invoice);
  assert.deepEqual([resumed.status, resumed.pause_collection, charged.status], ['active', null, 'paid']);
  const invoices = await stripe.invoices.list({ subscription: subscription.id });
  assert.deepEqual(invoices.data.map((invoice) => invoice.status), ['paid', 'void', 'paid']);

  // Paused for good, then resumed with an empty value.
  await stripe.subscriptions.update(subscription.id, { pause_collection: { behavior: 'keep_as_draft' } });
  const unpaused = await stripe.subscriptions.update(subscription.id, { pause_collection: '' });
  assert.equal(unpaused.pause_collection, null);
});

test('a subscription paused through the SDK invoices nothing, and resumed on the payment\'s success is charged for a new period', async () => {
  const { subscription, intentId } = await incompleteSubscription('pause-endpoint@example.com');
  await confirmFirstPayment(intentId, 'pm_card_visa');
  await assert.rejects(stripe.subscriptions.pause(subscription.id), /bill_for\[unused_time_from\]\[type\]/);
  const paused = await stripe.subscriptions.pause(subscription.id, { bill_for: { unused_time_from: { type: 'none' } } });
  assert.deepEqual([paused.status, paused.status_details?.paused?.subscription?.type], ['paused', 'pause_requested']);
  await control('/_emulator/clock', { advance_seconds: 40 * 24 * 3600 });
  assert.equal((await stripe.invoices.list({ subscription: subscription.id })).data.length, 1, 'nothing invoiced while paused');
  const resumed = await stripe.subscriptions.resume(subscription.id, {
    billing_cycle_anchor: { type: 'now' },
    payment_behavior: 'resume_on_payment_success',
    expand: ['latest_invoice'],
  });
  const invoice = /** @type {Stripe.Invoice} */ (resumed.latest_invoice);
  assert.deepEqual([resumed.status, invoice.billing_reason, invoice.status], ['active', 'subscription_update', 'paid']);
});

test("a customer's credit balance pays invoices before any card: nothing charged while it lasts", async () => {
  const { subscription, intentId } = await incompleteSubscription('credit@example.com');
  await confirmFirstPayment(intentId, 'pm_card_visa');
  const day = 24 * 3600;
  const customerId = /** @type {string} */ (subscription.customer);
  assert.equal((await stripe.customers.update(customerId, { balance: -1500 })).balance, -1500);
  const periodEnd = (await stripe.subscriptions.retrieve(subscription.id)).items.data[0].current_period_end;

  await control('/_emulator/clock', { advance_seconds: periodEnd - subscription.created + day });
  const renewed = await stripe.subscriptions.retrieve(subscription.id, { expand: ['latest_invoice'] });
  const byCredit = /** @type {Stripe.Invoice} */ (renewed.latest_invoice);
  assert.deepEqual(
    [byCredit.status, byCredit.total, byCredit.amount_due, byCredit.amount_paid, byCredit.starting_balance, byCredit.ending_balance],
    ['paid', 1200, 0, 0, -1500, -300],
  );
  assert.equal(byCredit.confirmation_secret, null, 'nothing to pay: no PaymentIntent');
  assert.equal(/** @type {Stripe.Customer} */ (await stripe.customers.retrieve(customerId)).balance, -300);

  const nextEnd = renewed.items.data[0].current_period_end;
  await control('/_emulator/clock', { advance_seconds: nextEnd - periodEnd });
  const charged = /** @type {Stripe.Invoice} */ ((await stripe.subscriptions.retrieve(subscription.id, { expand: ['latest_invoice'] })).latest_invoice);
  assert.deepEqual([charged.status, charged.amount_due, charged.amount_paid, charged.starting_balance, charged.ending_balance], ['paid', 900, 900, -300, 0]);
  assert.equal(/** @type {Stripe.Customer} */ (await stripe.customers.retrieve(customerId)).balance, 0);
});

test('a first invoice the credit pays in full: active at once, with a SetupIntent for the card the renewals charge', async () => {
  const { subscription, invoice } = await incompleteSubscription('credit-first@example.com', -5000);
  assert.deepEqual([subscription.status, invoice.status, invoice.amount_paid, invoice.payments?.data.length], ['active', 'paid', 0, 0]);
  const setup = /** @type {Stripe.SetupIntent} */ (subscription.pending_setup_intent);
  assert.deepEqual([setup.object, setup.status, setup.customer, setup.usage], ['setup_intent', 'requires_payment_method', subscription.customer, 'off_session']);
  const confirmed = await stripe.setupIntents.confirm(setup.id, {
    confirmation_token: await token('pm_card_visa'),
    return_url: 'https://shop.example/subscribe/complete',
  });
  assert.equal(confirmed.status, 'succeeded');
  assert.equal((await stripe.subscriptions.retrieve(subscription.id)).pending_setup_intent, null);
});

test('a subscription given up while its first payment waits for 3-D Secure: the invoice voided, its payment canceled', async () => {
  const { subscription, invoice, intentId } = await incompleteSubscription('changed-mind@example.com');
  const waiting = await confirmFirstPayment(intentId, 'pm_card_threeDSecure2Required');
  assert.equal(waiting.status, 'requires_action');
  const voided = await stripe.invoices.voidInvoice(/** @type {string} */ (invoice.id));
  assert.equal(voided.status, 'void');
  const canceled = await stripe.paymentIntents.retrieve(intentId);
  assert.deepEqual([canceled.status, canceled.cancellation_reason], ['canceled', 'void_invoice']);
  await assert.rejects(stripe.invoices.voidInvoice(/** @type {string} */ (invoice.id)), (/** @type {any} */ error) => {
    assert.equal(error.type, 'StripeInvalidRequestError');
    return true;
  });
  assert.equal((await stripe.subscriptions.cancel(subscription.id)).status, 'canceled');
});
