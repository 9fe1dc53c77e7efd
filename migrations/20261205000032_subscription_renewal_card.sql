-- The card a subscription's renewals are charged to (Stripe's `default_payment_method`),
-- kept from each read of the subscription, so that the account page can say which one
-- it is and offer the shopper's other saved cards instead. NULL: none set on the
-- subscription (Stripe then charges the customer's default, if any).
ALTER TABLE subscriptions ADD COLUMN default_payment_method TEXT;
