-- A Customer deleted at Stripe (in the Dashboard, say) is forgotten by its account when
-- `customer.deleted` arrives, and the account gets a new one the next time it needs
-- one. The deleted one's id is kept to name the new one's idempotency key: under the
-- account's first key Stripe would replay the deleted Customer for a day.
ALTER TABLE accounts ADD COLUMN deleted_stripe_customer_id TEXT;
