-- Signed events from Stripe, applied exactly once, and what fulfilment produces.

-- Each event id is recorded in the same transaction as its effect: a duplicate
-- delivery finds its id here and does nothing more.
CREATE TABLE processed_events (
    event_id    TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- Messages for whatever mailer an adopter plugs in (one per order and kind).
CREATE TABLE outbox (
    order_id   TEXT NOT NULL REFERENCES orders (id),
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT,
    PRIMARY KEY (order_id, kind)
);

-- Something the merchant must look at: 'amount_mismatch' (Stripe charged another
-- amount than the order's) or 'oversold' (paid, but the stock had run out).
ALTER TABLE orders ADD COLUMN flag TEXT;
