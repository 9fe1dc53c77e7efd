// @ts-check
// No invented vocabulary: every error code the emulator can send and every event type it
// can emit is one Stripe publishes for the API version the emulator reports. The lists
// are read from the official SDK's own type declarations (stripe-node 23.1.0 pins that
// version), not from a list of ours; the emulator's are read from its source, where
// every code and event type is a string literal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
// The SDK's declarations, beside the package's entry point (…/stripe/cjs/stripe.cjs.node.js).
const sdk = path.join(path.dirname(createRequire(import.meta.url).resolve('stripe')), '..', 'esm', 'resources');

/**
 * The string literals of the `type <name> = '…' | '…'` union in `file` that contains `witness`.
 * @param {string} file @param {string} name @param {string} witness
 */
function sdkUnion(file, name, witness) {
  const text = readFileSync(path.join(sdk, file), 'utf8');
  const unions = [...text.matchAll(new RegExp(`type ${name} = ([^;]+);`, 'g'))].map((match) => match[1]);
  const union = unions.find((body) => body.includes(`'${witness}'`));
  assert.ok(union, `no ${name} union with '${witness}' in the SDK's ${file}`);
  return new Set([...union.matchAll(/'([^']+)'/g)].map((match) => match[1]));
}

/** Every Rust source file of the emulator, as one text. */
function emulatorSource() {
  /** @param {string} dir @returns {string[]} */
  const files = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? files(path.join(dir, entry.name)) : entry.name.endsWith('.rs') ? [path.join(dir, entry.name)] : [],
    );
  return files(path.join(here, '..', 'src')).map((file) => readFileSync(file, 'utf8')).join('\n');
}

test('every error code the emulator sends is in the SDK\'s list for this API version', () => {
  const published = sdkUnion('PaymentIntents.d.ts', 'Code', 'resource_missing');
  const source = emulatorSource();
  const codes = new Set(
    [...source.matchAll(/with_code\("([a-z_]+)"\)|\bcard\("([a-z_]+)"|\bcode: "([a-z_]+)"/g)].map((m) => m[1] ?? m[2] ?? m[3]),
  );
  assert.ok(codes.size >= 10, `found only ${codes.size} codes: the scan no longer matches the source`);
  const invented = [...codes].filter((code) => !published.has(code));
  assert.deepEqual(invented, [], `codes Stripe does not publish: ${invented.join(', ')}`);
});

test('every event type the emulator emits is in the SDK\'s list for this API version', () => {
  const published = sdkUnion('Events.d.ts', 'Type', 'payment_intent.succeeded');
  const source = emulatorSource();
  const types = new Set(
    [...source.matchAll(/"((?:customer|payment_intent|setup_intent|payment_method|charge|refund)\.[a-z_.]+)"/g)].map((m) => m[1]),
  );
  // One type is built from the intent's kind: `{payment_intent|setup_intent}.requires_action`.
  assert.match(source, /format!\("\{\}\.requires_action", kind\.name\(\)\)/);
  types.add('payment_intent.requires_action').add('setup_intent.requires_action');
  assert.ok(types.size >= 15, `found only ${types.size} event types: the scan no longer matches the source`);
  const invented = [...types].filter((type) => !published.has(type));
  assert.deepEqual(invented, [], `event types Stripe does not publish: ${invented.join(', ')}`);
});

test('the event types a webhook endpoint may enable are exactly the SDK\'s', () => {
  const published = sdkUnion('WebhookEndpoints.d.ts', 'EnabledEvent', 'payment_intent.succeeded');
  const vendored = readFileSync(path.join(here, '..', 'src', 'api', 'enabled_events.txt'), 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'));
  assert.deepEqual(new Set(vendored), published);
});

// Stripe.js's own declarations: @stripe/stripe-js 10 loads and types Stripe.js endive,
// the release of the API version the emulator reports (stripe-node 23.1.0's).
const stripeJs = path.dirname(createRequire(import.meta.url).resolve('@stripe/stripe-js'));

test('@stripe/stripe-js loads the Stripe.js release of the SDK\'s API version', () => {
  const loader = readFileSync(path.join(stripeJs, '..', 'dist', 'index.js'), 'utf8');
  const release = /RELEASE_TRAIN = '([a-z]+)'/.exec(loader);
  const version = readFileSync(path.join(sdk, '..', 'apiVersion.js'), 'utf8');
  assert.equal(release?.[1], /ApiMajorVersion = '([a-z]+)'/.exec(version)?.[1]);
});

test('the Stripe.js stand-in knows the parameters of elements() that Stripe.js declares, and no other', () => {
  const file = path.join(stripeJs, '..', 'dist', 'stripe-js', 'elements-group.d.ts');
  const program = ts.createProgram([file], { strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const options = program
    .getSourceFile(file)
    ?.statements.filter(ts.isTypeAliasDeclaration)
    .find((alias) => alias.name.text === 'StripeElementsOptions');
  assert.ok(options, 'no StripeElementsOptions in @stripe/stripe-js');
  const type = checker.getTypeAtLocation(options.name);
  const declared = new Set((type.isUnion() ? type.types : [type]).flatMap((member) => checker.getPropertiesOfType(member).map((p) => p.name)));
  assert.ok(declared.has('allowedPaymentMethodTypes') && declared.size >= 20, `read ${[...declared]}`);
  const standIn = readFileSync(path.join(here, '..', 'assets', 'stripe.js'), 'utf8');
  const list = /var ELEMENTS_PARAMETERS = \[([^\]]+)\]/.exec(standIn);
  assert.ok(list, 'no ELEMENTS_PARAMETERS in the stand-in');
  const known = new Set([...list[1].matchAll(/'([A-Za-z_]+)'/g)].map((match) => match[1]));
  assert.deepEqual(known, declared);
});
