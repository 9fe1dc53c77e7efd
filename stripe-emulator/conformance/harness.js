// @ts-check
// Starts the emulator binary on a free port and a local webhook receiver, for the
// conformance tests. The binary is the one `cargo build -p stripe-emulator` makes.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.STRIPE_EMULATOR_BIN ?? path.join(here, '..', '..', 'target', 'debug', 'stripe-emulator');

/**
 * @param {string[]} args extra command-line arguments
 * @returns {Promise<{ baseUrl: string, port: number, stop: () => void }>}
 */
export function startEmulator(args = []) {
  const child = spawn(binary, ['--addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the emulator did not start: ${seen}`)), 20_000);
    child.on('error', reject);
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = /Stripe emulator on (http:\/\/127\.0\.0\.1:(\d+))/.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ baseUrl: match[1], port: Number(match[2]), stop: () => child.kill() });
      }
    });
  });
}

/**
 * A webhook endpoint that records raw bodies and signature headers.
 * @returns {Promise<{ url: string, received: Array<{ body: string, signature: string }>, close: () => void }>}
 */
export function startReceiver() {
  /** @type {Array<{ body: string, signature: string }>} */
  const received = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ body, signature: String(request.headers['stripe-signature'] ?? '') });
      response.writeHead(200).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ url: `http://127.0.0.1:${port}/webhook`, received, close: () => server.close() });
    });
  });
}

/**
 * Waits (polling, bounded) until `check` is true.
 * @param {() => boolean} check
 */
export async function waitFor(check, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
