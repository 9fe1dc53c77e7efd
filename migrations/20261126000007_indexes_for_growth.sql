-- Indexes found missing by tests/query_plans.rs, which plans every statement the
-- shop runs: forgetting old sign-in failures reads by time.
CREATE INDEX sign_in_failures_by_time ON sign_in_failures (failed_at);

-- The merchant's order list, newest first, without a status filter: read in index
-- order instead of scanning and sorting every order.
CREATE INDEX orders_by_created ON orders (created_at);
