CREATE TABLE movies (
    id               TEXT PRIMARY KEY,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    duration_minutes BIGINT NOT NULL CHECK (duration_minutes BETWEEN 1 AND 600),
    created_at       BIGINT NOT NULL
);
CREATE INDEX movies_by_title ON movies (title);
