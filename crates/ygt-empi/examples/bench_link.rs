//! Benchmark of batch linking on generated Chinese registrations.
//!
//! ```text
//! cargo run -p ygt-empi --release --example bench_link -- [N] [--seed S] [--explain K]
//! ```
//!
//! Generates N noisy registrations (default 100000; deterministic seed) with
//! the truth, links them with `link_batch`, and prints records per second,
//! pairwise precision, recall and F1, peak memory (VmHWM) and seconds.
//! `--explain K` also prints K wrongly linked and K missed pairs with their
//! explanations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/synth.rs"]
mod synth;

use std::collections::HashMap;
use std::time::Instant;

use ygt_empi::{Config, Model, Prepared, link_batch, prepare, score, train};

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn describe(p: &Prepared, r: &ygt_empi::Registration) -> String {
    format!(
        "{} | {} | {:?} | {:?} | {:?} | {:?} | {:?} | {:?}",
        r.record_id,
        r.name,
        r.sex.map(|s| s.code()),
        r.birth_date,
        r.id_number,
        r.phone,
        r.address,
        p.other_ids()
    )
}

fn explain_pair(
    what: &str,
    i: usize,
    j: usize,
    data: &synth::Synthetic,
    prepared: &[Prepared],
    model: &Model,
    cfg: &Config,
) {
    let e = score(&prepared[i], &prepared[j], model, cfg);
    println!(
        "--- {what}: total {:.2} {:?} guard {:?}",
        e.total, e.decision, e.guard
    );
    println!("    {}", describe(&prepared[i], &data.regs[i]));
    println!("    {}", describe(&prepared[j], &data.regs[j]));
    let levels: Vec<String> = e
        .fields
        .iter()
        .map(|f| format!("{}={}({:+.1})", f.field, f.level, f.weight))
        .collect();
    println!("    {}", levels.join(" "));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 100_000usize;
    let mut seed = 20_240_601u64;
    let mut explain = 0usize;
    let mut cfg = Config::default();
    let mut hist = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = it.next().and_then(|s| s.parse().ok()).unwrap_or(seed),
            "--explain" => explain = it.next().and_then(|s| s.parse().ok()).unwrap_or(10),
            "--link" => {
                cfg.link_threshold = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(cfg.link_threshold)
            }
            "--hist" => hist = true,
            s => n = s.replace('_', "").parse().unwrap_or(n),
        }
    }
    let t0 = Instant::now();
    let data = synth::generate(n, seed);
    let gen_secs = t0.elapsed().as_secs_f64();
    let true_ids = data.regs.iter().filter(|r| r.id_number.is_some()).count();
    println!(
        "generated {} registrations of {} persons ({} twin pairs, {} parent/child pairs, {:.1}% with an ID number) in {:.2} s",
        data.regs.len(),
        data.persons,
        data.twins.len(),
        data.parent_child.len(),
        100.0 * true_ids as f64 / data.regs.len().max(1) as f64,
        gen_secs
    );

    let before = peak_memory_mib();
    let t1 = Instant::now();
    // Phase boundaries: progress reaches n (prepared), 2n (blocked), 3n
    // (compared), then the model is estimated and the clusters are formed.
    let last_phase = std::sync::atomic::AtomicU64::new(0);
    let report = |done: u64, total: u64| {
        let quarter = total / 4;
        let phase = done.checked_div(quarter).unwrap_or(0);
        if phase > last_phase.fetch_max(phase, std::sync::atomic::Ordering::Relaxed) {
            let name = ["", "prepared", "blocked", "compared", "estimated+clustered"];
            eprintln!(
                "  {:>7.2} s  {}",
                t1.elapsed().as_secs_f64(),
                name.get(phase as usize).unwrap_or(&"")
            );
        }
    };
    let labels = link_batch(&data.regs, &cfg, &report);
    let secs = t1.elapsed().as_secs_f64();
    let (p, r, f1, tp, predicted, actual) = synth::pairwise(&labels, &data.person);
    let clusters = labels.iter().max().map_or(0, |m| m + 1);
    println!(
        "linked into {clusters} clusters (truth: {} persons)",
        data.persons
    );
    println!("pairs: true positives {tp}, predicted {predicted}, true {actual}");
    println!("precision {p:.5}  recall {r:.5}  F1 {f1:.5}");
    let linked = |a: usize, b: usize, who: &[usize], labels: &[usize]| -> bool {
        let ra: Vec<usize> = who
            .iter()
            .enumerate()
            .filter(|(_, x)| **x == a)
            .map(|(i, _)| labels[i])
            .collect();
        who.iter()
            .enumerate()
            .any(|(i, x)| *x == b && ra.contains(&labels[i]))
    };
    if n <= 20_000 {
        let twins_linked = data
            .twins
            .iter()
            .filter(|(a, b)| linked(*a, *b, &data.person, &labels))
            .count();
        let pc_linked = data
            .parent_child
            .iter()
            .filter(|(a, b)| linked(*a, *b, &data.person, &labels))
            .count();
        println!(
            "twins linked: {twins_linked}/{}  parent/child linked: {pc_linked}/{}",
            data.twins.len(),
            data.parent_child.len()
        );
    }
    let mib = |m: Option<f64>| m.map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"));
    println!(
        "{:.0} records/s, {:.2} s, peak memory {} (after generating the input: {})",
        n as f64 / secs,
        secs,
        mib(peak_memory_mib()),
        mib(before)
    );

    if explain > 0 || hist {
        let prepared: Vec<Prepared> = data.regs.iter().map(prepare).collect();
        let model = train(&prepared, &cfg);
        if hist {
            let pairs = ygt_empi::candidate_pairs(&prepared, &cfg);
            let mut buckets: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
            for (i, j) in &pairs {
                let e = score(&prepared[*i], &prepared[*j], &model, &cfg);
                let b = (e.total.floor() as i64).clamp(-20, 40);
                let slot = buckets.entry(b).or_default();
                if data.person[*i] == data.person[*j] {
                    slot.0 += 1
                } else {
                    slot.1 += 1
                }
            }
            println!(
                "candidate pairs {}: score bucket -> (matches, non-matches)",
                pairs.len()
            );
            for (b, (m, u)) in buckets {
                println!("    {b:>4}: {m:>8} {u:>8}");
            }
        }
        println!(
            "model: prior {:.4}, {} pairs, {} iterations",
            model.prior(),
            model.trained_pairs(),
            model.iterations()
        );
        for (f, l, m, u, w) in model.parameters() {
            println!("    {f:>10}.{l:<13} m {m:.5} u {u:.5} w {w:+.2}");
        }
        // Wrong links: same cluster, different persons.
        let mut by_cluster: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, &c) in labels.iter().enumerate() {
            by_cluster.entry(c).or_default().push(i);
        }
        let mut shown = 0;
        'fp: for members in by_cluster.values() {
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    if data.person[i] != data.person[j] {
                        explain_pair("wrong link", i, j, &data, &prepared, &model, &cfg);
                        shown += 1;
                        if shown >= explain {
                            break 'fp;
                        }
                        continue 'fp;
                    }
                }
            }
        }
        let mut by_person: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, &p) in data.person.iter().enumerate() {
            by_person.entry(p).or_default().push(i);
        }
        let mut shown = 0;
        let mut keys: Vec<&usize> = by_person.keys().collect();
        keys.sort();
        'fn_: for k in keys {
            let members = &by_person[k];
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    if labels[i] != labels[j] {
                        explain_pair("missed", i, j, &data, &prepared, &model, &cfg);
                        shown += 1;
                        if shown >= explain {
                            break 'fn_;
                        }
                        continue 'fn_;
                    }
                }
            }
        }
    }
}
