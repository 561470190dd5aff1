//! Deterministic, dependency-free pseudo-random number generator for the
//! synthetic-data generator.
//!
//! The demo county must be identical for a given seed *forever*, so the output
//! of everything in this module is frozen: xoshiro256** seeded through
//! SplitMix64, integer helpers built only on integer arithmetic, and
//! floating-point helpers built only on IEEE-754 basic operations (`+ - * /`
//! and `sqrt`, which are correctly rounded on every platform). In particular
//! [`Rng::normal`] does **not** use `f64::ln`/`f64::cos`, whose precision is
//! platform- and version-dependent; it uses the portable approximations at
//! the bottom of this file.
//!
//! Any change to the values produced here is a breaking change to every
//! generated data set; the pinned tests at the end of the file exist to catch
//! that.

/// Increment of the SplitMix64 generator (the 64-bit golden ratio).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 output function: a strong 64-bit bijective mixer.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One SplitMix64 step: advances `state` and returns the next output.
const fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(GOLDEN_GAMMA);
    mix64(*state)
}

/// A small, fast, deterministic PRNG (xoshiro256** seeded via SplitMix64).
///
/// Not cryptographically secure; intended only for reproducible synthetic
/// data. `Clone` is provided for snapshots, but prefer [`Rng::fork`] to derive
/// independent streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Creates a generator from a 64-bit seed (the four state words are the
    /// first four SplitMix64 outputs for `seed`, as recommended by the
    /// xoshiro authors; the state can therefore never be all zero).
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s0 = splitmix64(&mut sm);
        let s1 = splitmix64(&mut sm);
        let s2 = splitmix64(&mut sm);
        let s3 = splitmix64(&mut sm);
        Self {
            s: [s0, s1, s2, s3],
        }
    }

    /// Derives an independent child generator identified by `stream`.
    ///
    /// The child depends only on the parent's *current* state and on
    /// `stream`; the parent is **not** advanced. So
    /// `let mut people = root.fork(1); let mut places = root.fork(2);` keeps
    /// producing the same two streams even if another `root.fork(3)` is added
    /// later, in any position. Forking the same parent state with the same
    /// `stream` twice yields identical children; use distinct stream ids for
    /// distinct kinds of data.
    #[must_use]
    pub fn fork(&mut self, stream: u64) -> Rng {
        // Hash (state, stream) into a fresh seed. Each step is a bijective mix,
        // chained so every state word and the stream id affect every seed bit.
        let mut h = mix64(stream ^ 0x6A09_E667_F3BC_C908);
        for w in self.s {
            h = mix64(h.wrapping_add(GOLDEN_GAMMA) ^ w);
        }
        Rng::new(h)
    }

    /// Returns the next 64 uniformly distributed bits (xoshiro256**).
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s1 << 17;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        let s2 = s2 ^ t;
        let s3 = s3.rotate_left(45);
        self.s = [s0, s1, s2, s3];
        result
    }

    /// Returns a uniformly distributed integer in `0..n`, without modulo bias
    /// (Lemire's multiply-and-reject method). Returns `0` for `n == 0`
    /// without consuming randomness.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        let mut low = m as u64;
        if low < n {
            // 2^64 mod n: values of `low` below this threshold are rejected.
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// Returns a uniformly distributed integer in `lo..=hi_inclusive`.
    /// If `hi_inclusive < lo`, returns `lo` without consuming randomness.
    pub fn range(&mut self, lo: i64, hi_inclusive: i64) -> i64 {
        if hi_inclusive < lo {
            return lo;
        }
        // Width minus one always fits in u64 (at most 2^64 - 1).
        let span_minus_one = (i128::from(hi_inclusive) - i128::from(lo)) as u64;
        let offset = match span_minus_one.checked_add(1) {
            Some(span) => self.below(span),
            None => self.next_u64(), // the full i64 range
        };
        (i128::from(lo) + i128::from(offset)) as i64
    }

    /// Returns `true` with probability `p` (clamped to `[0, 1]`; NaN counts
    /// as 0). Always consumes exactly one `u64`, whatever `p` is, so tweaking
    /// a probability never shifts the rest of the stream.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Returns a uniformly distributed `f64` in `[0, 1)` with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        // 2^-53
        const SCALE: f64 = 1.0 / 9_007_199_254_740_992.0;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// Returns a uniformly chosen element, or `None` for an empty slice
    /// (without consuming randomness).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let i = self.below(items.len() as u64) as usize;
        items.get(i)
    }

    /// Returns an index into `weights`, chosen with probability proportional
    /// to its weight (zero-weight entries are never chosen).
    ///
    /// If every weight is zero, the index is chosen uniformly instead; for an
    /// empty slice, returns `0` without consuming randomness (callers must
    /// not index an empty slice with it).
    pub fn weighted_index(&mut self, weights: &[u32]) -> usize {
        if weights.is_empty() {
            return 0;
        }
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return self.below(weights.len() as u64) as usize;
        }
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            let w = u64::from(w);
            if r < w {
                return i;
            }
            r -= w;
        }
        // Unreachable because r < total; fall back to the last index.
        weights.len() - 1
    }

    /// Shuffles `v` in place, uniformly (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }

    /// Returns a normally distributed sample with the given mean and standard
    /// deviation (Box–Muller, cosine branch only; consumes exactly two
    /// `u64`s). Bit-for-bit reproducible on every platform.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // u1 in (0, 1] so that ln(u1) is finite; u2 in [0, 1).
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        let z = (-2.0 * portable_ln(u1)).sqrt() * portable_cos_turns(u2);
        mean + sd * z
    }

    /// Builds a generator from raw state (for reference test vectors).
    #[cfg(test)]
    const fn from_state(s: [u64; 4]) -> Self {
        Self { s }
    }
}

/// Natural logarithm using only basic IEEE-754 arithmetic, so that its result
/// is identical on every platform. Accurate to a few ulps for positive normal
/// and subnormal inputs. Returns `-inf` for `0`, NaN for negative or NaN
/// input, and `+inf` for `+inf`.
fn portable_ln(x: f64) -> f64 {
    const LN_2: f64 = std::f64::consts::LN_2;
    const SQRT_2: f64 = std::f64::consts::SQRT_2;
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    // Scale subnormals into the normal range (exact: power-of-two factor).
    let (x, mut e) = if x < f64::MIN_POSITIVE {
        (x * 18_014_398_509_481_984.0, -54_i64) // 2^54
    } else {
        (x, 0_i64)
    };
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7FF) as i64 - 1023;
    // Mantissa m in [1, 2) (exact bit manipulation).
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    if m > SQRT_2 {
        m *= 0.5; // exact
        e += 1;
    }
    // m in [sqrt(2)/2, sqrt(2)]: ln(m) = 2 atanh(s), |s| <= 0.1716.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 2 * (s + s^3/3 + ... + s^23/23); truncation error < 1e-19.
    let mut poly = 1.0 / 23.0;
    let mut k = 21.0;
    while k > 0.0 {
        poly = poly * s2 + 1.0 / k;
        k -= 2.0;
    }
    (e as f64) * LN_2 + 2.0 * s * poly
}

/// `cos(2π·t)` using only basic IEEE-754 arithmetic (identical on every
/// platform). `t` is in turns; intended for `t` in `[0, 1)` but accepts any
/// finite value of moderate size.
fn portable_cos_turns(t: f64) -> f64 {
    use std::f64::consts::TAU;
    // Reduce to r in [-0.5, 0.5]; cos is even, so work with a = |r|.
    let r = t - t.round();
    let a = r.abs();
    // cos(2πa) = -cos(2π(0.5 - a)) folds a into [0, 0.25].
    let (a, sign) = if a > 0.25 { (0.5 - a, -1.0) } else { (a, 1.0) };
    let v = if a <= 0.125 {
        cos_poly(TAU * a)
    } else {
        // cos(2πa) = sin(2π(0.25 - a)), argument in [0, π/4].
        sin_poly(TAU * (0.25 - a))
    };
    sign * v
}

/// Taylor polynomial for `cos(x)`, `|x| <= π/4` (error < 1e-18).
fn cos_poly(x: f64) -> f64 {
    let x2 = x * x;
    // Horner over 1 - x²/2! + x⁴/4! - ... ± x^20/20!.
    let mut acc = 1.0;
    let mut n = 20.0;
    while n > 0.0 {
        acc = 1.0 - x2 / (n * (n - 1.0)) * acc;
        n -= 2.0;
    }
    acc
}

/// Taylor polynomial for `sin(x)`, `|x| <= π/4` (error < 1e-18).
fn sin_poly(x: f64) -> f64 {
    let x2 = x * x;
    // Horner over x - x³/3! + x⁵/5! - ... ± x^21/21!.
    let mut acc = 1.0;
    let mut n = 21.0;
    while n > 1.0 {
        acc = 1.0 - x2 / (n * (n - 1.0)) * acc;
        n -= 2.0;
    }
    x * acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(8);
        let mut a = Rng::new(7);
        let differ = (0..16).filter(|_| a.next_u64() != c.next_u64()).count();
        assert!(differ >= 15);
    }

    #[test]
    fn splitmix64_reference_vector() {
        // Published SplitMix64 outputs for seed 1234567.
        let mut s = 1_234_567_u64;
        let got: Vec<u64> = (0..5).map(|_| splitmix64(&mut s)).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821,
            ]
        );
    }

    #[test]
    fn xoshiro256starstar_reference_vector() {
        // Reference outputs for state [1, 2, 3, 4].
        let mut r = Rng::from_state([1, 2, 3, 4]);
        let got: Vec<u64> = (0..10).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                11_520,
                0,
                1_509_978_240,
                1_215_971_899_390_074_240,
                1_216_172_134_540_287_360,
                607_988_272_756_665_600,
                16_172_922_978_634_559_625,
                8_476_171_486_693_032_832,
                10_595_114_339_597_558_777,
                2_904_607_092_377_533_576,
            ]
        );
    }

    /// Frozen outputs for seed 42. If this test fails, generated data has
    /// changed for every seed: do not update the constants casually.
    #[test]
    fn frozen_seed_42() {
        let mut r = Rng::new(42);
        let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(got, FROZEN_U64);

        let mut r = Rng::new(42);
        let got: Vec<u64> = (0..5).map(|_| r.below(1000)).collect();
        assert_eq!(got, FROZEN_BELOW_1000);

        let mut r = Rng::new(42);
        let got: Vec<i64> = (0..5).map(|_| r.range(-10, 10)).collect();
        assert_eq!(got, FROZEN_RANGE);

        let mut r = Rng::new(42);
        let got: Vec<u64> = (0..3).map(|_| r.f64().to_bits()).collect();
        assert_eq!(got, FROZEN_F64_BITS);

        let mut r = Rng::new(42);
        let got: Vec<u64> = (0..3).map(|_| r.normal(0.0, 1.0).to_bits()).collect();
        assert_eq!(got, FROZEN_NORMAL_BITS);

        let mut r = Rng::new(42);
        let mut v: Vec<u32> = (0..10).collect();
        r.shuffle(&mut v);
        assert_eq!(v, FROZEN_SHUFFLE);

        let mut root = Rng::new(42);
        let got: Vec<u64> = (0..3).map(|_| root.fork(1).next_u64()).collect();
        assert_eq!(got, [FROZEN_FORK1_FIRST; 3]);
    }

    const FROZEN_U64: [u64; 5] = [
        1_546_998_764_402_558_742,
        6_990_951_692_964_543_102,
        12_544_586_762_248_559_009,
        17_057_574_109_182_124_193,
        18_295_552_978_065_317_476,
    ];
    const FROZEN_BELOW_1000: [u64; 5] = [83, 378, 680, 924, 991];
    const FROZEN_RANGE: [i64; 5] = [-9, -3, 4, 9, 10];
    /// 0.08386297105988216, 0.3789802506626686, 0.6800434110281394
    const FROZEN_F64_BITS: [u64; 3] = [
        0x3fb5_780b_2e0c_2ec0,
        0x3fd8_4136_619b_444e,
        0x3fe5_c2ea_6647_3c93,
    ];
    /// -0.3032630646787381, 1.3438117634372808, 0.38346179126769414
    const FROZEN_NORMAL_BITS: [u64; 3] = [
        0xbfd3_68a9_7c38_507e,
        0x3ff5_8040_c37f_1763,
        0x3fd8_8aa3_5330_a929,
    ];
    const FROZEN_SHUFFLE: [u32; 10] = [9, 1, 4, 2, 8, 7, 6, 5, 3, 0];
    const FROZEN_FORK1_FIRST: u64 = 0xbbb9_6c77_fc27_ea81;

    #[test]
    fn below_bounds() {
        let mut r = Rng::new(1);
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
        for n in [2_u64, 3, 7, 10, 1000, u64::MAX / 3 * 2, u64::MAX] {
            for _ in 0..2000 {
                assert!(r.below(n) < n);
            }
        }
        // Every value of a small range shows up, roughly uniformly.
        let mut counts = [0_u32; 6];
        for _ in 0..60_000 {
            let i = r.below(6) as usize;
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn range_bounds() {
        let mut r = Rng::new(2);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x));
            if let Some(s) = seen.get_mut((x + 3) as usize) {
                *s = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.range(5, 1), 5);
        let _ = r.range(i64::MIN, i64::MAX);
        for _ in 0..100 {
            let x = r.range(i64::MAX - 1, i64::MAX);
            assert!(x >= i64::MAX - 1);
        }
    }

    #[test]
    fn fork_independence() {
        let mut root = Rng::new(99);
        let before = root.clone();
        let mut a = root.fork(1);
        let mut b = root.fork(2);
        // Forking does not advance the parent.
        assert_eq!(root, before);
        // Same stream id from the same parent state gives the same child.
        assert_eq!(root.fork(1), a.clone());
        // Adding a new fork in between does not shift existing ones.
        let mut root2 = Rng::new(99);
        let _c = root2.fork(3);
        assert_eq!(root2.fork(2), b.clone());
        // Different streams (and parent vs child) produce unrelated output.
        let xs: Vec<u64> = (0..64).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..64).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..64).map(|_| root.next_u64()).collect();
        assert!(xs.iter().zip(&ys).all(|(x, y)| x != y));
        assert!(xs.iter().zip(&zs).all(|(x, z)| x != z));
        // Bits differ in roughly half the positions.
        let diff_bits: u32 = xs.iter().zip(&ys).map(|(x, y)| (x ^ y).count_ones()).sum();
        assert!((1800..2300).contains(&diff_bits), "{diff_bits}");
        // A child differs from a fresh generator seeded with the stream id.
        assert_ne!(Rng::new(99).fork(1), Rng::new(1));
    }

    #[test]
    fn f64_and_chance() {
        let mut r = Rng::new(3);
        let mut hits = 0;
        for _ in 0..10_000 {
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            if r.chance(0.3) {
                hits += 1;
            }
        }
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        assert!(!r.chance(f64::NAN));
        // chance always consumes exactly one value.
        let mut a = Rng::new(4);
        let mut b = Rng::new(4);
        let _ = a.chance(0.0);
        let _ = b.chance(2.0);
        assert_eq!(a, b);
    }

    #[test]
    fn pick_weighted_shuffle() {
        let mut r = Rng::new(5);
        let empty: [u8; 0] = [];
        assert_eq!(r.pick(&empty), None);
        let items = ["a", "b", "c"];
        for _ in 0..100 {
            assert!(r.pick(&items).is_some());
        }
        assert_eq!(r.weighted_index(&[]), 0);
        for _ in 0..1000 {
            let i = r.weighted_index(&[0, 5, 0, 1]);
            assert!(i == 1 || i == 3);
        }
        let mut counts = [0_u32; 3];
        for _ in 0..30_000 {
            if let Some(c) = counts.get_mut(r.weighted_index(&[1, 2, 0])) {
                *c += 1;
            }
        }
        assert_eq!(counts.get(2), Some(&0));
        let (c0, c1) = (counts.first().copied(), counts.get(1).copied());
        assert!(matches!(c0, Some(9_000..=11_000)), "{counts:?}");
        assert!(matches!(c1, Some(19_000..=21_000)), "{counts:?}");
        // All-zero weights fall back to uniform.
        for _ in 0..100 {
            assert!(r.weighted_index(&[0, 0, 0]) < 3);
        }
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
        let mut one = [1];
        r.shuffle(&mut one);
        let mut none: [u8; 0] = [];
        r.shuffle(&mut none);
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::new(6);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal(10.0, 2.0)).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / f64::from(n);
        assert!((mean - 10.0).abs() < 0.02, "{mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.02, "{var}");
        assert!(xs.iter().all(|x| x.is_finite()));
        let within_1sd = xs.iter().filter(|x| (*x - 10.0).abs() < 2.0).count();
        let frac = within_1sd as f64 / f64::from(n);
        assert!((frac - 0.6827).abs() < 0.005, "{frac}");
    }

    #[test]
    fn portable_math_matches_std() {
        let mut r = Rng::new(11);
        for _ in 0..100_000 {
            let x = 1.0 - r.f64();
            let (a, b) = (portable_ln(x), x.ln());
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0),
                "ln {x}"
            );
            let t = r.f64();
            let (c, d) = (portable_cos_turns(t), (std::f64::consts::TAU * t).cos());
            assert!((c - d).abs() <= 4.0 * f64::EPSILON, "cos {t}");
        }
        for x in [f64::MIN_POSITIVE, 5e-324, 1e-300, 0.5, 1.0, 2.0, 1e300] {
            let (a, b) = (portable_ln(x), x.ln());
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0),
                "ln {x}"
            );
        }
        assert_eq!(portable_ln(1.0), 0.0);
        assert_eq!(portable_ln(0.0), f64::NEG_INFINITY);
        assert!(portable_ln(-1.0).is_nan());
        assert_eq!(portable_cos_turns(0.0), 1.0);
        assert_eq!(portable_cos_turns(0.5), -1.0);
        assert!(portable_cos_turns(0.25).abs() < 1e-16);
    }
}
