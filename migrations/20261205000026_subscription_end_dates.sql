-- When a subscription is set to end on a date of the merchant's choosing (the
-- Dashboard's "cancel on a custom date": Stripe's `cancel_at`, without
-- `cancel_at_period_end`), the account page says so, rather than a renewal that will
-- not come. NULL: not set to end, or set to end at the period's end (which
-- `cancel_at_period_end` says); kept from each read of the subscription.
ALTER TABLE subscriptions ADD COLUMN cancel_at BIGINT;
