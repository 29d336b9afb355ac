//! Demo data: a few movies, cinemas and a week of screenings, created through the API itself
//! (as an administrator) so that it obeys every rule a real client does.

use std::time::Duration;

use serde_json::{json, Value};

use crate::auth::{Role, TokenSigner};
use crate::clock::{format_rfc3339, now_millis};
use crate::config::MoviesConfig;

/// The demo data could not be written; says why.
#[derive(Debug, thiserror::Error)]
#[error("seeding the demo data: {0}")]
pub struct SeedError(String);

/// What [`seed_demo`] added.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Movies added.
    pub movies: usize,
    /// Cinemas added.
    pub cinemas: usize,
    /// Screenings added.
    pub screenings: usize,
}

const MOVIES: [(&str, &str, i64); 4] = [
    (
        "The Raspberry Heist",
        "Four single-board computers plan the perfect cluster.",
        104,
    ),
    (
        "Escape Time",
        "A Mandelbrot set that zooms forever, until it does not.",
        92,
    ),
    (
        "Quorum",
        "Three servers, one leader, and a network partition.",
        118,
    ),
    (
        "Cold Boot",
        "A cluster wakes up after a power cut and must agree on what happened.",
        97,
    ),
];

/// A hall: its name, rows and seats per row.
type HallLayout = (&'static str, i64, i64);

const CINEMAS: [(&str, &str, &[HallLayout]); 2] = [
    (
        "Pi Palace",
        "Cambridge",
        &[("Hall 1", 8, 12), ("Hall 2", 5, 10)],
    ),
    ("Cluster Cinema", "Berlin", &[("Main", 10, 14)]),
];

/// Adds the demo catalogue if the movies service has none, and screenings for the next seven
/// days if there are none to come. Running it again adds nothing.
pub async fn seed_demo(base_url: &str, config: &MoviesConfig) -> Result<Seeded, SeedError> {
    let signing = config.signing_key.as_ref().ok_or_else(|| {
        SeedError("no key to sign the seeding administrator's token with".to_owned())
    })?;
    let admin = TokenSigner::new(signing).issue("demo-seed", "", Role::Admin);
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SeedError(e.to_string()))?,
        base: base_url.trim_end_matches('/').to_owned(),
        token: admin,
    };
    let mut seeded = Seeded::default();
    let mut movies = api.get("/api/movies").await?["movies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if movies.is_empty() {
        for (title, description, minutes) in MOVIES {
            let body =
                json!({ "title": title, "description": description, "duration_minutes": minutes });
            movies.push(api.post("/api/movies", body).await?);
            seeded.movies += 1;
        }
    }
    let mut cinemas = api.get("/api/cinemas").await?["cinemas"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if cinemas.is_empty() {
        for (name, city, halls) in CINEMAS {
            let halls: Vec<Value> = halls
                .iter()
                .map(|(name, rows, seats)| json!({ "name": name, "rows": rows, "seats_per_row": seats }))
                .collect();
            cinemas.push(
                api.post(
                    "/api/cinemas",
                    json!({ "name": name, "city": city, "halls": halls }),
                )
                .await?,
            );
            seeded.cinemas += 1;
        }
    }
    let now = now_millis();
    let upcoming = api.get("/api/screenings").await?["screenings"]
        .as_array()
        .is_some_and(|all| {
            all.iter().any(|s| {
                s["starts_at"]
                    .as_str()
                    .and_then(crate::clock::parse_rfc3339)
                    .is_some_and(|t| t > now)
            })
        });
    if !upcoming {
        let today = now - now.rem_euclid(86_400_000);
        let mut movie_index = 0;
        for day in 1..=7 {
            for hour in [18, 21] {
                for cinema in &cinemas {
                    for hall in cinema["halls"].as_array().into_iter().flatten() {
                        let movie = &movies[movie_index % movies.len()];
                        movie_index += 1;
                        let starts_at = today + day * 86_400_000 + hour * 3_600_000;
                        let body = json!({
                            "movie_id": movie["id"],
                            "cinema_id": cinema["id"],
                            "hall": hall["name"],
                            "starts_at": format_rfc3339(starts_at),
                            "price_cents": if hour == 21 { 1150 } else { 950 },
                        });
                        api.post("/api/screenings", body).await?;
                        seeded.screenings += 1;
                    }
                }
            }
        }
    }
    Ok(seeded)
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str) -> Result<Value, SeedError> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| SeedError(format!("GET {path}: {e}")))?;
        Self::json(path, response).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, SeedError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| SeedError(format!("POST {path}: {e}")))?;
        Self::json(path, response).await
    }

    async fn json(path: &str, response: reqwest::Response) -> Result<Value, SeedError> {
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| SeedError(format!("{path}: {e}")))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(SeedError(format!(
                "{path} answered {status}: {}",
                body["error"]["message"]
            )))
        }
    }
}
