-- An invoice may be paid with nothing charged: the customer's credit balance or a coupon
-- the merchant applied in the Dashboard covered it. The period is paid all the same, and
-- its order is fulfilled, for an amount of 0. Only an invoice's order may be 0: an order
-- the checkout charges still must be more. SQLite rebuilds its table for this: ../sqlite/.
ALTER TABLE orders DROP CONSTRAINT orders_amount_check;
ALTER TABLE orders ADD CONSTRAINT orders_amount_check CHECK (amount > 0 OR (amount = 0 AND invoice_id IS NOT NULL));
