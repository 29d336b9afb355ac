-- A screening keeps a copy of what it was scheduled with (movie title, cinema, city, the
-- hall's layout): the services own their data, and a screening must not change under its
-- buyers if the catalogue does.
CREATE TABLE screenings (
    id            TEXT PRIMARY KEY,
    movie_id      TEXT NOT NULL,
    movie_title   TEXT NOT NULL,
    cinema_id     TEXT NOT NULL,
    cinema_name   TEXT NOT NULL,
    city          TEXT NOT NULL,
    hall          TEXT NOT NULL,
    seat_rows     BIGINT NOT NULL CHECK (seat_rows BETWEEN 1 AND 26),
    seats_per_row BIGINT NOT NULL CHECK (seats_per_row BETWEEN 1 AND 60),
    starts_at     BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL CHECK (ends_at > starts_at),
    price_cents   BIGINT NOT NULL CHECK (price_cents > 0),
    created_at    BIGINT NOT NULL,
    UNIQUE (cinema_id, hall, starts_at)
);
CREATE INDEX screenings_by_start ON screenings (starts_at);
CREATE INDEX screenings_by_movie ON screenings (movie_id, starts_at);
