-- A subscription whose first invoice the customer's credit paid sets the shopper's card
-- up through its SetupIntent (a `seti_…` id in `payment_intent_id`). When the bank wants
-- 3-D Secure for it, the shopper comes back to `/checkout/complete` naming only that
-- SetupIntent: this finds its subscription (and the token that confirmed it).
CREATE INDEX subscription_attempts_by_intent ON subscription_attempts (payment_intent_id);
