// @ts-check
// Deep shape conformance: every object and event the checkout flow produces is written,
// exactly as the emulator sent it, into a TypeScript file as a literal typed with the
// official SDK's own type (`Stripe.PaymentIntent`, `Stripe.Event`, …), and that file is
// compiled with `tsc --strict`. A literal assigned to a declared type is checked at
// every depth: a field the SDK's type does not declare is an error (excess property
// check), so is a required field that is missing, a wrong enum value or a wrong type.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startEmulator } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {Awaited<ReturnType<typeof startEmulator>>} */
let emulator;

before(async () => {
  emulator = await startEmulator();
});

after(() => emulator.stop());

/**
 * Form-encodes nested parameters as Stripe does (`a[b][0]=c`).
 * @param {Record<string, unknown>} params
 */
function form(params, prefix = '', out = new URLSearchParams()) {
  for (const [key, value] of Object.entries(params)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    if (value !== null && typeof value === 'object') form(/** @type {Record<string, unknown>} */ (value), name, out);
    else out.append(name, String(value));
  }
  return out;
}

/**
 * One raw API call: the JSON exactly as the emulator sent it.
 * @param {string} method
 * @param {string} route
 * @param {Record<string, unknown>} [params]
 * @returns {Promise<any>}
 */
async function api(method, route, params = {}) {
  const body = method === 'GET' ? undefined : form(params);
  const query = method === 'GET' && Object.keys(params).length ? `?${form(params)}` : '';
  const response = await fetch(`${emulator.baseUrl}${route}${query}`, {
    method,
    headers: { authorization: 'Bearer sk_test_shapes', 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return response.json();
}

/**
 * @param {string} route
 * @param {Record<string, unknown>} body
 */
async function control(route, body) {
  const response = await fetch(`${emulator.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${route}: ${response.status}`);
}

/**
 * @param {string | Record<string, unknown>} paymentMethod a test id, or `payment_method_data`
 * @param {Record<string, unknown>} [extra]
 */
async function confirmationToken(paymentMethod, extra = {}) {
  const method = typeof paymentMethod === 'string' ? { payment_method: paymentMethod } : { payment_method_data: paymentMethod };
  return api('POST', '/v1/test_helpers/confirmation_tokens', {
    ...method,
    return_url: 'https://shop.example/checkout/complete',
    ...extra,
  });
}

/**
 * `GET route` again until `done` holds for its body (what settles after the emulator's
 * processing delay); that body.
 * @param {string} route @param {(body: any) => boolean} done
 */
async function until(route, done) {
  for (let tries = 0; tries < 100; tries += 1) {
    const body = await api('GET', route);
    if (done(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${route}: not settled after 10 s`);
}

const jenny = { name: 'Jenny Rosen', email: 'jenny@example.com' };

/** @param {string | Record<string, unknown>} paymentMethod @param {Record<string, unknown>} [extra] */
async function pay(paymentMethod, extra = {}) {
  const token = await confirmationToken(paymentMethod);
  return api('POST', '/v1/payment_intents', {
    amount: 2599,
    currency: 'eur',
    confirm: true,
    confirmation_token: token.id,
    automatic_payment_methods: { enabled: true },
    return_url: 'https://shop.example/checkout/complete',
    ...extra,
  });
}

/** @type {Record<string, string>} */
const objectTypes = {
  charge: 'Stripe.Charge',
  refund: 'Stripe.Refund',
  dispute: 'Stripe.Dispute',
  'radar.early_fraud_warning': 'Stripe.Radar.EarlyFraudWarning',
  customer: 'Stripe.Customer',
  payment_intent: 'Stripe.PaymentIntent',
  payment_method: 'Stripe.PaymentMethod',
  setup_intent: 'Stripe.SetupIntent',
  product: 'Stripe.Product',
  price: 'Stripe.Price',
  subscription: 'Stripe.Subscription',
  invoice: 'Stripe.Invoice',
};

test('every object and event the flow produces type-checks against the SDK at every depth', async () => {
  /** @type {Array<{ type: string, label: string, value: unknown }>} */
  const objects = [];
  /** @param {string} type @param {string} label @param {any} value */
  const keep = (type, label, value) => {
    assert.ok(value && typeof value === 'object' && !('error' in value), `${label}: ${JSON.stringify(value)}`);
    objects.push({ type, label, value });
  };

  const customer = await api('POST', '/v1/customers', { email: 'shapes@example.com', name: 'Jenny Rosen', metadata: { account: '42' } });
  keep('Stripe.Customer', 'customer created', customer);
  keep('Stripe.Customer', 'customer updated', await api('POST', `/v1/customers/${customer.id}`, { name: 'Jenny R.' }));
  keep('Stripe.Customer', 'customer retrieved', await api('GET', `/v1/customers/${customer.id}`));
  keep('Stripe.ApiList<Stripe.Customer>', 'customer list', await api('GET', '/v1/customers', { limit: 3 }));

  keep(
    'Stripe.CustomerSession',
    'customer session',
    await api('POST', '/v1/customer_sessions', {
      customer: customer.id,
      components: {
        payment_element: {
          enabled: true,
          features: { payment_method_save: 'enabled', payment_method_redisplay: 'enabled', payment_method_remove: 'enabled' },
        },
      },
    }),
  );

  const token = await confirmationToken('pm_card_visa', {
    shipping: { name: 'Jenny Rosen', address: { line1: '1 Rue de Rivoli', city: 'Paris', postal_code: '75001', country: 'FR' } },
  });
  keep('Stripe.ConfirmationToken', 'confirmation token', token);
  keep('Stripe.ConfirmationToken', 'confirmation token retrieved', await api('GET', `/v1/confirmation_tokens/${token.id}`));

  const attached = await api('POST', '/v1/payment_methods/pm_card_visa/attach', { customer: customer.id });
  keep('Stripe.PaymentMethod', 'payment method attached', attached);
  keep('Stripe.ApiList<Stripe.PaymentMethod>', 'customer payment methods', await api('GET', `/v1/customers/${customer.id}/payment_methods`));
  keep('Stripe.PaymentMethod', 'payment method detached', await api('POST', `/v1/payment_methods/${attached.id}/detach`));

  // PaymentIntents in every status the flow reaches.
  const open = await api('POST', '/v1/payment_intents', { amount: 1500, currency: 'eur', automatic_payment_methods: { enabled: true } });
  keep('Stripe.PaymentIntent', 'intent requires_payment_method', open);
  keep('Stripe.PaymentIntent', 'intent updated', await api('POST', `/v1/payment_intents/${open.id}`, { amount: 1600 }));
  keep('Stripe.PaymentIntent', 'intent canceled', await api('POST', `/v1/payment_intents/${open.id}/cancel`, { cancellation_reason: 'abandoned' }));
  keep(
    'Stripe.PaymentIntent',
    'intent requires_confirmation',
    await api('POST', '/v1/payment_intents', { amount: 1500, currency: 'eur', payment_method: 'pm_card_visa', allowed_payment_method_types: ['card'] }),
  );
  const paid = await pay('pm_card_visa', { customer: customer.id, metadata: { order_id: 'ord_1' } });
  keep('Stripe.PaymentIntent', 'intent succeeded', paid);
  keep('Stripe.PaymentIntent', 'intent expanded', await api('GET', `/v1/payment_intents/${paid.id}`, { expand: ['payment_method', 'latest_charge'] }));
  const declined = await api('POST', '/v1/payment_intents', {
    amount: 1500,
    currency: 'eur',
    confirm: true,
    confirmation_token: (await confirmationToken('pm_card_visa_chargeDeclinedInsufficientFunds')).id,
  });
  keep('Stripe.PaymentIntent', 'intent declined', declined.error.payment_intent);
  const blocked = await pay('pm_card_radarBlock');
  keep('Stripe.PaymentIntent', 'intent blocked by Radar', blocked.error.payment_intent);
  keep('Stripe.PaymentIntent', 'intent at elevated risk', await pay('pm_card_riskLevelElevated'));
  keep('Stripe.PaymentIntent', 'intent requires_action (3DS)', await pay('pm_card_threeDSecure2Required'));
  keep('Stripe.PaymentIntent', 'intent requires_capture', await pay('pm_card_visa', { capture_method: 'manual' }));
  const ideal = await pay({ type: 'ideal', ideal: { bank: 'ing' }, billing_details: jenny });
  keep('Stripe.PaymentIntent', 'intent requires_action (redirect)', ideal);
  const sepa = await pay(
    { type: 'sepa_debit', sepa_debit: { iban: 'DE89370400440532013000' }, billing_details: jenny },
    { mandate_data: { customer_acceptance: { type: 'online', online: { ip_address: '203.0.113.7', user_agent: 'Mozilla/5.0' } } } },
  );
  keep('Stripe.PaymentIntent', 'intent processing', sepa);
  await control(`/_emulator/intents/${sepa.id}/settle`, {});
  keep('Stripe.PaymentIntent', 'intent settled', await api('GET', `/v1/payment_intents/${sepa.id}`));
  const debit = await pay(
    { type: 'sepa_debit', sepa_debit: { iban: 'DE62370400440532013001' }, billing_details: jenny },
    { mandate_data: { customer_acceptance: { type: 'online', online: { ip_address: '203.0.113.7', user_agent: 'Mozilla/5.0' } } } },
  );
  await control(`/_emulator/intents/${debit.id}/settle`, {});
  keep('Stripe.PaymentIntent', 'intent whose debit failed', await api('GET', `/v1/payment_intents/${debit.id}`));
  const capturable = await pay('pm_card_visa', { capture_method: 'manual' });
  keep('Stripe.PaymentIntent', 'intent captured', await api('POST', `/v1/payment_intents/${capturable.id}/capture`, { amount_to_capture: 2000 }));

  // Charges and refunds (card: at once; SEPA: pending, then succeeded).
  keep('Stripe.Charge', 'charge retrieved', await api('GET', `/v1/charges/${paid.latest_charge}`));
  keep('Stripe.ApiList<Stripe.Charge>', 'charges of an intent', await api('GET', '/v1/charges', { payment_intent: paid.id }));
  keep('Stripe.Refund', 'partial refund', await api('POST', '/v1/refunds', { payment_intent: paid.id, amount: 500, reason: 'requested_by_customer' }));
  keep('Stripe.Refund', 'refund of the rest', await api('POST', '/v1/refunds', { charge: paid.latest_charge, metadata: { why: 'returned' } }));
  keep('Stripe.ApiList<Stripe.Refund>', 'refunds', await api('GET', '/v1/refunds', { payment_intent: paid.id }));
  const disputed = await pay('pm_card_createDispute');
  const disputes = await api('GET', '/v1/disputes', { payment_intent: disputed.id });
  keep('Stripe.ApiList<Stripe.Dispute>', 'disputes', disputes);
  keep('Stripe.Dispute', 'dispute retrieved', await api('GET', `/v1/disputes/${disputes.data[0].id}`));
  keep('Stripe.Dispute', 'dispute with evidence staged', await api('POST', `/v1/disputes/${disputes.data[0].id}`, { evidence: { product_description: 'A mug' }, submit: false }));
  keep('Stripe.Dispute', 'dispute won', await api('POST', `/v1/disputes/${disputes.data[0].id}`, { evidence: { uncategorized_text: 'winning_evidence' } }));
  const accepted = await pay('pm_card_createDispute');
  const lost = (await api('GET', '/v1/disputes', { payment_intent: accepted.id })).data[0];
  keep('Stripe.Dispute', 'dispute closed', await api('POST', `/v1/disputes/${lost.id}/close`));
  const asked = await pay('pm_card_createDisputeInquiry');
  const inquiry = (await api('GET', '/v1/disputes', { payment_intent: asked.id })).data[0];
  keep('Stripe.Dispute', 'inquiry', inquiry);
  keep('Stripe.Dispute', 'inquiry become a chargeback', await api('POST', `/v1/disputes/${inquiry.id}`, { evidence: { uncategorized_text: 'losing_evidence' } }));
  const reported = await pay('pm_card_createIssuerFraudRecord');
  const warnings = await api('GET', '/v1/radar/early_fraud_warnings', { payment_intent: reported.id });
  keep('Stripe.ApiList<Stripe.Radar.EarlyFraudWarning>', 'early fraud warnings', warnings);
  keep('Stripe.Radar.EarlyFraudWarning', 'early fraud warning expanded', await api('GET', `/v1/radar/early_fraud_warnings/${warnings.data[0].id}`, { expand: ['charge'] }));
  await api('POST', '/v1/refunds', { payment_intent: reported.id });
  keep('Stripe.Radar.EarlyFraudWarning', 'early fraud warning settled by a refund', await api('GET', `/v1/radar/early_fraud_warnings/${warnings.data[0].id}`));
  const sepaRefund = await api('POST', '/v1/refunds', { payment_intent: sepa.id });
  keep('Stripe.Refund', 'pending refund', sepaRefund);
  const refundFail = await pay('pm_card_refundFail');
  const bounced = await api('POST', '/v1/refunds', { payment_intent: refundFail.id });
  keep('Stripe.Refund', 'refund that fails later', bounced);
  await control('/_emulator/clock', { advance_seconds: 8 * 24 * 3600 });

  // SetupIntents.
  const setup = await api('POST', '/v1/setup_intents', {
    customer: customer.id,
    confirm: true,
    confirmation_token: (await confirmationToken('pm_card_visa')).id,
    automatic_payment_methods: { enabled: true },
  });
  keep('Stripe.SetupIntent', 'setup succeeded', setup);
  const setupOpen = await api('POST', '/v1/setup_intents', { customer: customer.id, automatic_payment_methods: { enabled: true } });
  keep('Stripe.SetupIntent', 'setup requires_payment_method', setupOpen);
  keep('Stripe.SetupIntent', 'setup canceled', await api('POST', `/v1/setup_intents/${setupOpen.id}/cancel`));
  keep(
    'Stripe.SetupIntent',
    'setup requires_action',
    await api('POST', '/v1/setup_intents', {
      customer: customer.id,
      confirm: true,
      confirmation_token: (await confirmationToken('pm_card_threeDSecure2Required')).id,
      automatic_payment_methods: { enabled: true },
      return_url: 'https://shop.example/account',
    }),
  );

  // Subscriptions: created default_incomplete, first invoice paid by confirming its
  // PaymentIntent with a ConfirmationToken, renewed by the clock (paid, then failed with
  // the card that attaches and then declines), set to cancel at the period's end, ended.
  const product = await api('POST', '/v1/products', { id: 'beans-monthly', name: 'Coffee beans, monthly', metadata: { sku: 'beans' } });
  keep('Stripe.Product', 'product created', product);
  keep('Stripe.Product', 'product retrieved', await api('GET', `/v1/products/${product.id}`));
  const monthly = { currency: 'eur', unit_amount: 1200, product: product.id, recurring: { interval: 'month', interval_count: 1 } };
  keep('Stripe.Price', 'price created', await api('POST', '/v1/prices', { ...monthly, lookup_key: 'beans_monthly' }));
  /** @param {string} test @param {Record<string, unknown>} [extra] */
  const subscribe = async (test, extra = {}) => {
    const subscription = await api('POST', '/v1/subscriptions', {
      customer: customer.id,
      items: [{ price_data: monthly, quantity: 2 }],
      payment_behavior: 'default_incomplete',
      payment_settings: { save_default_payment_method: 'on_subscription' },
      expand: ['latest_invoice.payments'],
      ...extra,
    });
    const intent = subscription.latest_invoice.payments.data[0].payment.payment_intent;
    const confirmed = await api('POST', `/v1/payment_intents/${intent}/confirm`, {
      confirmation_token: (await confirmationToken(test)).id,
      return_url: 'https://shop.example/subscribe/complete',
    });
    return { subscription, confirmed };
  };
  const { subscription, confirmed } = await subscribe('pm_card_visa', { metadata: { account: '42' } });
  keep('Stripe.Subscription', 'subscription incomplete (expanded invoice)', subscription);
  keep('Stripe.Invoice', 'first invoice, open', subscription.latest_invoice);
  keep('Stripe.PaymentIntent', 'first invoice intent succeeded', confirmed);
  keep('Stripe.Subscription', 'subscription active', await api('GET', `/v1/subscriptions/${subscription.id}`));
  keep('Stripe.Invoice', 'first invoice, paid', await api('GET', `/v1/invoices/${subscription.latest_invoice.id}`, { expand: ['payments'] }));
  keep('Stripe.ApiList<Stripe.Subscription>', 'subscriptions', await api('GET', '/v1/subscriptions', { customer: customer.id }));
  const trial = await api('POST', '/v1/subscriptions', {
    customer: customer.id,
    items: [{ price_data: monthly }],
    payment_behavior: 'default_incomplete',
    trial_period_days: 2,
    expand: ['latest_invoice', 'pending_setup_intent'],
  });
  assert.equal(trial.status, 'trialing');
  keep('Stripe.Subscription', 'subscription trialing (expanded invoice and SetupIntent)', trial);
  keep('Stripe.Invoice', 'trial invoice, paid for nothing', trial.latest_invoice);
  // The Dashboard's "end trial now", with no card to charge: the update's invoice is open.
  const ended = await api('POST', `/v1/subscriptions/${trial.id}`, { trial_end: 'now', expand: ['latest_invoice'] });
  assert.equal(ended.latest_invoice.billing_reason, 'subscription_update');
  keep('Stripe.Subscription', `trial ended now without a card (${ended.status})`, ended);
  keep('Stripe.Invoice', 'invoice of a trial ended now, unpaid', ended.latest_invoice);
  const threeDs = await subscribe('pm_card_threeDSecure2Required');
  keep('Stripe.PaymentIntent', 'first invoice intent requires_action', threeDs.confirmed);
  keep('Stripe.Invoice', 'first invoice voided', await api('POST', `/v1/invoices/${threeDs.subscription.latest_invoice.id}/void`, { expand: ['payments'] }));
  keep('Stripe.PaymentIntent', 'first invoice intent canceled by the void', await api('GET', `/v1/payment_intents/${threeDs.confirmed.id}`));
  const refused = await subscribe('pm_card_visa_chargeDeclined');
  keep('Stripe.PaymentIntent', 'first invoice intent declined', refused.confirmed.error.payment_intent);
  keep('Stripe.Subscription', 'subscription still incomplete', await api('GET', `/v1/subscriptions/${refused.subscription.id}`));
  // Renewals: one charged to the saved card, one to a card that attaches, then declines.
  const failing = await subscribe('pm_card_visa');
  const fails = await api('POST', '/v1/payment_methods/pm_card_chargeCustomerFail/attach', { customer: customer.id });
  keep('Stripe.Subscription', 'subscription with a new default method', await api('POST', `/v1/subscriptions/${failing.subscription.id}`, { default_payment_method: fails.id }));
  await control('/_emulator/clock', { advance_seconds: 32 * 24 * 3600 });
  keep('Stripe.ApiList<Stripe.Invoice>', 'invoices of a renewed subscription', await api('GET', '/v1/invoices', { subscription: subscription.id, expand: ['data.payments'] }));
  const overdue = await api('GET', `/v1/subscriptions/${failing.subscription.id}`);
  keep('Stripe.Subscription', 'subscription past_due', overdue);
  const retrying = await api('GET', `/v1/invoices/${overdue.latest_invoice}`);
  assert.equal(typeof retrying.next_payment_attempt, 'number', 'a retry is scheduled');
  keep('Stripe.Invoice', 'renewal invoice declined, a retry scheduled', retrying);
  // The trial ended now had no card: two weeks of retries later, Stripe ended it.
  const unpaid = await api('GET', `/v1/subscriptions/${trial.id}`, { expand: ['latest_invoice'] });
  assert.equal(unpaid.cancellation_details.reason, 'payment_failed');
  keep('Stripe.Subscription', 'subscription ended after its retries (expanded invoice, open)', unpaid);
  const expired = await api('GET', `/v1/subscriptions/${refused.subscription.id}`, { expand: ['latest_invoice'] });
  assert.equal(expired.status, 'incomplete_expired', 'its first invoice unpaid for 23 hours');
  keep('Stripe.Subscription', 'subscription incomplete_expired (expanded invoice, void)', expired);
  const another = await api('POST', '/v1/payment_methods/pm_card_mastercard/attach', { customer: customer.id });
  keep('Stripe.Invoice', 'overdue invoice paid with another card', await api('POST', `/v1/invoices/${overdue.latest_invoice}/pay`, { payment_method: another.id, expand: ['payments'] }));
  keep('Stripe.Subscription', 'subscription to cancel at period end', await api('POST', `/v1/subscriptions/${subscription.id}`, { cancel_at_period_end: true }));
  keep('Stripe.Subscription', 'subscription canceled', await api('DELETE', `/v1/subscriptions/${failing.subscription.id}`, { cancellation_details: { comment: 'too much coffee' } }));
  await control('/_emulator/clock', { advance_seconds: 32 * 24 * 3600 });
  keep('Stripe.Subscription', 'subscription ended at period end', await api('GET', `/v1/subscriptions/${subscription.id}`));
  // Settings that mark a subscription `unpaid` once its retries are spent: its renewals
  // are drafts until its latest invoice is paid.
  await control('/_emulator/billing_settings', { retries_spent: 'unpaid' });
  const lapsing = await subscribe('pm_card_visa');
  await api('POST', `/v1/subscriptions/${lapsing.subscription.id}`, { default_payment_method: fails.id });
  for (const days of [32, 14, 17]) await control('/_emulator/clock', { advance_seconds: days * 24 * 3600 });
  const markedUnpaid = await api('GET', `/v1/subscriptions/${lapsing.subscription.id}`, { expand: ['latest_invoice'] });
  assert.equal(markedUnpaid.status, 'unpaid');
  assert.equal(markedUnpaid.latest_invoice.status, 'draft');
  keep('Stripe.Subscription', 'subscription unpaid (expanded invoice, draft)', markedUnpaid);
  const finalized = await api('POST', `/v1/invoices/${markedUnpaid.latest_invoice.id}/finalize`, { auto_advance: false, expand: ['payments'] });
  keep('Stripe.Invoice', 'draft renewal finalized', finalized);
  keep('Stripe.Invoice', 'latest invoice of an unpaid subscription paid', await api('POST', `/v1/invoices/${finalized.id}/pay`, { payment_method: another.id }));
  assert.equal((await api('GET', `/v1/subscriptions/${lapsing.subscription.id}`)).status, 'active');
  // Settings that leave it `past_due` and mark the invoice uncollectible, which can
  // still be paid.
  await control('/_emulator/billing_settings', { retries_spent: 'past_due', mark_invoice_uncollectible: true });
  const writtenOff = await subscribe('pm_card_visa');
  await api('POST', `/v1/subscriptions/${writtenOff.subscription.id}`, { default_payment_method: fails.id });
  for (const days of [32, 14]) await control('/_emulator/clock', { advance_seconds: days * 24 * 3600 });
  const uncollectible = await api('GET', `/v1/subscriptions/${writtenOff.subscription.id}`, { expand: ['latest_invoice'] });
  assert.equal(uncollectible.status, 'past_due');
  assert.equal(uncollectible.latest_invoice.status, 'uncollectible');
  assert.equal(uncollectible.latest_invoice.status_details.uncollectible.reason, 'max_payment_attempts');
  keep('Stripe.Subscription', 'subscription past_due (expanded invoice, uncollectible)', uncollectible);
  keep('Stripe.Invoice', 'uncollectible invoice paid', await api('POST', `/v1/invoices/${uncollectible.latest_invoice.id}/pay`, { payment_method: another.id, expand: ['payments'] }));
  assert.equal((await api('GET', `/v1/subscriptions/${writtenOff.subscription.id}`)).status, 'active');
  await control('/_emulator/billing_settings', { retries_spent: 'cancel' });
  // A trial set to pause when it ends with no card (flexible billing mode, the
  // default): paused at its end; resumed (on the payment's attempt, the default), its
  // resumption invoice is finalized and not charged: it stays paused until that invoice
  // is paid, and is active then.
  const cardless = await api('POST', '/v1/customers', { email: 'paused@example.com' });
  const pausing = await api('POST', '/v1/subscriptions', {
    customer: cardless.id,
    items: [{ price_data: monthly }],
    payment_behavior: 'default_incomplete',
    trial_period_days: 2,
    trial_settings: { end_behavior: { missing_payment_method: 'pause' } },
  });
  assert.equal(pausing.billing_mode.type, 'flexible');
  await control('/_emulator/clock', { advance_seconds: 3 * 24 * 3600 });
  const paused = await api('GET', `/v1/subscriptions/${pausing.id}`);
  assert.equal(paused.status, 'paused');
  assert.equal(paused.status_details.paused.subscription.type, 'trial_end_without_payment_method');
  keep('Stripe.Subscription', 'subscription paused at the end of its trial', paused);
  const resuming = await api('POST', `/v1/subscriptions/${pausing.id}/resume`, {
    billing_cycle_anchor: { type: 'now' },
    expand: ['latest_invoice'],
  });
  assert.equal(resuming.status, 'paused');
  assert.equal(resuming.latest_invoice.status, 'open');
  keep('Stripe.Subscription', 'subscription resuming, its invoice not yet paid (expanded invoice)', resuming);
  const card = await api('POST', '/v1/payment_methods/pm_card_visa/attach', { customer: cardless.id });
  await api('POST', `/v1/invoices/${resuming.latest_invoice.id}/pay`, { payment_method: card.id });
  const resumed = await api('GET', `/v1/subscriptions/${pausing.id}`);
  assert.equal(resumed.status, 'active');
  keep('Stripe.Subscription', 'subscription resumed', resumed);

  keep('Stripe.Refund', 'refund failed', await until(`/v1/refunds/${bounced.id}`, (refund) => refund.status === 'failed'));

  const endpoint = await api('POST', '/v1/webhook_endpoints', { url: 'https://shop.example/webhook', enabled_events: ['payment_intent.succeeded'] });
  keep('Stripe.WebhookEndpoint', 'webhook endpoint created', endpoint);
  keep('Stripe.WebhookEndpoint', 'webhook endpoint updated', await api('POST', `/v1/webhook_endpoints/${endpoint.id}`, { disabled: true }));
  keep('Stripe.ApiList<Stripe.WebhookEndpoint>', 'webhook endpoints', await api('GET', '/v1/webhook_endpoints'));
  keep('Stripe.DeletedWebhookEndpoint', 'webhook endpoint deleted', await api('DELETE', `/v1/webhook_endpoints/${endpoint.id}`));

  // Every event these calls emitted (charges arrive inside charge.* events).
  const events = await api('GET', '/v1/events', { limit: 100 });
  for (let page = events; page.has_more; ) {
    page = await api('GET', '/v1/events', { limit: 100, starting_after: page.data.at(-1).id });
    events.data.push(...page.data);
  }
  assert.ok(events.data.length > 10, 'the flow emitted events');
  const kinds = new Set();
  for (const event of events.data) {
    kinds.add(event.type);
    keep('Stripe.Event', `event ${event.type}`, event);
    const type = objectTypes[event.data.object.object];
    assert.ok(type, `an SDK type for ${event.data.object.object}`);
    keep(type, `${event.data.object.object} in ${event.type}`, event.data.object);
  }
  for (const kind of [
    'payment_intent.succeeded',
    'payment_intent.payment_failed',
    'charge.succeeded',
    'setup_intent.succeeded',
    'customer.subscription.created',
    'customer.subscription.updated',
    'customer.subscription.deleted',
    'invoice.paid',
    'invoice.payment_failed',
    'invoice.payment_action_required',
    'invoice.marked_uncollectible',
    'customer.subscription.trial_will_end',
    'customer.subscription.paused',
    'customer.subscription.resumed',
  ]) {
    assert.ok(kinds.has(kind), `the flow emitted ${kind}`);
  }

  const diagnostics = typecheck(objects);
  assert.deepEqual(diagnostics, [], `\n${diagnostics.join('\n')}`);
});

/**
 * Writes each object as `const oN: Type = <json>;` and compiles the file with the SDK's
 * types. Returns one line per error, naming the object it is in.
 * @param {Array<{ type: string, label: string, value: unknown }>} objects
 */
function typecheck(objects) {
  const dir = path.join(here, 'generated');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'objects.ts');
  const lines = [
    "import Stripe from 'stripe';",
    // The SDK's types describe objects after it has parsed them: it turns `*_decimal`
    // fields (strings on the wire, `format: decimal` in the spec) into Decimal objects.
    // The emulator's JSON is the wire, so each type is checked with those as strings.
    'type Decimal = ReturnType<typeof Stripe.Decimal.from>;',
    'type Wire<T> = T extends Decimal ? string : T extends string | number | boolean | bigint | null | undefined ? T : T extends Array<infer E> ? Array<Wire<E>> : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;',
    '',
  ];
  /** @type {Array<{ from: number, label: string }>} */
  const starts = [];
  objects.forEach(({ type, label, value }, index) => {
    starts.push({ from: lines.length, label });
    const text = `// ${label}\nexport const o${index}: Wire<${type}> = ${JSON.stringify(value, null, 2)};\n`;
    lines.push(...text.split('\n'));
  });
  writeFileSync(file, lines.join('\n'));

  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
    if (!diagnostic.file || diagnostic.start === undefined) return message;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const owner = starts.filter((start) => start.from <= line).at(-1);
    const where = diagnostic.file.text.split('\n')[line].trim();
    return `${owner?.label ?? '?'} (generated/objects.ts:${line + 1}: ${where}): ${message}`;
  });
}
