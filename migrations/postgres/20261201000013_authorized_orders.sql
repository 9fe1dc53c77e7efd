-- An order may now wait `authorized` (manual capture: the payment is authorised, the
-- merchant has not captured it yet). SQLite rebuilds its table for this: ../sqlite/.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'confirming', 'failed', 'authorized', 'paid', 'canceled'));
