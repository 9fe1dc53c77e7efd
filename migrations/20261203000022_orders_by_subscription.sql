-- The merchant's list of one subscription's orders (each paid invoice is one), newest
-- first, read in index order.
CREATE INDEX orders_by_subscription ON orders (subscription_id, created_at, id) WHERE subscription_id IS NOT NULL;
