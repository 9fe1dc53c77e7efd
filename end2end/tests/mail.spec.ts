import { test, expect, typeCard, mugAtCheckout } from './fixtures';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAILDIR, VARIANTS } from '../global-setup';

/** Every message the SMTP server received so far, as text (folded headers joined,
 * soft line breaks of quoted-printable undone). */
function messages(): string[] {
  const inbox = resolve(MAILDIR, 'new');
  let names: string[] = [];
  try {
    names = readdirSync(inbox);
  } catch {
    return [];
  }
  return names.map((name) =>
    readFileSync(resolve(inbox, name), 'utf8').replace(/\r?\n /g, ' ').replace(/=\r?\n/g, '').replace(/=3D/g, '='),
  );
}

// The storefront that sends its emails over SMTP.
test.use({ baseURL: VARIANTS.mail.url });

// The first try's address is refused (400).
test.use({ expectedErrorStatuses: [400] });

test('a guest gives an email, pays, and the confirmation links to their order', async ({ page, gotoHydrated, browser }) => {
  await mugAtCheckout(page, gotoHydrated);
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
  // The link opens the order on another device: a browser with none of this one's cookies.
  const link = message.match(new RegExp(`https?://[^\\s"<>]*/orders/${orderId}\\?key=[A-Za-z0-9_-]+`))?.[0];
  expect(link, message).toBeTruthy();
  const phone = await browser.newContext();
  const elsewhere = await phone.newPage();
  await elsewhere.goto(link!);
  await expect(elsewhere.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
  // Without the key, it is none of that browser's orders.
  const bare = await elsewhere.goto(`${new URL(link!).origin}/orders/${orderId}`);
  expect(bare?.status()).toBe(404);
  await phone.close();

  // The next checkout in this session remembers the address.
  await gotoHydrated('/');
  await page.getByTestId('add-to-cart-linen-tote').click();
  await gotoHydrated('/checkout');
  await expect(page.getByTestId('email-input')).toHaveValue('jenny.guest@example.com');
});
