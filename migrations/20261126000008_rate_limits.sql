-- Requests counted for rate limits (confirming payments, trying discount codes), by
-- scope (`confirm:session:<id>`, `confirm:ip:<address>`, …), over a sliding window.
-- Kept in the database so that every instance counts the same hits.
CREATE TABLE rate_limit_hits (
    scope TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX rate_limit_hits_by_scope ON rate_limit_hits (scope, at);
CREATE INDEX rate_limit_hits_by_time ON rate_limit_hits (at);
