// @ts-check
// Parameters: honoured or refused, never invented. The emulator serves its route table
// (`GET /_emulator/routes`: every parameter each route accepts; any other is refused
// with `parameter_unknown`). Every accepted parameter must exist, at every depth, in the
// official SDK's parameter type for that route (`Stripe.PaymentIntentCreateParams`, …),
// which stripe-node generates from Stripe's OpenAPI spec for the pinned API version
// (stripe-node 23.1.0: spec v2596, 2026-10-28.endive). Every enum value the emulator
// accepts (its `one_of` lists) must be one of Stripe's for that parameter.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startEmulator } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {Awaited<ReturnType<typeof startEmulator>>} */
let emulator;
/** @type {Array<{ method: string, path: string, sdk_params: string | null, accepts: string[] }>} */
let routes;

before(async () => {
  emulator = await startEmulator();
  routes = (await (await fetch(`${emulator.baseUrl}/_emulator/routes`)).json()).data;
});

after(() => emulator.stop());

/** SDK parameter types the package does not export by name, reached through their method. */
/** @type {Record<string, string>} */
const unexported = {
  'TestHelpers.ConfirmationTokenCreateParams': "NonNullable<Parameters<Stripe['testHelpers']['confirmationTokens']['create']>[0]>",
};

/**
 * A type checker over a file that names each route's SDK parameter type.
 * @param {string[]} names
 */
function sdkTypes(names) {
  const dir = path.join(here, 'generated');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'params.ts');
  const lines = ["import Stripe from 'stripe';", ...names.map((name, i) => `export type P${i} = ${unexported[name] ?? `Stripe.${name}`};`)];
  writeFileSync(file, lines.join('\n'));
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
  assert.deepEqual(diagnostics, [], 'every named SDK parameter type exists');
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  assert.ok(source);
  /** @type {Map<string, ts.Type>} */
  const types = new Map();
  source.statements.filter(ts.isTypeAliasDeclaration).forEach((alias, i) => types.set(names[i], checker.getTypeAtLocation(alias.name)));
  return { checker, types };
}

/**
 * The object types a parameter's type may be, with `null`, `undefined`, `''`
 * (Stripe's `Emptyable`) and arrays looked through.
 * @param {ts.TypeChecker} checker @param {ts.Type} type @returns {ts.Type[]}
 */
function shapes(checker, type) {
  const parts = type.isUnion() ? type.types : [type];
  return parts.flatMap((part) => {
    if (checker.isArrayType(part)) return shapes(checker, checker.getTypeArguments(/** @type {ts.TypeReference} */ (part))[0]);
    return part.flags & ts.TypeFlags.Object ? [part] : [];
  });
}

/**
 * The string literal values a parameter's type allows (empty when it is not an enum).
 * @param {ts.TypeChecker} checker @param {ts.Type} type @returns {string[]}
 */
function literals(checker, type) {
  const parts = type.isUnion() ? type.types : [type];
  return parts.flatMap((part) => {
    if (checker.isArrayType(part)) return literals(checker, checker.getTypeArguments(/** @type {ts.TypeReference} */ (part))[0]);
    return part.isStringLiteral() ? [part.value] : [];
  });
}

/**
 * The type of the parameter at `dotted` in `root`, or a reason it does not exist.
 * @param {ts.TypeChecker} checker @param {ts.Type} root @param {string} dotted
 * @returns {ts.Type | string}
 */
function resolve(checker, root, dotted) {
  /** @type {ts.Type[]} */
  let current = [root];
  const segments = dotted.split('.');
  for (const [index, segment] of segments.entries()) {
    if (segment === '#') {
      // `items.#.price`: any element of an array of hashes.
      const elements = current
        .flatMap((type) => (type.isUnion() ? type.types : [type]))
        .filter((part) => checker.isArrayType(part))
        .map((part) => checker.getTypeArguments(/** @type {ts.TypeReference} */ (part))[0]);
      if (elements.length === 0) return `${segments.slice(0, index).join('.')} is not an array`;
      current = elements;
      continue;
    }
    if (segment === '*') {
      // `metadata.*`: keys of the caller's own; the parameter must take any string key.
      const open = current.some((type) => shapes(checker, type).some((shape) => checker.getIndexInfosOfType(shape).length > 0));
      return open ? current[0] : `${segments.slice(0, index).join('.')} does not take arbitrary keys`;
    }
    const next = current
      .flatMap((type) => shapes(checker, type))
      .map((shape) => shape.getProperty(segment))
      .filter((symbol) => symbol !== undefined)
      .map((symbol) => checker.getTypeOfSymbol(/** @type {ts.Symbol} */ (symbol)));
    if (next.length === 0) return `${segments.slice(0, index + 1).join('.')} is not one of Stripe's parameters`;
    current = next;
  }
  return current[0];
}

test('every parameter the emulator accepts is one of Stripe\'s for that route, at every depth', () => {
  const withSdk = routes.filter((route) => route.sdk_params);
  assert.ok(withSdk.length >= 30, `the table lists ${withSdk.length} routes`);
  const { checker, types } = sdkTypes([...new Set(withSdk.map((route) => /** @type {string} */ (route.sdk_params)))]);
  const problems = [];
  for (const route of withSdk) {
    const root = types.get(/** @type {string} */ (route.sdk_params));
    assert.ok(root);
    for (const param of route.accepts) {
      const found = resolve(checker, root, param);
      if (typeof found === 'string') problems.push(`${route.method} /v1/${route.path}: ${found}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every enum value the emulator accepts is one of Stripe\'s', () => {
  const source = readdirSync(path.join(here, '..', 'src', 'api'))
    .filter((file) => file.endsWith('.rs'))
    .map((file) => readFileSync(path.join(here, '..', 'src', 'api', file), 'utf8'))
    .join('\n');
  // `one_of(params, "name", &[…])`, and `one_of_at(params, "name", path, &[…])` for a
  // nested hash's key (rustfmt may break either over lines).
  const call = /one_of(?:_at)?\(\s*&?\w+,\s*"([a-z_]+)",(?:\s*(?:"[^"]*"|&\w+),)?\s*&\[([^\]]+)\],?\s*\)/g;
  const choices = [...source.matchAll(call)].map((m) => ({
    name: m[1],
    values: [...m[2].matchAll(/"([^"]+)"/g)].map((v) => v[1]),
  }));
  assert.ok(choices.length >= 5, `found only ${choices.length} enums: the scan no longer matches the source`);
  const withSdk = routes.filter((route) => route.sdk_params);
  const { checker, types } = sdkTypes([...new Set(withSdk.map((route) => /** @type {string} */ (route.sdk_params)))]);
  const problems = [];
  for (const { name, values } of choices) {
    // Stripe's values for this parameter wherever a route accepts it.
    const allowed = new Set(
      withSdk.flatMap((route) =>
        route.accepts
          .filter((param) => param === name || param.endsWith(`.${name}`))
          .flatMap((param) => {
            const type = resolve(checker, /** @type {ts.Type} */ (types.get(/** @type {string} */ (route.sdk_params))), param);
            return typeof type === 'string' ? [] : literals(checker, type);
          }),
      ),
    );
    assert.ok(allowed.size > 0, `${name}: no route takes it as an enum`);
    for (const value of values) if (!allowed.has(value)) problems.push(`${name}: ${value}`);
  }
  assert.deepEqual(problems, []);
});

test('a parameter outside the table is refused as parameter_unknown, at any depth', async () => {
  /** @param {string} body */
  const post = async (body) =>
    (
      await fetch(`${emulator.baseUrl}/v1/payment_intents`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk_test_params', 'content-type': 'application/x-www-form-urlencoded' },
        body,
      })
    ).json();
  for (const [body, param] of [
    ['amount=1000&currency=eur&statement_descriptor_kana=x', 'statement_descriptor_kana'],
    ['amount=1000&currency=eur&shipping[name]=J&shipping[address][line1]=1&shipping[address][suburb]=x', 'shipping[address][suburb]'],
    ['amount=1000&currency=eur&payment_method_options[card][installments][enabled]=true', 'payment_method_options[card][installments]'],
  ]) {
    const reply = await post(body);
    assert.equal(reply.error?.code, 'parameter_unknown', body);
    assert.equal(reply.error?.param, param, body);
  }
});
