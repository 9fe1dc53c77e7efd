-- An order's view key: 256 random bits, URL-safe, in the links of the order's emails
-- (`/orders/{id}?key=…`), so that the shopper can open the order's page from any
-- device, signed in or not, as a guest who paid in another browser. Orders made before
-- have none (NULL): their links name the order alone, and open for the session or
-- account that placed it, as before.
ALTER TABLE orders ADD COLUMN view_key TEXT;
