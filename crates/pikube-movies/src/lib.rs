//! The Movies ticketing workload: six microservices selling seats for a movie at a date and
//! place, each with its own database (PostgreSQL, or a SQLite file by default).
//!
//! - users: registration, sign-in (bearer tokens), the administrator from configuration;
//! - movies and cinemas: the catalogue and the halls' seat layouts;
//! - screenings: what plays where and when, and its seat map;
//! - reservations: seats held for a buyer, confirmed when paid, released when not;
//! - payments: exactly once per `Idempotency-Key`, never money for a seat not confirmed.
//!
//! Services call each other over HTTP only. [`serve`] runs any selection of them in one
//! process; `pikube serve movies all` runs all six on one port.

#![warn(missing_docs)]

mod allocator;
mod api;
mod app;
mod auth;
mod clock;
mod config;
mod credentials;
mod database;
mod openapi;
mod peers;
#[cfg(test)]
mod scratch_database;
mod seat;
mod seed;
mod service_name;
mod services;

pub use app::{run, serve, MoviesError};
pub use auth::Rate;
pub use config::{
    default_data_dir, new_key_set, AdminAccount, AuthLimits, ConfigError, DatabaseUrlTemplate,
    InternalKey, MoviesConfig, Selection, SigningKey, VerifyingKey,
};
pub use seed::{seed_demo, SeedError, Seeded};
pub use service_name::{ServiceName, UnknownService};
