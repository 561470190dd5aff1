//! Estimating the model from the registrations themselves.
//!
//! EM over the candidate pairs (those that share a blocking key) estimates
//! m, u among candidates and the share of matches among them. Candidate pairs
//! agree on some field by construction (a birth date, a phone number, ...),
//! so u among candidates understates how rare such agreement is between two
//! people: two registrations with the same name *and* the same birth date are
//! rarely two people, yet among candidates each agreement alone is common.
//! The weights therefore use u among *all* pairs of different people: the
//! non-matching part of the candidate pairs (by their EM posterior) plus the
//! pairs that share no key (all enumerated for small inputs, a deterministic
//! sample otherwise). The prior becomes the share of all pairs that match.
//! The result does not depend on the order of the input.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::blocking::Blocks;
use crate::compare::{self, MAXL, NF, Pattern, compare};
use crate::model::{self, Model};
use crate::parallel;
use crate::prepare::Prepared;
use crate::{Config, histogram};

type Counts = [[u64; MAXL]; NF];

fn add_pattern(counts: &mut Counts, p: &Pattern) {
    for (f, &level) in p.iter().enumerate() {
        if level < compare::missing(f)
            && let Some(c) = counts
                .get_mut(f)
                .and_then(|row| row.get_mut(usize::from(level)))
        {
            *c += 1;
        }
    }
}

/// SplitMix64 step.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Indices of the registrations sorted by record id: an order that does
/// not depend on the order of the input (record ids are unique in a file).
pub(crate) fn canonical_order(regs: &[Prepared]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..regs.len())
        .filter_map(|i| u32::try_from(i).ok())
        .collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&regs[a as usize], &regs[b as usize]);
        (pa.record_id.as_str(), a).cmp(&(pb.record_id.as_str(), b))
    });
    order
}

/// Level counts over pairs that are not candidates: every such pair when
/// there are at most `budget` pairs, else `budget` pairs drawn with a fixed
/// seed over the registrations sorted by record id. Returns the counts and
/// the number of non-candidate pairs looked at.
fn non_candidate_counts(regs: &[Prepared], blocks: &Blocks, budget: usize) -> (Counts, u64) {
    let n = regs.len();
    let order = canonical_order(regs);
    let total_pairs = (n as u128) * (n.saturating_sub(1) as u128) / 2;
    let exhaustive = total_pairs <= budget as u128;
    const CHUNK: usize = 1 << 14;
    let chunks = if exhaustive {
        n
    } else {
        budget.div_ceil(CHUNK)
    };
    let next = AtomicUsize::new(0);
    let parts = parallel::run(|| {
        let mut counts: Counts = [[0; MAXL]; NF];
        let mut seen = 0u64;
        let mut look = |i: u32, j: u32, counts: &mut Counts| {
            if i == j || blocks.shares_key(i, j) {
                return;
            }
            if let (Some(a), Some(b)) = (regs.get(i as usize), regs.get(j as usize)) {
                add_pattern(counts, &compare(a, b));
                seen += 1;
            }
        };
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                break;
            }
            if exhaustive {
                let i = order[c];
                for &j in &order[c + 1..] {
                    look(i, j, &mut counts);
                }
            } else {
                let mut state = 0x5EED_0000_0000_0000u64 ^ c as u64;
                for _ in 0..CHUNK {
                    let x = (splitmix(&mut state) % n as u64) as usize;
                    let y = (splitmix(&mut state) % n as u64) as usize;
                    look(order[x], order[y], &mut counts);
                }
            }
        }
        (counts, seen)
    });
    let mut counts: Counts = [[0; MAXL]; NF];
    let mut seen = 0;
    for (c, s) in parts {
        for f in 0..NF {
            for l in 0..MAXL {
                counts[f][l] += c[f][l];
            }
        }
        seen += s;
    }
    (counts, seen)
}

/// The model of a set of registrations from their candidate pairs (see the
/// module documentation).
pub(crate) fn estimate(
    regs: &[Prepared],
    blocks: &Blocks,
    pairs: &[(u32, u32, Pattern)],
    cfg: &Config,
) -> Model {
    let n = regs.len() as f64;
    let total_pairs = n * (n - 1.0) / 2.0;
    if total_pairs < 1.0 {
        return Model::default_chinese();
    }
    let hist = histogram(pairs);
    let candidate_model = model::em(&hist, &Model::candidate_start(), cfg);
    let mut non_match = [[0.0f64; MAXL]; NF];
    let mut matches = 0.0;
    for (p, count) in &hist {
        let count = *count as f64;
        let g = candidate_model.posterior(p);
        matches += count * g;
        for (f, &level) in p.iter().enumerate() {
            if level < compare::missing(f) {
                non_match[f][usize::from(level)] += count * (1.0 - g);
            }
        }
    }
    let (counts, seen) = non_candidate_counts(regs, blocks, cfg.u_sample_pairs);
    let non_candidates = (total_pairs - pairs.len() as f64).max(0.0);
    let scale = if seen > 0 {
        non_candidates / seen as f64
    } else {
        0.0
    };
    let fallback = Model::default_chinese();
    let mut u = [[0.0f64; MAXL]; NF];
    for f in 0..NF {
        let miss = usize::from(compare::missing(f));
        for l in 0..miss {
            non_match[f][l] += counts[f][l] as f64 * scale;
        }
        let sum: f64 = non_match[f][..miss].iter().sum();
        for l in 0..miss {
            u[f][l] = if sum > 0.0 {
                non_match[f][l] / sum
            } else {
                fallback.u_at(f, l)
            };
        }
    }
    Model::trained(
        matches / total_pairs,
        *candidate_model.m_table(),
        u,
        pairs.len() as u64,
        regs.len() as u64,
        candidate_model.iterations(),
    )
}
