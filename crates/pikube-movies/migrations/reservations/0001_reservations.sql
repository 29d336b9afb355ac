CREATE TABLE reservations (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    screening_id TEXT NOT NULL,
    -- The seat labels, comma-separated, as the buyer asked for them (sorted).
    seats        TEXT NOT NULL,
    seat_count   BIGINT NOT NULL CHECK (seat_count BETWEEN 1 AND 10),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    status       TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired')),
    expires_at   BIGINT NOT NULL,
    payment_id   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    -- A confirmed reservation always names the payment that confirmed it.
    CHECK (status <> 'confirmed' OR payment_id IS NOT NULL)
);
CREATE INDEX reservations_by_user ON reservations (user_id);
CREATE INDEX reservations_by_status ON reservations (status, expires_at);

-- One row per claimed seat of a screening. Its primary key is what makes a double sale
-- impossible: two reservations cannot both own a row, whatever the timing or the number of
-- replicas. An expired hold is taken over in place (INSERT … ON CONFLICT DO UPDATE … WHERE
-- the hold has expired), never by a second row.
CREATE TABLE seat_claims (
    screening_id   TEXT NOT NULL,
    seat           TEXT NOT NULL,
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    state          TEXT NOT NULL CHECK (state IN ('held', 'sold')),
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (screening_id, seat)
);
CREATE INDEX seat_claims_by_reservation ON seat_claims (reservation_id);
