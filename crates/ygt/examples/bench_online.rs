//! Online matching benchmark: loads an index of synthetic residents through the bulk path,
//! then registers new and returning residents one at a time through `register_resident` (the
//! use case behind every door: parse, access check, candidate lookup by blocking keys,
//! scoring, write, audit) and prints latency percentiles.
//!
//! `cargo run --release -p ygt --example bench_online -- PEOPLE PROBES [DATABASE_URL]`
//! (default 50000 people ≈ 110,000 registrations, 1000 probes, a temporary SQLite file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ygt_app::mpi::ResidentDraft;
use ygt_app::ygt_store::Store;
use ygt_app::{App, Ctx};
use ygt_synth::residents;
use ygt_synth::rng::Rng;

fn draft(r: &residents::SyntheticRegistration, sites: &[residents::Site]) -> ResidentDraft {
    ResidentDraft {
        institution_id: sites[r.site].id.clone(),
        record_id: Some(r.record_id.clone()),
        name: r.name.clone(),
        sex: r.sex.map(|s| s.code().to_owned()),
        birth_date: r.birth_date.map(|b| b.to_string()),
        id_number: r.id_number.clone(),
        phone: r.phone.clone(),
        address: r.address.clone(),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let people: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let probes: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let dir = std::env::temp_dir().join(format!("ygt-bench-online-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let app = App::new(Store::open(&url).await.unwrap());
    let ctx = Ctx::system();
    ygt_synth::generate(&app, 1, ygt_synth::Scale::County, &|_, _| {})
        .await
        .unwrap();
    let sites = ygt_synth::sites(&app).await.unwrap();

    // The index, and the probes: people of the same county registering again (returning) or
    // for the first time (new), drawn from one generation so that the noise is the same.
    let mut rng = Rng::new(7).fork(5);
    let (_, regs) = residents::generate(&mut rng, people + probes, &sites);
    let probe_truths: std::collections::HashSet<u64> =
        (people as u64 + 1..=(people + probes) as u64).collect();
    let (mut load, mut probe): (Vec<_>, Vec<_>) =
        regs.iter().partition(|r| !probe_truths.contains(&r.truth));
    // Half of the probes are returning residents: hold back one registration of some loaded people.
    let returning: Vec<_> = load
        .iter()
        .step_by(4)
        .take(probes / 2)
        .map(|r| (*r).clone())
        .collect();
    load.retain(|r| !returning.iter().any(|x| x.record_id == r.record_id));
    probe.truncate(probes - returning.len());
    let drafts: Vec<ResidentDraft> = load.iter().map(|r| draft(r, &sites)).collect();

    let t = Instant::now();
    let report = app
        .bulk_load_residents(&ctx, &drafts, &|_, _| {})
        .await
        .unwrap();
    let load_s = t.elapsed().as_secs_f64();
    println!(
        "index: {} registrations, {} persons, bulk load {:.1} s ({})",
        report.registrations,
        report.persons,
        load_s,
        app.store().backend().name()
    );

    let mut lat = Vec::with_capacity(probes);
    let mut outcomes = std::collections::BTreeMap::new();
    for r in returning.iter().chain(probe.iter().copied()) {
        let d = draft(r, &sites);
        let t = Instant::now();
        let out = app.register_resident(&ctx, &d).await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        *outcomes.entry(out.outcome).or_insert(0usize) += 1;
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "online registration of {} residents ({} returning): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; outcomes {:?}",
        lat.len(),
        returning.len(),
        pct(0.5),
        pct(0.95),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0),
        outcomes
    );
    app.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
