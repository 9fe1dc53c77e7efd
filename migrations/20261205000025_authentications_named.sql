-- Until now a payment waiting for 3-D Secure or a redirect was recorded
-- `requires_action`, like one waiting days for a voucher or a bank transfer; it is now
-- `authenticating`, and reconciliation cancels it once its shopper has left it for
-- `ABANDON_AFTER_SECS`. Those still waiting are named here, so that their stock does
-- not stay held: a card's payment waits only for 3-D Secure, and these methods' only
-- action is a redirect to the shopper's bank or wallet. (One waiting since before the
-- method was recorded keeps `requires_action`: the shopper's next checkout cancels it.)
UPDATE payment_attempts SET outcome = 'authenticating'
 WHERE outcome = 'requires_action'
   AND order_id IN (
       SELECT id FROM orders
        WHERE status = 'confirming'
          AND payment_method_type IN ('card', 'ideal', 'bancontact', 'eps', 'p24', 'giropay', 'sofort', 'klarna', 'paypal')
   );
