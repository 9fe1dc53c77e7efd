-- Why Stripe says a refund failed (`failure_reason`: `expired_or_canceled_card`,
-- `lost_or_stolen_card`, `insufficient_funds`, `declined`, `merchant_request`,
-- `charge_for_pending_refund_disputed`, `unknown`), shown to the merchant, who has to
-- give the money back some other way. NULL for a refund that did not fail.
ALTER TABLE refunds ADD COLUMN failure_reason TEXT;
