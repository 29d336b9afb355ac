//! The six services, by name.

use std::fmt;
use std::str::FromStr;

/// One of the six Movies services. Each owns its database and its part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    /// Accounts, sign-in and the tokens the others check.
    Users,
    /// The films.
    Movies,
    /// Cinemas and their halls' seats.
    Cinemas,
    /// Which film plays where and when.
    Screenings,
    /// Seats held, then confirmed once paid.
    Reservations,
    /// Payments for reservations.
    Payments,
}

impl ServiceName {
    /// All six, in the order they start (dependencies first).
    pub const ALL: [ServiceName; 6] = [
        ServiceName::Users,
        ServiceName::Movies,
        ServiceName::Cinemas,
        ServiceName::Screenings,
        ServiceName::Reservations,
        ServiceName::Payments,
    ];

    /// The lower-case name: the `{service}` placeholder value, the database and role name,
    /// and the suffix of the Kubernetes Service (`movies-<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Users => "users",
            ServiceName::Movies => "movies",
            ServiceName::Cinemas => "cinemas",
            ServiceName::Screenings => "screenings",
            ServiceName::Reservations => "reservations",
            ServiceName::Payments => "payments",
        }
    }

    /// Where the other services reach this one unless told otherwise: its Kubernetes
    /// Service in deploy/movies.
    pub fn default_url(self) -> String {
        format!("http://movies-{}:8080", self.as_str())
    }

    /// The environment variable that overrides where the other services reach this one.
    pub fn url_variable(self) -> String {
        format!("MOVIES_{}_URL", self.as_str().to_ascii_uppercase())
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the six services.
#[derive(Debug, thiserror::Error)]
#[error("unknown Movies service `{0}`: expected one of users, movies, cinemas, screenings, reservations, payments")]
pub struct UnknownService(String);

impl FromStr for ServiceName {
    type Err = UnknownService;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ServiceName::ALL
            .into_iter()
            .find(|service| service.as_str() == name)
            .ok_or_else(|| UnknownService(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for service in ServiceName::ALL {
            assert_eq!(service.as_str().parse::<ServiceName>().unwrap(), service);
        }
        let error = "tickets".parse::<ServiceName>().unwrap_err().to_string();
        assert!(
            error.contains("`tickets`") && error.contains("reservations"),
            "{error}"
        );
        assert_eq!(
            ServiceName::Screenings.url_variable(),
            "MOVIES_SCREENINGS_URL"
        );
    }
}
