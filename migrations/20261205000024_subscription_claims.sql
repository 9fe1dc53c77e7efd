-- A subscription being bought: one request at a time per account and product, from
-- its claim to its answer (or to `claimed_until`, should the server stop meanwhile),
-- so that two windows paying at once cannot make two subscriptions.
CREATE TABLE subscription_claims (
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    product_id    TEXT NOT NULL,
    token         TEXT NOT NULL,                                   -- the ConfirmationToken paying
    claimed_until BIGINT NOT NULL,
    PRIMARY KEY (account_id, product_id)
);
