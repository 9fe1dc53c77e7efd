-- The merchant's order list pages through every order, newest first, by
-- (created_at, id): orders made in the same second keep one order, and each page
-- starts right after the last one shown. Both of the list's indexes end in `id` so
-- that every page reads one index in order (no scan, no sort).
DROP INDEX orders_by_created;
CREATE INDEX orders_by_created ON orders (created_at, id);
DROP INDEX orders_by_status;
CREATE INDEX orders_by_status ON orders (status, created_at, id);
