-- When the merchant pauses a subscription's payment collection (the Dashboard's "pause
-- payment collection": Stripe's `pause_collection`), the subscription stays `active` and
-- its periods go on, but no renewal is charged. The account page says so, rather than a
-- renewal that will not be paid. 1 while paused; `collection_resumes_at` when Stripe
-- resumes it, NULL for "until the merchant resumes it". Kept from each read of the
-- subscription.
ALTER TABLE subscriptions ADD COLUMN collection_paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN collection_resumes_at BIGINT;
