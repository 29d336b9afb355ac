CREATE TABLE cinemas (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    city       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (city, name)
);
CREATE TABLE halls (
    cinema_id     TEXT NOT NULL REFERENCES cinemas (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    seat_rows     BIGINT NOT NULL CHECK (seat_rows BETWEEN 1 AND 26),
    seats_per_row BIGINT NOT NULL CHECK (seats_per_row BETWEEN 1 AND 60),
    PRIMARY KEY (cinema_id, name)
);
