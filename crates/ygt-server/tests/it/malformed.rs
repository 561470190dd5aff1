//! The malformed-input corpus of the JSON API (`tests/fixtures/api_malformed/`, expectations in
//! `tests/fixtures/api_malformed.tsv`): every file posted to the real server on both backends
//! is refused with its 4xx status, error code and the field it names, and stores nothing.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_app::ygt_store::org::InstitutionFilter;
use ygt_domain::org::Tier;
use ygt_testkit::{TestDb, both_backends, row_counts};

use crate::TestServer;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One line of the manifest.
#[derive(Debug)]
struct Case {
    file: String,
    method: reqwest::Method,
    path: String,
    content_type: String,
    status: u16,
    code: String,
    /// The field named by `error.field`, or none (`-`).
    field: Option<String>,
    /// The validation reason of the first detail, or none (`-`).
    reason: Option<String>,
}

fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("api_malformed.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 8, "8 columns: {l}");
            let opt = |s: &str| (s != "-").then(|| s.to_owned());
            Case {
                file: c[0].to_owned(),
                method: reqwest::Method::from_bytes(c[1].as_bytes()).unwrap(),
                path: c[2].to_owned(),
                content_type: c[3].to_owned(),
                status: c[4].parse().unwrap(),
                code: c[5].to_owned(),
                field: opt(c[6]),
                reason: opt(c[7]),
            }
        })
        .collect()
}

/// The tables a refused request must leave as they were.
const TABLES: [&str; 7] = [
    "clinical_items",
    "observations",
    "clinical_item_versions",
    "care_links",
    "registrations",
    "persons",
    "person_history",
];

/// Fills the placeholders of a body or path: `{county}`, `{unknown}` (a UUID that names
/// nothing), `{person}`, `{unmatched}` (an unmatched item of the county hospital) and
/// `{pad:N}` (N characters).
fn fill(text: &str, vars: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    while let Some(i) = out.find("{pad:") {
        let Some(j) = out[i..].find('}') else { break };
        let n: usize = out[i + 5..i + j].parse().unwrap();
        out.replace_range(i..i + j + 1, &"x".repeat(n));
    }
    out
}

async fn api_malformed_corpus(db: TestDb) {
    let url = db.url.clone();
    let s = TestServer::start(db, true).await;
    let ctx = Ctx::system();
    let county = s
        .app
        .list_institutions(
            &ctx,
            &InstitutionFilter {
                tier: Some(Tier::County),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0[0]
        .id;
    let person = s
        .app
        .register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: county.to_string(),
                record_id: Some("H-1".into()),
                name: "吴玉兰".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let unmatched = s
        .app
        .record_drafts(
            &ctx,
            &[ygt_app::record::ItemDraft {
                kind: "ecg_report".into(),
                institution_id: county.to_string(),
                source_system: "ECG".into(),
                source_id: "E-1".into(),
                patient: ygt_app::record::PatientRef {
                    name: Some("无名氏".into()),
                    ..Default::default()
                },
                occurred_at: "2025-06-01 08:00".into(),
                conclusion: Some("窦性心律".into()),
                ..Default::default()
            }],
            "test",
        )
        .await
        .unwrap()[0]
        .item_id;
    let token = s
        .app
        .create_token(
            &ctx,
            "县医院集成平台",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.secret);
    let vars = [
        ("county", county.to_string()),
        ("unknown", Uuid::now_v7().to_string()),
        ("person", person.to_string()),
        ("unmatched", unmatched.to_string()),
    ];
    let cases = manifest();
    let mut files: Vec<String> = std::fs::read_dir(fixtures().join("api_malformed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every file of the corpus is in api_malformed.tsv"
    );
    assert!(cases.len() >= 20);

    let c = reqwest::Client::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let body = fill(
            &std::fs::read_to_string(fixtures().join("api_malformed").join(&case.file)).unwrap(),
            &vars,
        );
        let before = row_counts(&url, &TABLES).await;
        let r = c
            .request(case.method.clone(), s.url(&fill(&case.path, &vars)))
            .header("authorization", &bearer)
            .header("content-type", &case.content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.file));
        let status = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.unwrap();
        let after = row_counts(&url, &TABLES).await;
        assert!(
            ct.starts_with("application/json"),
            "{}: {ct} {text}",
            case.file
        );
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {text}", case.file));
        let e = &v["error"];
        assert!(
            !e["message"].as_str().unwrap_or("").is_empty(),
            "{}: {v}",
            case.file
        );
        assert!(status.is_client_error(), "{}: {status} {v}", case.file);
        let field = e["field"].as_str().map(str::to_owned);
        let reason = e["details"][0]["reason"].as_str().map(str::to_owned);
        let got = (
            status.as_u16(),
            e["code"].as_str().unwrap_or("").to_owned(),
            field.clone(),
            reason.clone(),
        );
        let want = (
            case.status,
            case.code.clone(),
            case.field.clone(),
            case.reason.clone(),
        );
        if got != want {
            wrong.push(format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n    {v}",
                case.file,
                case.method,
                case.path,
                case.content_type,
                got.0,
                got.1,
                field.as_deref().unwrap_or("-"),
                reason.as_deref().unwrap_or("-"),
            ));
        }
        assert_eq!(after, before, "{}: nothing stored", case.file);
    }
    assert!(
        wrong.is_empty(),
        "unexpected answers:\n{}",
        wrong.join("\n")
    );

    // The same body with the right content type is recorded: the corpus fails for what it
    // says, not for something else.
    let body = fill(
        &std::fs::read_to_string(fixtures().join("api_malformed/wrong_content_type.json")).unwrap(),
        &vars,
    );
    let before = row_counts(&url, &TABLES).await;
    let r = c
        .post(s.url("/api/v1/clinical-items"))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after = row_counts(&url, &TABLES).await;
    assert_eq!(after[0], before[0] + 1);
    assert_eq!(after[1], before[1] + 1);
}
both_backends!(api_malformed_corpus, api_malformed_corpus);
