//! Shared health record benchmark.
//!
//! `cargo run --release -p ygt --example bench_record -- RESIDENTS [DATABASE_URL]`
//!
//! On an empty database (default: a temporary SQLite file): makes the county registry and
//! RESIDENTS residents, generates their five-year histories in memory, then times the bulk
//! import (`App::bulk_record`, the path of `ygt import clinical`) beside the raw batched-insert
//! rate of the same database. On a database that already holds a county (for example one made
//! by `ygt generate --scale county --residents 500000`), skips that part.
//!
//! Then the patient 360 read for the resident with the most items (made to have at least 300
//! encounters and 3,000 items): `App::patient_record` as a signed-in doctor (access check,
//! audit event, mapping) against the same reads as plain statements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ygt_app::record::{ItemDraft, ParsedItem, PatientRef, ResultDraft};
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_app::{Actor, App, Ctx};

fn pct(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (p(0.5), p(0.95), p(0.99))
}

#[tokio::main]
async fn main() {
    if std::env::var_os("YGT_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("ygt::record=debug"))
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    let residents: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("ygt-bench-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let app = App::new(Store::open(&url).await.unwrap());
    let backend = app.store().backend().name();
    let ctx = Ctx::system();
    if app.store().count_persons().await.unwrap() == 0 {
        ygt_synth::generate(&app, 1, ygt_synth::Scale::County, &|_, _| {})
            .await
            .unwrap();
        let (persons, regs) = ygt_synth::generate_residents(&app, 1, residents, &|_, _| {})
            .await
            .unwrap();
        println!("index: {regs} registrations, {persons} persons ({backend})");
        let mut items: Vec<ParsedItem> = Vec::new();
        ygt_synth::history_batches(&app, 1, 20_000, &|_, _| {}, &mut async |b| {
            items.extend(b);
            Ok(())
        })
        .await
        .unwrap();
        let n = items.len();
        let t = Instant::now();
        let mut created = 0;
        for chunk in items.chunks(20_000) {
            created += app.bulk_record(&ctx, chunk, "bench").await.unwrap().created;
        }
        let ours = t.elapsed().as_secs_f64();
        let raw = app
            .store()
            .raw_insert_baseline(n)
            .await
            .unwrap()
            .as_secs_f64();
        println!(
            "bulk import: {created} items ({} observations) in {ours:.1} s = {:.0} items/s; raw batched insert of {n} rows into a bare table: {raw:.1} s = {:.0} rows/s ({backend})",
            items
                .iter()
                .map(|i| i.item.observations.len())
                .sum::<usize>(),
            created as f64 / ours,
            n as f64 / raw
        );
    }

    // The heaviest record, made heavy enough.
    let (person, n) = app.store().busiest_person().await.unwrap().unwrap();
    let person = if n < 3_000 {
        let regs = app.store().registrations_of(person).await.unwrap();
        let inst = regs[0].institution_id;
        let now = time::OffsetDateTime::now_utc();
        let patient = PatientRef {
            person_id: Some(person.to_string()),
            ..Default::default()
        };
        let mut drafts = Vec::new();
        for e in 0..320 {
            let at = now - time::Duration::hours(6 * e + 1);
            let when = format!(
                "{:04}-{:02}-{:02}T{:02}:00:00Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour()
            );
            drafts.push(ItemDraft {
                kind: "encounter".into(),
                institution_id: inst.to_string(),
                source_system: "BENCH".into(),
                source_id: format!("E{e}"),
                patient: patient.clone(),
                occurred_at: when.clone(),
                class: Some("outpatient".into()),
                ..Default::default()
            });
            for k in 0..9 {
                drafts.push(ItemDraft {
                    kind: "lab_report".into(),
                    institution_id: inst.to_string(),
                    source_system: "BENCH".into(),
                    source_id: format!("L{e}-{k}"),
                    patient: patient.clone(),
                    occurred_at: when.clone(),
                    encounter_ref: Some(format!("E{e}")),
                    results: vec![ResultDraft {
                        code: if k % 2 == 0 { "GLU" } else { "CREA" }.into(),
                        value: format!("{}", 5 + k),
                        ref_range: Some("3.9-6.1".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
        }
        let parsed: Vec<ParsedItem> = drafts.iter().map(|d| d.parse(now).unwrap()).collect();
        app.bulk_record(&ctx, &parsed, "bench").await.unwrap();
        person
    } else {
        person
    };
    let counts = app.store().item_counts(person).await.unwrap();
    let total: i64 = counts.iter().map(|c| c.1).sum();
    let encounters = counts
        .iter()
        .find(|c| c.0 == "encounter")
        .map_or(0, |c| c.1);

    // A doctor of the resident's own institution, signed in.
    let regs = app.store().registrations_of(person).await.unwrap();
    let account = format!("bench.doctor.{}", std::process::id());
    app.create_account(
        &ctx,
        &ygt_app::account::AccountDraft {
            username: account.clone(),
            display_name: "基准医生".into(),
            institution_id: Some(regs[0].institution_id.to_string()),
            roles: vec!["doctor".into()],
            password: Some(ygt_synth::DEMO_PASSWORD.into()),
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let signed = app
        .sign_in(&ctx, &account, ygt_synth::DEMO_PASSWORD, None)
        .await
        .unwrap();
    let principal = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap()
        .principal;
    let doctor = Ctx {
        actor: Actor::User(Box::new(principal)),
        ..Ctx::system()
    };
    let since = time::OffsetDateTime::now_utc() - time::Duration::days(365 * 5);
    let rounds = 300;
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for i in 0..rounds + 20 {
        let t = Instant::now();
        let r = app
            .patient_record(&doctor, person, &TimelineFilter::default(), "treatment")
            .await
            .unwrap();
        let a = t.elapsed();
        let t = Instant::now();
        let rows = app
            .store()
            .raw_record_baseline(person, since)
            .await
            .unwrap();
        let b = t.elapsed();
        assert!(rows > 0 && !r.timeline.is_empty());
        if i >= 20 {
            ours.push(ms(a));
            raw.push(ms(b));
        }
    }
    let (o50, o95, o99) = pct(ours);
    let (r50, r95, r99) = pct(raw);
    println!(
        "patient 360 of a resident with {total} items ({encounters} encounters), {rounds} reads ({backend}): \
         ygt p50 {o50:.2} / p95 {o95:.2} / p99 {o99:.2} ms; hand-written SQL p50 {r50:.2} / p95 {r95:.2} / p99 {r99:.2} ms; p99 ratio {:.2}",
        o99 / r99
    );
    app.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
