-- When Stripe next tries, by itself, to charge a subscription's latest invoice, left
-- unpaid (the invoice's `next_payment_attempt`: its retries of a declined renewal),
-- kept from each read of the subscription, so that the account page and the email
-- about the failed renewal can say when the card is tried again. NULL: no retry to come.
ALTER TABLE subscriptions ADD COLUMN next_payment_attempt BIGINT;
