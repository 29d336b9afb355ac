//! Every public route of the six services doing what it should, on SQLite and on
//! PostgreSQL, with exact asserts on the JSON. Every call goes through the served OpenAPI
//! document (see `contract`), so a reply that is not as documented fails too.

use crate::contract;
use crate::support;

use std::time::Duration;

use contract::Api;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{time_in, Backend, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

/// The UTC date `days` from now (`YYYY-MM-DD`), for screenings at chosen times of day.
fn day_in(days: u64) -> String {
    time_in(Duration::from_secs(days * 86_400))[..10].to_owned()
}

fn id_of(reply: &Value) -> String {
    reply["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {reply}"))
        .to_owned()
}

fn seconds_from_now(rfc3339: &str) -> i64 {
    let at = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"));
    (at - time::OffsetDateTime::now_utc()).whole_seconds()
}

async fn users_register_sign_in_and_see_themselves(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;

    let created = api
        .post(
            "/api/users",
            None,
            json!({ "email": "  Ada@Example.ORG ", "name": "  Ada Lovelace ", "password": "äöüäöüäö" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let ada = id_of(&created.body);
    // Lower-cased and trimmed; never the password nor its hash.
    assert_eq!(
        created.body,
        json!({ "id": ada, "email": "ada@example.org", "name": "Ada Lovelace", "role": "user" })
    );

    // Signing in takes the address in any letter case.
    let token = api
        .post(
            "/api/auth/token",
            None,
            json!({ "email": "ADA@example.org", "password": "äöüäöüäö" }),
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{:?}", token.body);
    let access = token.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        token.body,
        json!({ "access_token": access, "token_type": "Bearer", "expires_in": 3600 })
    );
    assert_eq!(access.split('.').count(), 3, "a JWT: {access}");

    let me = api.get("/api/users/me", Some(&access)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body, created.body);

    // The scheme is case-insensitive, as RFC 9110 has it.
    let lower = app
        .request_with(
            reqwest::Method::GET,
            "/api/users/me",
            None,
            None,
            &[("Authorization", &format!("bearer {access}"))],
        )
        .await;
    assert_eq!(lower.status, StatusCode::OK, "{:?}", lower.body);
    assert_eq!(lower.body["id"], ada.as_str());

    // The administrator comes from the configuration.
    let admin = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let me = api.get("/api/users/me", Some(&admin)).await;
    assert_eq!(
        me.body,
        json!({ "id": me.body["id"], "email": ADMIN_EMAIL, "name": "Administrator", "role": "admin" })
    );
}

both_backends!(
    users_register_sign_in_and_see_themselves,
    users_register_sign_in_and_see_themselves
);

async fn the_catalogue_lists_and_shows_movies(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let admin = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let empty = api.get("/api/movies", None).await;
    assert_eq!(
        (empty.status, empty.body),
        (StatusCode::OK, json!({ "movies": [] }))
    );

    let quorum = api
        .post(
            "/api/movies",
            Some(&admin),
            json!({ "title": "  Quorum ", "description": "Three servers.\nOne leader.", "duration_minutes": 118 }),
        )
        .await;
    assert_eq!(quorum.status, StatusCode::CREATED, "{:?}", quorum.body);
    assert_eq!(
        quorum.body,
        json!({ "id": id_of(&quorum.body), "title": "Quorum",
                "description": "Three servers.\nOne leader.", "duration_minutes": 118 })
    );
    // The description is optional; the limits are inclusive.
    let escape = api
        .post(
            "/api/movies",
            Some(&admin),
            json!({ "title": "Escape Time", "duration_minutes": 600 }),
        )
        .await;
    assert_eq!(escape.status, StatusCode::CREATED, "{:?}", escape.body);
    assert_eq!(
        escape.body,
        json!({ "id": id_of(&escape.body), "title": "Escape Time", "description": "", "duration_minutes": 600 })
    );
    let longest = api
        .post(
            "/api/movies",
            Some(&admin),
            json!({ "title": "Z".repeat(200), "description": "d".repeat(2000), "duration_minutes": 1 }),
        )
        .await;
    assert_eq!(longest.status, StatusCode::CREATED, "{:?}", longest.body);

    let listed = api.get("/api/movies", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.body,
        json!({ "movies": [escape.body, quorum.body, longest.body] }),
        "by title"
    );

    let id = id_of(&quorum.body);
    let one = api.get(&format!("/api/movies/{id}"), None).await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &quorum.body));
    // Another spelling of the same UUID names the same movie.
    let upper = api
        .get(&format!("/api/movies/{}", id.to_uppercase()), None)
        .await;
    assert_eq!((upper.status, &upper.body), (StatusCode::OK, &quorum.body));

    let unknown = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    let missing = api.get(&format!("/api/movies/{unknown}"), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.message(), format!("no movie with id `{unknown}`"));
}

both_backends!(
    the_catalogue_lists_and_shows_movies,
    the_catalogue_lists_and_shows_movies
);

async fn cinemas_are_listed_by_city(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let admin = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let roxy = api
        .post(
            "/api/cinemas",
            Some(&admin),
            json!({ "name": " Roxy ", "city": " Berlin ", "halls": [
                { "name": " Studio ", "rows": 2, "seats_per_row": 3 },
                { "name": "Main", "rows": 26, "seats_per_row": 60 },
            ] }),
        )
        .await;
    assert_eq!(roxy.status, StatusCode::CREATED, "{:?}", roxy.body);
    assert_eq!(
        roxy.body,
        json!({ "id": id_of(&roxy.body), "name": "Roxy", "city": "Berlin", "halls": [
            { "name": "Main", "rows": 26, "seats_per_row": 60 },
            { "name": "Studio", "rows": 2, "seats_per_row": 3 },
        ] }),
        "trimmed, halls by name"
    );
    let odeon = api
        .post(
            "/api/cinemas",
            Some(&admin),
            json!({ "name": "Odeon", "city": "Amsterdam", "halls": [{ "name": "1", "rows": 1, "seats_per_row": 1 }] }),
        )
        .await;
    assert_eq!(odeon.status, StatusCode::CREATED, "{:?}", odeon.body);
    // The same name in another city is another cinema.
    let other_roxy = api
        .post(
            "/api/cinemas",
            Some(&admin),
            json!({ "name": "Roxy", "city": "Cologne", "halls": [{ "name": "A", "rows": 1, "seats_per_row": 1 }] }),
        )
        .await;
    other_roxy.expect_created();

    let all = api.get("/api/cinemas", None).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        all.body,
        json!({ "cinemas": [odeon.body, roxy.body, other_roxy.body] }),
        "by city"
    );
    for (query, expected) in [
        ("?city=Berlin", json!([roxy.body])),
        ("?city=bErLiN", json!([roxy.body])),
        ("?city=%20Berlin%20", json!([roxy.body])),
        ("?city=Paris", json!([])),
        ("?city=", all.body["cinemas"].clone()),
    ] {
        let listed = api.get(&format!("/api/cinemas{query}"), None).await;
        assert_eq!(listed.status, StatusCode::OK, "{query}: {:?}", listed.body);
        assert_eq!(listed.body, json!({ "cinemas": expected }), "{query}");
    }

    let one = api
        .get(&format!("/api/cinemas/{}", id_of(&roxy.body)), None)
        .await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &roxy.body));
}

both_backends!(cinemas_are_listed_by_city, cinemas_are_listed_by_city);

async fn screenings_are_scheduled_filtered_and_mapped(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let admin = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let movie = |title: &str, minutes: i64| {
        let api = &api;
        let admin = admin.clone();
        let body = json!({ "title": title, "duration_minutes": minutes });
        async move {
            let reply = api.post("/api/movies", Some(&admin), body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
            reply.body
        }
    };
    let heist = movie("The Raspberry Heist", 100).await;
    let quorum = movie("Quorum", 90).await;
    let roxy = api
        .post(
            "/api/cinemas",
            Some(&admin),
            json!({ "name": "Roxy", "city": "Berlin", "halls": [
                { "name": "Main", "rows": 3, "seats_per_row": 4 },
                { "name": "Studio", "rows": 1, "seats_per_row": 2 },
            ] }),
        )
        .await
        .body;
    let odeon = api
        .post(
            "/api/cinemas",
            Some(&admin),
            json!({ "name": "Odeon", "city": "Amsterdam", "halls": [{ "name": "One", "rows": 2, "seats_per_row": 2 }] }),
        )
        .await
        .body;
    let (day3, day4, day5) = (day_in(3), day_in(4), day_in(5));
    let schedule = |movie: &Value, cinema: &Value, hall: &str, starts_at: String, price: i64| {
        let api = &api;
        let admin = admin.clone();
        let body = json!({ "movie_id": movie["id"], "cinema_id": cinema["id"], "hall": hall,
                           "starts_at": starts_at, "price_cents": price });
        async move { api.post("/api/screenings", Some(&admin), body).await }
    };

    let first = schedule(&heist, &roxy, "main", format!("{day3}T18:00:00Z"), 950).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let first = first.body;
    assert_eq!(
        first,
        json!({
            "id": id_of(&first), "movie_id": heist["id"], "movie_title": "The Raspberry Heist",
            "cinema_id": roxy["id"], "cinema_name": "Roxy", "city": "Berlin",
            "hall": "Main", "rows": 3, "seats_per_row": 4,
            "starts_at": format!("{day3}T18:00:00Z"), "ends_at": format!("{day3}T19:40:00Z"),
            "price_cents": 950,
        }),
        "the hall as the cinema spells it, the end from the movie's duration"
    );
    // Any offset; shown in UTC.
    let second = schedule(&quorum, &roxy, "Main", format!("{day3}T21:00:00+01:00"), 1).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    let second = second.body;
    assert_eq!(
        (
            &second["starts_at"],
            &second["ends_at"],
            &second["price_cents"]
        ),
        (
            &json!(format!("{day3}T20:00:00Z")),
            &json!(format!("{day3}T21:30:00Z")),
            &json!(1)
        )
    );
    let third = schedule(&quorum, &odeon, "One", format!("{day4}T12:00:00Z"), 100_000).await;
    assert_eq!(third.status, StatusCode::CREATED, "{:?}", third.body);
    let third = third.body;

    let all = json!([first, second, third]);
    for (query, expected) in [
        (String::new(), all.clone()),
        ("?movie_id=&city=&date=".to_owned(), all.clone()),
        (
            format!("?movie_id={}", quorum["id"].as_str().unwrap()),
            json!([second, third]),
        ),
        ("?city=amsterdam".to_owned(), json!([third])),
        ("?city=Berlin".to_owned(), json!([first, second])),
        (format!("?date={day3}"), json!([first, second])),
        (format!("?date={day4}"), json!([third])),
        (format!("?date={day5}"), json!([])),
        ("?date=2001-01-01".to_owned(), json!([])),
        (
            format!("?movie_id={}&city=Amsterdam", heist["id"].as_str().unwrap()),
            json!([]),
        ),
        (
            format!(
                "?movie_id={}&city=AMSTERDAM&date={day4}",
                quorum["id"].as_str().unwrap()
            ),
            json!([third]),
        ),
        (
            format!("?movie_id={}", "67e55044-10b1-426f-9247-bb680e5fe0c8"),
            json!([]),
        ),
    ] {
        let listed = api.get(&format!("/api/screenings{query}"), None).await;
        assert_eq!(listed.status, StatusCode::OK, "{query}: {:?}", listed.body);
        assert_eq!(listed.body, json!({ "screenings": expected }), "{query}");
    }

    let one = api
        .get(&format!("/api/screenings/{}", id_of(&first)), None)
        .await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &first));

    let seats = api
        .get(&format!("/api/screenings/{}/seats", id_of(&first)), None)
        .await;
    assert_eq!(seats.status, StatusCode::OK, "{:?}", seats.body);
    let every: Vec<Value> = ["A", "B", "C"]
        .iter()
        .flat_map(|row| {
            (1..=4).map(move |n| json!({ "seat": format!("{row}{n}"), "state": "free" }))
        })
        .collect();
    assert_eq!(
        seats.body,
        json!({ "screening_id": first["id"], "rows": 3, "seats_per_row": 4, "free": 12, "seats": every })
    );

    // A hall shows one thing at a time: back to back is fine, overlapping is not.
    let before = schedule(&quorum, &roxy, "Main", format!("{day3}T16:30:00Z"), 500).await;
    assert_eq!(before.status, StatusCode::CREATED, "{:?}", before.body);
    let overlapping = schedule(&quorum, &roxy, "Main", format!("{day3}T19:00:00Z"), 500).await;
    assert_eq!(overlapping.status, StatusCode::CONFLICT);
    assert_eq!(overlapping.body["error"]["field"], "starts_at");
    assert_eq!(overlapping.body["error"]["screening_id"], first["id"]);
    assert!(
        overlapping.message().contains("The Raspberry Heist"),
        "{}",
        overlapping.message()
    );
    // The other hall is free then.
    let studio = schedule(&quorum, &roxy, "Studio", format!("{day3}T19:00:00Z"), 500).await;
    assert_eq!(studio.status, StatusCode::CREATED, "{:?}", studio.body);
}

both_backends!(
    screenings_are_scheduled_filtered_and_mapped,
    screenings_are_scheduled_filtered_and_mapped
);

async fn reservations_hold_list_cancel_and_are_paid(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let screening = app.screening(3, 4, 950).await;
    let sid = id_of(&screening);
    let ada = app.buyer("ada@example.org").await;
    let bob = app.buyer("bob@example.org").await;
    let api = Api::new(&app).await;
    let ada_id = id_of(&api.get("/api/users/me", Some(&ada)).await.body);

    let held = api
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["b2", " A1 "] }),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    let held_id = id_of(&held.body);
    let expires_at = held.body["expires_at"].as_str().unwrap().to_owned();
    assert_eq!(
        held.body,
        json!({ "id": held_id, "user_id": ada_id, "screening_id": sid, "seats": ["A1", "B2"],
                "status": "held", "amount_cents": 1900, "expires_at": expires_at, "payment_id": null }),
        "seats upper-cased and sorted, two at 9.50"
    );
    let left = seconds_from_now(&expires_at);
    assert!(
        (540..=600).contains(&left),
        "held for ten minutes: {left}s left"
    );

    let one = api
        .get(&format!("/api/reservations/{held_id}"), Some(&ada))
        .await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &held.body));

    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = api
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["C4"] }),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    let second_id = id_of(&second.body);
    let bobs = api
        .post(
            "/api/reservations",
            Some(&bob),
            json!({ "screening_id": sid, "seats": ["C1"] }),
        )
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED, "{:?}", bobs.body);

    let mine = api.get("/api/reservations", Some(&ada)).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(
        mine.body,
        json!({ "reservations": [second.body, held.body] }),
        "only Ada's, newest first"
    );
    let his = api.get("/api/reservations", Some(&bob)).await;
    assert_eq!(his.body, json!({ "reservations": [bobs.body] }));

    let states = seat_states(&api, &sid).await;
    assert_eq!(states.0, 8);
    for seat in ["A1", "B2", "C4", "C1"] {
        assert_eq!(states.1[seat], "held", "{seat}");
    }

    // A seat someone holds is named in the 409; nothing of the request is held.
    let taken = api
        .post(
            "/api/reservations",
            Some(&bob),
            json!({ "screening_id": sid, "seats": ["A2", "A1", "B2"] }),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.message(), "already taken: A1, B2");
    assert_eq!(taken.body["error"]["seats"], json!(["A1", "B2"]));
    assert_eq!(seat_states(&api, &sid).await.1["A2"], "free");

    // Cancelling frees the seats; cancelling again changes nothing and is fine.
    for _ in 0..2 {
        let cancelled = api
            .delete(&format!("/api/reservations/{second_id}"), Some(&ada))
            .await;
        assert_eq!(
            cancelled.status,
            StatusCode::NO_CONTENT,
            "{:?}",
            cancelled.body
        );
    }
    let after = api
        .get(&format!("/api/reservations/{second_id}"), Some(&ada))
        .await;
    assert_eq!(after.body["status"], "cancelled");
    let states = seat_states(&api, &sid).await;
    assert_eq!((states.0, &states.1["C4"]), (9, &json!("free")));
    let retaken = api
        .post(
            "/api/reservations",
            Some(&bob),
            json!({ "screening_id": sid, "seats": ["C4"] }),
        )
        .await;
    assert_eq!(retaken.status, StatusCode::CREATED, "{:?}", retaken.body);

    // Paid: confirmed, its seats sold, and no longer cancellable.
    let paid = api
        .pay(
            &ada,
            "ada-pays-once",
            json!({ "reservation_id": held_id, "amount_cents": 1900, "card_token": "tok_visa" }),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    let payment_id = id_of(&paid.body);
    let created_at = paid.body["created_at"].as_str().unwrap().to_owned();
    assert_eq!(
        paid.body,
        json!({ "id": payment_id, "reservation_id": held_id, "amount_cents": 1900,
                "status": "succeeded", "created_at": created_at })
    );
    assert!(seconds_from_now(&created_at).abs() < 60, "{created_at}");
    let confirmed = api
        .get(&format!("/api/reservations/{held_id}"), Some(&ada))
        .await;
    assert_eq!(
        confirmed.body,
        json!({ "id": held_id, "user_id": ada_id, "screening_id": sid, "seats": ["A1", "B2"],
                "status": "confirmed", "amount_cents": 1900, "expires_at": expires_at,
                "payment_id": payment_id })
    );
    let states = seat_states(&api, &sid).await;
    assert_eq!(
        (&states.1["A1"], &states.1["B2"]),
        (&json!("sold"), &json!("sold"))
    );
    let refused = api
        .delete(&format!("/api/reservations/{held_id}"), Some(&ada))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.message(),
        "this reservation is paid for; it cannot be cancelled"
    );
    assert_eq!(
        api.get(&format!("/api/reservations/{held_id}"), Some(&ada))
            .await
            .body["status"],
        "confirmed"
    );

    // The payment, as its payer sees it.
    let payment = api
        .get(&format!("/api/payments/{payment_id}"), Some(&ada))
        .await;
    assert_eq!(
        (payment.status, &payment.body),
        (StatusCode::OK, &paid.body)
    );
    // A retry with the same key gets the same answer, marked as a replay.
    let replay = api
        .pay(
            &ada,
            "ada-pays-once",
            json!({ "reservation_id": held_id, "amount_cents": 1900, "card_token": "tok_visa" }),
        )
        .await;
    assert_eq!(
        (replay.status, &replay.body),
        (StatusCode::CREATED, &paid.body)
    );
    assert_eq!(replay.headers["idempotent-replayed"], "true");

    // A declined card: 402, nothing charged, and the payment readable as declined.
    let declined = api
        .pay(
            &bob,
            "bob-declined",
            json!({ "reservation_id": bobs.body["id"], "amount_cents": 950, "card_token": "tok_declined" }),
        )
        .await;
    assert_eq!(
        declined.status,
        StatusCode::PAYMENT_REQUIRED,
        "{:?}",
        declined.body
    );
    assert_eq!(declined.body["error"]["status"], "declined");
    let declined_id = declined.body["error"]["payment_id"].as_str().unwrap();
    let record = api
        .get(&format!("/api/payments/{declined_id}"), Some(&bob))
        .await;
    assert_eq!(record.status, StatusCode::OK, "{:?}", record.body);
    assert_eq!(
        (&record.body["status"], &record.body["amount_cents"]),
        (&json!("declined"), &json!(950))
    );
}

both_backends!(
    reservations_hold_list_cancel_and_are_paid,
    reservations_hold_list_cancel_and_are_paid
);

/// The free count and each seat's state of a screening's seat map.
async fn seat_states(api: &Api<'_>, screening: &str) -> (i64, serde_json::Map<String, Value>) {
    let map = api
        .get(&format!("/api/screenings/{screening}/seats"), None)
        .await;
    assert_eq!(map.status, StatusCode::OK, "{:?}", map.body);
    let states = map.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["seat"].as_str().unwrap().to_owned(), s["state"].clone()))
        .collect();
    (map.body["free"].as_i64().unwrap(), states)
}
