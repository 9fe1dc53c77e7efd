-- When the merchant last marked a flagged order handled. Marking it clears
-- `flagged_at`, so the order leaves the flagged list (and its partial index) until a
-- new message about it is queued for the merchant.
ALTER TABLE orders ADD COLUMN flag_handled_at BIGINT;
