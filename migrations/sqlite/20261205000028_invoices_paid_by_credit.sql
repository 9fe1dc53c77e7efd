-- An invoice may be paid with nothing charged: the customer's credit balance or a coupon
-- the merchant applied in the Dashboard covered it. The period is paid all the same, and
-- its order is fulfilled, for an amount of 0. Only an invoice's order may be 0: an order
-- the checkout charges still must be more. The amount CHECK lives in the table's
-- definition, which SQLite cannot alter: the table is rebuilt with the same columns,
-- indexes and references, as in 20261201000013 (PostgreSQL alters its constraint
-- instead: ../postgres/).
--
-- The children (order lines, attempts, outbox, refunds) reference `orders` by name: with
-- foreign keys deferred to the commit, they find every order again in the new table.
-- Dropping the old table deletes its rows first, and `order_lines` cascades that
-- delete: its rows are kept aside and put back.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE orders_before_rebuild AS SELECT * FROM orders;
CREATE TABLE order_lines_before_rebuild AS SELECT * FROM order_lines;
DROP TABLE orders;
CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,          -- ord_…
    session_id          TEXT NOT NULL REFERENCES sessions (id),
    -- pending: payable; confirming: a PaymentIntent is authenticating or settling;
    -- failed: the last attempt was declined (payable again); authorized: waiting for
    -- the merchant to capture it; paid; canceled.
    status              TEXT NOT NULL CHECK (status IN ('pending', 'confirming', 'failed', 'authorized', 'paid', 'canceled')),
    amount              BIGINT NOT NULL CONSTRAINT orders_amount_check CHECK (amount > 0 OR (amount = 0 AND invoice_id IS NOT NULL)),
    currency            TEXT NOT NULL,
    payment_intent_id   TEXT UNIQUE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    discount_amount     BIGINT NOT NULL DEFAULT 0,
    flag                TEXT,
    account_id          TEXT REFERENCES accounts (id),
    stock_reserved      INTEGER NOT NULL DEFAULT 0,
    cart_cleared        INTEGER NOT NULL DEFAULT 0,
    discount_code       TEXT,
    shipping            TEXT,
    payment_method_id   TEXT,
    payment_method_type TEXT,
    card_brand          TEXT,
    last4               TEXT,
    amount_refunded     BIGINT NOT NULL DEFAULT 0,
    restocked           INTEGER NOT NULL DEFAULT 0,
    amount_received     BIGINT,
    email               TEXT,
    locale              TEXT,
    subscription_id     TEXT REFERENCES subscriptions (id),
    invoice_id          TEXT,
    dispute             TEXT,
    flagged_at          BIGINT,
    flag_handled_at     BIGINT
);
INSERT INTO orders (id, session_id, status, amount, currency, payment_intent_id, created_at, updated_at, discount_amount, flag,
                    account_id, stock_reserved, cart_cleared, discount_code, shipping, payment_method_id, payment_method_type,
                    card_brand, last4, amount_refunded, restocked, amount_received, email, locale, subscription_id, invoice_id,
                    dispute, flagged_at, flag_handled_at)
SELECT id, session_id, status, amount, currency, payment_intent_id, created_at, updated_at, discount_amount, flag,
       account_id, stock_reserved, cart_cleared, discount_code, shipping, payment_method_id, payment_method_type,
       card_brand, last4, amount_refunded, restocked, amount_received, email, locale, subscription_id, invoice_id,
       dispute, flagged_at, flag_handled_at
FROM orders_before_rebuild;
DROP TABLE orders_before_rebuild;
INSERT INTO order_lines SELECT * FROM order_lines_before_rebuild;
DROP TABLE order_lines_before_rebuild;
CREATE INDEX orders_by_session ON orders (session_id, status);
CREATE INDEX orders_by_account ON orders (account_id, created_at);
CREATE UNIQUE INDEX orders_by_invoice ON orders (invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX orders_by_created ON orders (created_at, id);
CREATE INDEX orders_by_status ON orders (status, created_at, id);
CREATE INDEX orders_flagged ON orders (created_at, id) WHERE flagged_at IS NOT NULL;
CREATE INDEX orders_by_subscription ON orders (subscription_id, created_at, id) WHERE subscription_id IS NOT NULL;
