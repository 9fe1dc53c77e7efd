-- When the merchant was first told about the order (a dispute or an early fraud
-- warning, a refund that failed, an order oversold or charged another amount): the
-- merchant's list shows these orders on their own ("flagged"), newest first, from the
-- partial index. NULL for an order nobody had to look at.
ALTER TABLE orders ADD COLUMN flagged_at BIGINT;
UPDATE orders SET flagged_at = updated_at
WHERE flag IS NOT NULL OR dispute IS NOT NULL
   OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = orders.id AND r.status = 'failed');
CREATE INDEX orders_flagged ON orders (created_at, id) WHERE flagged_at IS NOT NULL;
