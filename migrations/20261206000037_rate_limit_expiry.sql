-- Each hit now knows when it stops counting (`expires_at`: its limit's window after
-- it). Old hits were forgotten by the window of whichever limit was checked last, so a
-- payment confirmation (ten minutes) forgot the sign-ups of the hour before it.
ALTER TABLE rate_limit_hits ADD COLUMN expires_at BIGINT;
-- The longest window any limit had.
UPDATE rate_limit_hits SET expires_at = at + 3600;
DROP INDEX rate_limit_hits_by_time;
CREATE INDEX rate_limit_hits_by_expiry ON rate_limit_hits (expires_at);

-- Sign-ins are counted as hits too (`sign_in:email:<email_key>`,
-- `sign_in:ip:<address>`), from the moment one is let through, in the transaction that
-- checks the limit: guesses sent together can no longer all pass a count taken before
-- any of them failed. An attempt's hits carry its id, and are taken back if its
-- password was right.
ALTER TABLE rate_limit_hits ADD COLUMN attempt TEXT;
-- Only sign-ins carry one: the other limits' hits add nothing to this index.
CREATE INDEX rate_limit_hits_by_attempt ON rate_limit_hits (attempt) WHERE attempt IS NOT NULL;
INSERT INTO rate_limit_hits (scope, at, expires_at)
    SELECT 'sign_in:' || scope, failed_at, failed_at + 900 FROM sign_in_failures;
DROP TABLE sign_in_failures;
