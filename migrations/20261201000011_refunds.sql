-- Refunds of paid orders, as Stripe reports them (the reply to the merchant's refund
-- request, then refund.created / refund.updated / refund.failed webhooks, in any order
-- and any number of times).
--
-- The order keeps its status (`paid`: the payment went through and the goods are
-- committed); how much went back is `orders.amount_refunded`, the sum of its refunds
-- that succeeded. `counted` says whether a refund's amount is in that sum, so that each
-- refund is added exactly once, whichever report arrives first.
CREATE TABLE refunds (
    id         TEXT PRIMARY KEY,                  -- re_…
    order_id   TEXT NOT NULL REFERENCES orders (id),
    amount     BIGINT NOT NULL CHECK (amount > 0),
    currency   TEXT NOT NULL,
    reason     TEXT,
    -- Stripe's: pending, requires_action, succeeded, failed, canceled.
    status     TEXT NOT NULL,
    counted    INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (order_id, created_at);

ALTER TABLE orders ADD COLUMN amount_refunded BIGINT NOT NULL DEFAULT 0;
-- 1 once the order's goods went back into stock (the merchant's explicit choice with a
-- refund; at most once).
ALTER TABLE orders ADD COLUMN restocked INTEGER NOT NULL DEFAULT 0;
