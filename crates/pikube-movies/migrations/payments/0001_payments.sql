CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the request as parsed: the same key with another request is refused.
    request_hash    TEXT NOT NULL,
    reservation_id  TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    -- authorized: money reserved on the card, the reservation not yet confirmed (the outbox
    -- retries it); captured: paid and confirmed; voided: the reservation could not be
    -- confirmed, so the authorisation was released; declined: the card said no.
    status          TEXT NOT NULL CHECK (status IN ('authorized', 'captured', 'voided', 'declined')),
    -- The final answer, replayed to retries with the same key.
    response_status BIGINT,
    response_body   TEXT,
    attempts        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
-- Money is taken for a reservation at most once: one live payment per reservation.
CREATE UNIQUE INDEX payments_one_live_per_reservation ON payments (reservation_id)
    WHERE status IN ('authorized', 'captured');
CREATE INDEX payments_by_status ON payments (status, updated_at);
