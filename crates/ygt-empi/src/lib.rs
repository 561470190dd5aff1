//! ygt-empi: the record-linkage engine of the master patient index. Pure: no
//! IO, no database.
//!
//! A registration (source record) is [`prepare`]d once: names normalised
//! (full-width to half-width, spaces, variant characters) and read in pinyin
//! with every reading of each character (surname readings for the surname),
//! ID numbers parsed per GB 11643 (15-digit numbers converted; a valid number
//! also gives birth date and sex), phone digits, address bigrams.
//!
//! [`blocking_keys`] gives the strings two registrations of one person are
//! likely to share; pairs sharing one (candidate pairs) are compared field by
//! field and weighed with a Fellegi–Sunter [`Model`] ([`score`]). [`train`]
//! estimates the model from the data: EM over the candidate pairs gives m and
//! the matches among them, u and the prior are then taken over all pairs
//! (candidate pairs agree on a blocked field by construction, which is no
//! evidence). A household guard keeps a shared phone or address from linking
//! parents, children, siblings and twins.
//!
//! [`link_batch`] links a whole file on all cores: blocking, comparison,
//! estimation, and clustering (strongest links first) that refuses merges
//! contradicting a cluster's valid ID numbers, birth dates or sex, or a "not
//! the same person" decision ([`link_batch_with`]).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod blocking;
mod cluster;
mod compare;
mod estimate;
mod model;
mod normalize;
mod parallel;
mod prepare;
mod readings;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use blocking::{blocking_hashes, blocking_keys, candidate_pairs};
pub use model::{LevelParams, Model};
pub use prepare::{Prepared, prepare};
pub use ygt_domain::ident::Sex;

time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// One registration (source record) as it came from an institution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Registration {
    pub record_id: String,
    pub institution: String,
    /// Chinese characters usually; Latin names work too.
    pub name: String,
    pub sex: Option<Sex>,
    /// `YYYY-MM-DD` when serialised.
    #[serde(with = "ymd::option")]
    pub birth_date: Option<time::Date>,
    /// Raw text as typed: 18 or 15 digits, lowercase x, typos, or garbage.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// E.g. insurance number, health card number.
    pub other_ids: Vec<String>,
}

/// Thresholds and knobs. Thresholds apply to the total weight of a pair: the
/// log2 posterior odds that the two registrations are one person (prior
/// included), so 10 means odds of about 1000 to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Link automatically at or above this total weight.
    pub link_threshold: f64,
    /// Propose for review at or above this total weight (below: no link).
    pub review_threshold: f64,
    /// Blocks (registrations sharing a key) larger than this are skipped:
    /// a key shared by that many registrations does not tell people apart.
    pub max_block_size: usize,
    /// EM stops after this many iterations...
    pub em_max_iterations: u32,
    /// ... or when no probability moves by more than this.
    pub em_tolerance: f64,
    /// Weight of the starting model in EM, in pseudo-pairs per class: keeps
    /// levels that are rare in the data near their prior.
    pub em_prior_strength: f64,
    /// Pairs that share no blocking key looked at to estimate u over all
    /// pairs (all of them when there are fewer).
    pub u_sample_pairs: usize,
    /// The household guard (on by default): a shared phone or address does
    /// not count when the names differ, and such a pair is at most proposed
    /// for review. Off only for data without households, such as FEBRL,
    /// where a replaced given name is a corruption, not a sibling.
    pub household_guard: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            link_threshold: 6.0,
            review_threshold: 0.0,
            max_block_size: 100,
            em_max_iterations: 200,
            em_tolerance: 1e-7,
            em_prior_strength: 20.0,
            u_sample_pairs: 500_000,
            household_guard: true,
        }
    }
}

/// What to do with a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Link,
    Review,
    NoLink,
}

/// One field's comparison level and its weight (log2 m/u).
#[derive(Debug, Clone, Serialize)]
pub struct FieldScore {
    pub field: &'static str,
    pub level: &'static str,
    pub weight: f64,
}

/// Why a pair scored as it did: the prior (field `"prior"`), every field's
/// level and weight, the total, the decision and the guard that fired.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub total: f64,
    pub decision: Decision,
    pub fields: Vec<FieldScore>,
    /// `Some("household")` when a shared phone or address was discounted
    /// because birth date or name differ (the decision is then at most
    /// `Review`).
    pub guard: Option<&'static str>,
}

/// Compares two registrations and scores them with the model: every field's
/// level and weight, the household guard, the total and the decision
/// (thresholds from `cfg`). Symmetric.
pub fn score(a: &Prepared, b: &Prepared, model: &Model, cfg: &Config) -> Explanation {
    model.explain(&compare::compare(a, b), cfg)
}

/// Histogram of patterns, sorted by pattern.
pub(crate) fn histogram(pairs: &[(u32, u32, compare::Pattern)]) -> Vec<(compare::Pattern, u64)> {
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for (_, _, p) in pairs {
        *counts.entry(compare::pack(p)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, n)| (compare::unpack(k), n))
        .collect()
}

/// Estimates m/u from the data itself: EM over the candidate pairs of the
/// given registrations gives m and the matches among them; u and the prior
/// are then taken over all pairs (the non-matching candidates plus the pairs
/// that share no blocking key). Independent of the order of `regs`.
pub fn train(regs: &[Prepared], cfg: &Config) -> Model {
    let blocks = blocking::Blocks::build(regs, cfg.max_block_size);
    let pairs = blocks.compare_all(regs, &|_| {});
    estimate::estimate(regs, &blocks, &pairs, cfg)
}

/// Links a whole file: returns for each input registration the index of its
/// cluster (records of one person share the cluster index; clusters
/// numbered from 0 in order of first appearance). Trains the model on the
/// file (EM), then links. Uses all cores; `progress(done, total)` is called
/// now and then.
pub fn link_batch(
    regs: &[Registration],
    cfg: &Config,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Vec<usize> {
    link_batch_with(regs, cfg, &[], progress)
}

/// [`link_batch`] with a "not the same person" memory: the registrations of
/// each `cannot_link` pair (indices into `regs`) never share a cluster.
pub fn link_batch_with(
    regs: &[Registration],
    cfg: &Config,
    cannot_link: &[(usize, usize)],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Vec<usize> {
    let n = regs.len() as u64;
    let total = (4 * n).max(1);
    progress(0, total);
    let prepared = parallel::map(regs, prepare);
    progress(n, total);
    let labels = link_inner(&prepared, None, cfg, cannot_link, &|done| {
        progress(n + done, total);
    });
    progress(total, total);
    labels
}

/// Links prepared registrations with a given model (or, with `None`, one
/// trained on them), honouring `cannot_link`; same result shape as
/// [`link_batch`].
pub fn link_prepared(
    regs: &[Prepared],
    model: Option<&Model>,
    cfg: &Config,
    cannot_link: &[(usize, usize)],
) -> Vec<usize> {
    link_inner(regs, model, cfg, cannot_link, &|_| {})
}

/// Blocking, comparison, EM (unless a model is given) and constrained
/// clustering. `progress(done)` runs from 0 to 3 × the number of records.
fn link_inner(
    regs: &[Prepared],
    model: Option<&Model>,
    cfg: &Config,
    cannot_link: &[(usize, usize)],
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<usize> {
    let n = regs.len() as u64;
    let blocks = blocking::Blocks::build(regs, cfg.max_block_size);
    progress(n);
    let pairs = blocks.compare_all(regs, &|done| {
        progress(n + (done as u64).min(n));
    });
    let trained;
    let model = match model {
        Some(m) => m,
        None => {
            trained = estimate::estimate(regs, &blocks, &pairs, cfg);
            &trained
        }
    };
    drop(blocks);
    // Score each distinct pattern once.
    let mut verdicts: BTreeMap<u32, (f64, Decision)> = BTreeMap::new();
    for (_, _, p) in &pairs {
        verdicts.entry(compare::pack(p)).or_insert_with(|| {
            let (total, _, decision) = model.evaluate(p, cfg);
            (total, decision)
        });
    }
    let mut links: Vec<(f64, u32, u32, bool)> = pairs
        .iter()
        .filter_map(|(i, j, p)| match verdicts.get(&compare::pack(p)) {
            Some(&(total, Decision::Link)) => Some((total, *i, *j, compare::identified(p))),
            _ => None,
        })
        .collect();
    drop(pairs);
    // Strongest links first; ties broken by record ids, so that the result
    // does not depend on the order of the input.
    let mut rank = vec![0u32; regs.len()];
    for (r, &i) in estimate::canonical_order(regs).iter().enumerate() {
        if let Some(slot) = rank.get_mut(i as usize) {
            *slot = u32::try_from(r).unwrap_or(u32::MAX);
        }
    }
    let key = |i: u32, j: u32| {
        let (a, b) = (rank[i as usize], rank[j as usize]);
        (a.min(b), a.max(b))
    };
    links.sort_unstable_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| key(a.1, a.2).cmp(&key(b.1, b.2)))
    });
    progress(2 * n + n / 2);
    let mut clusters = cluster::Clusters::new(regs, cannot_link);
    for (_, i, j, identified) in &links {
        clusters.union(*i, *j, *identified);
    }
    let labels = clusters.labels();
    progress(3 * n);
    labels
}

/// Pinyin of a Chinese text, for checks that look for it inside other text (the password
/// policy): its spellings (each character's readings, the most common first, syllables
/// concatenated, `ü` as `v`; at most `cap`) and its initials (the first letter of each
/// character's most common reading). Characters without pinyin are left out, so a text
/// without Chinese characters has neither.
pub fn pinyin_of(text: &str, cap: usize) -> (Vec<String>, String) {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !readings::readings(*c).is_empty())
        .collect();
    if chars.is_empty() {
        return (Vec::new(), String::new());
    }
    let rs: Vec<Vec<&'static str>> = chars.iter().map(|c| readings::readings(*c)).collect();
    let initials = rs
        .iter()
        .filter_map(|r| r.first().and_then(|s| s.chars().next()))
        .map(|c| if c == 'ü' { 'v' } else { c })
        .collect();
    (readings::spellings(&chars, &rs, cap.max(1)), initials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn pinyin_of_texts() {
        let (sp, ini) = pinyin_of("云溪", 4);
        // The most common reading first; 溪 is also read qi.
        assert_eq!(sp.first().map(String::as_str), Some("yunxi"), "{sp:?}");
        assert_eq!(ini, "yx");
        let (sp, ini) = pinyin_of("柳河镇卫生院", 4);
        assert!(sp.iter().any(|s| s == "liuhezhenweishengyuan"), "{sp:?}");
        assert_eq!(ini, "lhzwsy");
        // Latin letters and digits have no pinyin.
        assert_eq!(pinyin_of("ygt 2026", 4), (Vec::new(), String::new()));
        let (sp, _) = pinyin_of("银行", 8);
        assert!(sp.len() >= 2 && sp.len() <= 8, "{sp:?}");
    }

    fn reg(id: &str, name: &str) -> Registration {
        Registration {
            record_id: id.into(),
            institution: "h".into(),
            name: name.into(),
            ..Registration::default()
        }
    }

    #[test]
    fn registration_serde_uses_iso_dates() {
        let r = Registration {
            birth_date: Some(date!(1965 - 03 - 12)),
            sex: Some(Sex::Female),
            ..reg("1", "王秀英")
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"1965-03-12\""), "{json}");
        assert!(json.contains("\"sex\":\"2\""), "{json}");
        let back: Registration = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let partial: Registration =
            serde_json::from_str(r#"{"record_id":"x","name":"李"}"#).unwrap();
        assert_eq!(partial.record_id, "x");
    }

    #[test]
    fn score_explains_every_field() {
        let a = prepare(&Registration {
            id_number: Some("11010519491231002X".into()),
            phone: Some("13800138000".into()),
            ..reg("1", "王秀英")
        });
        let b = prepare(&Registration {
            id_number: Some("11010519491231002x".into()),
            ..reg("2", "王秀瑛")
        });
        let e = score(&a, &b, &Model::default_chinese(), &Config::default());
        assert_eq!(e.decision, Decision::Link);
        assert_eq!(e.fields.len(), 8);
        assert_eq!(e.fields[0].field, "prior");
        let level = |f: &str| e.fields.iter().find(|s| s.field == f).map(|s| s.level);
        assert_eq!(level("id_number"), Some("exact"));
        assert_eq!(level("name"), Some("homophone"));
        assert_eq!(level("birth_date"), Some("exact"));
        assert_eq!(level("phone"), Some("missing"));
        let sum: f64 = e.fields.iter().map(|f| f.weight).sum();
        assert!((sum - e.total).abs() < 1e-9);
        assert!(e.guard.is_none());
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"decision\":\"link\""));
    }

    #[test]
    fn guard_discounts_a_shared_household() {
        let parent = prepare(&Registration {
            birth_date: Some(date!(1962 - 04 - 01)),
            sex: Some(Sex::Male),
            phone: Some("13800138000".into()),
            address: Some("柳河镇张庄村三组15号".into()),
            ..reg("1", "张建国")
        });
        let child = prepare(&Registration {
            birth_date: Some(date!(1988 - 09 - 12)),
            sex: Some(Sex::Male),
            phone: Some("13800138000".into()),
            address: Some("柳河镇张庄村三组15号".into()),
            ..reg("2", "张伟")
        });
        let e = score(
            &parent,
            &child,
            &Model::default_chinese(),
            &Config::default(),
        );
        assert_eq!(e.guard, Some("household"));
        assert_eq!(e.decision, Decision::NoLink);
        assert!(
            e.fields
                .iter()
                .filter(|f| f.field == "phone" || f.field == "address")
                .all(|f| f.weight <= 0.0)
        );
    }

    #[test]
    fn link_batch_small() {
        let regs = vec![
            Registration {
                id_number: Some("11010519491231002X".into()),
                ..reg("a1", "王秀英")
            },
            Registration {
                id_number: Some("440524188001010014".into()),
                ..reg("b1", "李明")
            },
            Registration {
                id_number: Some("11010519491231002x".into()),
                ..reg("a2", "王秀瑛")
            },
            Registration {
                id_number: Some("440524188001010014".into()),
                ..reg("b2", "李明")
            },
        ];
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let labels = link_batch(&regs, &Config::default(), &|d, t| {
            assert!(d <= t);
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(labels, vec![0, 1, 0, 1]);
        assert!(calls.load(std::sync::atomic::Ordering::Relaxed) >= 2);
        let apart = link_batch_with(&regs, &Config::default(), &[(0, 2)], &|_, _| {});
        assert_eq!(apart, vec![0, 1, 2, 1]);
        assert!(link_batch(&[], &Config::default(), &|_, _| {}).is_empty());
    }
}
