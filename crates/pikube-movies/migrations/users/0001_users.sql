CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    -- Lower-cased, so that one address is one account however it is typed.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at    BIGINT NOT NULL
);
