//! Online matching benchmark: loads an index of synthetic residents through the bulk path,
//! then registers new and returning residents one at a time through `register_resident` (the
//! use case behind every door: parse, access check, candidate lookup by blocking keys,
//! scoring, write, audit) and prints latency percentiles.
//!
//! `cargo run --release -p ygt --example bench_online -- PEOPLE PROBES [DATABASE_URL]`
//! (default 50000 people ≈ 110,000 registrations, 1000 probes, a temporary SQLite file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

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

/// Collects the `match_us` field of the MPI's "registered and matched" events: the time of the
/// matching step alone (candidate lookup through the blocking index, scoring, decision).
#[derive(Clone, Default)]
struct MatchTimes(Arc<Mutex<Vec<f64>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MatchTimes {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        #[derive(Default)]
        struct V {
            match_us: Option<u64>,
            ms: Option<u128>,
            message: String,
        }
        impl tracing::field::Visit for V {
            fn record_u64(&mut self, f: &tracing::field::Field, v: u64) {
                if f.name() == "match_us" {
                    self.match_us = Some(v);
                }
            }
            fn record_u128(&mut self, f: &tracing::field::Field, v: u128) {
                if f.name() == "ms" {
                    self.ms = Some(v);
                }
            }
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.message = format!("{v:?}");
                }
            }
        }
        let mut v = V::default();
        event.record(&mut v);
        if let Some(us) = v.match_us {
            self.0.lock().unwrap().push(us as f64 / 1000.0);
        }
        if let Some(ms) = v.ms {
            eprintln!("  {} after {ms} ms", v.message);
        }
    }
}

fn percentiles(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.95),
        pct(0.99),
        v.last().copied().unwrap_or(0.0)
    )
}

#[tokio::main]
async fn main() {
    let times = MatchTimes::default();
    let filter =
        tracing_subscriber::filter::Targets::new().with_target("ygt::mpi", tracing::Level::DEBUG);
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(times.clone().with_filter(filter)),
    )
    .unwrap();
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
    let matching = std::mem::take(&mut *times.0.lock().unwrap());
    println!(
        "matching ({} registrations, {} returning): {}",
        matching.len(),
        returning.len(),
        percentiles(matching)
    );
    println!(
        "whole registration incl. commit and audit: {}; outcomes {:?}",
        percentiles(lat),
        outcomes
    );
    app.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
