-- What a paid order must remember, and what must happen to the cart only once.

-- 1 once the order's lines have been taken out of its session's cart. A payment that
-- went through takes them out (at confirmation, on the result page or on the webhook,
-- whichever comes first) exactly once: a later result page or a late webhook finds 1
-- and leaves whatever the shopper has put in the cart since.
ALTER TABLE orders ADD COLUMN cart_cleared INTEGER NOT NULL DEFAULT 0;
UPDATE orders SET cart_cleared = 1
 WHERE status = 'paid'
    OR id IN (SELECT order_id FROM payment_attempts WHERE outcome IN ('succeeded', 'processing', 'requires_capture'));

-- The order page adds up: the code behind the discount, and where to ship.
ALTER TABLE orders ADD COLUMN discount_code TEXT;
-- The shipping address the shopper gave (JSON: name, phone, address lines), from the
-- PaymentIntent's `shipping`.
ALTER TABLE orders ADD COLUMN shipping TEXT;
-- What paid, for the merchant: the PaymentMethod, its type and last 4 digits, and the
-- card brand.
ALTER TABLE orders ADD COLUMN payment_method_id TEXT;
ALTER TABLE orders ADD COLUMN payment_method_type TEXT;
ALTER TABLE orders ADD COLUMN card_brand TEXT;
ALTER TABLE orders ADD COLUMN last4 TEXT;

-- The exact form body first sent to Stripe for an attempt. A retry under the attempt's
-- idempotency key sends these bytes again (Stripe refuses a key reused with other
-- parameters), whatever the request that triggers the retry.
ALTER TABLE payment_attempts ADD COLUMN request_body TEXT;

-- Idle sessions expire; the clean-up finds live ones by when they were last seen (an
-- ended session leaves this index, so the clean-up never reads it again).
CREATE INDEX sessions_live_by_last_seen ON sessions (last_seen_at) WHERE ended_at IS NULL;
-- Attempts whose outcome is unknown, for reconciliation to resolve (few at any time).
CREATE INDEX payment_attempts_unresolved ON payment_attempts (created_at) WHERE outcome IS NULL;
