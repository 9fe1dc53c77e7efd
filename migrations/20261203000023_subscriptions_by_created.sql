-- The merchant's list of subscriptions, newest first and a page at a time, read in
-- index order (it sorted the whole table before).
CREATE INDEX subscriptions_by_created ON subscriptions (created_at, id);
