-- Orders and the attempts to pay them.
--
-- An order exists before any PaymentIntent (status 'pending'). Each confirmation is an
-- attempt with its own ConfirmationToken and an idempotency key derived from the order
-- and the attempt number, so a retried or replayed request reaches Stripe with the
-- same key and cannot charge twice. An attempt whose outcome is unknown (Stripe did
-- not answer) is resolved, by replaying it, before any new attempt is made.

CREATE TABLE orders (
    id                TEXT PRIMARY KEY,          -- ord_…
    session_id        TEXT NOT NULL REFERENCES sessions (id),
    -- pending: payable; confirming: a PaymentIntent is authenticating or settling;
    -- failed: the last attempt was declined (payable again); paid; canceled.
    status            TEXT NOT NULL CHECK (status IN ('pending', 'confirming', 'failed', 'paid', 'canceled')),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    payment_intent_id TEXT UNIQUE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX orders_by_session ON orders (session_id, status);

CREATE TABLE order_lines (
    order_id    TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    unit_amount BIGINT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE payment_attempts (
    order_id              TEXT NOT NULL REFERENCES orders (id),
    attempt               INTEGER NOT NULL,
    confirmation_token_id TEXT NOT NULL UNIQUE,
    idempotency_key       TEXT NOT NULL UNIQUE,
    amount                BIGINT NOT NULL,
    currency              TEXT NOT NULL,
    payment_intent_id     TEXT,
    outcome               TEXT,                   -- NULL while Stripe's answer is unknown
    created_at            BIGINT NOT NULL,
    PRIMARY KEY (order_id, attempt)
);
