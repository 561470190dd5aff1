//! The `ygt` binary as an operator uses it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ygt_testkit::{TestDb, both_backends};

fn ygt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ygt"));
    c.env_remove("YGT_DATABASE_URL").env_remove("YGT_CONFIG");
    c
}

async fn migrate_and_generate(db: TestDb) {
    let out = ygt()
        .args(["migrate", "--database", &db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The database may also come from the environment.
    let out = ygt()
        .args([
            "generate",
            "--seed",
            "3",
            "--scale",
            "small",
            "--residents",
            "30",
        ])
        .env("YGT_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Made 51 institutions"), "{err}");
    // A second run refuses to write into a database that has data.
    let out = ygt()
        .args(["generate", "--database", &db.url, "--scale", "small"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
}
both_backends!(migrate_and_generate, migrate_and_generate);

#[test]
fn errors_are_clear() {
    let out = ygt().args(["migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database given"));
    let out = ygt()
        .args(["migrate", "--database", "mysql://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://PATH or postgres://"));
    let db = TestDb::sqlite();
    let out = ygt()
        .args(["generate", "--database", &db.url, "--scale", "huge"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scale must be small or county"));
    let dir = ygt_testkit::fresh_temp_dir("ygt-cli");
    let cfg = dir.join("ygt.toml");
    std::fs::write(&cfg, "databse = \"sqlite://x\"\n").unwrap();
    let out = ygt()
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("ygt.toml") && err.contains("databse"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `ygt serve` (database from a config file) on a free port, checks /healthz, then stops
/// it with SIGTERM and expects a clean exit.
#[test]
fn serve_from_config_and_stop_gracefully() {
    let db = TestDb::sqlite();
    let dir = ygt_testkit::fresh_temp_dir("ygt-cli");
    let cfg = dir.join("ygt.toml");
    std::fs::write(
        &cfg,
        format!("database = \"{}\"\nlisten = \"127.0.0.1:0\"\n", db.url),
    )
    .unwrap();
    let mut child = ygt()
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("running on sqlite"), "{first}");
    let url = first
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let body = http_get(&format!("{url}/healthz"));
    assert!(body.contains(r#""status":"ok""#), "{body}");

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `ygt demo` twice on the same directory keeps the data of the first run.
#[test]
fn demo_keeps_its_data() {
    let dir = ygt_testkit::fresh_temp_dir("ygt-demo");
    for round in 0..2 {
        let mut child = ygt()
            .args([
                "demo",
                "--data",
                dir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--seed",
                "5",
                "--residents",
                "40",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .split_whitespace()
            .last()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let body = http_get(&format!("{url}/healthz"));
        assert!(body.contains(r#""status":"ok""#), "round {round}: {body}");
        let login = http_get(&format!("{url}/login"));
        assert!(login.starts_with("HTTP/1.1 200"), "round {round}: {login}");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if round == 0 {
            assert!(err.contains("Generating the demo county"), "{err}");
        } else {
            assert!(err.contains("Using the existing demo database"), "{err}");
        }
    }
    // The data of the first run is there: 51 institutions refuse a second generate, and the
    // audit chain written by both runs is intact.
    let url = format!("sqlite://{}/ygt.db", dir.display());
    let out = ygt()
        .args(["generate", "--database", &url])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
    let out = ygt()
        .args(["audit", "verify", "--database", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("audit chain intact"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A minimal blocking HTTP GET (the test has no HTTP client of its own).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Makes a database with a few audited actions; returns the store.
async fn audited_db(db: &TestDb) -> ygt_app::ygt_store::Store {
    use ygt_app::{App, Ctx};
    use ygt_domain::org::InstitutionDraft;
    let store = ygt_app::ygt_store::Store::open(&db.url).await.unwrap();
    let app = App::new(store.clone());
    let ctx = Ctx::system();
    let h = app
        .create_institution(
            &ctx,
            &InstitutionDraft {
                name: "云溪县人民医院".into(),
                kind: "county_general_hospital".into(),
                division_code: "341890".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for i in 0..5 {
        app.create_department(
            &ctx,
            h.id,
            &ygt_domain::org::DepartmentDraft {
                name: format!("科室{i}"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let out = ygt()
        .args(["audit", "verify", "--database", &db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 events verified"));
    store
}

/// Runs `ygt audit verify` and returns (success, stderr).
fn verify(db: &TestDb) -> (bool, String) {
    let out = ygt()
        .args(["audit", "verify", "--database", &db.url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn tamper(store: &ygt_app::ygt_store::Store, sql: &str) {
    let mut tx = store.begin().await.unwrap();
    tx.execute(ygt_app::ygt_store::Sql::new(sql)).await.unwrap();
    tx.commit().await.unwrap();
}

async fn tamper_edit(db: TestDb) {
    let store = audited_db(&db).await;
    tamper(
        &store,
        "UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 3",
    )
    .await;
    let (ok, err) = verify(&db);
    assert!(!ok);
    assert!(
        err.contains("3") && err.to_lowercase().contains("modif"),
        "{err}"
    );
}
both_backends!(tamper_edit, tamper_edit);

async fn tamper_delete(db: TestDb) {
    let store = audited_db(&db).await;
    tamper(&store, "DELETE FROM audit_events WHERE seq = 4").await;
    let (ok, err) = verify(&db);
    assert!(!ok);
    assert!(
        err.contains("4") && err.to_lowercase().contains("delet"),
        "{err}"
    );
}
both_backends!(tamper_delete, tamper_delete);

async fn tamper_insert(db: TestDb) {
    let store = audited_db(&db).await;
    // A forged event appended after the last one (the head row is not updated).
    tamper(
        &store,
        "INSERT INTO audit_events (seq, id, at, actor_user_id, actor_name, actor_institution_id, action, \
         resource_type, resource_id, resident_id, purpose, outcome, client_addr, request_id, detail, alg, \
         prev_hash, hash) SELECT seq + 1, id, at, actor_user_id, 'intruder', actor_institution_id, action, \
         resource_type, resource_id, resident_id, purpose, outcome, client_addr, request_id, detail, alg, \
         hash, hash FROM audit_events WHERE seq = 6",
    )
    .await;
    let (ok, err) = verify(&db);
    assert!(!ok);
    assert!(
        err.contains("7") && err.to_lowercase().contains("insert"),
        "{err}"
    );
}
both_backends!(tamper_insert, tamper_insert);

async fn tamper_swap(db: TestDb) {
    let store = audited_db(&db).await;
    // Swap the contents of events 2 and 3 (keeping their sequence numbers).
    tamper(&store, "UPDATE audit_events SET seq = -2 WHERE seq = 2").await;
    tamper(&store, "UPDATE audit_events SET seq = 2 WHERE seq = 3").await;
    tamper(&store, "UPDATE audit_events SET seq = 3 WHERE seq = -2").await;
    let (ok, err) = verify(&db);
    assert!(!ok);
    assert!(
        err.contains("audit chain broken") && err.contains('2'),
        "{err}"
    );
}
both_backends!(tamper_swap, tamper_swap);

/// An event waiting in the inbox that was edited is found; the chain itself still verifies.
async fn tamper_inbox(db: TestDb) {
    use ygt_app::ygt_store::access::AuditEntry;
    let store = audited_db(&db).await;
    let entry = |n: i64| AuditEntry {
        actor_user_id: None,
        actor_name: "reader".into(),
        actor_institution_id: None,
        action: "resident.read".into(),
        resource_type: "resident".into(),
        resource_id: Some(n.to_string()),
        resident_id: None,
        purpose: Some("treatment".into()),
        outcome: ygt_domain::audit::Outcome::Allowed,
        client_addr: None,
        request_id: format!("r{n}"),
        detail: None,
    };
    store
        .append_inbox(
            &[entry(1), entry(2)],
            Default::default(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let (ok, err) = verify(&db);
    assert!(ok, "{err}");
    tamper(
        &store,
        "UPDATE audit_inbox SET purpose = 'research' WHERE resource_id = '2'",
    )
    .await;
    let (ok, err) = verify(&db);
    assert!(!ok);
    assert!(
        err.contains("inbox") && err.to_lowercase().contains("modif"),
        "{err}"
    );
}
both_backends!(tamper_inbox, tamper_inbox);

/// Appends from many tasks at once stay one unbroken chain on both backends.
async fn concurrent_appends_stay_ordered(db: TestDb) {
    use ygt_app::{App, Ctx};
    let store = audited_db(&db).await;
    let app = App::new(store);
    let h = app
        .list_institutions(&Ctx::system(), &Default::default())
        .await
        .unwrap()
        .0[0]
        .id;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.create_department(
                &Ctx::system(),
                h,
                &ygt_domain::org::DepartmentDraft {
                    name: format!("并发科室{i}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = app.verify_audit_chain().await.unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.verified, 30);
}
both_backends!(
    concurrent_appends_stay_ordered,
    concurrent_appends_stay_ordered
);

/// `audit_hash = "sm3"` in the config file: new events are chained with SM3 and verify.
async fn sm3_chain(db: TestDb) {
    let dir = ygt_testkit::fresh_temp_dir("ygt-sm3");
    let cfg = dir.join("ygt.toml");
    std::fs::write(
        &cfg,
        format!("database = \"{}\"\naudit_hash = \"sm3\"\n", db.url),
    )
    .unwrap();
    let out = ygt()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "generate",
            "--scale",
            "small",
            "--residents",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ygt()
        .args(["--config", cfg.to_str().unwrap(), "audit", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = ygt_app::ygt_store::Store::connect(&db.url).await.unwrap();
    let algs: Vec<(String,)> = store
        .fetch_all(ygt_app::ygt_store::Sql::new(
            "SELECT DISTINCT alg FROM audit_events",
        ))
        .await
        .unwrap();
    assert_eq!(algs, vec![("sm3".to_owned(),)]);
    std::fs::write(
        &cfg,
        format!("database = \"{}\"\naudit_hash = \"md5\"\n", db.url),
    )
    .unwrap();
    let out = ygt()
        .args(["--config", cfg.to_str().unwrap(), "audit", "verify"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit_hash"));
    let _ = std::fs::remove_dir_all(dir);
}
both_backends!(sm3_chain, sm3_chain);

/// A benchmark file written by `ygt generate --residents-csv`, linked by `ygt link`, and
/// imported twice: into the empty index (bulk) and then once more (one by one, all linked).
async fn residents_file_link_and_import(db: TestDb) {
    let dir = ygt_testkit::fresh_temp_dir("ygt-res");
    let csv = dir.join("res.csv");
    let out = ygt()
        .args([
            "generate",
            "--residents-csv",
            csv.to_str().unwrap(),
            "--residents",
            "120",
            "--seed",
            "9",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("record_id,institution,name,sex,birth_date,id_number,phone,address"));
    let records = text.lines().count() - 1;
    assert!(records > 120);

    let linked = dir.join("out.csv");
    let out = ygt()
        .args([
            "link",
            "--input",
            csv.to_str().unwrap(),
            "--output",
            linked.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = std::fs::read_to_string(&linked).unwrap();
    assert_eq!(result.lines().count() - 1, records, "one row per record");
    let persons: std::collections::HashSet<&str> = result
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    assert!(
        (110..=135).contains(&persons.len()),
        "{} persons for 120 residents",
        persons.len()
    );

    let out = ygt()
        .args([
            "generate",
            "--database",
            &db.url,
            "--seed",
            "9",
            "--residents",
            "0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = ygt()
        .args([
            "import",
            "residents",
            csv.to_str().unwrap(),
            "--database",
            &db.url,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("Loaded {records} registrations")),
        "{err}"
    );
    let out = ygt()
        .args(["audit", "verify", "--database", &db.url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(dir);
}
both_backends!(
    residents_file_link_and_import,
    residents_file_link_and_import
);

/// `ygt import clinical`: rows grouped into items, bad rows and items named by line, the rest
/// recorded; a second import of the same file stores nothing twice.
async fn clinical_import(db: TestDb) {
    let out = ygt()
        .args(["generate", "--database", &db.url, "--residents", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = ygt_app::App::new(ygt_app::ygt_store::Store::open(&db.url).await.unwrap());
    let ctx = ygt_app::Ctx::system();
    let (all, _) = app
        .list_institutions(&ctx, &Default::default())
        .await
        .unwrap();
    let county = all
        .iter()
        .find(|i| i.tier == ygt_domain::org::Tier::County)
        .unwrap();
    let reg = app
        .register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: county.id.to_string(),
                record_id: Some("H-1".into()),
                name: "吴玉兰".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let name = &county.name;
    let dir = ygt_testkit::fresh_temp_dir("ygt-clin");
    let file = dir.join("clinical.csv");
    let mut csv = format!(
        "kind,institution,source_system,source_id,occurred_at,patient_record_id,patient_name,title,text,modality,body_part,result_code,result_name,value,unit,ref_range\n\
         lab_report,{name},LIS,L-1,2025-06-01 08:10,H-1,吴玉兰,生化,,,,GLU,空腹血糖,7.9,mmol/L,3.9-6.1\n\
         lab_report,{name},LIS,L-1,2025-06-01 08:10,H-1,吴玉兰,生化,,,,HBA1C,糖化血红蛋白,7.4,%,4.0-6.0\n\
         imaging_report,{name},PACS,C-1,2025-06-02 10:00,H-1,吴玉兰,,未见异常,CT,胸部,,,,,\n\
         lab_report,不存在的医院,LIS,L-2,2025-06-01,H-1,吴玉兰,,,,,GLU,,5.0,,\n\
         lab_report,{name},LIS,L-3,2025-02-30,H-1,吴玉兰,,,,,GLU,,5.0,,\n\
         lab_report,{name},LIS,L-4,2025-06-03,H-404,某某,,,,,GLU,,5.5,,\n"
    )
    .into_bytes();
    csv.extend_from_slice(b"lab_report,x,LIS,L-5,2025-06-03,H-1,\xff,,,,,GLU,,5.5,,\n");
    std::fs::write(&file, csv).unwrap();
    let run = || {
        ygt()
            .args([
                "import",
                "clinical",
                file.to_str().unwrap(),
                "--database",
                &db.url,
            ])
            .output()
            .unwrap()
    };
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Imported 3 clinical items"), "{err}");
    assert!(err.contains("(1 waiting in the unmatched queue)"), "{err}");
    assert!(err.contains("line 5: institution"), "{err}");
    assert!(err.contains("line 6: occurred_at"), "{err}");
    assert!(err.contains("line 8: patient_name"), "{err}");
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("Imported 0 clinical items"), "{err}");
    assert!(err.contains("3 already stored"), "{err}");
    let rec = app
        .patient_record(
            &ctx,
            reg.person_id,
            &ygt_app::ygt_store::record::TimelineFilter::default(),
            "treatment",
        )
        .await
        .unwrap();
    assert_eq!(rec.timeline.len(), 2);
    let lab = rec
        .timeline
        .iter()
        .find(|i| i.kind.code() == "lab_report")
        .unwrap();
    assert!(lab.abnormal);
    app.store().close().await;
}
both_backends!(clinical_import, clinical_import);

/// The tables a clinical import writes to.
const RECORD_TABLES: [&str; 5] = [
    "clinical_items",
    "observations",
    "clinical_item_versions",
    "care_links",
    "audit_events",
];

fn clinical_fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clinical_csv")
}

/// A file of the malformed corpus: its name, the items it still records, its problems as
/// (line, column).
type Malformed = (String, i64, Vec<(u64, String)>);

/// `tests/fixtures/clinical_csv/malformed.tsv`.
fn malformed_manifest() -> Vec<Malformed> {
    std::fs::read_to_string(clinical_fixtures().join("malformed.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let problems = cols[2]
                .split_whitespace()
                .map(|p| {
                    let parts: Vec<&str> = p.split(':').collect();
                    (parts[0].parse().unwrap(), parts[1].to_owned())
                })
                .collect();
            (cols[0].to_owned(), cols[1].parse().unwrap(), problems)
        })
        .collect()
}

fn import_clinical_file(db: &TestDb, file: &std::path::Path) -> (bool, String) {
    let out = ygt()
        .args([
            "import",
            "clinical",
            file.to_str().unwrap(),
            "--database",
            &db.url,
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file of the malformed corpus through `ygt import clinical` against a real database:
/// each problem named by line and column, a wrong header refuses the file (exit status 1),
/// never a panic, and nothing stored but the items the manifest says survive.
async fn clinical_malformed_corpus(db: TestDb) {
    let out = ygt()
        .args(["generate", "--database", &db.url, "--residents", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = malformed_manifest();
    assert!(manifest.len() >= 15);
    for (name, stored, problems) in manifest {
        let file = clinical_fixtures().join("malformed").join(&name);
        let before = db.row_counts(&RECORD_TABLES).await;
        let (ok, err) = import_clinical_file(&db, &file);
        let after = db.row_counts(&RECORD_TABLES).await;
        assert!(!err.contains("panicked"), "{name}: {err}");
        let whole_file = problems.iter().any(|(line, _)| *line == 1);
        assert_eq!(ok, !whole_file, "{name}: {err}");
        for (line, field) in &problems {
            let said = format!("{name}: line {line}: {field} ");
            assert!(err.contains(&said), "{name}: expected {said:?} in\n{err}");
        }
        if whole_file {
            assert!(err.contains("nothing imported"), "{name}: {err}");
        } else {
            assert!(
                err.contains(&format!("Imported {stored} clinical items")),
                "{name}: {err}"
            );
        }
        assert_eq!(after[0] - before[0], stored, "{name}: items stored\n{err}");
        if stored == 0 {
            assert_eq!(after, before, "{name}: nothing at all stored\n{err}");
        }
        assert_eq!(after[2], before[2], "{name}: no item replaced");
    }
    let out = ygt()
        .args(["audit", "verify", "--database", &db.url])
        .output()
        .unwrap();
    assert!(out.status.success());
}
both_backends!(clinical_malformed_corpus, clinical_malformed_corpus);

/// A file mixing good and bad lines: the good items are recorded, an item with one bad line is
/// not recorded at all (not with its other lines), and after fixing the file a second import
/// adds exactly what was refused.
async fn clinical_import_refuses_whole_items(db: TestDb) {
    let out = ygt()
        .args(["generate", "--database", &db.url, "--residents", "0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = ygt_testkit::fresh_temp_dir("ygt-clin-items");
    let file = dir.join("mixed.csv");
    let h = "云溪县人民医院";
    let rows = |bad_unit: &[u8], bad_institution: &str| {
        let mut b = format!(
            "kind,institution,source_system,source_id,occurred_at,patient_name,class,result_code,value,unit,drug,dose\n\
             lab_report,{h},LIS,MIX-L1,2025-06-01 08:00,吴玉兰,,GLU,7.9,mmol/L,,\n\
             lab_report,{h},LIS,MIX-L1,2025-06-01 08:00,吴玉兰,,HBA1C,8.1,"
        )
        .into_bytes();
        b.extend_from_slice(bad_unit);
        b.extend_from_slice(
            format!(
                ",,\n\
                 lab_report,{h},LIS,MIX-L1,2025-06-01 08:00,吴玉兰,,CREA,88,μmol/L,,\n\
                 lab_report,{h},LIS,MIX-L2,2025-06-02 08:00,吴玉兰,,TC,5.2,mmol/L,,\n\
                 lab_report,{h},LIS,MIX-L2,2025-06-02 08:00,吴玉兰,,TG,1.9,mmol/L,,\n\
                 prescription,{h},HIS,MIX-RX1,2025-06-02 09:00,吴玉兰,,,,,二甲双胍片,0.5g\n\
                 prescription,{bad_institution},HIS,MIX-RX1,2025-06-02 09:00,吴玉兰,,,,,阿卡波糖片,50mg\n\
                 encounter,{h},HIS,MIX-E1,2025-06-02 08:30,吴玉兰,outpatient,,,,,\n"
            )
            .as_bytes(),
        );
        b
    };
    std::fs::write(&file, rows(b"%\xff", "不存在的卫生院")).unwrap();
    let before = db.row_counts(&RECORD_TABLES).await;
    let (ok, err) = import_clinical_file(&db, &file);
    assert!(ok, "{err}");
    let after = db.row_counts(&RECORD_TABLES).await;
    assert!(err.contains("line 3: unit is not UTF-8 text"), "{err}");
    assert!(
        err.contains("line 2: line is part of lab_report LIS/MIX-L1"),
        "{err}"
    );
    assert!(err.contains("line 8: institution"), "{err}");
    assert!(
        err.contains("line 7: line is part of prescription HIS/MIX-RX1"),
        "{err}"
    );
    assert!(err.contains("Imported 2 clinical items"), "{err}");
    assert!(err.contains("2 items refused"), "{err}");
    // MIX-L2 (two results) and MIX-E1; nothing of MIX-L1 or MIX-RX1.
    assert_eq!(after[0] - before[0], 2, "{err}");
    assert_eq!(after[1] - before[1], 2, "observations of MIX-L2 only");

    // Fixed: the refused items are added, the recorded ones skipped.
    std::fs::write(&file, rows(b"%", h)).unwrap();
    let (ok, err) = import_clinical_file(&db, &file);
    assert!(ok, "{err}");
    let fixed = db.row_counts(&RECORD_TABLES).await;
    assert!(err.contains("Imported 2 clinical items"), "{err}");
    assert!(err.contains("2 already stored"), "{err}");
    assert!(err.contains("0 items refused"), "{err}");
    assert_eq!(fixed[0] - after[0], 2);
    assert_eq!(fixed[1] - after[1], 3, "the three results of MIX-L1");
    assert_eq!(fixed[2], before[2], "nothing replaced");
    let _ = std::fs::remove_dir_all(dir);
}
both_backends!(
    clinical_import_refuses_whole_items,
    clinical_import_refuses_whole_items
);

/// `ygt audit verify` prints the head; `--expect-head` fails once the newest events are gone,
/// even when the head row was rewritten to match (which a plain verify cannot see).
async fn audit_expected_head(db: TestDb) {
    let store = audited_db(&db).await;
    let run = |expect: Option<&str>| {
        let mut args = vec!["audit", "verify", "--database", &db.url];
        if let Some(h) = expect {
            args.extend(["--expect-head", h]);
        }
        let out = ygt().args(&args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, text, _) = run(None);
    assert!(ok, "{text}");
    let head = text
        .lines()
        .find_map(|l| l.strip_prefix("head: event 6, hash "))
        .unwrap_or_else(|| panic!("no head printed: {text}"))
        .trim()
        .to_owned();
    assert_eq!(head.len(), 64, "{head}");
    // The head it printed is reached, today and after more events.
    let (ok, text, err) = run(Some(&head));
    assert!(ok, "{text}{err}");
    assert!(
        text.contains("expected head") && text.contains("event 6"),
        "{text}"
    );
    // The newest two events deleted and the head row made to fit: the chain still checks,
    // but no longer reaches the head noted before.
    tamper(&store, "DELETE FROM audit_events WHERE seq > 4").await;
    tamper(
        &store,
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_events WHERE seq = 4) WHERE id = 1",
    )
    .await;
    let (ok, text, _) = run(None);
    assert!(ok && text.contains("4 events verified"), "{text}");
    let (ok, _, err) = run(Some(&head));
    assert!(!ok, "a lost head must fail");
    assert!(
        err.contains("no longer reaches the expected head") && err.contains(&head),
        "{err}"
    );
    store.close().await;
}
both_backends!(audit_expected_head, audit_expected_head);

/// `ygt token create`: the operator makes an integration token for an institution found by
/// its code; the secret is printed once, the creation audited; it works for MLLP.
async fn token_create_for_a_lab_system(db: TestDb) {
    let store = audited_db(&db).await;
    let app = ygt_app::App::new(store.clone());
    let create = |args: &[&str]| {
        let mut all = vec!["token", "create", "--database", &db.url];
        all.extend_from_slice(args);
        let out = ygt().args(&all).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Refusals name the flag.
    let (ok, _, err) = create(&[
        "--institution",
        "341890",
        "--name",
        "检验系统",
        "--permissions",
        "integration",
        "--valid-days",
        "400",
    ]);
    assert!(
        !ok && err.contains("--valid-days") && err.contains("365"),
        "{err}"
    );
    let (ok, _, err) = create(&[
        "--institution",
        "999999",
        "--name",
        "检验系统",
        "--permissions",
        "integration",
    ]);
    assert!(!ok && err.contains("--institution"), "{err}");
    let (ok, _, err) = create(&[
        "--institution",
        "341890",
        "--name",
        "检验系统",
        "--permissions",
        "patient.wrte",
    ]);
    assert!(!ok && err.contains("--permissions"), "{err}");

    let (ok, out, err) = create(&[
        "--institution",
        "341890",
        "--name",
        "检验系统",
        "--permissions",
        "integration",
    ]);
    assert!(ok, "{err}");
    let secret = out.trim();
    assert_eq!(out.lines().count(), 1, "only the secret on stdout: {out}");
    assert!(secret.starts_with("ygt_"), "{out}");
    assert!(err.contains("shown only once"), "{err}");
    let p = app.token_principal(secret).await.unwrap().unwrap();
    assert!(p.can(ygt_domain::access::Permission::PatientWrite));
    assert!(p.can(ygt_domain::access::Permission::RecordReadOwn));
    assert_eq!(p.permissions.len(), 2);
    let (all, _) = app
        .list_institutions(&ygt_app::Ctx::system(), &Default::default())
        .await
        .unwrap();
    assert_eq!(p.institution_id, Some(all[0].id));
    let (events, _) = app
        .search_audit(
            &ygt_app::Ctx::system(),
            &ygt_app::ygt_store::access::AuditFilter {
                action: Some("token.create".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor_name, "system");
    assert!(
        events[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("patient.write,record.read_own valid_days=90"),
        "{events:?}"
    );
    assert!(!events[0].detail.as_deref().unwrap_or("").contains(secret));

    // Step 2 and 3 of the README: serve with the token file; the lab system sends over MLLP.
    let dir = ygt_testkit::fresh_temp_dir("ygt-token");
    let file = dir.join("lab.token");
    std::fs::write(&file, &out).unwrap();
    let mut child = ygt()
        .args([
            "serve",
            "--database",
            &db.url,
            "--listen",
            "127.0.0.1:0",
            "--mllp",
            "127.0.0.1:0",
            "--mllp-token-file",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("HL7 v2 (MLLP) on ") && first.ends_with("检验系统"),
        "{first}"
    );
    let addr = first
        .trim_start_matches("HL7 v2 (MLLP) on ")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let adt = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ygt-interop/tests/fixtures/hl7/adt_a04.hl7"),
    )
    .unwrap();
    let ack = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut framed = vec![0x0b];
        framed.extend_from_slice(&adt);
        framed.extend_from_slice(&[0x1c, 0x0d]);
        s.write_all(&framed).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.contains(&0x1c) {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed without an acknowledgement");
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    assert!(ack.contains("MSA|AA"), "{ack}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let found = app
        .search_residents(&ygt_app::Ctx::system(), "110101199003074514", 5)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the lab system's registration arrived");
    let _ = std::fs::remove_dir_all(dir);
    store.close().await;
}
both_backends!(token_create_for_a_lab_system, token_create_for_a_lab_system);

/// `public_url` and `metrics_token` from the configuration file: absolute links name the
/// public URL whatever the Host header says; /metrics answers only the metrics token.
#[test]
fn public_url_and_metrics_token_from_config() {
    use std::io::{Read, Write};
    let db = TestDb::sqlite();
    let dir = ygt_testkit::fresh_temp_dir("ygt-cli");
    let cfg = dir.join("ygt.toml");
    let token = "metrics-token-for-the-test-0123";
    std::fs::write(
        &cfg,
        format!(
            "database = \"{}\"\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://ygt.example.cn/\"\nmetrics_token = \"{token}\"\n",
            db.url
        ),
    )
    .unwrap();
    let mut child = ygt()
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let host = first
        .split_whitespace()
        .last()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let get = |path: &str, extra: &str| {
        let mut s = std::net::TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: forged.example\r\n{extra}\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let meta = get("/fhir/metadata", "");
    assert!(
        meta.contains("\"url\":\"https://ygt.example.cn/fhir\""),
        "{meta}"
    );
    assert!(!meta.contains("forged"), "{meta}");
    let refused = get("/metrics", "");
    assert!(refused.starts_with("HTTP/1.0 403"), "{refused}");
    let metrics = get("/metrics", &format!("Authorization: Bearer {token}\r\n"));
    assert!(metrics.starts_with("HTTP/1.0 200"), "{metrics}");
    assert!(metrics.contains("ygt_http_requests_total"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();

    // Bad values are refused at start, naming the setting.
    for (line, says) in [
        ("public_url = \"ygt.example.cn\"", "public_url"),
        ("public_url = \"https://ygt.example.cn/?x=1\"", "public_url"),
        ("metrics_token = \"short\"", "metrics token"),
        ("trusted_proxies = [\"proxy.example\"]", "trusted proxy"),
        ("trusted_proxies = [\"10.0.0.0/40\"]", "trusted proxy"),
    ] {
        std::fs::write(&cfg, format!("database = \"{}\"\n{line}\n", db.url)).unwrap();
        let out = ygt()
            .args(["--config", cfg.to_str().unwrap(), "serve"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{line}: {err}");
    }
    // The flag and the environment variable are checked the same way.
    std::fs::write(&cfg, format!("database = \"{}\"\n", db.url)).unwrap();
    let out = ygt()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "serve",
            "--trusted-proxy",
            "10.0.0.1",
        ])
        .args(["--trusted-proxy", "nonsense"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("\"nonsense\""),
        "{err}"
    );
    let out = ygt()
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("YGT_TRUSTED_PROXIES", "10.0.0.1,::1/200")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("::1/200"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A valid 18-digit ID number (a man born in 1990) for sender `t`'s message `i`.
fn kill_test_id(t: usize, i: usize) -> (String, String) {
    let n = t * 100_000 + i;
    let birth = format!(
        "1990{:02}{:02}",
        (n / 28_000) % 12 + 1,
        (n / 1_000) % 28 + 1
    );
    let first17 = format!("110101{birth}{:03}", 2 * (n % 500) + 1);
    let check = ygt_domain::ident::IdNumber::check_char(&first17).unwrap();
    (format!("{first17}{check}"), birth)
}

/// kill -9 of `ygt serve` while four senders stream registrations over MLLP: every message
/// acknowledged (AA) before the kill is in the database afterwards.
async fn kill_during_mllp_ingest_loses_nothing_acknowledged(db: TestDb) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let store = audited_db(&db).await;
    let token = ygt()
        .args([
            "token",
            "create",
            "--database",
            &db.url,
            "--institution",
            "341890",
        ])
        .args(["--name", "检验系统", "--permissions", "integration"])
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let dir = ygt_testkit::fresh_temp_dir("ygt-kill");
    let file = dir.join("lab.token");
    std::fs::write(&file, &token.stdout).unwrap();
    let mut child = ygt()
        .args(["serve", "--database", &db.url, "--listen", "127.0.0.1:0"])
        .args([
            "--mllp",
            "127.0.0.1:0",
            "--mllp-token-file",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .trim_start_matches("HL7 v2 (MLLP) on ")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let adt = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ygt-interop/tests/fixtures/hl7/adt_a04.hl7"),
    )
    .unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (addr, adt, acked, count) =
                (addr.clone(), adt.clone(), acked.clone(), count.clone());
            std::thread::spawn(move || {
                let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
                    return;
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                for i in 0..100_000 {
                    let (id, birth) = kill_test_id(t, i);
                    let msg = adt
                        .replace("110101199003074514", &id)
                        .replace("19900307", &birth)
                        .replace("MR000123", &format!("MR{t}N{i}"))
                        .replace("ADT0002", &format!("K{t}N{i}"));
                    let mut framed = vec![0x0b];
                    framed.extend_from_slice(msg.as_bytes());
                    framed.extend_from_slice(&[0x1c, 0x0d]);
                    if s.write_all(&framed).is_err() {
                        return;
                    }
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !got.contains(&0x1c) {
                        match s.read(&mut buf) {
                            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                            _ => return, // killed
                        }
                    }
                    let ack = String::from_utf8_lossy(&got);
                    assert!(ack.contains("MSA|AA"), "{ack}");
                    acked.lock().unwrap().push(id);
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    while count.load(Ordering::SeqCst) < 60 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60, "only {} acknowledged", acked.len());
    store.close().await;
    // A fresh connection, as after a restart: everything acknowledged is there.
    let store = ygt_app::ygt_store::Store::open(&db.url).await.unwrap();
    let app = ygt_app::App::new(store.clone());
    for id in &acked {
        let found = app
            .search_residents(&ygt_app::Ctx::system(), id, 5)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "acknowledged {id}: {found:?}");
    }
    let out = ygt()
        .args(["audit", "verify", "--database", &db.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
both_backends!(
    kill_during_mllp_ingest_loses_nothing_acknowledged,
    kill_during_mllp_ingest_loses_nothing_acknowledged
);
