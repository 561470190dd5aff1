//! SQL statements per request on the main routes (counted by the store, said by the server in
//! `x-sql-statements`): a query added in a loop, or a principal read again per request, fails
//! here. Figures and the command that prints them: docs/benchmarks.md.

use reqwest::StatusCode;
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_app::ygt_store::Sql;
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;

/// Who asks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    /// The demo county hospital's doctor, signed in (session cookie).
    Doctor,
    /// An API token of the same hospital with `patient.read`.
    Token,
}

/// (who, path, most statements allowed: the figure measured on 2026-12-08 plus one, for a
/// session touch that falls due during the test). `{person}` is a resident registered at the
/// doctor's hospital, with the most clinical items; `{name}` is that resident's name.
const CEILINGS: &[(Who, &str, u64)] = &[
    (Who::Doctor, "/", 11),
    (Who::Doctor, "/search?q={name}", 3),
    (Who::Doctor, "/residents?q={name}", 5),
    (Who::Doctor, "/residents/{person}", 6),
    (Who::Doctor, "/residents/{person}/record", 19),
    (Who::Doctor, "/api/v1/residents?q={name}", 4),
    (Who::Doctor, "/api/v1/residents/{person}", 6),
    (Who::Doctor, "/api/v1/residents/{person}/record", 10),
    (Who::Doctor, "/api/v1/institutions", 4),
    (Who::Doctor, "/referrals", 9),
    (Who::Doctor, "/api/v1/referrals", 5),
    (Who::Doctor, "/api/v1/me", 0),
    (Who::Token, "/api/v1/institutions", 4),
    (Who::Token, "/api/v1/residents/{person}", 6),
    (Who::Token, "/fhir/Patient?name={name}", 4),
    (Who::Token, "/fhir/Patient/{person}", 6),
    (Who::Token, "/fhir/Observation?patient={person}", 5),
];

/// The average over [`CEILINGS`] may not exceed this (tenths of a statement).
const AVERAGE_CEILING_TENTHS: u64 = 60;

/// The resident with the most clinical items among those registered at the doctor's hospital,
/// and the hospital.
async fn busiest_resident(s: &TestServer) -> (Uuid, String, Uuid) {
    let (hospital,): (Uuid,) = s
        .app
        .store()
        .fetch_one(Sql::new(
            "SELECT institution_id FROM users WHERE username = 'doctor'",
        ))
        .await
        .unwrap();
    let (person, name): (Uuid, String) = s
        .app
        .store()
        .fetch_one(
            Sql::new(
                "SELECT p.id, p.name FROM persons p WHERE p.active = ? AND EXISTS (SELECT 1 FROM \
                 care_links c WHERE c.resident_id = p.id AND c.kind = 'registered' \
                 AND c.valid_until IS NULL AND c.institution_id = ?) \
                 ORDER BY (SELECT COUNT(*) FROM clinical_items i WHERE i.person_id = p.id) DESC, \
                 p.id LIMIT 1",
            )
            .arg(true)
            .arg(hospital),
        )
        .await
        .unwrap();
    (person, name, hospital)
}

async fn statements_of(c: &reqwest::Client, s: &TestServer, path: &str) -> u64 {
    let r = c.get(s.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let n = r.headers()[ygt_server::STATEMENTS_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The body is read to its end (a page that streams would count only its beginning).
    let _ = r.bytes().await.unwrap();
    n
}

async fn statements_per_request(db: TestDb) {
    let s = TestServer::start_with(db, true, |c| c.count_statements = true).await;
    ygt_synth::generate_residents(&s.app, 7, 300, &|_, _| {})
        .await
        .unwrap();
    ygt_synth::generate_history(&s.app, 7, &|_, _| {})
        .await
        .unwrap();
    ygt_synth::referrals::generate_referrals(&s.app, 7, ygt_synth::Scale::Small, &|_, _| {})
        .await
        .unwrap();
    let (person, name, hospital) = busiest_resident(&s).await;
    let token = s
        .app
        .create_token(
            &Ctx::system(),
            "集成平台",
            hospital,
            &["patient.read".into(), "registry.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let doctor = s.signed_in("doctor").await;
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", token.secret).parse().unwrap(),
    );
    let integration = reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap();
    // One request each first: what a session or token costs once is not what a read costs.
    for c in [&doctor, &integration] {
        statements_of(c, &s, "/api/v1/me").await;
    }

    let q: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let mut over = Vec::new();
    let mut total = 0;
    for (who, template, ceiling) in CEILINGS {
        let path = template
            .replace("{person}", &person.to_string())
            .replace("{name}", &q);
        let c = if *who == Who::Doctor {
            &doctor
        } else {
            &integration
        };
        let n = statements_of(c, &s, &path).await;
        eprintln!(
            "statements {:>3}  (ceiling {ceiling:>3})  {who:?} {template}",
            n
        );
        total += n;
        if n > *ceiling {
            over.push(format!("{who:?} {template}: {n} > {ceiling}"));
        }
    }
    let tenths = total * 10 / CEILINGS.len() as u64;
    eprintln!(
        "average {}.{} statements per read",
        tenths / 10,
        tenths % 10
    );
    assert!(over.is_empty(), "more statements than allowed: {over:#?}");
    assert!(
        tenths <= AVERAGE_CEILING_TENTHS,
        "{tenths} tenths of a statement per read on average"
    );
}
both_backends!(statements_per_request, statements_per_request);
