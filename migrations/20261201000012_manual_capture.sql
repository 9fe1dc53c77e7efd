-- Manual capture: an order whose payment is authorised waits in `authorized` (its stock
-- reserved) until the merchant captures it (then `paid`) or cancels it, or the
-- authorisation expires (both `canceled`, the stock released).
--
-- What Stripe actually took: `amount_received` of the PaymentIntent when it succeeded.
-- Less than `amount` after a partial capture (Stripe released the rest); NULL until
-- the order is paid, and for orders paid before this column existed (all of `amount`).
ALTER TABLE orders ADD COLUMN amount_received BIGINT;
