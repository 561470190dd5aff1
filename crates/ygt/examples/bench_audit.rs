//! Audited reads while an import batch runs (issue 14).
//!
//! `cargo run --release -p ygt --example bench_audit -- [DATABASE_URL] [SECONDS]`
//!
//! On an empty database (default: a temporary SQLite file) makes the small county with 2,000
//! residents and their histories. Then, for SECONDS (default 10) each, an import task records
//! batches of 20,000 clinical items with `App::bulk_record` (the path of `ygt import clinical`:
//! one transaction that holds the platform's write lock, the chain head, from its start),
//! while one reader reads a resident's record and audits the read:
//!
//! - `chain` (before): the read, then its audit event appended to the chain in a transaction
//!   of its own (what `App::audit` did before the inbox: head row, and on SQLite the writer);
//! - `inbox` (after): the read, then its audit event appended to the inbox (`Store::append_inbox`,
//!   what `App::audit` does now);
//! - `360` (after): the whole 360 page read, `App::patient_record` as a signed-in doctor.
//!
//! The sealing task runs throughout. Prints reads/s and the slowest read of each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ygt_app::record::ParsedItem;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::access::AuditEntry;
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_app::{Actor, App, Ctx};
use ygt_domain::audit::Outcome;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::env::temp_dir().join(format!("ygt-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let app = App::new(Store::open(&url).await.unwrap());
    let backend = app.store().backend().name();
    let items = setup(&app).await;
    let (person, _) = app.store().busiest_person().await.unwrap().unwrap();
    let doctor = doctor(&app, person).await;
    let sealer = app.start_audit_sealer().await.unwrap();
    let since = time::OffsetDateTime::now_utc() - time::Duration::days(365 * 5);
    for mode in ["chain", "inbox", "360"] {
        for importing in [false, true] {
            let stop = Arc::new(AtomicBool::new(false));
            let import = importing.then(|| {
                let (app, items, stop) = (app.clone(), items.clone(), stop.clone());
                tokio::spawn(async move { import_until(&app, &items, &stop).await })
            });
            let t = Instant::now();
            let (mut n, mut worst) = (0u64, Duration::ZERO);
            while t.elapsed() < Duration::from_secs(secs) {
                let r = Instant::now();
                read(&app, &doctor, person, since, mode).await;
                worst = worst.max(r.elapsed());
                n += 1;
            }
            let rate = n as f64 / t.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            let batches = match import {
                Some(h) => h.await.unwrap(),
                None => 0,
            };
            println!(
                "{backend} {mode:>5} reads, {}: {rate:.0} reads/s, slowest {:.0} ms ({batches} import batches of 20,000 items)",
                if importing {
                    "while importing"
                } else {
                    "alone          "
                },
                worst.as_secs_f64() * 1e3
            );
        }
    }
    let sealed = sealer.stop().await.unwrap();
    let report = app.verify_audit_chain().await.unwrap();
    assert!(report.holds(None), "{report:?}");
    println!(
        "chain intact: {} events ({} sealed at the end)",
        report.verified, sealed.sealed
    );
    app.store().close().await;
}

/// One audited read of `person`'s record, the way `mode` names.
async fn read(
    app: &App,
    doctor: &Ctx,
    person: uuid::Uuid,
    since: time::OffsetDateTime,
    mode: &str,
) {
    if mode == "360" {
        app.patient_record(doctor, person, &TimelineFilter::default(), "treatment")
            .await
            .unwrap();
        return;
    }
    let rows = app
        .store()
        .raw_record_baseline(person, since)
        .await
        .unwrap();
    assert!(rows > 0);
    let entry = AuditEntry {
        actor_user_id: None,
        actor_name: "bench".into(),
        actor_institution_id: None,
        action: "resident.read".into(),
        resource_type: "resident".into(),
        resource_id: Some(person.to_string()),
        resident_id: Some(person),
        purpose: Some("treatment".into()),
        outcome: Outcome::Allowed,
        client_addr: None,
        request_id: "bench".into(),
        detail: None,
    };
    let (alg, now) = (Default::default(), time::OffsetDateTime::now_utc());
    if mode == "chain" {
        let mut tx = app.store().begin().await.unwrap();
        tx.append_audit(&entry, alg, now).await.unwrap();
        tx.commit().await.unwrap();
    } else {
        app.store()
            .append_inbox(std::slice::from_ref(&entry), alg, now)
            .await
            .unwrap();
    }
}

/// Imports batches of 20,000 items (fresh source ids each time) until told to stop; returns
/// how many batches committed.
async fn import_until(app: &App, items: &[ParsedItem], stop: &AtomicBool) -> u64 {
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let batch: Vec<ParsedItem> = items
            .iter()
            .take(20_000)
            .map(|p| {
                let mut p = p.clone();
                p.item.source_id = format!("{}-r{round}-{}", p.item.source_id, std::process::id());
                p
            })
            .collect();
        app.bulk_record(&Ctx::system(), &batch, "bench")
            .await
            .unwrap();
    }
    round
}

/// The county, residents and their histories (once); returns 20,000 items to import again.
async fn setup(app: &App) -> Arc<Vec<ParsedItem>> {
    let mut items: Vec<ParsedItem> = Vec::new();
    let empty = app.store().count_persons().await.unwrap() == 0;
    if empty {
        ygt_synth::generate(app, 1, ygt_synth::Scale::Small, &|_, _| {})
            .await
            .unwrap();
        ygt_synth::generate_residents(app, 1, 2_000, &|_, _| {})
            .await
            .unwrap();
    }
    ygt_synth::history_batches(app, 1, 20_000, &|_, _| {}, &mut async |b| {
        if items.len() < 20_000 {
            items.extend(b);
        }
        Ok(())
    })
    .await
    .unwrap();
    if empty {
        app.bulk_record(&Ctx::system(), &items, "bench")
            .await
            .unwrap();
    }
    assert!(items.len() >= 20_000, "only {} items", items.len());
    items.truncate(20_000);
    Arc::new(items)
}

/// A doctor of the resident's institution, signed in.
async fn doctor(app: &App, person: uuid::Uuid) -> Ctx {
    let ctx = Ctx::system();
    let regs = app.store().registrations_of(person).await.unwrap();
    let account = format!("bench.audit.{}", std::process::id());
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
    Ctx {
        actor: Actor::User(Box::new(principal)),
        ..Ctx::system()
    }
}
