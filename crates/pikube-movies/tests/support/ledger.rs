//! The reservations and payments databases read directly, behind the API's back, and what
//! the services promise checked where it is kept: no seat sold twice, no money for no seat.

use std::collections::{BTreeMap, BTreeSet};

use pikube_movies::ServiceName;
use sqlx::Row;

use super::TestApp;

#[derive(Debug, Clone)]
pub struct ReservationRow {
    pub id: String,
    pub user_id: String,
    pub screening_id: String,
    pub seats: Vec<String>,
    /// As stored: a hold past its time still reads `held` until the sweeper writes it down.
    pub status: String,
    pub amount_cents: i64,
    pub payment_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub screening_id: String,
    pub seat: String,
    pub reservation_id: String,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub id: String,
    pub user_id: String,
    pub reservation_id: String,
    pub amount_cents: i64,
    pub status: String,
    pub response_status: Option<i64>,
}

/// Everything the two databases hold, read at one moment (each database at its own).
#[derive(Debug)]
pub struct Ledger {
    pub reservations: Vec<ReservationRow>,
    pub claims: Vec<ClaimRow>,
    pub payments: Vec<PaymentRow>,
}

impl TestApp {
    /// A connection pool on `service`'s own database.
    pub async fn database(&self, service: ServiceName) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = self.config.database.for_service(service);
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url.expose())
            .await
            .unwrap_or_else(|e| panic!("connecting to the {service} database: {e}"))
    }

    pub async fn ledger(&self) -> Ledger {
        let reservations = self.database(ServiceName::Reservations).await;
        let payments = self.database(ServiceName::Payments).await;
        let ledger = Ledger {
            reservations: sqlx::query(
                "SELECT id, user_id, screening_id, seats, status, amount_cents, payment_id \
                 FROM reservations",
            )
            .fetch_all(&reservations)
            .await
            .expect("reading reservations")
            .iter()
            .map(|row| ReservationRow {
                id: row.get("id"),
                user_id: row.get("user_id"),
                screening_id: row.get("screening_id"),
                seats: row
                    .get::<String, _>("seats")
                    .split(',')
                    .map(str::to_owned)
                    .collect(),
                status: row.get("status"),
                amount_cents: row.get("amount_cents"),
                payment_id: row.get("payment_id"),
            })
            .collect(),
            claims: sqlx::query(
                "SELECT screening_id, seat, reservation_id, state FROM seat_claims",
            )
            .fetch_all(&reservations)
            .await
            .expect("reading seat claims")
            .iter()
            .map(|row| ClaimRow {
                screening_id: row.get("screening_id"),
                seat: row.get("seat"),
                reservation_id: row.get("reservation_id"),
                state: row.get("state"),
            })
            .collect(),
            payments: sqlx::query(
                "SELECT id, user_id, reservation_id, amount_cents, status, response_status \
                 FROM payments",
            )
            .fetch_all(&payments)
            .await
            .expect("reading payments")
            .iter()
            .map(|row| PaymentRow {
                id: row.get("id"),
                user_id: row.get("user_id"),
                reservation_id: row.get("reservation_id"),
                amount_cents: row.get("amount_cents"),
                status: row.get("status"),
                response_status: row.get("response_status"),
            })
            .collect(),
        };
        reservations.close().await;
        payments.close().await;
        ledger
    }
}

impl Ledger {
    pub fn reservation(&self, id: &str) -> &ReservationRow {
        self.reservations
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no reservation {id} in the database"))
    }

    pub fn payments_for(&self, reservation_id: &str) -> Vec<&PaymentRow> {
        self.payments
            .iter()
            .filter(|p| p.reservation_id == reservation_id)
            .collect()
    }

    /// The seats sold for `screening_id`, by the confirmed reservations that bought them.
    pub fn sold(&self, screening_id: &str) -> BTreeMap<String, Vec<String>> {
        let mut sold: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for reservation in &self.reservations {
            if reservation.screening_id == screening_id && reservation.status == "confirmed" {
                for seat in &reservation.seats {
                    sold.entry(seat.clone())
                        .or_default()
                        .push(reservation.id.clone());
                }
            }
        }
        sold
    }

    /// Every promise, checked across both databases. `settled`: no payment may still be
    /// waiting for its confirmation (the outbox has finished).
    pub fn assert_consistent(&self, settled: bool) {
        let reservations: BTreeMap<&str, &ReservationRow> = self
            .reservations
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        let screenings: BTreeSet<&str> = self
            .reservations
            .iter()
            .map(|r| r.screening_id.as_str())
            .collect();
        for screening in screenings {
            for (seat, buyers) in self.sold(screening) {
                assert_eq!(buyers.len(), 1, "seat {seat} sold to {buyers:?}");
            }
        }
        for claim in &self.claims {
            let owner = reservations
                .get(claim.reservation_id.as_str())
                .unwrap_or_else(|| panic!("{claim:?} has no reservation"));
            assert!(
                owner.seats.contains(&claim.seat) && owner.screening_id == claim.screening_id,
                "{claim:?} is not a seat of {owner:?}"
            );
            let expected = if claim.state == "sold" {
                "confirmed"
            } else {
                "held"
            };
            assert_eq!(owner.status, expected, "{claim:?} belongs to {owner:?}");
        }
        let payments: BTreeMap<&str, &PaymentRow> =
            self.payments.iter().map(|p| (p.id.as_str(), p)).collect();
        for reservation in reservations.values() {
            if reservation.status != "confirmed" {
                continue;
            }
            for seat in &reservation.seats {
                assert!(
                    self.claims
                        .iter()
                        .any(|c| c.screening_id == reservation.screening_id
                            && &c.seat == seat
                            && c.reservation_id == reservation.id
                            && c.state == "sold"),
                    "seat {seat} of confirmed {reservation:?} is not sold to it"
                );
            }
            let payment_id = reservation.payment_id.as_deref().unwrap_or_default();
            let payment = payments
                .get(payment_id)
                .unwrap_or_else(|| panic!("{reservation:?} names no recorded payment"));
            let paid = if settled {
                payment.status == "captured"
            } else {
                matches!(payment.status.as_str(), "captured" | "authorized")
            };
            assert!(paid, "{reservation:?} is confirmed by {payment:?}");
            assert_eq!(payment.reservation_id, reservation.id);
            assert_eq!(payment.user_id, reservation.user_id);
            assert_eq!(payment.amount_cents, reservation.amount_cents);
        }
        let mut live = BTreeSet::new();
        for payment in &self.payments {
            if matches!(payment.status.as_str(), "authorized" | "captured") {
                assert!(
                    live.insert(payment.reservation_id.as_str()),
                    "two live payments for reservation {}",
                    payment.reservation_id
                );
            }
            let reservation = reservations.get(payment.reservation_id.as_str());
            let confirmed_by_it = reservation.is_some_and(|r| {
                r.status == "confirmed" && r.payment_id.as_deref() == Some(payment.id.as_str())
            });
            match payment.status.as_str() {
                "captured" => {
                    assert!(confirmed_by_it, "money taken for no seat: {payment:?}");
                    assert_eq!(payment.response_status, Some(201), "{payment:?}");
                }
                "voided" => {
                    assert!(!confirmed_by_it, "a seat for no money: {payment:?}");
                    assert_eq!(payment.response_status, Some(409), "{payment:?}");
                }
                "declined" => {
                    assert!(!confirmed_by_it, "a seat for a declined card: {payment:?}");
                    assert_eq!(payment.response_status, Some(402), "{payment:?}");
                }
                "authorized" => {
                    assert!(!settled, "still unsettled: {payment:?}");
                    assert_eq!(payment.response_status, None, "{payment:?}");
                }
                other => panic!("payment status {other}"),
            }
        }
    }
}
