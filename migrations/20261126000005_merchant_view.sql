-- What the merchant's order view reads: orders by status, and events by order.
ALTER TABLE processed_events ADD COLUMN order_id TEXT;
CREATE INDEX processed_events_by_order ON processed_events (order_id);
CREATE INDEX orders_by_status ON orders (status, created_at);
