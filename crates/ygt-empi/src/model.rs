//! Fellegi–Sunter model: m and u probabilities per field level, the match
//! prior, scoring of patterns and their estimation by EM.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compare::{self, FIELD_NAMES, LEVELS, MAXL, NF, Pattern};
use crate::{Config, Decision, Explanation, FieldScore};

/// m probabilities are kept within [M_MIN, P_MAX], u probabilities within
/// [U_MIN, P_MAX] (among all pairs, agreement on an ID number is that rare),
/// the prior within [PRIOR_MIN, P_MAX].
pub(crate) const M_MIN: f64 = 1e-6;
pub(crate) const U_MIN: f64 = 1e-10;
pub(crate) const PRIOR_MIN: f64 = 1e-12;
pub(crate) const P_MAX: f64 = 1.0 - 1e-6;

fn clamp_to(p: f64, min: f64) -> f64 {
    if p.is_nan() { min } else { p.clamp(min, P_MAX) }
}

/// Fellegi–Sunter m/u parameters per field comparison level, estimated by EM.
///
/// `m` is the probability of a level among pairs of registrations of the
/// same person; `u` among pairs of registrations of different people, over
/// *all* pairs (not only those that share a blocking key, whose agreement on
/// the blocked fields is no evidence); the prior is the share of all pairs
/// that are one person. A level weighs `log2(m/u)`, the `missing` level of
/// every field nothing, and the total of a pair (prior included) is the log2
/// posterior odds that it is one person. Serialised by field and level names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelWire", into = "ModelWire")]
pub struct Model {
    prior: f64,
    m: [[f64; MAXL]; NF],
    u: [[f64; MAXL]; NF],
    /// Candidate pairs the model was estimated on (0 for priors).
    pairs: u64,
    /// Registrations the model was estimated on (the population its prior
    /// is for).
    records: u64,
    /// EM iterations run (0 for priors).
    iterations: u32,
    /// `log2(m/u)` per level, 0 for `missing`.
    w: [[f64; MAXL]; NF],
    /// `log2(prior / (1 - prior))`.
    prior_w: f64,
}

/// One level's parameters as serialised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LevelParams {
    pub m: f64,
    pub u: f64,
}

#[derive(Serialize, Deserialize)]
struct ModelWire {
    prior: f64,
    #[serde(default)]
    pairs: u64,
    #[serde(default)]
    records: u64,
    #[serde(default)]
    iterations: u32,
    fields: BTreeMap<String, BTreeMap<String, LevelParams>>,
}

impl From<Model> for ModelWire {
    fn from(m: Model) -> ModelWire {
        let mut fields = BTreeMap::new();
        for (f, levels) in LEVELS.iter().enumerate() {
            let mut lv = BTreeMap::new();
            for (l, name) in levels.iter().enumerate() {
                if l == usize::from(compare::missing(f)) {
                    continue;
                }
                lv.insert(
                    (*name).to_owned(),
                    LevelParams {
                        m: m.m[f][l],
                        u: m.u[f][l],
                    },
                );
            }
            fields.insert(FIELD_NAMES[f].to_owned(), lv);
        }
        ModelWire {
            prior: m.prior,
            pairs: m.pairs,
            records: m.records,
            iterations: m.iterations,
            fields,
        }
    }
}

impl TryFrom<ModelWire> for Model {
    type Error = String;
    fn try_from(w: ModelWire) -> Result<Model, String> {
        let mut model = Model::default_chinese();
        for (field, levels) in &w.fields {
            let f = FIELD_NAMES
                .iter()
                .position(|n| n == field)
                .ok_or_else(|| format!("unknown field {field}"))?;
            for (level, p) in levels {
                let l = LEVELS[f]
                    .iter()
                    .position(|n| n == level)
                    .filter(|&l| l != usize::from(compare::missing(f)))
                    .ok_or_else(|| format!("unknown level {field}.{level}"))?;
                if !(p.m.is_finite() && p.u.is_finite()) {
                    return Err(format!("{field}.{level}: m and u must be numbers"));
                }
                model.m[f][l] = p.m;
                model.u[f][l] = p.u;
            }
        }
        if !w.prior.is_finite() {
            return Err("prior must be a number".into());
        }
        model.prior = w.prior;
        model.pairs = w.pairs;
        if w.records > 0 {
            model.records = w.records;
        }
        model.iterations = w.iterations;
        model.finish();
        Ok(model)
    }
}

/// m per level, in the order of `LEVELS` (the `missing` level's values
/// are ignored): the starting values of EM and the defaults.
const DEFAULT_M: [&[f64]; NF] = [
    &[0.80, 0.03, 0.04, 0.01, 0.005],
    &[0.80, 0.08, 0.03, 0.01, 0.02, 0.01, 0.01, 0.03],
    &[0.90, 0.03, 0.01, 0.02, 0.02],
    &[0.98, 0.02],
    &[0.60, 0.40],
    &[0.50, 0.30, 0.10, 0.10],
    &[0.80, 0.02, 0.18],
];
/// u per level among candidate pairs: the starting values of EM.
const CANDIDATE_U: [&[f64]; NF] = [
    &[0.001, 0.0002, 0.002, 0.0005, 0.95],
    &[0.05, 0.02, 0.02, 0.05, 0.005, 0.01, 0.005, 0.85],
    &[0.20, 0.02, 0.002, 0.15, 0.60],
    &[0.55, 0.45],
    &[0.15, 0.85],
    &[0.05, 0.10, 0.20, 0.65],
    &[0.001, 0.002, 0.997],
];
/// The register size the default prior is for.
const DEFAULT_RECORDS: u64 = 100_000;

/// u per level among all pairs of registrations of a county (about 100,000
/// registrations): the defaults.
const POPULATION_U: [&[f64]; NF] = [
    &[1e-8, 1e-9, 2e-8, 1e-9, 1.0],
    &[1e-3, 5e-4, 5e-4, 5e-3, 1e-3, 5e-3, 1e-3, 0.99],
    &[4e-5, 1e-3, 1e-5, 0.013, 0.986],
    &[0.5, 0.5],
    &[2e-5, 1.0],
    &[2e-4, 1e-3, 0.01, 0.99],
    &[1e-8, 1e-7, 1.0],
];

fn table(rows: [&[f64]; NF]) -> [[f64; MAXL]; NF] {
    let mut t = [[0.0; MAXL]; NF];
    for (f, row) in rows.iter().enumerate() {
        for (l, v) in row.iter().enumerate() {
            if let Some(slot) = t[f].get_mut(l) {
                *slot = *v;
            }
        }
    }
    t
}

impl Model {
    fn from_tables(prior: f64, m: [[f64; MAXL]; NF], u: [[f64; MAXL]; NF]) -> Model {
        let mut model = Model {
            prior,
            m,
            u,
            pairs: 0,
            records: DEFAULT_RECORDS,
            iterations: 0,
            w: [[0.0; MAXL]; NF],
            prior_w: 0.0,
        };
        model.finish();
        model
    }

    /// Sensible priors usable before training, for a county register of
    /// about 100,000 registrations (a person has two on average).
    pub fn default_chinese() -> Model {
        Model::from_tables(1e-5, table(DEFAULT_M), table(POPULATION_U))
    }

    /// The starting point of EM over candidate pairs.
    pub(crate) fn candidate_start() -> Model {
        Model::from_tables(0.25, table(DEFAULT_M), table(CANDIDATE_U))
    }

    /// A trained model: m from EM, u and the prior over all pairs.
    pub(crate) fn trained(
        prior: f64,
        m: [[f64; MAXL]; NF],
        u: [[f64; MAXL]; NF],
        pairs: u64,
        records: u64,
        iterations: u32,
    ) -> Model {
        let mut model = Model::from_tables(prior, m, u);
        model.pairs = pairs;
        model.records = records;
        model.iterations = iterations;
        model
    }

    pub(crate) fn u_at(&self, f: usize, l: usize) -> f64 {
        self.u
            .get(f)
            .and_then(|row| row.get(l))
            .copied()
            .unwrap_or(P_MAX)
    }

    pub(crate) fn m_table(&self) -> &[[f64; MAXL]; NF] {
        &self.m
    }

    /// Posterior probability that a pattern is a match (no guard).
    pub(crate) fn posterior(&self, p: &Pattern) -> f64 {
        let mut total = self.prior_w;
        for (f, &level) in p.iter().enumerate() {
            total += self.w_of(f, level);
        }
        1.0 / (1.0 + (-total).exp2())
    }

    /// Clamps the probabilities and computes the weights.
    fn finish(&mut self) {
        self.prior = clamp_to(self.prior, PRIOR_MIN);
        self.prior_w = (self.prior / (1.0 - self.prior)).log2();
        for f in 0..NF {
            let miss = usize::from(compare::missing(f));
            for l in 0..MAXL {
                if l < miss {
                    self.m[f][l] = clamp_to(self.m[f][l], M_MIN);
                    self.u[f][l] = clamp_to(self.u[f][l], U_MIN);
                    self.w[f][l] = (self.m[f][l] / self.u[f][l]).log2();
                } else {
                    self.m[f][l] = 0.0;
                    self.u[f][l] = 0.0;
                    self.w[f][l] = 0.0;
                }
            }
        }
    }

    /// Share of all pairs of registrations that are one person.
    pub fn prior(&self) -> f64 {
        self.prior
    }

    /// Registrations the model was estimated on (for the defaults, the
    /// register size they assume).
    pub fn trained_records(&self) -> u64 {
        self.records
    }

    /// The same model for a register of `records` registrations: a person
    /// has about as many registrations whatever the size of the register, so
    /// the share of pairs that match (the prior) scales with
    /// `1 / (records - 1)`. Use it when matching online against a register
    /// that has grown (or shrunk) since training.
    pub fn for_population(&self, records: u64) -> Model {
        let mut model = self.clone();
        if self.records >= 2 && records >= 2 {
            model.prior = self.prior * (self.records - 1) as f64 / (records - 1) as f64;
            model.records = records;
            model.finish();
        }
        model
    }

    /// Candidate pairs the model was estimated on (0 for the priors).
    pub fn trained_pairs(&self) -> u64 {
        self.pairs
    }

    /// EM iterations run (0 for the priors).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// `(field, level, m, u, weight)` of every level but `missing`.
    pub fn parameters(&self) -> Vec<(&'static str, &'static str, f64, f64, f64)> {
        let mut out = Vec::new();
        for (f, levels) in LEVELS.iter().enumerate() {
            for (l, name) in levels.iter().enumerate() {
                if l != usize::from(compare::missing(f)) {
                    out.push((
                        FIELD_NAMES[f],
                        *name,
                        self.m[f][l],
                        self.u[f][l],
                        self.w[f][l],
                    ));
                }
            }
        }
        out
    }

    /// Weight of one level, `None` for an unknown field or level.
    pub fn weight(&self, field: &str, level: &str) -> Option<f64> {
        let f = FIELD_NAMES.iter().position(|n| *n == field)?;
        let l = LEVELS[f].iter().position(|n| *n == level)?;
        Some(self.w[f][l])
    }

    fn w_of(&self, f: usize, level: u8) -> f64 {
        self.w
            .get(f)
            .and_then(|row| row.get(usize::from(level)))
            .copied()
            .unwrap_or(0.0)
    }

    /// Total weight (prior included), whether the household guard fired,
    /// and the decision.
    pub(crate) fn evaluate(&self, p: &Pattern, cfg: &Config) -> (f64, bool, Decision) {
        let guard = cfg.household_guard && compare::household_guard(p);
        let mut total = self.prior_w;
        for (f, &level) in p.iter().enumerate() {
            let mut w = self.w_of(f, level);
            if guard && (f == compare::F_PHONE || f == compare::F_ADDRESS) {
                w = w.min(0.0);
            }
            total += w;
        }
        let mut decision = if total >= cfg.link_threshold {
            Decision::Link
        } else if total >= cfg.review_threshold {
            Decision::Review
        } else {
            Decision::NoLink
        };
        if guard && decision == Decision::Link {
            decision = Decision::Review;
        }
        (total, guard, decision)
    }

    pub(crate) fn explain(&self, p: &Pattern, cfg: &Config) -> Explanation {
        let (total, guard, decision) = self.evaluate(p, cfg);
        let mut fields = Vec::with_capacity(NF + 1);
        fields.push(FieldScore {
            field: "prior",
            level: "match_prior",
            weight: self.prior_w,
        });
        for (f, &level) in p.iter().enumerate() {
            let mut w = self.w_of(f, level);
            if guard && (f == compare::F_PHONE || f == compare::F_ADDRESS) {
                w = w.min(0.0);
            }
            fields.push(FieldScore {
                field: FIELD_NAMES[f],
                level: LEVELS[f]
                    .get(usize::from(level))
                    .copied()
                    .unwrap_or("missing"),
                weight: w,
            });
        }
        Explanation {
            total,
            decision,
            fields,
            guard: guard.then_some("household"),
        }
    }
}

/// EM over a histogram of comparison patterns (sorted by pattern, so that
/// the result does not depend on the order of the input). Starts from
/// `start`, which also serves as a weak Dirichlet prior of
/// `cfg.em_prior_strength` pseudo-pairs per class.
pub(crate) fn em(hist: &[(Pattern, u64)], start: &Model, cfg: &Config) -> Model {
    let total: f64 = hist.iter().map(|(_, n)| *n as f64).sum();
    let mut model = start.clone();
    model.pairs = hist.iter().map(|(_, n)| *n).sum();
    if total < 1.0 {
        return model;
    }
    let alpha = cfg.em_prior_strength.max(0.0);
    // Normalised starting distributions, the Dirichlet prior's means.
    let mut m0 = [[0.0; MAXL]; NF];
    let mut u0 = [[0.0; MAXL]; NF];
    for f in 0..NF {
        let miss = usize::from(compare::missing(f));
        let sm: f64 = start.m[f][..miss].iter().sum();
        let su: f64 = start.u[f][..miss].iter().sum();
        for l in 0..miss {
            m0[f][l] = start.m[f][l] / sm.max(M_MIN);
            u0[f][l] = start.u[f][l] / su.max(M_MIN);
        }
    }
    let prior0 = start.prior;
    let mut iterations = 0;
    for _ in 0..cfg.em_max_iterations {
        iterations += 1;
        let mut cm = [[0.0; MAXL]; NF];
        let mut cu = [[0.0; MAXL]; NF];
        let mut matches = 0.0;
        let ln_prior = model.prior.ln();
        let ln_not = (1.0 - model.prior).ln();
        for (p, n) in hist {
            let n = *n as f64;
            let mut lm = ln_prior;
            let mut lu = ln_not;
            for (f, &level) in p.iter().enumerate() {
                let l = usize::from(level);
                if level < compare::missing(f) {
                    lm += model.m[f][l].ln();
                    lu += model.u[f][l].ln();
                }
            }
            let g = 1.0 / (1.0 + (lu - lm).exp());
            matches += n * g;
            for (f, &level) in p.iter().enumerate() {
                let l = usize::from(level);
                if level < compare::missing(f) {
                    cm[f][l] += n * g;
                    cu[f][l] += n * (1.0 - g);
                }
            }
        }
        let mut change: f64 = 0.0;
        let new_prior = clamp_to((matches + alpha * prior0) / (total + alpha), PRIOR_MIN);
        change = change.max((new_prior - model.prior).abs());
        model.prior = new_prior;
        for f in 0..NF {
            let miss = usize::from(compare::missing(f));
            let sm: f64 = cm[f][..miss].iter().sum();
            let su: f64 = cu[f][..miss].iter().sum();
            for l in 0..miss {
                let m = clamp_to((cm[f][l] + alpha * m0[f][l]) / (sm + alpha), M_MIN);
                let u = clamp_to((cu[f][l] + alpha * u0[f][l]) / (su + alpha), M_MIN);
                change = change.max((m - model.m[f][l]).abs());
                change = change.max((u - model.u[f][l]).abs());
                model.m[f][l] = m;
                model.u[f][l] = u;
            }
        }
        if change < cfg.em_tolerance {
            break;
        }
    }
    model.iterations = iterations;
    model.finish();
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{F_BIRTH, F_ID, F_NAME, birth, id, name};

    /// A deterministic generator for the synthetic mixture.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn pick(&mut self, probs: &[f64]) -> u8 {
            let mut x = self.next();
            for (i, p) in probs.iter().enumerate() {
                if x < *p {
                    return u8::try_from(i).unwrap_or(0);
                }
                x -= p;
            }
            u8::try_from(probs.len() - 1).unwrap_or(0)
        }
    }

    #[test]
    fn em_recovers_a_synthetic_mixture() {
        // True parameters: only id_number, name and birth date vary, 30 % matches.
        let true_m_id = [0.7, 0.05, 0.1, 0.05, 0.05];
        let true_u_id = [0.0005, 0.0005, 0.002, 0.0005, 0.997];
        let true_m_name = [0.75, 0.1, 0.05, 0.03, 0.0, 0.0, 0.0, 0.07];
        let true_u_name = [0.05, 0.02, 0.03, 0.1, 0.0, 0.0, 0.0, 0.8];
        let true_m_birth = [0.85, 0.05, 0.02, 0.03, 0.05];
        let true_u_birth = [0.3, 0.05, 0.01, 0.2, 0.44];
        let mut rng = Lcg(7);
        let mut counts: BTreeMap<Pattern, u64> = BTreeMap::new();
        for _ in 0..200_000 {
            let is_match = rng.next() < 0.3;
            let mut p: Pattern = std::array::from_fn(compare::missing);
            if is_match {
                p[F_ID] = rng.pick(&true_m_id);
                p[F_NAME] = rng.pick(&true_m_name);
                p[F_BIRTH] = rng.pick(&true_m_birth);
            } else {
                p[F_ID] = rng.pick(&true_u_id);
                p[F_NAME] = rng.pick(&true_u_name);
                p[F_BIRTH] = rng.pick(&true_u_birth);
            }
            *counts.entry(p).or_default() += 1;
        }
        let hist: Vec<(Pattern, u64)> = counts.into_iter().collect();
        let cfg = Config::default();
        let model = em(&hist, &Model::candidate_start(), &cfg);
        assert!((model.prior - 0.3).abs() < 0.02, "prior {}", model.prior);
        assert!((model.m[F_ID][usize::from(id::EXACT)] - 0.7).abs() < 0.03);
        assert!((model.u[F_ID][usize::from(id::DIFFERENT)] - 0.997).abs() < 0.01);
        assert!((model.m[F_NAME][usize::from(name::EXACT)] - 0.75).abs() < 0.05);
        assert!((model.u[F_NAME][usize::from(name::DIFFERENT)] - 0.8).abs() < 0.05);
        assert!((model.m[F_BIRTH][usize::from(birth::EXACT)] - 0.85).abs() < 0.03);
        assert!((model.u[F_BIRTH][usize::from(birth::EXACT)] - 0.3).abs() < 0.03);
        assert!(model.iterations > 1);
        assert!(model.weight("id_number", "exact").unwrap_or(0.0) > 8.0);
        assert!(model.weight("id_number", "different").unwrap_or(0.0) < -3.0);
    }

    #[test]
    fn em_is_deterministic_and_handles_no_data() {
        let cfg = Config::default();
        let start = Model::candidate_start();
        let empty = em(&[], &start, &cfg);
        assert_eq!(empty.prior, start.prior);
        let p: Pattern = [0, 0, 0, 0, 0, 0, 0];
        let q: Pattern = [4, 6, 4, 1, 1, 3, 2];
        let a = em(&[(p, 10), (q, 90)], &start, &cfg);
        let b = em(&[(p, 10), (q, 90)], &start, &cfg);
        assert_eq!(a, b);
        assert!(a.prior > 0.0 && a.prior < 1.0);
    }

    #[test]
    fn serde_roundtrip_by_names() {
        let model = Model::default_chinese();
        let json = serde_json::to_string(&model).unwrap_or_default();
        assert!(json.contains("\"id_number\"") && json.contains("\"homophone\""));
        let back: Model = serde_json::from_str(&json).unwrap_or_else(|_| Model::default_chinese());
        assert_eq!(back, model);
        let bigger = model.for_population(1_000_000);
        assert!((bigger.prior() * 10.0 - model.prior()).abs() / model.prior() < 1e-3);
        assert_eq!(bigger.trained_records(), 1_000_000);
        let bad = json.replace("\"homophone\"", "\"nonsense\"");
        assert!(serde_json::from_str::<Model>(&bad).is_err());
    }
}
