-- Shopper accounts, the sessions they sign in, and the attempts that rate-limit
-- signing in.

-- An email address is stored as typed but compared lowercased (`email_key`).
-- `password_hash` is an Argon2id PHC string (salt and parameters inside). The Stripe
-- Customer is created the first time the account needs one, and only the server
-- ever names it.
CREATE TABLE accounts (
    id                 TEXT PRIMARY KEY,          -- acct_…
    email              TEXT NOT NULL,
    email_key          TEXT NOT NULL UNIQUE,
    password_hash      TEXT NOT NULL,
    stripe_customer_id TEXT UNIQUE,
    created_at         BIGINT NOT NULL
);

-- A signed-in session names its account. Signing in replaces the session (a new
-- cookie token); signing out ends it (`ended_at`), and an ended session is never
-- accepted again.
ALTER TABLE sessions ADD COLUMN account_id TEXT REFERENCES accounts (id);
ALTER TABLE sessions ADD COLUMN ended_at BIGINT;

-- Orders placed while signed in (or adopted on sign-in) belong to the account too,
-- so they stay visible to it from any device.
ALTER TABLE orders ADD COLUMN account_id TEXT REFERENCES accounts (id);
CREATE INDEX orders_by_account ON orders (account_id, created_at);

-- The Customer an attempt was confirmed for: a replay of the attempt must send
-- exactly the same parameters under its idempotency key.
ALTER TABLE payment_attempts ADD COLUMN customer_id TEXT;

-- Failed sign-ins, by account (`email:<email_key>`) and by client address
-- (`ip:<address>`), counted over a sliding window.
CREATE TABLE sign_in_failures (
    scope     TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_scope ON sign_in_failures (scope, failed_at);
