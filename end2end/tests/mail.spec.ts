import { test, expect, typeCard } from './fixtures';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// The end-to-end server has no SMTP_URL: its order emails are .eml files in MAIL_DIR
// (by default target/mail, beside the server's working directory, the project root).
const MAIL_DIR = resolve(__dirname, '../../target/mail');

/** Every message written so far, as text (soft line breaks of quoted-printable undone). */
function messages(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(MAIL_DIR).filter((name) => name.endsWith('.eml'));
  } catch {
    return [];
  }
  return names.map((name) => readFileSync(resolve(MAIL_DIR, name), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='));
}

// The first try's address is refused (400).
test.use({ expectedErrorStatuses: [400] });

test('a guest gives an email, pays, and the confirmation links to their order', async ({ page, gotoHydrated }) => {
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-ceramic-mug').click();
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  await typeCard(page, '4242424242424242');

  // An address mail cannot reach: refused with what to write instead, nothing charged.
  await page.getByTestId('email-input').fill('jenny@example');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-error')).toContainText('name@example.com');

  await page.getByTestId('email-input').fill('jenny.guest@example.com');
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  const orderPath = await page.getByTestId('payment-result').locator('xpath=following::a[contains(@href, "/orders/")]').first().getAttribute('href');
  const orderId = orderPath!.split('/').pop()!;

  // The confirmation, written once the webhook fulfilled the order.
  await expect.poll(() => messages().filter((m) => m.includes(`Message-ID: <order_confirmation.${orderId}@`)).length, { timeout: 15_000 }).toBe(1);
  const message = messages().find((m) => m.includes(`order_confirmation.${orderId}@`))!;
  expect(message).toContain('To: jenny.guest@example.com');
  expect(message).toContain(`/orders/${orderId}`);

  // The next checkout in this session remembers the address.
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-linen-tote').click();
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('email-input')).toHaveValue('jenny.guest@example.com');
});
