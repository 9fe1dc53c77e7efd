-- Where the session last shipped to (Stripe's `shipping` as JSON, from its latest order
-- with one), so that a guest's next checkout finds the Address Element filled in, as
-- a signed-in shopper's does from their account's orders and as the session's email
-- already is. It ends with the session.
ALTER TABLE sessions ADD COLUMN shipping TEXT;
