-- A session's applied discount code, and the discount an order was priced with.
ALTER TABLE sessions ADD COLUMN discount_code TEXT;
ALTER TABLE orders ADD COLUMN discount_amount BIGINT NOT NULL DEFAULT 0;
