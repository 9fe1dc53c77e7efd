import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import path from 'node:path';

/**
 * A bare merchant for testing the emulator's Stripe.js stand-in on its own: a
 * stripe-emulator process on a free port, and a tiny server on another origin that
 * serves a checkout page and confirms tokens server-side (create + confirm in one
 * request), as the storefront does.
 */
export interface Merchant {
  pageUrl: string;
  emulatorUrl: string;
  stop: () => Promise<void>;
}

const binary = process.env.STRIPE_EMULATOR_BIN ?? path.join(__dirname, '..', '..', 'target', 'debug', 'stripe-emulator');
const SECRET_KEY = 'sk_test_standin';

function startEmulator(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(binary, ['--addr', '127.0.0.1:0', '--processing-delay', '0.2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`stripe-emulator did not start: ${seen}`)), 20_000);
    child.on('error', reject);
    child.stdout!.on('data', (chunk) => {
      seen += chunk;
      const match = /Stripe emulator on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({ url: match[1], child });
      }
    });
  });
}

function page(emulatorUrl: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stand-in test shop</title>
<script src="${emulatorUrl}/v3/"></script></head><body>
<form id="checkout"><div id="address-element"></div><div id="payment-element"></div>
<button id="pay" type="submit">Pay</button></form>
<p id="status" role="status"></p><p id="shipping"></p><p id="error" role="alert"></p><pre id="events"></pre>
<script>
  const stripe = Stripe('pk_test_standin');
  const params = new URLSearchParams(location.search);
  const options = { mode: 'payment', amount: 1099, currency: 'eur', appearance: { theme: 'stripe', variables: { colorPrimary: '#3f5f4f' } } };
  if (params.get('session')) options.customerSessionClientSecret = params.get('session');
  if (params.get('cvc')) options.paymentMethodOptions = { card: { require_cvc_recollection: true } };
  if (params.get('sfu')) options.setupFutureUsage = params.get('sfu');
  if (params.get('capture')) options.captureMethod = params.get('capture');
  if (params.get('allowed')) options.allowedPaymentMethodTypes = params.get('allowed').split(',');
  // Earlier releases' name for that list, which endive's elements() does not have.
  if (params.get('types')) options.paymentMethodTypes = params.get('types').split(',');
  const elements = stripe.elements(options);
  const payment = elements.create('payment', { layout: 'tabs' });
  payment.on('ready', () => document.body.dataset.ready = 'true');
  payment.on('loaderror', (event) => { document.getElementById('error').textContent = event.error.message; });
  payment.on('change', (event) => { document.getElementById('events').textContent = JSON.stringify(event); });
  payment.mount('#payment-element');
  if (params.get('address')) elements.create('address', { mode: 'shipping' }).mount('#address-element');
  const show = (id, text) => { document.getElementById(id).textContent = text; };
  document.getElementById('checkout').addEventListener('submit', async (event) => {
    event.preventDefault();
    show('error', '');
    const { error: submitError } = await elements.submit();
    if (submitError) return show('error', submitError.message);
    const { error, confirmationToken } = await stripe.createConfirmationToken({ elements, params: { return_url: location.origin + '/complete' } });
    if (error) return show('error', error.message);
    const reply = await fetch('/confirm', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: confirmationToken.id, customer: params.get('customer'), cvc: !!params.get('cvc') }) }).then((r) => r.json());
    if (reply.error) return show('error', reply.error.message);
    show('shipping', reply.shipped_to ? 'Ships to ' + reply.shipped_to : '');
    if (reply.status === 'requires_action') {
      const result = await stripe.handleNextAction({ clientSecret: reply.client_secret });
      if (result.error) return show('error', result.error.message);
      return show('status', result.paymentIntent.status);
    }
    show('status', reply.status);
  });
</script></body></html>`;
}

/** The merchant's server side: one create-and-confirm request with the secret key. */
async function confirm(emulatorUrl: string, returnUrl: string, body: { token: string; customer?: string | null; cvc?: boolean }) {
  const form = new URLSearchParams({
    amount: '1099',
    currency: 'eur',
    confirm: 'true',
    confirmation_token: body.token,
    'automatic_payment_methods[enabled]': 'true',
    return_url: returnUrl,
  });
  if (body.customer) form.set('customer', body.customer);
  if (body.cvc) form.set('payment_method_options[card][require_cvc_recollection]', 'true');
  const response = await fetch(`${emulatorUrl}/v1/payment_intents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  const json = await response.json();
  return json.error ? { error: json.error } : { status: json.status, client_secret: json.client_secret, shipped_to: json.shipping ? [json.shipping.name, json.shipping.address?.state].filter(Boolean).join(', ') : null };
}

/** Calls the emulator's API with the secret key (for test set-up). */
export async function stripeApi(emulatorUrl: string, path: string, form: Record<string, string>) {
  const response = await fetch(`${emulatorUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return response.json();
}

export async function startMerchant(): Promise<Merchant> {
  const emulator = await startEmulator();
  let origin = '';
  const server: Server = createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/confirm') {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', async () => {
        const reply = await confirm(emulator.url, `${origin}/complete`, JSON.parse(body));
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
      return;
    }
    if (request.url?.startsWith('/complete')) {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Back</title><h1>Returned</h1>');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(emulator.url));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  origin = `http://127.0.0.1:${port}`;
  return {
    pageUrl: `http://127.0.0.1:${port}/`,
    emulatorUrl: emulator.url,
    stop: async () => {
      emulator.child.kill();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
