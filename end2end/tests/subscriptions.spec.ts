import { test, expect, loseFirstReply, pageOfItsOwn, subscriptionAtCheckout, typeCard, typeCardDetails, uniqueEmail, payAfterAnotherTabChangesTheCart, seriousViolations } from './fixtures';
import type { Locator, Page } from '@playwright/test';
import { VARIANTS } from '../global-setup';

// Subscription mode: the same Payment Element (Elements in `subscription` mode) and
// ConfirmationToken; the server creates the Subscription and confirms its first
// invoice. A guest is asked to sign in first; the account page shows the subscription,
// changes its quantity from the next renewal on, and cancels it at the period's end
// (and undoes that).

test.use({ baseURL: VARIANTS.subscriptions.url });
// One after the other, in one worker: a test moves this variant's emulator clock on, and
// a subscription another test is changing meanwhile would renew or end under it.
test.describe.configure({ mode: 'default' });

/** The coffee beans subscription in the cart, at checkout, ready to pay; signed up first
 * as `email` when given (a guest otherwise). */
async function beansAtCheckout(page: Page, gotoHydrated: (path: string) => Promise<void>, email?: string) {
  await subscriptionAtCheckout(page, gotoHydrated, 'coffee-beans', { email, shows: '€12.00 / month' });
}

/** A new account (`who`) at the subscription's checkout, Pay clicked with `card`. */
async function subscribeWith(page: Page, gotoHydrated: (path: string) => Promise<void>, who: string, card: string) {
  await beansAtCheckout(page, gotoHydrated, uniqueEmail(who));
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  await typeCard(page, card);
  await page.getByTestId('pay-button').click();
}

test('a guest is asked to sign in before subscribing', async ({ page, gotoHydrated }) => {
  await beansAtCheckout(page, gotoHydrated);
  await expect(page.getByTestId('subscription-terms')).toContainText('€12.00 / month, charged today');
  await expect(page.getByTestId('subscribe-needs-account')).toBeVisible();
  await expect(page.getByTestId('pay-button')).toHaveCount(0);
});

/** A new account's checkout for the beans, its Customer (made by the checkout page)
 * credited a month by the merchant, the form ready: the Customer's id. */
async function creditedAtCheckout(page: Page, gotoHydrated: (path: string) => Promise<void>, name: string): Promise<string> {
  const email = uniqueEmail(name);
  await beansAtCheckout(page, gotoHydrated, email);
  const customers = await stripe('GET', `/v1/customers?email=${encodeURIComponent(email)}`);
  await stripe('POST', `/v1/customers/${customers.data[0].id}`, { balance: '-1200' });
  await expect(page.getByTestId('pay-button')).toBeEnabled();
  return customers.data[0].id;
}

test('a shopper whose credit pays the first month subscribes with nothing charged and lands on the order', async ({ page, gotoHydrated }) => {
  const customer = await creditedAtCheckout(page, gotoHydrated, 'credited');
  await typeCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  // No PaymentIntent to show a result for: the page goes to the order, paid, for 0.
  await expect(page).toHaveURL(/\/orders\/ord_/);
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
  await expect(page.getByTestId('cart-count')).toHaveText('0');
  const intents = await stripe('GET', '/v1/payment_intents?limit=100');
  expect(intents.data.filter((intent: { customer: string }) => intent.customer === customer)).toHaveLength(0);
  // Nothing charged, so no receipt; the invoice is Stripe's page, which says the credit paid it.
  await expect(page.getByTestId('order-receipt')).toHaveCount(0);
  await page.getByTestId('order-invoice').click();
  await expect(page).toHaveURL(/\/i\/[A-Za-z0-9]{40}$/);
  await expect(page.locator('#invoice-status')).toHaveText('Paid');
  await expect(page.getByText('−€12.00')).toBeVisible();
  await expect(page.locator('#invoice-pdf')).toHaveAttribute('href', /\/invoice\/[A-Za-z0-9]{40}\/pdf$/);
});

test('a shopper whose credit pays the first month authenticates the card kept for the renewals and lands on the order', async ({ page, gotoHydrated }) => {
  const customer = await creditedAtCheckout(page, gotoHydrated, 'credited-3ds');
  // Stripe's card whose bank wants 3-D Secure to set it up.
  await typeCard(page, '4000002500003155');
  await page.getByTestId('pay-button').click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page).toHaveURL(/\/orders\/ord_/);
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
  await expect(page.getByTestId('order-credit')).toContainText('−€12.00');
  const subscriptions = await stripe('GET', `/v1/subscriptions?customer=${customer}`);
  expect(subscriptions.data[0].default_payment_method).toMatch(/^pm_/);
});

test('a shopper whose credit pays the first month and who fails the card\'s 3-D Secure is subscribed and told what happens next', async ({ page, gotoHydrated }) => {
  const customer = await creditedAtCheckout(page, gotoHydrated, 'credited-3ds-failed');
  await typeCard(page, '4000002500003155');
  await page.getByTestId('pay-button').click();
  await page.locator('#test-source-fail-3ds').click();
  await expect(page).toHaveURL(/\/checkout\/complete\?setup_intent=seti_/);
  await expect(page.getByRole('alert')).toContainText('your card was not kept for the renewals');
  await expect(page.getByTestId('cart-count')).toHaveText('0');
  const subscriptions = await stripe('GET', `/v1/subscriptions?customer=${customer}`);
  expect([subscriptions.data[0].status, subscriptions.data[0].default_payment_method]).toEqual(['active', null]);
});

test.describe('a subscriber managing their subscription', () => {
  // The island's request to remove the card the renewals go to is refused with a 400.
  test.use({ expectedErrorStatuses: [400] });

  test('a shopper subscribes with 4242, sees it active, changes its quantity and the card its renewals go to, and cancels it at the period end', async ({ page, gotoHydrated }) => {
    await beansAtCheckout(page, gotoHydrated, uniqueEmail('subscriber'));
    await expect(page.getByTestId('subscription-terms')).toContainText('every month until you cancel');
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await expect(page.getByTestId('pay-button')).toContainText('Subscribe');
    await typeCard(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
    await expect(page.getByTestId('payment-result')).toHaveText('Thank you: your subscription is active.');
    await expect(page.getByTestId('cart-count')).toHaveText('0');

    await page.getByTestId('manage-subscriptions').click();
    const row = page.locator('[data-testid^="subscription-sub_"]');
    await expect(row).toHaveAttribute('data-status', 'active');
    await expect(row.getByTestId('subscription-period')).toContainText('Renews on');
    // Two bags from the next renewal on: the form posts, the page comes back with them.
    await expect(row.getByTestId('subscription-quantity')).toHaveValue('1');
    await row.getByTestId('subscription-quantity').fill('2');
    await row.getByRole('button', { name: 'Change the quantity: Coffee beans' }).click();
    await expect(row.locator('.name')).toHaveText(/^2 × /);
    await expect(row.locator('.price')).toContainText('€24.00');
    await expect(row.getByTestId('subscription-quantity')).toHaveValue('2');
    // A card saved since takes the renewals from the next one on: the form posts, the page
    // comes back saying so, and Stripe charges that card next.
    const id = (await row.getAttribute('data-testid'))!.replace('subscription-', '');
    const { customer } = await stripe('GET', `/v1/subscriptions/${id}`);
    const mastercard = await stripe('POST', '/v1/payment_methods/pm_card_mastercard/attach', { customer });
    await page.reload();
    const renewalCard = row.getByTestId('renewal-card');
    // `option[selected]`: what the server rendered, not what the shopper picked since.
    await expect(renewalCard.locator('option[selected]')).toContainText('4242');
    await renewalCard.selectOption(mastercard.id);
    await row.getByRole('button', { name: 'Use this card for the renewals: Coffee beans' }).click();
    await expect(renewalCard.locator('option[selected]')).toContainText('Mastercard •••• 4444');
    expect((await stripe('GET', `/v1/subscriptions/${id}`)).default_payment_method).toBe(mastercard.id);
    // That card stays while it pays the renewals: the cards' island says why.
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await page.getByTestId('remove-method-4444').click();
    await expect(page.getByRole('alert').filter({ hasText: 'This card pays the renewals of “Coffee beans, monthly”' })).toBeVisible();
    await expect(page.getByTestId('saved-method-4444')).toBeVisible();
    expect(await seriousViolations(page), 'the account page, a subscription renewing').toEqual([]);
    await row.getByTestId('cancel-subscription').click();
    await expect(row).toHaveAttribute('data-cancel-at-period-end', 'true');
    await expect(row.getByTestId('subscription-period')).toContainText('Ends on');
    expect(await seriousViolations(page), 'the account page, a subscription ending').toEqual([]);
    // The same page in French, in the dark scheme: its buttons' names are translated too.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByTestId('language-fr').click();
    await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(row.getByTestId('subscription-period')).not.toContainText('Ends on');
    expect(await seriousViolations(page), 'the account page in French, dark, a subscription ending').toEqual([]);
    await page.getByTestId('language-en').click();
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await page.emulateMedia({ colorScheme: 'light' });
    await row.getByTestId('resume-subscription').click();
    await expect(row).toHaveAttribute('data-cancel-at-period-end', 'false');
    await expect(row.getByTestId('cancel-subscription')).toBeVisible();
  });
});

test.describe('a free trial', () => {
  // The variant whose account specs leave its sign-ups per address to spare: the tests
  // above spend this one's. Its catalog is the shop's, with the tea's 14 days.
  test.use({ baseURL: VARIANTS.free.url });

  test('is subscribed to with nothing charged today, lands on the order, and the account page says when the first charge comes', async ({ page, gotoHydrated }) => {
    const shows = 'First 14 days free for new subscribers';
    await subscriptionAtCheckout(page, gotoHydrated, 'tea-club', { email: uniqueEmail('trial'), shows });
    await expect(page.getByTestId('discount-line')).toContainText('First 14 days free');
    await expect(page.getByTestId('order-total')).toHaveText('€0.00');
    await expect(page.getByTestId('subscription-terms')).toContainText('the first 14 days are free, then €9.50 / month');
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    await expect(page.getByTestId('pay-button')).toContainText('€0.00');
    expect(await seriousViolations(page), 'the checkout of a free trial').toEqual([]);
    await typeCard(page, '4242424242424242');
    await page.getByTestId('pay-button').click();
    // Nothing was charged, so there is no payment to show: the page goes to the order.
    await expect(page).toHaveURL(/\/orders\/ord_/);
    await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'paid');
    await expect(page.getByTestId('cart-count')).toHaveText('0');
    await gotoHydrated('/account');
    const row = page.locator('[data-testid^="subscription-sub_"]');
    await expect(row).toHaveAttribute('data-status', 'trialing');
    await expect(row.getByTestId('subscription-status')).toHaveText('Free trial');
    await expect(row.getByTestId('subscription-period')).toContainText('First charge on');
  });

  test('that ended without a card and was paused is resumed from the account page with a card added there, through 3-D Secure', async ({ page, gotoHydrated }) => {
    await subscriptionAtCheckout(page, gotoHydrated, 'tea-club', { email: uniqueEmail('trial-paused') });
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    // The bank wants 3-D Secure to keep the card, and the shopper fails it: the trial
    // starts all the same, with no card for its end.
    await typeCard(page, '4000002500003155');
    await page.getByTestId('pay-button').click();
    await page.locator('#test-source-fail-3ds').click();
    await expect(page).toHaveURL(/\/checkout\/complete\?setup_intent=seti_/);
    await gotoHydrated('/account');
    const row = page.locator('[data-testid^="subscription-sub_"]');
    await expect(row).toHaveAttribute('data-status', 'trialing');
    const id = (await row.getAttribute('data-testid'))!.replace('subscription-', '');
    // The shop's account pauses a trial that ends without a card; the merchant ends
    // this one now.
    const emulator = VARIANTS.free.emulator;
    await stripeAt(emulator, 'POST', `/v1/subscriptions/${id}`, { 'trial_settings[end_behavior][missing_payment_method]': 'pause' });
    await stripeAt(emulator, 'POST', `/v1/subscriptions/${id}`, { trial_end: 'now' });
    await expect(async () => {
      await page.reload();
      await expect(row).toHaveAttribute('data-status', 'paused', { timeout: 1_000 });
    }).toPass();
    await expect(row.getByTestId('subscription-status')).toHaveText('Paused: nothing is charged until it resumes');
    await expect(row.getByTestId('pay-overdue-add-card')).toContainText('then resume it here');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

    // A card added on this page (its bank wants 3-D Secure for every payment): the page
    // loads again, offering to resume with it.
    await expect(page.getByTestId('add-card-button')).toBeEnabled();
    await typeCardDetails(page, '4000002760003184');
    await page.getByTestId('add-card-button').click();
    await page.locator('#test-source-authorize-3ds').click();
    await expect(row.getByTestId('pay-overdue')).toHaveText('Resume and pay');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    expect(await seriousViolations(page), 'the account page, a paused subscription to resume').toEqual([]);
    // Resumed: a new period from now, its charge confirmed with the bank.
    await row.getByTestId('pay-overdue').click();
    await page.locator('#test-source-authorize-3ds').click();
    await expect(row).toHaveAttribute('data-status', 'active');
    await expect(row.getByTestId('pay-overdue-form')).toHaveCount(0);
    await expect(row.getByTestId('subscription-period')).toContainText('Renews on');
    const resumed = await stripeAt(emulator, 'GET', `/v1/subscriptions/${id}?expand[]=latest_invoice`);
    expect([resumed.status, resumed.latest_invoice.billing_reason, resumed.latest_invoice.status]).toEqual(['active', 'subscription_update', 'paid']);
  });
});

test('a shopper subscribes through 3-D Secure, and the same subscription again is sent to their account', async ({ page, gotoHydrated }) => {
  await subscribeWith(page, gotoHydrated, 'subscriber-3ds', '4000002500003155');
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await gotoHydrated('/account');
  await expect(page.locator('[data-testid^="subscription-sub_"]')).toHaveAttribute('data-status', 'active');

  // The same beans again: the checkout sends the subscriber to their account instead.
  await beansAtCheckout(page, gotoHydrated);
  await expect(page.getByTestId('already-subscribed')).toContainText('You already subscribe to “Coffee beans, monthly”');
  await expect(page.getByTestId('pay-button')).toHaveCount(0);
  expect(await seriousViolations(page), 'the checkout of a subscription the shopper has').toEqual([]);
  await page.getByRole('link', { name: 'Your account' }).click();
  await expect(page).toHaveURL(/\/account$/);
});

test.describe('a checkout whose cart changed in another tab', () => {
  test.use({ expectedErrorStatuses: [409] });

  test('subscribes to nothing it did not show, and reloads with the new terms', async ({ page, gotoHydrated }) => {
    await beansAtCheckout(page, gotoHydrated, uniqueEmail('subscriber-two-tabs'));
    await expect(page.getByTestId('subscription-terms')).toContainText('1 × Coffee beans, monthly: €12.00 / month');
    await typeCard(page, '4242424242424242');
    // Another tab asks for two bags a month.
    await payAfterAnotherTabChangesTheCart(page, async (other) => {
      await other.goto('/cart');
      await other.getByRole('button', { name: 'One more Coffee beans, monthly' }).click();
      await expect(other.getByTestId('cart-line-coffee-beans').locator('output')).toHaveText('2');
    });
    // The terms the shopper agrees to are those of the cart as it is now, and the page says why it changed.
    await expect(page.getByTestId('cart-changed')).toContainText('nothing was charged');
    await expect(page.getByTestId('subscription-terms')).toContainText('2 × Coffee beans, monthly: €24.00 / month');
    await expect(page.getByTestId('pay-button')).toBeEnabled();
    // Said once: the address no longer asks for it, and the page loaded again is plain.
    await expect(page).toHaveURL(/\/checkout$/);
    await page.reload();
    await expect(page.getByTestId('subscription-terms')).toBeVisible();
    await expect(page.getByTestId('cart-changed')).toHaveCount(0);
    await gotoHydrated('/account');
    await expect(page.locator('[data-testid^="subscription-sub_"]')).toHaveCount(0);
  });

  test('charges nothing and reloads into the subscription\'s checkout', async ({ page, gotoHydrated }) => {
    await gotoHydrated('/');
    await page.getByTestId('add-to-cart-ceramic-mug').click();
    await expect(page.getByTestId('cart-count')).toHaveText('1');
    await gotoHydrated('/checkout');
    await typeCard(page, '4242424242424242');
    await expect(page.getByTestId('pay-button')).toHaveText('Pay €18.00');
    // Another tab swaps the mug for the subscription (plain forms: no JavaScript needed).
    await payAfterAnotherTabChangesTheCart(page, async (other) => {
      await other.goto('/cart');
      await other.getByRole('button', { name: 'Remove Ceramic mug from the cart' }).click();
      await expect(other.getByTestId('cart-empty')).toBeVisible();
      await other.goto('/');
      await other.getByTestId('add-to-cart-coffee-beans').click();
      await expect(other.getByTestId('cart-count')).toHaveText('1');
    });
    // The page is made again for what the cart is now: a guest is asked to sign in.
    await expect(page.getByTestId('cart-changed')).toContainText('nothing was charged');
    await expect(page.getByTestId('subscribe-needs-account')).toBeVisible();
    await expect(page.getByTestId('pay-button')).toHaveCount(0);
  });
});

/** A call to this variant's emulator (any test key will do). */
async function stripe(method: string, path: string, form: Record<string, string> = {}) {
  return stripeAt(VARIANTS.subscriptions.emulator, method, path, form);
}

/** The same, at the emulator whose base URL is `emulator`. */
async function stripeAt(emulator: string, method: string, path: string, form: Record<string, string> = {}) {
  const response = await fetch(`${emulator}${path}`, {
    method,
    headers: { authorization: 'Bearer sk_test_e2e', 'content-type': 'application/x-www-form-urlencoded' },
    body: method === 'GET' ? undefined : new URLSearchParams(form).toString(),
  });
  expect(response.ok, `${method} ${path}: ${response.status}`).toBeTruthy();
  return response.json();
}

/** Sends `body` to this variant's emulator's control API at `path`. */
async function control(path: string, body: unknown) {
  const response = await fetch(`${VARIANTS.subscriptions.emulator}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.ok, `${path}: ${response.status}`).toBeTruthy();
}

/** `days` pass on this variant's emulator clock; the page is loaded again until the
 * subscription in `row` has the Stripe status `status`. */
async function daysPass(page: Page, row: Locator, days: number, status: string) {
  await control('/_emulator/clock', { advance_seconds: days * 86_400 });
  await expect(async () => {
    await page.reload();
    await expect(row).toHaveAttribute('data-status', status, { timeout: 1_000 });
  }).toPass();
}

/** A month passes on this variant's emulator clock; the subscription in `row` (on the
 * account page) renews, its payment fails, and the page shows it overdue. */
async function renewalFails(page: Page, row: Locator) {
  await daysPass(page, row, 32, 'past_due');
  await expect(row.getByTestId('subscription-status')).toContainText('the last renewal could not be charged');
  // Stripe retries it by itself, and the page says when.
  await expect(row.getByTestId('subscription-period')).toContainText('Next payment attempt on');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** A subscription paid with 4242 whose card is then replaced (in the Dashboard, say) by
 * one that declines, and a month passes: its row on the account page, overdue. */
async function overdueWithADecliningCard(page: Page, gotoHydrated: (path: string) => Promise<void>, who: string) {
  await subscribeWith(page, gotoHydrated, who, '4242424242424242');
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await gotoHydrated('/account');
  const row = page.locator('[data-testid^="subscription-sub_"]');
  const id = (await row.getAttribute('data-testid'))!.replace('subscription-', '');
  const subscription = await stripe('GET', `/v1/subscriptions/${id}`);
  const failing = await stripe('POST', '/v1/payment_methods/pm_card_chargeCustomerFail/attach', { customer: subscription.customer });
  await stripe('POST', `/v1/subscriptions/${id}`, { default_payment_method: failing.id });
  await renewalFails(page, row);
  return { row, id };
}

/** Picks the saved card ending in `last4` in the overdue renewal's form. */
async function payWith(row: Locator, last4: string) {
  const select = row.getByTestId('pay-overdue-card');
  await select.selectOption((await select.locator('option', { hasText: last4 }).getAttribute('value'))!);
}

test.describe('a declined card', () => {
  // The island's request for the declining card is answered 402, as the shop's API says.
  test.use({ expectedErrorStatuses: [402] });

  test('an overdue renewal is paid from the account page with another saved card', async ({ page, gotoHydrated }) => {
    const { row, id } = await overdueWithADecliningCard(page, gotoHydrated, 'subscriber-overdue');
    // The declining card again: declined, and said so.
    await payWith(row, '0341');
    await row.getByTestId('pay-overdue').click();
    await expect(page.getByRole('alert').filter({ hasText: 'declined' })).toBeVisible();
    await expect(row).toHaveAttribute('data-status', 'past_due');
    // The card the shopper subscribed with: paid, active again, nothing more to pay.
    await payWith(row, '4242');
    await row.getByTestId('pay-overdue').click();
    await expect(row).toHaveAttribute('data-status', 'active');
    await expect(row.getByTestId('pay-overdue-form')).toHaveCount(0);
    expect((await stripe('GET', `/v1/subscriptions/${id}`)).status).toBe('active');
  });
});

test('an overdue renewal paid whose reply is lost shows the subscription active, paid once', async ({ context }) => {
  const { page, gotoHydrated } = await pageOfItsOwn(context);
  const { row, id } = await overdueWithADecliningCard(page, gotoHydrated, 'subscriber-overdue-lost');
  await payWith(row, '4242');
  // The shop pays the invoice; its reply to the page is then lost.
  const pays = await loseFirstReply(page, '**/api/account/subscription/pay');
  await row.getByTestId('pay-overdue').click();
  // The page asks Stripe, through the shop, what became of it: paid, so it shows that.
  await expect(row).toHaveAttribute('data-status', 'active');
  await expect(row.getByTestId('pay-overdue-form')).toHaveCount(0);
  expect(pays()).toBe(1);
  const invoices = (await stripe('GET', `/v1/invoices?subscription=${id}`)).data as { status: string }[];
  expect(invoices.map((invoice) => invoice.status).sort()).toEqual(['paid', 'paid']);
});

/** A new account (`who`) subscribed with Stripe's 4000 0027 6000 3184, whose bank asks
 * for 3-D Secure on every payment, and a month on: the renewal, off session, failed. Its
 * row on the account page, overdue. */
async function overdueThroughItsBank(page: Page, gotoHydrated: (path: string) => Promise<void>, who: string) {
  await subscribeWith(page, gotoHydrated, who, '4000002760003184');
  await page.locator('#test-source-authorize-3ds').click();
  await expect(page.getByTestId('payment-result')).toHaveAttribute('data-status', 'succeeded');
  await gotoHydrated('/account');
  const row = page.locator('[data-testid^="subscription-sub_"]');
  const id = (await row.getAttribute('data-testid'))!.replace('subscription-', '');
  await renewalFails(page, row);
  return { row, id };
}

test('an overdue renewal whose bank wants 3-D Secure is confirmed from the account page', async ({ page, gotoHydrated }) => {
  const { row, id } = await overdueThroughItsBank(page, gotoHydrated, 'subscriber-overdue-3ds');

  // The shopper fails the bank's challenge: said so, nothing charged, the form still there.
  await row.getByTestId('pay-overdue').click();
  await page.locator('#test-source-fail-3ds').click();
  await expect(row.getByRole('alert')).not.toBeEmpty();
  await expect(row.getByTestId('pay-overdue')).toBeEnabled();
  await expect(row).toHaveAttribute('data-status', 'past_due');
  expect((await stripe('GET', `/v1/subscriptions/${id}`)).status).toBe('past_due');
  expect(await seriousViolations(page), 'the account page, a renewal overdue and its error shown').toEqual([]);
  // Again from the same page, and confirmed: paid, active, nothing more to pay.
  await row.getByTestId('pay-overdue').click();
  await page.locator('#test-source-authorize-3ds').click();
  await expect(row).toHaveAttribute('data-status', 'active');
  await expect(row.getByTestId('pay-overdue-form')).toHaveCount(0);
  expect((await stripe('GET', `/v1/subscriptions/${id}`)).status).toBe('active');
});

test('an unpaid subscription is resumed from the account page through 3-D Secure', async ({ page, gotoHydrated }) => {
  // The merchant's settings mark a subscription `unpaid` once Stripe's retries are spent.
  await control('/_emulator/billing_settings', { retries_spent: 'unpaid' });
  try {
    // Every retry fails as the renewal did, for want of the shopper's 3-D Secure.
    const { row, id } = await overdueThroughItsBank(page, gotoHydrated, 'subscriber-unpaid');
    await daysPass(page, row, 15, 'unpaid');
    await expect(row.getByTestId('subscription-status')).toContainText('On hold');
    // A period on, its renewal is a draft that Stripe charges to no one.
    await daysPass(page, row, 17, 'unpaid');
    const draft = (await stripe('GET', `/v1/subscriptions/${id}?expand[]=latest_invoice`)).latest_invoice;
    expect(draft.status).toBe('draft');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

    // The bank's challenge failed: said so, still on hold, the form still there.
    await row.getByTestId('pay-overdue').click();
    await page.locator('#test-source-fail-3ds').click();
    await expect(row.getByRole('alert')).not.toBeEmpty();
    await expect(row.getByTestId('pay-overdue')).toBeEnabled();
    await expect(row).toHaveAttribute('data-status', 'unpaid');
    await expect(row.getByTestId('end-subscription')).toBeVisible();
    expect(await seriousViolations(page), 'the account page, a subscription on hold and its error shown').toEqual([]);
    // Again, confirmed: the renewal paid, and the subscription active again.
    await row.getByTestId('pay-overdue').click();
    await page.locator('#test-source-authorize-3ds').click();
    await expect(row).toHaveAttribute('data-status', 'active');
    await expect(row.getByTestId('pay-overdue-form')).toHaveCount(0);
    expect((await stripe('GET', `/v1/invoices/${draft.id}`)).status).toBe('paid');
    expect((await stripe('GET', `/v1/subscriptions/${id}`)).status).toBe('active');
  } finally {
    await control('/_emulator/billing_settings', { retries_spent: 'cancel' });
  }
});
