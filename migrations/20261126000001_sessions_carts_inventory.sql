-- Shopper sessions, their carts, and stock levels.
-- Written in the SQL that SQLite and PostgreSQL share, so a Postgres backend can
-- reuse it.

-- A session is known by the SHA-256 of its cookie token: a copy of this table does
-- not let anyone take over a live session.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,      -- hex SHA-256 of the cookie token
    created_at   BIGINT NOT NULL,       -- unix seconds
    last_seen_at BIGINT NOT NULL
);

CREATE TABLE cart_lines (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, product_id)
);

-- Stock is owned by the database once a product is first seen in the catalog file.
CREATE TABLE inventory (
    product_id TEXT PRIMARY KEY,
    on_hand    INTEGER NOT NULL CHECK (on_hand >= 0)
);
