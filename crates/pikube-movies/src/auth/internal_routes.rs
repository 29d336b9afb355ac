//! Which service may call which `/internal` route of another: all of it, in one table. A
//! caller's token opens these routes and no others (review M9), so the screenings service,
//! which only counts claimed seats, cannot mark a reservation paid.

use axum::http::Method;

use crate::ServiceName;

/// One route a service calls on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalRoute {
    pub caller: ServiceName,
    pub callee: ServiceName,
    pub method: &'static str,
    /// As axum matches it (`MatchedPath`).
    pub path: &'static str,
}

pub const INTERNAL_ROUTES: [InternalRoute; 3] = [
    InternalRoute {
        caller: ServiceName::Payments,
        callee: ServiceName::Reservations,
        method: "GET",
        path: "/internal/reservations/{id}",
    },
    InternalRoute {
        caller: ServiceName::Payments,
        callee: ServiceName::Reservations,
        method: "POST",
        path: "/internal/reservations/{id}/confirm",
    },
    InternalRoute {
        caller: ServiceName::Screenings,
        callee: ServiceName::Reservations,
        method: "GET",
        path: "/internal/screenings/{id}/claims",
    },
];

/// The services that call some other service's internal routes: each has a key of its own.
pub fn callers() -> Vec<ServiceName> {
    distinct(INTERNAL_ROUTES.iter().map(|r| r.caller))
}

/// The services whose internal routes `service` calls.
pub fn callees_of(service: ServiceName) -> Vec<ServiceName> {
    distinct(
        INTERNAL_ROUTES
            .iter()
            .filter(|r| r.caller == service)
            .map(|r| r.callee),
    )
}

/// The services that call `service`'s internal routes.
pub fn callers_of(service: ServiceName) -> Vec<ServiceName> {
    distinct(
        INTERNAL_ROUTES
            .iter()
            .filter(|r| r.callee == service)
            .map(|r| r.caller),
    )
}

fn distinct(services: impl Iterator<Item = ServiceName>) -> Vec<ServiceName> {
    let mut services: Vec<ServiceName> = services.collect();
    services.sort();
    services.dedup();
    services
}

/// Whether `caller` may call `method path` (as matched) on `callee`.
pub fn allowed(caller: ServiceName, callee: ServiceName, method: &Method, path: &str) -> bool {
    INTERNAL_ROUTES.iter().any(|r| {
        r.caller == caller && r.callee == callee && r.method == method.as_str() && r.path == path
    })
}

/// The variable holding `caller`'s internal key: `MOVIES_INTERNAL_KEY_<CALLER>`.
pub fn key_variable(caller: ServiceName) -> String {
    format!(
        "MOVIES_INTERNAL_KEY_{}",
        caller.as_str().to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_reaches_only_its_routes() {
        use ServiceName::*;
        assert_eq!(callers(), vec![Screenings, Payments]);
        assert_eq!(callers_of(Reservations), vec![Screenings, Payments]);
        assert_eq!(callees_of(Payments), vec![Reservations]);
        assert!(callees_of(Movies).is_empty() && callers_of(Users).is_empty());
        let confirm = "/internal/reservations/{id}/confirm";
        assert!(allowed(Payments, Reservations, &Method::POST, confirm));
        assert!(!allowed(Screenings, Reservations, &Method::POST, confirm));
        assert!(!allowed(Payments, Reservations, &Method::GET, confirm));
        assert!(allowed(
            Screenings,
            Reservations,
            &Method::GET,
            "/internal/screenings/{id}/claims"
        ));
        assert_eq!(key_variable(Payments), "MOVIES_INTERNAL_KEY_PAYMENTS");
    }
}
