-- One row per hall ever scheduled. Scheduling writes its hall's row first, in the same
-- transaction as the overlap check and the insert, so two overlapping screenings can never
-- both pass the check: PostgreSQL holds the row lock until commit, and SQLite runs one
-- writing transaction at a time.
CREATE TABLE hall_schedules (
    cinema_id TEXT NOT NULL,
    hall      TEXT NOT NULL,
    changes   BIGINT NOT NULL,
    PRIMARY KEY (cinema_id, hall)
);
