-- Subscription mode. A subscription as Stripe last said it is (read again from Stripe
-- on each of its webhooks and after each change the shop makes, so events in any order
-- leave the newest state: `synced_at` keeps a slower, older read from overwriting a
-- newer one), the account it belongs to and the session that started it. Each paid
-- invoice becomes an order of its own (fulfilment, confirmation email), found again by
-- its invoice id, so a paid invoice is fulfilled once however often it is reported.
CREATE TABLE subscriptions (
    id                      TEXT PRIMARY KEY,                      -- sub_…
    account_id              TEXT NOT NULL REFERENCES accounts (id),
    session_id              TEXT NOT NULL REFERENCES sessions (id),
    product_id              TEXT NOT NULL,
    name                    TEXT NOT NULL,
    quantity                INTEGER NOT NULL CHECK (quantity > 0),
    unit_amount             BIGINT NOT NULL CHECK (unit_amount > 0),
    currency                TEXT NOT NULL,
    billing_interval        TEXT NOT NULL,                         -- day, week, month, year
    interval_count          INTEGER NOT NULL CHECK (interval_count > 0),
    status                  TEXT NOT NULL,                         -- Stripe's
    current_period_end      BIGINT,
    cancel_at_period_end    INTEGER NOT NULL DEFAULT 0,
    first_invoice_id        TEXT NOT NULL,
    first_payment_intent_id TEXT,
    email                   TEXT,
    locale                  TEXT,
    synced_at               BIGINT NOT NULL,                       -- milliseconds
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE INDEX subscriptions_by_account ON subscriptions (account_id, created_at);
CREATE INDEX subscriptions_by_first_intent ON subscriptions (first_payment_intent_id);
-- Forgetting idle sessions asks whether a subscription names one.
CREATE INDEX subscriptions_by_session ON subscriptions (session_id);

ALTER TABLE orders ADD COLUMN subscription_id TEXT REFERENCES subscriptions (id);
ALTER TABLE orders ADD COLUMN invoice_id TEXT;
CREATE UNIQUE INDEX orders_by_invoice ON orders (invoice_id) WHERE invoice_id IS NOT NULL;

-- Each ConfirmationToken that paid (or tried to pay) a subscription's first invoice:
-- the same token again (a double submit, a retried request) is the same confirmation,
-- replayed under the same idempotency key, even once the cart is empty.
CREATE TABLE subscription_attempts (
    confirmation_token_id TEXT PRIMARY KEY,
    subscription_id       TEXT NOT NULL REFERENCES subscriptions (id),
    payment_intent_id     TEXT NOT NULL,
    created_at            BIGINT NOT NULL
);
