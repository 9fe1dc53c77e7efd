-- A dispute is recorded beside the order's own flag, not in it: an order flagged
-- `oversold` or `amount_mismatch` that is then disputed needs the merchant for both.
-- NULL, then `disputed`, then `dispute_won` or `dispute_lost`.
ALTER TABLE orders ADD COLUMN dispute TEXT;
UPDATE orders SET dispute = flag, flag = NULL WHERE flag IN ('disputed', 'dispute_won', 'dispute_lost');
