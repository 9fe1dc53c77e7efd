-- Order emails: where to write (the shopper's address, kept on the order and in the
-- session to prefill the next checkout) and in which language, and the outbox's
-- delivery state. Delivery is at least once: a row is claimed for a while
-- (`claimed_until`, so that one instance sends it), then marked sent, or retried later
-- (`next_attempt_at`, backing off), or marked failed for good (`failed_at`, shown to
-- the merchant with `last_error`).
ALTER TABLE orders ADD COLUMN email TEXT;
ALTER TABLE orders ADD COLUMN locale TEXT;
ALTER TABLE sessions ADD COLUMN email TEXT;
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
-- The sender's query: messages still to send, soonest first.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
