//! Load generator for the Movies services: N concurrent buyers hold distinct free seats with
//! `POST /api/reservations` for a fixed time (phase `reserve`), then do the same with every
//! hold paid at once with `POST /api/payments` (phase `book`, the full booking). Prints the
//! requests, the rate, exact p50/p90/p99/max latencies (every latency is kept and sorted)
//! and every non-2xx answer, and a `RESULT key=value ...` line per phase for scripts.
//!
//! Against running services (scripts/bench-movies does this):
//!
//! ```text
//! MOVIES_LOAD_URL=http://127.0.0.1:8081 \
//! MOVIES_ADMIN_EMAIL=admin@example.org MOVIES_ADMIN_PASSWORD=... \
//!   cargo bench -p pikube-movies --bench reservations_load -- --clients 100 --seconds 20
//! ```
//!
//! Without `MOVIES_LOAD_URL` or any `MOVIES_<SERVICE>_URL` it makes a smoke run of a second
//! or two against all six services started in this process on SQLite, so that `cargo bench`
//! and `cargo test --benches` stay quick.
//!
//! Set-up, not timed: the administrator's token, one buyer per client (registered and signed
//! in up front, a few at a time: Argon2 is slow by design), one movie, one cinema of 20 halls
//! of 26 x 60 seats, and enough screenings that the clients never run out of seats at
//! `--max-rate` reservations a second. Seats are handed out from one counter, so no two
//! clients ever ask for the same seat: the runs measure throughput, not conflicts.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};

type Result<T, E = String> = std::result::Result<T, E>;

const USAGE: &str = "\
reservations_load: Movies load generator (crates/pikube-movies/benches/reservations_load.rs)

Where the services are (without any of these: a smoke run against in-process services):
  MOVIES_LOAD_URL / --url URL      all six services (one process, or an ingress)
  MOVIES_<SERVICE>_URL             one service (USERS, MOVIES, CINEMAS, SCREENINGS,
                                   RESERVATIONS, PAYMENTS); overrides MOVIES_LOAD_URL
  MOVIES_ADMIN_EMAIL, MOVIES_ADMIN_PASSWORD   the administrator (creates the screenings)
Options (environment or argument):
  MOVIES_LOAD_CLIENTS / --clients N          concurrent buyers (100)
  MOVIES_LOAD_SECONDS / --seconds S          measured time per phase (20)
  MOVIES_LOAD_WARMUP_SECONDS / --warmup S    unmeasured time before it, per phase (5)
  MOVIES_LOAD_PHASES / --phases LIST         reserve, book, or reserve,book (reserve,book)
  MOVIES_LOAD_MAX_RATE / --max-rate R        reservations/s the seat supply must last at (4000)
";

/// Seats in a hall of the load test's cinema: the largest hall there is (A1 to Z60).
const ROWS: u64 = 26;
const SEATS_PER_ROW: u64 = 60;
const SEATS_PER_SCREENING: u64 = ROWS * SEATS_PER_ROW;
const HALLS: u64 = 20;
const PASSWORD: &str = "load-buyer-password";
const PRICE_CENTS: i64 = 900;
/// Registrations and sign-ins at once during set-up (each is an Argon2 hash).
const SETUP_CONCURRENCY: usize = 4;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("reservations_load: starting a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("reservations_load: some requests failed (see above)");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("reservations_load: {error}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reservations only.
    Reserve,
    /// A reservation, then its payment: the full booking.
    Book,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Reserve => "reserve",
            Phase::Book => "book",
        }
    }
}

#[derive(Debug, Clone)]
struct Urls {
    users: String,
    movies: String,
    cinemas: String,
    screenings: String,
    reservations: String,
    payments: String,
}

#[derive(Debug, Clone)]
struct Options {
    urls: Urls,
    admin_email: String,
    admin_password: String,
    clients: usize,
    seconds: f64,
    warmup: f64,
    phases: Vec<Phase>,
    max_rate: f64,
}

/// `--name value`, `--name=value`, or `MOVIES_LOAD_<NAME>`; cargo's own `--bench` is ignored.
fn settings(args: &[String]) -> Result<BTreeMap<String, String>> {
    let known = ["url", "clients", "seconds", "warmup", "phases", "max-rate"];
    let mut values = BTreeMap::new();
    for name in known {
        let variable = match name {
            "warmup" => "MOVIES_LOAD_WARMUP_SECONDS".to_owned(),
            _ => format!("MOVIES_LOAD_{}", name.replace('-', "_").to_uppercase()),
        };
        if let Some(value) = env(&variable) {
            values.insert(name.to_owned(), value);
        }
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--bench" {
            continue;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument `{arg}`\n\n{USAGE}"));
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, value.to_owned()),
            None => (
                flag,
                args.next()
                    .ok_or_else(|| format!("--{flag} needs a value"))?
                    .clone(),
            ),
        };
        if !known.contains(&name) {
            return Err(format!("unknown option --{name}\n\n{USAGE}"));
        }
        values.insert(name.to_owned(), value);
    }
    Ok(values)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn number<T: std::str::FromStr>(
    values: &BTreeMap<String, String>,
    name: &str,
    default: T,
) -> Result<T> {
    match values.get(name) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("--{name}: `{text}` is not a number")),
        None => Ok(default),
    }
}

fn phases(text: &str) -> Result<Vec<Phase>> {
    text.split(',')
        .map(|name| match name.trim() {
            "reserve" => Ok(Phase::Reserve),
            "book" => Ok(Phase::Book),
            other => Err(format!(
                "--phases: `{other}` is not a phase (reserve, book)"
            )),
        })
        .collect()
}

/// The options, or `None` when no service URL is given (a smoke run).
fn options(args: &[String]) -> Result<Option<Options>> {
    let values = settings(args)?;
    let base = values
        .get("url")
        .map(|url| url.trim_end_matches('/').to_owned());
    let service = |name: &str| {
        env(&format!("MOVIES_{}_URL", name.to_uppercase()))
            .map(|url| url.trim_end_matches('/').to_owned())
    };
    let names = [
        "users",
        "movies",
        "cinemas",
        "screenings",
        "reservations",
        "payments",
    ];
    if base.is_none() && names.iter().all(|name| service(name).is_none()) {
        return Ok(None);
    }
    let url = |name: &str| {
        service(name).or_else(|| base.clone()).ok_or_else(|| {
            format!(
                "no URL for the {name} service: set MOVIES_LOAD_URL or MOVIES_{}_URL",
                name.to_uppercase()
            )
        })
    };
    let urls = Urls {
        users: url("users")?,
        movies: url("movies")?,
        cinemas: url("cinemas")?,
        screenings: url("screenings")?,
        reservations: url("reservations")?,
        payments: url("payments")?,
    };
    let admin_email = env("MOVIES_ADMIN_EMAIL")
        .ok_or("MOVIES_ADMIN_EMAIL is not set: the administrator creates the screenings")?;
    let admin_password = env("MOVIES_ADMIN_PASSWORD").ok_or("MOVIES_ADMIN_PASSWORD is not set")?;
    let options = Options {
        urls,
        admin_email,
        admin_password,
        clients: number(&values, "clients", 100)?,
        seconds: number(&values, "seconds", 20.0)?,
        warmup: number(&values, "warmup", 5.0)?,
        phases: phases(values.get("phases").map_or("reserve,book", String::as_str))?,
        max_rate: number(&values, "max-rate", 4000.0)?,
    };
    if options.clients == 0 || options.seconds <= 0.0 || options.warmup < 0.0 {
        return Err("--clients and --seconds must be positive, --warmup not negative".into());
    }
    Ok(Some(options))
}

async fn run(args: &[String]) -> Result<bool> {
    match options(args)? {
        Some(options) => load(&options).await,
        None => smoke().await,
    }
}

/// A second or two against all six services in this process, on SQLite in a temporary
/// directory: checks that the load generator works, measures nothing worth recording.
async fn smoke() -> Result<bool> {
    eprintln!(
        "reservations_load: no MOVIES_LOAD_URL (see --help); smoke run: 4 clients, 1 s, \
         against in-process services on SQLite"
    );
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let (email, password) = ("load-admin@example.org", "load-admin-password");
    let mut config = pikube_movies::MoviesConfig::embedded(dir.path());
    config.admin =
        Some(pikube_movies::AdminAccount::new(email, password).map_err(|error| error.to_string())?);
    config.drain_grace = Duration::ZERO;
    // Every buyer of the load registers and signs in from this one address.
    config.auth_limits.per_client = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding a loopback port: {e}"))?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let selection = pikube_movies::Selection::all();
        pikube_movies::serve(listener, &selection, config, async {
            let _ = stopped.await;
        })
        .await
    });
    let options = Options {
        urls: Urls {
            users: base.clone(),
            movies: base.clone(),
            cinemas: base.clone(),
            screenings: base.clone(),
            reservations: base.clone(),
            payments: base.clone(),
        },
        admin_email: email.into(),
        admin_password: password.into(),
        clients: 4,
        seconds: 1.0,
        warmup: 0.2,
        phases: vec![Phase::Reserve, Phase::Book],
        max_rate: 2000.0,
    };
    let client = http_client(options.clients)?;
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == StatusCode::OK {
                ready = true;
                break;
            }
        }
        if server.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcome = if ready {
        load(&options).await
    } else {
        Err(format!(
            "the in-process services did not get ready at {base}"
        ))
    };
    let _ = stop.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(format!("the in-process services: {error}")),
        Err(error) => return Err(format!("the in-process services: {error}")),
    }
    outcome
}

fn http_client(clients: usize) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(clients + SETUP_CONCURRENCY + 8)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("an HTTP client: {e}"))
}

/// Sends a JSON request and reads the JSON answer; anything but `expect` is an error.
async fn call(request: reqwest::RequestBuilder, expect: StatusCode, what: &str) -> Result<Value> {
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != expect {
        return Err(format!("{what}: answered {status}: {body}"));
    }
    Ok(body)
}

/// What a client needs: who it is.
struct Buyer {
    token: String,
}

/// Every seat of `screenings` in order, handed out once each.
struct SeatSupply {
    screenings: Vec<String>,
    next: AtomicU64,
}

impl SeatSupply {
    /// `count` adjacent seats of one screening, or `None` when every screening is used up.
    fn take(&self, count: u64) -> Option<(&str, Vec<String>)> {
        loop {
            let first = self.next.fetch_add(count, Ordering::Relaxed);
            let screening = (first / SEATS_PER_SCREENING) as usize;
            let id = self.screenings.get(screening)?;
            let offset = first % SEATS_PER_SCREENING;
            if offset + count > SEATS_PER_SCREENING {
                // Would spill into the next screening: leave these and take fresh ones.
                continue;
            }
            let seats = (offset..offset + count)
                .map(|seat| {
                    let row = (b'A' + (seat / SEATS_PER_ROW) as u8) as char;
                    format!("{row}{}", seat % SEATS_PER_ROW + 1)
                })
                .collect();
            return Some((id.as_str(), seats));
        }
    }
}

struct Shared {
    client: reqwest::Client,
    urls: Urls,
    seats: SeatSupply,
}

async fn load(options: &Options) -> Result<bool> {
    let client = http_client(options.clients)?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let setup = Instant::now();
    let urls = &options.urls;

    let admin = call(
        client
            .post(format!("{}/api/auth/token", urls.users))
            .json(&json!({ "email": options.admin_email, "password": options.admin_password })),
        StatusCode::OK,
        "signing in as the administrator",
    )
    .await?["access_token"]
        .as_str()
        .ok_or("the administrator's token is missing from the answer")?
        .to_owned();

    let buyers: Vec<Buyer> = stream::iter(0..options.clients)
        .map(|index| {
            let client = client.clone();
            let users = urls.users.clone();
            let email = format!("load-{run_id}-{index}@example.org");
            async move {
                call(
                    client.post(format!("{users}/api/users")).json(&json!({
                        "email": email, "name": format!("Buyer {index}"), "password": PASSWORD
                    })),
                    StatusCode::CREATED,
                    "registering a buyer",
                )
                .await?;
                let token = call(
                    client
                        .post(format!("{users}/api/auth/token"))
                        .json(&json!({ "email": email, "password": PASSWORD })),
                    StatusCode::OK,
                    "signing a buyer in",
                )
                .await?["access_token"]
                    .as_str()
                    .ok_or("a buyer's token is missing from the answer")?
                    .to_owned();
                Ok::<_, String>(Buyer { token })
            }
        })
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    let registered = setup.elapsed();

    let movie = call(
        client
            .post(format!("{}/api/movies", urls.movies))
            .bearer_auth(&admin)
            .json(&json!({ "title": format!("Load test {run_id}"), "duration_minutes": 120 })),
        StatusCode::CREATED,
        "adding the movie",
    )
    .await?["id"]
        .as_str()
        .ok_or("the movie's id is missing")?
        .to_owned();
    let halls: Vec<Value> = (1..=HALLS)
        .map(|hall| json!({ "name": format!("H{hall}"), "rows": ROWS, "seats_per_row": SEATS_PER_ROW }))
        .collect();
    let cinema = call(
        client
            .post(format!("{}/api/cinemas", urls.cinemas))
            .bearer_auth(&admin)
            .json(
                &json!({ "name": format!("Load {run_id}"), "city": "Loadville", "halls": halls }),
            ),
        StatusCode::CREATED,
        "adding the cinema",
    )
    .await?["id"]
        .as_str()
        .ok_or("the cinema's id is missing")?
        .to_owned();

    // Enough seats for every phase at `max_rate`, two seats a reservation, plus a spare.
    let phase_seconds = options.warmup + options.seconds;
    let seats_needed = options.max_rate * phase_seconds * options.phases.len() as f64 * 2.0;
    let count = (seats_needed / SEATS_PER_SCREENING as f64).ceil() as u64 + 1;
    // From the next full hour a day ahead, three hours apart in each hall.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let first = (now / 3600 + 25) * 3600;
    let screenings: Vec<String> = stream::iter(0..count)
        .map(|index| {
            let client = client.clone();
            let url = format!("{}/api/screenings", urls.screenings);
            let starts = first + (index / HALLS) as i64 * 3 * 3600;
            let starts_at = time::OffsetDateTime::from_unix_timestamp(starts)
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .map_err(|e| e.to_string())
                });
            let body = starts_at.map(|starts_at| {
                json!({
                    "movie_id": movie, "cinema_id": cinema, "hall": format!("H{}", index % HALLS + 1),
                    "starts_at": starts_at, "price_cents": PRICE_CENTS,
                })
            });
            let admin = admin.clone();
            async move {
                let screening = call(
                    client.post(url).bearer_auth(&admin).json(&body?),
                    StatusCode::CREATED,
                    "adding a screening",
                )
                .await?;
                screening["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "a screening's id is missing".to_owned())
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    eprintln!(
        "set-up: {} buyers registered and signed in ({:.1} s), {} screenings of {} seats ({:.1} s in all)",
        buyers.len(),
        registered.as_secs_f64(),
        screenings.len(),
        SEATS_PER_SCREENING,
        setup.elapsed().as_secs_f64()
    );

    let shared = Arc::new(Shared {
        client,
        urls: options.urls.clone(),
        seats: SeatSupply {
            screenings,
            next: AtomicU64::new(0),
        },
    });
    let buyers: Arc<Vec<Buyer>> = Arc::new(buyers);
    let mut clean = true;
    for &phase in &options.phases {
        clean &= run_phase(&shared, &buyers, options, phase).await;
    }
    Ok(clean)
}

/// What one kind of request did in the measured window.
#[derive(Default)]
struct Tally {
    /// Microseconds, every request (whatever its answer).
    latencies: Vec<u32>,
    ok: u64,
    /// Non-2xx answers by status, with the first message seen.
    refused: BTreeMap<u16, (u64, String)>,
    /// No answer at all (connection failed, timed out).
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn record(&mut self, elapsed: Duration, status: Option<StatusCode>, detail: &str) {
        self.latencies
            .push(elapsed.as_micros().min(u128::from(u32::MAX)) as u32);
        match status {
            Some(status) if status.is_success() => self.ok += 1,
            Some(status) => {
                let entry = self
                    .refused
                    .entry(status.as_u16())
                    .or_insert_with(|| (0, detail.chars().take(300).collect()));
                entry.0 += 1;
            }
            None => {
                self.errors += 1;
                self.first_error
                    .get_or_insert_with(|| detail.chars().take(300).collect());
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.ok += other.ok;
        for (status, (count, message)) in other.refused {
            self.refused.entry(status).or_insert((0, message)).0 += count;
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn non_2xx(&self) -> u64 {
        self.refused.values().map(|(count, _)| count).sum()
    }
}

#[derive(Default)]
struct ClientResult {
    reserve: Tally,
    pay: Tally,
    /// Reservation plus payment, for the bookings whose reservation was created.
    booking: Tally,
    ran_out: bool,
}

/// One request: its status (or `None` and why there was no answer) and its JSON body.
async fn send(request: reqwest::RequestBuilder) -> (Option<StatusCode>, Value, String) {
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(bytes) => {
                    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    let detail = body["error"]["message"].as_str().map_or_else(
                        || String::from_utf8_lossy(&bytes).into_owned(),
                        str::to_owned,
                    );
                    (Some(status), body, detail)
                }
                Err(error) => (None, Value::Null, format!("reading the answer: {error}")),
            }
        }
        Err(error) => (None, Value::Null, error.to_string()),
    }
}

async fn buyer_loop(
    shared: Arc<Shared>,
    token: String,
    index: usize,
    phase: Phase,
    measure_from: Instant,
    until: Instant,
) -> ClientResult {
    let mut result = ClientResult::default();
    let reserve_url = format!("{}/api/reservations", shared.urls.reservations);
    let pay_url = format!("{}/api/payments", shared.urls.payments);
    for round in 0.. {
        let started = Instant::now();
        if started >= until {
            break;
        }
        let measured = started >= measure_from;
        // One seat, then two, alternately (clients start out of step).
        let count = 1 + ((index + round) % 2) as u64;
        let Some((screening, seats)) = shared.seats.take(count) else {
            result.ran_out = true;
            break;
        };
        let (status, body, detail) = send(
            shared
                .client
                .post(&reserve_url)
                .bearer_auth(&token)
                .json(&json!({ "screening_id": screening, "seats": seats })),
        )
        .await;
        if measured {
            result.reserve.record(started.elapsed(), status, &detail);
        }
        if phase == Phase::Reserve || status != Some(StatusCode::CREATED) {
            continue;
        }
        let reservation = body["id"].as_str().unwrap_or_default();
        let paying = Instant::now();
        let (status, _, detail) = send(
            shared
                .client
                .post(&pay_url)
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("load-{reservation}"))
                .json(&json!({
                    "reservation_id": reservation,
                    "amount_cents": body["amount_cents"],
                    "card_token": "tok_visa",
                })),
        )
        .await;
        if measured {
            result.pay.record(paying.elapsed(), status, &detail);
            result.booking.record(started.elapsed(), status, &detail);
        }
    }
    result
}

async fn run_phase(
    shared: &Arc<Shared>,
    buyers: &Arc<Vec<Buyer>>,
    options: &Options,
    phase: Phase,
) -> bool {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(options.warmup);
    let until = measure_from + Duration::from_secs_f64(options.seconds);
    let tasks: Vec<_> = buyers
        .iter()
        .enumerate()
        .map(|(index, buyer)| {
            tokio::spawn(buyer_loop(
                shared.clone(),
                buyer.token.clone(),
                index,
                phase,
                measure_from,
                until,
            ))
        })
        .collect();
    let mut total = ClientResult::default();
    let mut ran_out = 0;
    let mut panicked = 0;
    for task in tasks {
        match task.await {
            Ok(result) => {
                ran_out += usize::from(result.ran_out);
                total.reserve.merge(result.reserve);
                total.pay.merge(result.pay);
                total.booking.merge(result.booking);
            }
            Err(_) => panicked += 1,
        }
    }
    let drained = start.elapsed().as_secs_f64() - options.warmup - options.seconds;
    println!(
        "phase {}: {} clients, {:.1} s measured after {:.1} s of warm-up (the last answers came {:.3} s after the end)",
        phase.name(),
        options.clients,
        options.seconds,
        options.warmup,
        drained.max(0.0)
    );
    let mut clean = ran_out == 0 && panicked == 0;
    if ran_out > 0 {
        println!("  {ran_out} clients ran out of seats: raise --max-rate");
    }
    if panicked > 0 {
        println!("  {panicked} clients panicked");
    }
    let reports: Vec<(&str, &str, &Tally)> = match phase {
        Phase::Reserve => vec![("reserve", "POST /api/reservations", &total.reserve)],
        Phase::Book => vec![
            ("book", "bookings (reservation + payment)", &total.booking),
            ("book.reserve", "POST /api/reservations", &total.reserve),
            ("book.pay", "POST /api/payments", &total.pay),
        ],
    };
    for (name, what, tally) in reports {
        clean &= report(name, what, tally, options);
    }
    clean
}

/// The value at rank `ceil(p * n)` of the sorted latencies, in milliseconds.
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

fn report(name: &str, what: &str, tally: &Tally, options: &Options) -> bool {
    let mut sorted = tally.latencies.clone();
    sorted.sort_unstable();
    let requests = sorted.len();
    let rate = tally.ok as f64 / options.seconds;
    let (p50, p90, p99, max) = (
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.90),
        percentile(&sorted, 0.99),
        percentile(&sorted, 1.0),
    );
    println!(
        "  {what}: {requests} started in the window, {} succeeded ({rate:.1}/s), {} non-2xx, {} without an answer",
        tally.ok,
        tally.non_2xx(),
        tally.errors
    );
    println!("    latency ms: p50 {p50:.2}  p90 {p90:.2}  p99 {p99:.2}  max {max:.2}");
    for (status, (count, message)) in &tally.refused {
        println!("    {count} x {status}: e.g. {message}");
    }
    if let Some(error) = &tally.first_error {
        println!("    no answer, e.g.: {error}");
    }
    println!(
        "RESULT phase={name} clients={} seconds={} requests={requests} ok={} rate={rate:.1} \
         p50_ms={p50:.2} p90_ms={p90:.2} p99_ms={p99:.2} max_ms={max:.2} non2xx={} errors={}",
        options.clients,
        options.seconds,
        tally.ok,
        tally.non_2xx(),
        tally.errors
    );
    tally.non_2xx() == 0 && tally.errors == 0
}
