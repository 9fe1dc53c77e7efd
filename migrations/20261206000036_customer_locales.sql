-- The language Stripe was last told an account's Customer prefers (its
-- `preferred_locales`, in which Stripe writes the receipts, invoices and hosted pages it
-- sends): when the shopper uses another, the shop tells Stripe before the Customer is
-- next used. NULL for Customers made before: told once, the next time.
ALTER TABLE accounts ADD COLUMN stripe_customer_locale TEXT;
