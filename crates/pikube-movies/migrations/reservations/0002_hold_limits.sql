-- One row per buyer who ever held seats. A hold first touches its buyer's row, which
-- serialises that buyer's holds (a row lock on PostgreSQL, the write lock on SQLite), so
-- that the limits on live holds are counted exactly even when one account sends many
-- holds at once (security review M4).
CREATE TABLE hold_owners (
    user_id    TEXT PRIMARY KEY,
    touched_at BIGINT NOT NULL
);
