-- Why Stripe ended a subscription (its `cancellation_details.reason`), kept from each
-- read of it: `cancellation_requested` (the subscriber's choice, or the merchant's),
-- `payment_failed` (every retry of a renewal was declined), `payment_disputed`. The
-- email that says it has ended says why. NULL: not ended, or Stripe gave no reason.
ALTER TABLE subscriptions ADD COLUMN cancellation_reason TEXT;
