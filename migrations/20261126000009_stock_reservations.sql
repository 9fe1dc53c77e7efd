-- Stock is reserved when a payment attempt starts (so that a sold-out product is refused
-- before anyone is charged), released when the order's payment fails or is canceled,
-- and kept when it is paid. 1 while this order holds its lines' quantities.
ALTER TABLE orders ADD COLUMN stock_reserved INTEGER NOT NULL DEFAULT 0;
