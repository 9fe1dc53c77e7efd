-- What the customer's credit with Stripe paid of an invoice's order (the Dashboard's
-- "adjust balance"): the order's lines are the invoice's (what the period costs), and
-- its page and emails show the credit taken off before the total charged, as they show
-- a discount code. 0 for every other order.
ALTER TABLE orders ADD COLUMN credit_amount BIGINT NOT NULL DEFAULT 0;
