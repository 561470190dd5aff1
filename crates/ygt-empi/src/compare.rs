//! Field comparisons: each field of a pair is given one of a few levels.

use time::Date;

use crate::normalize::{Address, is_han};
use crate::prepare::{IdInfo, Name, Prepared, Sounds};
use crate::readings::compatible;

/// Number of compared fields.
pub(crate) const NF: usize = 7;

pub(crate) const F_ID: usize = 0;
pub(crate) const F_NAME: usize = 1;
pub(crate) const F_BIRTH: usize = 2;
pub(crate) const F_PHONE: usize = 4;
pub(crate) const F_ADDRESS: usize = 5;
pub(crate) const F_OTHER: usize = 6;

pub(crate) const FIELD_NAMES: [&str; NF] = [
    "id_number",
    "name",
    "birth_date",
    "sex",
    "phone",
    "address",
    "other_ids",
];

/// Levels of each field, strongest agreement first; the last one is always
/// `missing`, which weighs nothing.
pub(crate) const LEVELS: [&[&str]; NF] = [
    &[
        "exact",
        "legacy",
        "typo",
        "transposed",
        "different",
        "missing",
    ],
    &[
        "exact",
        "homophone",
        "missing_char",
        "one_char",
        "similar",
        "fuzzy",
        "missing_part",
        "different",
        "missing",
    ],
    &["exact", "typo", "swapped", "year", "different", "missing"],
    &["same", "different", "missing"],
    &["exact", "different", "missing"],
    &["exact", "similar", "partial", "different", "missing"],
    &["exact", "near", "different", "missing"],
];

/// The largest number of levels of a field.
pub(crate) const MAXL: usize = 9;

/// The `missing` level of field `f`.
pub(crate) fn missing(f: usize) -> u8 {
    LEVELS
        .get(f)
        .and_then(|l| u8::try_from(l.len().saturating_sub(1)).ok())
        .unwrap_or(0)
}

pub(crate) mod id {
    pub const EXACT: u8 = 0;
    pub const LEGACY: u8 = 1;
    pub const TYPO: u8 = 2;
    pub const TRANSPOSED: u8 = 3;
    pub const DIFFERENT: u8 = 4;
    pub const MISSING: u8 = 5;
}

pub(crate) mod name {
    pub const EXACT: u8 = 0;
    pub const HOMOPHONE: u8 = 1;
    pub const MISSING_CHAR: u8 = 2;
    pub const ONE_CHAR: u8 = 3;
    pub const SIMILAR: u8 = 4;
    pub const FUZZY: u8 = 5;
    pub const MISSING_PART: u8 = 6;
    pub const DIFFERENT: u8 = 7;
    pub const MISSING: u8 = 8;
}

pub(crate) mod birth {
    pub const EXACT: u8 = 0;
    pub const TYPO: u8 = 1;
    pub const SWAPPED: u8 = 2;
    pub const YEAR: u8 = 3;
    pub const DIFFERENT: u8 = 4;
    pub const MISSING: u8 = 5;
}

pub(crate) mod sex {
    pub const SAME: u8 = 0;
    pub const DIFFERENT: u8 = 1;
    pub const MISSING: u8 = 2;
}

pub(crate) mod phone {
    pub const EXACT: u8 = 0;
    pub const DIFFERENT: u8 = 1;
    pub const MISSING: u8 = 2;
}

pub(crate) mod address {
    pub const EXACT: u8 = 0;
    pub const SIMILAR: u8 = 1;
    pub const PARTIAL: u8 = 2;
    pub const DIFFERENT: u8 = 3;
    pub const MISSING: u8 = 4;
}

pub(crate) mod other {
    pub const EXACT: u8 = 0;
    pub const NEAR: u8 = 1;
    pub const DIFFERENT: u8 = 2;
    pub const MISSING: u8 = 3;
}

/// The level of every field of a pair.
pub(crate) type Pattern = [u8; NF];

/// A pattern packed into 4 bits per field.
pub(crate) fn pack(p: &Pattern) -> u32 {
    p.iter()
        .enumerate()
        .fold(0u32, |acc, (i, &l)| acc | (u32::from(l & 0xF) << (4 * i)))
}

pub(crate) fn unpack(x: u32) -> Pattern {
    let mut p = [0u8; NF];
    for (i, slot) in p.iter_mut().enumerate() {
        *slot = u8::try_from((x >> (4 * i)) & 0xF).unwrap_or(0);
    }
    p
}

/// Compares two prepared registrations field by field. Symmetric.
pub(crate) fn compare(a: &Prepared, b: &Prepared) -> Pattern {
    [
        cmp_id(a.id.as_ref(), b.id.as_ref()),
        cmp_name(&a.name, &b.name),
        cmp_birth(a.birth, b.birth),
        match (a.sex, b.sex) {
            (Some(x), Some(y)) if x == y => sex::SAME,
            (Some(_), Some(_)) => sex::DIFFERENT,
            _ => sex::MISSING,
        },
        cmp_phone(a.phone.as_deref(), b.phone.as_deref()),
        cmp_address(a.address.as_ref(), b.address.as_ref()),
        cmp_other(&a.other_ids, &b.other_ids),
    ]
}

/// ID number level of two numbers (see [`cmp_id`]).
pub(crate) fn id_level(a: &IdInfo, b: &IdInfo) -> u8 {
    cmp_id(Some(a), Some(b))
}

/// Birth date level of two dates.
pub(crate) fn birth_level(a: Date, b: Date) -> u8 {
    cmp_birth(Some(a), Some(b))
}

/// Positions where two byte strings of equal length differ: their count
/// (stopping at 3) and the first two.
fn differences(a: &[u8], b: &[u8]) -> (usize, [usize; 2]) {
    let mut n = 0;
    let mut at = [0usize; 2];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            if let Some(slot) = at.get_mut(n) {
                *slot = i;
            }
            n += 1;
            if n > 2 {
                break;
            }
        }
    }
    (n, at)
}

/// Whether `a` and `b` (equal length) differ exactly by swapping two
/// adjacent characters.
fn adjacent_swap<T: PartialEq>(a: &[T], b: &[T], n: usize, at: [usize; 2]) -> bool {
    n == 2 && at[1] == at[0] + 1 && a.get(at[0]) == b.get(at[1]) && a.get(at[1]) == b.get(at[0])
}

/// ID numbers. GB 11643's check character catches every single-digit error
/// and every adjacent transposition, so two *valid* 18-digit numbers that
/// differ belong to different people (twins' numbers differ in one digit);
/// a near miss counts as a typo only when one side is invalid or came as a
/// 15-digit number, which has no check character.
fn cmp_id(a: Option<&IdInfo>, b: Option<&IdInfo>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return id::MISSING;
    };
    let (n, at) = differences(&a.body, &b.body);
    let near = if n == 1 {
        Some(id::TYPO)
    } else if adjacent_swap(&a.body, &b.body, n, at) {
        Some(id::TRANSPOSED)
    } else {
        None
    };
    if a.valid && b.valid {
        if n == 0 {
            return if a.legacy == b.legacy {
                id::EXACT
            } else {
                id::LEGACY
            };
        }
        if a.legacy || b.legacy {
            return near.unwrap_or(id::DIFFERENT);
        }
        return id::DIFFERENT;
    }
    if n == 0 {
        // A wrong check character, or the same invalid number twice.
        return id::TYPO;
    }
    // An invalid number far from the other is no evidence either way.
    near.unwrap_or(id::MISSING)
}

fn cmp_name(a: &Name, b: &Name) -> u8 {
    match (a, b) {
        (Name::Missing, _) | (_, Name::Missing) => name::MISSING,
        (
            Name::Han {
                chars: ca,
                sounds: ra,
            },
            Name::Han {
                chars: cb,
                sounds: rb,
            },
        ) => han_names(ca, ra, cb, rb),
        (
            Name::Latin {
                words: wa,
                joined: ja,
            },
            Name::Latin {
                words: wb,
                joined: jb,
            },
        ) => latin_names(wa, ja, wb, jb),
        (han @ Name::Han { .. }, Name::Latin { words, .. })
        | (Name::Latin { words, .. }, han @ Name::Han { .. }) => {
            let spellings = han.spellings();
            let forward = words.concat();
            let mut rev = words.clone();
            rev.reverse();
            let backward = rev.concat();
            if spellings.iter().any(|s| *s == forward || *s == backward) {
                name::HOMOPHONE
            } else {
                name::DIFFERENT
            }
        }
    }
}

fn han_names(ca: &[char], ra: &[Sounds], cb: &[char], rb: &[Sounds]) -> u8 {
    if ca == cb {
        return name::EXACT;
    }
    let compat = |i: usize, j: usize| -> bool {
        match (ca.get(i), ra.get(i), cb.get(j), rb.get(j)) {
            (Some(&x), Some(rx), Some(&y), Some(ry)) => compatible(x, rx, y, ry),
            _ => false,
        }
    };
    let (la, lb) = (ca.len(), cb.len());
    if la == lb {
        let mut bad = 0;
        let mut bad_at = 0;
        for i in 0..la {
            if !compat(i, i) {
                bad += 1;
                bad_at = i;
            }
        }
        return match bad {
            0 => name::HOMOPHONE,
            1 if la >= 3 && bad_at != 0 => name::ONE_CHAR,
            _ => name::DIFFERENT,
        };
    }
    if la.abs_diff(lb) == 1 && la.min(lb) >= 2 {
        // One character missing from the longer name.
        let (long_is_a, long_len) = if la > lb { (true, la) } else { (false, lb) };
        for skip in 0..long_len {
            let ok = (0..long_len - 1).all(|k| {
                let lk = if k < skip { k } else { k + 1 };
                if long_is_a {
                    compat(lk, k)
                } else {
                    compat(k, lk)
                }
            });
            if ok {
                return name::MISSING_CHAR;
            }
        }
    }
    name::DIFFERENT
}

/// Jaro–Winkler of two strings, symmetric (computed in a fixed order).
fn jw_str(a: &str, b: &str) -> f64 {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    if a.is_ascii() && b.is_ascii() {
        jaro_winkler(a.as_bytes(), b.as_bytes())
    } else {
        let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        jaro_winkler(&ca, &cb)
    }
}

fn latin_names(wa: &[String], ja: &str, wb: &[String], jb: &str) -> u8 {
    if ja == jb {
        return name::EXACT;
    }
    let mut sa: Vec<&str> = wa.iter().map(String::as_str).collect();
    let mut sb: Vec<&str> = wb.iter().map(String::as_str).collect();
    sa.sort_unstable();
    sb.sort_unstable();
    if sa == sb {
        return name::SIMILAR;
    }
    let mut jw = jw_str(ja, jb);
    if let ([a0, a1], [b0, b1]) = (wa, wb) {
        // Given name and surname swapped (and mistyped).
        jw = jw
            .max(jw_str(&format!("{a1} {a0}"), jb))
            .max(jw_str(ja, &format!("{b1} {b0}")));
    }
    if jw >= 0.92 {
        return name::SIMILAR;
    }
    let (short, long) = if sa.len() <= sb.len() {
        (&sa, &sb)
    } else {
        (&sb, &sa)
    };
    if short.len() < long.len()
        && short
            .iter()
            .all(|w| long.iter().any(|l| jw_str(w, l) >= 0.9))
    {
        // A given name or surname left out.
        return name::MISSING_PART;
    }
    if let (Some(fa), Some(fb), Some(la), Some(lb)) = (wa.first(), wb.first(), wa.last(), wb.last())
        && wa.len() >= 2
        && wb.len() >= 2
        && jw_str(la, lb) >= 0.9
        && jw_str(fa, fb) < 0.9
    {
        // Same surname, another given name: a relative, or a nickname.
        return name::ONE_CHAR;
    }
    if jw >= 0.8 {
        return name::FUZZY;
    }
    name::DIFFERENT
}

/// Jaro–Winkler similarity (prefix scale 0.1, prefix up to 4).
pub(crate) fn jaro_winkler<T: Copy + PartialEq>(a: &[T], b: &[T]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    // Short strings (names) use the stack.
    let (mut a_stack, mut b_stack) = ([false; 64], [false; 64]);
    let (mut a_heap, mut b_heap) = (Vec::new(), Vec::new());
    let (a_used, b_used): (&mut [bool], &mut [bool]) = if la <= 64 && lb <= 64 {
        (&mut a_stack[..la], &mut b_stack[..lb])
    } else {
        a_heap.resize(la, false);
        b_heap.resize(lb, false);
        (&mut a_heap[..], &mut b_heap[..])
    };
    let mut m = 0usize;
    for (i, ch) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        for j in lo..hi {
            if !b_used[j] && b[j] == *ch {
                b_used[j] = true;
                a_used[i] = true;
                m += 1;
                break;
            }
        }
    }
    if m == 0 {
        return 0.0;
    }
    let mut b_matched = b
        .iter()
        .zip(b_used.iter())
        .filter(|(_, u)| **u)
        .map(|(c, _)| *c);
    let mut half_transpositions = 0usize;
    for (ca, _) in a.iter().zip(a_used.iter()).filter(|(_, u)| **u) {
        if b_matched.next().is_some_and(|cb| cb != *ca) {
            half_transpositions += 1;
        }
    }
    let mf = m as f64;
    let t = (half_transpositions / 2) as f64;
    let jaro = (mf / la as f64 + mf / lb as f64 + (mf - t) / mf) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

/// `YYYYMMDD` as digits.
fn ymd(d: Date) -> [u8; 8] {
    let mut out = [0u8; 8];
    let y = d.year().rem_euclid(10000);
    let m = i32::from(u8::from(d.month()));
    let day = i32::from(d.day());
    let v = y * 10000 + m * 100 + day;
    for (k, slot) in out.iter_mut().rev().enumerate() {
        let p = 10i32.pow(u32::try_from(k).unwrap_or(0));
        *slot = u8::try_from((v / p) % 10).unwrap_or(0);
    }
    out
}

fn cmp_birth(a: Option<Date>, b: Option<Date>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return birth::MISSING;
    };
    if a == b {
        return birth::EXACT;
    }
    if a.year() == b.year() && u8::from(a.month()) == b.day() && a.day() == u8::from(b.month()) {
        return birth::SWAPPED;
    }
    let (da, db) = (ymd(a), ymd(b));
    let (n, at) = differences(&da, &db);
    if n == 1 || adjacent_swap(&da, &db, n, at) {
        return birth::TYPO;
    }
    if a.year() == b.year() {
        return birth::YEAR;
    }
    birth::DIFFERENT
}

fn cmp_phone(a: Option<&str>, b: Option<&str>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return phone::MISSING;
    };
    // A landline with and without its area code is the same number.
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short == long || (short.len() >= 7 && long.len() <= short.len() + 4 && long.ends_with(short))
    {
        phone::EXACT
    } else {
        phone::DIFFERENT
    }
}

/// Size of the intersection of two sorted, deduplicated slices.
fn intersection(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

fn cmp_address(a: Option<&Address>, b: Option<&Address>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return address::MISSING;
    };
    let (ta, tb, ga, gb) = (&a.text, &b.text, &a.grams, &b.grams);
    if ta == tb {
        // Equal down to the house (a group or house number): the same
        // household. Equal at the village level only: the same village.
        let detailed = ta.chars().any(|c| c.is_ascii_digit()) || !ta.chars().any(is_han);
        return if detailed {
            address::EXACT
        } else {
            address::SIMILAR
        };
    }
    let common = intersection(ga, gb);
    let smaller = ga.len().min(gb.len());
    let union = ga.len() + gb.len() - common;
    if smaller == 0 || union == 0 {
        return address::DIFFERENT;
    }
    let jaccard = common as f64 / union as f64;
    let overlap = common as f64 / smaller as f64;
    if jaccard >= 0.8 || (smaller >= 3 && overlap >= 0.95) {
        address::SIMILAR
    } else if overlap >= 0.6 {
        address::PARTIAL
    } else {
        address::DIFFERENT
    }
}

fn cmp_other(a: &[String], b: &[String]) -> u8 {
    if a.is_empty() || b.is_empty() {
        return other::MISSING;
    }
    if a.iter().any(|x| b.contains(x)) {
        return other::EXACT;
    }
    let near = a.iter().any(|x| {
        b.iter().any(|y| {
            x.len() == y.len() && {
                let (n, at) = differences(x.as_bytes(), y.as_bytes());
                n == 1 || adjacent_swap(x.as_bytes(), y.as_bytes(), n, at)
            }
        })
    });
    if near { other::NEAR } else { other::DIFFERENT }
}

/// Whether a pair agrees on an ID number (exactly or nearly) or on another
/// identifier.
pub(crate) fn identified(p: &Pattern) -> bool {
    matches!(p[F_ID], id::EXACT | id::LEGACY | id::TYPO | id::TRANSPOSED)
        || p[F_OTHER] == other::EXACT
}

/// The household guard: a shared phone or address is what parents and
/// children, spouses, siblings and twins have in common. When the pair
/// shares one, nothing that identifies a person (ID number, other
/// identifier) agrees, and the names differ (another name, another given
/// name with the same surname, a character more or less: 张云 and 张梅云 may
/// be twins), or the birth dates differ with no name to compare, the shared
/// household is no evidence of the same person.
pub(crate) fn household_guard(p: &Pattern) -> bool {
    let shares =
        p[F_PHONE] == phone::EXACT || matches!(p[F_ADDRESS], address::EXACT | address::SIMILAR);
    if !shares || identified(p) {
        return false;
    }
    let birth_differs = matches!(p[F_BIRTH], birth::YEAR | birth::DIFFERENT);
    match p[F_NAME] {
        name::MISSING_CHAR | name::ONE_CHAR | name::DIFFERENT => true,
        name::MISSING => birth_differs,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Registration, prepare};
    use time::macros::date;
    use ygt_domain::ident::Sex;

    fn reg(name: &str) -> Registration {
        Registration {
            record_id: "r".into(),
            name: name.into(),
            ..Registration::default()
        }
    }

    fn name_level(a: &str, b: &str) -> &'static str {
        let l = compare(&prepare(&reg(a)), &prepare(&reg(b)))[F_NAME];
        LEVELS[F_NAME][usize::from(l)]
    }

    fn id_level(a: &str, b: &str) -> &'static str {
        let pa = prepare(&Registration {
            id_number: Some(a.into()),
            ..reg("x")
        });
        let pb = prepare(&Registration {
            id_number: Some(b.into()),
            ..reg("x")
        });
        LEVELS[F_ID][usize::from(compare(&pa, &pb)[F_ID])]
    }

    #[test]
    fn pack_roundtrip() {
        let p: Pattern = [5, 7, 5, 2, 2, 4, 3];
        assert_eq!(unpack(pack(&p)), p);
        for (f, levels) in LEVELS.iter().enumerate() {
            assert_eq!(levels[usize::from(missing(f))], "missing");
            assert!(levels.len() <= MAXL);
        }
    }

    #[test]
    fn id_levels() {
        let a = "11010519491231002X";
        assert_eq!(id_level(a, "11010519491231002x"), "exact");
        // 15 digits vs 18.
        let full = ygt_domain::ident::IdNumber::from_parts("440524", date!(1980 - 01 - 01), 1)
            .map(|i| i.into_string())
            .unwrap_or_default();
        assert_eq!(id_level("440524800101001", &full), "legacy");
        assert_eq!(id_level("440524800101001", "440524800101001"), "exact");
        // One digit typo: invalid check.
        assert_eq!(id_level(a, "11010519491231003X"), "typo");
        assert_eq!(id_level(a, "110105194912310021"), "typo");
        // Adjacent transposition.
        assert_eq!(id_level(a, "11010519492131002X"), "transposed");
        // Two valid numbers differing in one digit are twins, not a typo.
        let twin_a = ygt_domain::ident::IdNumber::from_parts("341822", date!(1990 - 05 - 01), 13)
            .map(|i| i.into_string())
            .unwrap_or_default();
        let twin_b = ygt_domain::ident::IdNumber::from_parts("341822", date!(1990 - 05 - 01), 15)
            .map(|i| i.into_string())
            .unwrap_or_default();
        assert_eq!(id_level(&twin_a, &twin_b), "different");
        assert_eq!(id_level(a, &full), "different");
        assert_eq!(id_level(a, "garbage"), "missing");
        assert_eq!(id_level(a, "000000000000000000"), "missing");
        // Invalid and far away: no evidence.
        assert_eq!(id_level(a, "440524198001010915"), "missing");
        // A legacy number with a typo is still valid: compared as near.
        assert_eq!(id_level("440524800101003", &full), "typo");
        assert_eq!(id_level("440524801001001", &full), "transposed");
    }

    #[test]
    fn name_levels() {
        assert_eq!(name_level("王秀英", "王秀英"), "exact");
        assert_eq!(name_level("王秀英", "王 秀英"), "exact");
        assert_eq!(name_level("陳秀英", "陈秀英"), "exact");
        assert_eq!(name_level("王秀英", "王秀瑛"), "homophone");
        // Heteronyms: 乐 reads le and yue.
        assert_eq!(name_level("曾乐", "曾悦"), "homophone");
        assert_eq!(name_level("曾乐", "曾勒"), "homophone");
        // Surname readings: 单 as a surname is shan, not dan.
        assert_eq!(name_level("单雄信", "善雄信"), "homophone");
        assert_eq!(name_level("单雄信", "丹雄信"), "different");
        assert_eq!(name_level("单雄信", "Shan Xiongxin"), "homophone");
        assert_eq!(name_level("尉迟恭", "Yuchi Gong"), "homophone");
        assert_eq!(name_level("李明", "理明"), "homophone");
        assert_eq!(name_level("王秀英", "王英"), "missing_char");
        assert_eq!(name_level("王英", "王秀瑛"), "missing_char");
        assert_eq!(name_level("王秀英", "王秀兰"), "one_char");
        assert_eq!(name_level("王秀英", "张秀英"), "different");
        assert_eq!(name_level("王英", "王兰"), "different");
        assert_eq!(name_level("王秀英", ""), "missing");
        assert_eq!(name_level("王秀英", "Wang Xiuying"), "homophone");
        assert_eq!(name_level("王秀英", "Xiuying Wang"), "homophone");
        assert_eq!(name_level("John Smith", "john  smith"), "exact");
        assert_eq!(name_level("John Smith", "Smith John"), "similar");
        assert_eq!(name_level("Jonathan Smith", "Jonathon Smith"), "similar");
        assert_eq!(name_level("John Smith", "Smith"), "missing_part");
        assert_eq!(name_level("Michael Cochrane", "Cocharne"), "missing_part");
        assert_eq!(name_level("John Smith", "Mary Jones"), "different");
        assert_eq!(name_level("Benjamin Capel", "Joshua Capel"), "one_char");
        assert_eq!(name_level("Michaela Neumann", "Michafla Jakimow"), "fuzzy");
    }

    #[test]
    fn jaro_winkler_reference_values() {
        let jw = |a: &str, b: &str| {
            jaro_winkler(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert!((jw("martha", "marhta") - 0.9611).abs() < 1e-3);
        assert!((jw("dwayne", "duane") - 0.84).abs() < 1e-3);
        assert!((jw("dixon", "dicksonx") - 0.8133).abs() < 1e-3);
        assert_eq!(jw("", ""), 1.0);
        assert_eq!(jw("abc", ""), 0.0);
    }

    #[test]
    fn birth_levels() {
        let l = |a: Date, b: Date| LEVELS[F_BIRTH][usize::from(cmp_birth(Some(a), Some(b)))];
        assert_eq!(l(date!(1965 - 03 - 12), date!(1965 - 03 - 12)), "exact");
        assert_eq!(l(date!(1965 - 03 - 12), date!(1965 - 03 - 13)), "typo");
        assert_eq!(l(date!(1965 - 03 - 12), date!(1956 - 03 - 12)), "typo");
        assert_eq!(l(date!(1965 - 03 - 12), date!(1965 - 12 - 03)), "swapped");
        assert_eq!(l(date!(1965 - 03 - 12), date!(1965 - 08 - 21)), "year");
        assert_eq!(l(date!(1965 - 03 - 12), date!(1990 - 07 - 21)), "different");
        assert_eq!(
            LEVELS[F_BIRTH][usize::from(cmp_birth(None, Some(date!(1965 - 03 - 12))))],
            "missing"
        );
    }

    #[test]
    fn birth_and_sex_from_id() {
        let p = prepare(&Registration {
            id_number: Some("11010519491231002X".into()),
            ..reg("王秀英")
        });
        assert_eq!(p.birth_date(), Some(date!(1949 - 12 - 31)));
        assert_eq!(p.sex(), Some(Sex::Female));
        // The registration's own values win.
        let q = prepare(&Registration {
            id_number: Some("11010519491231002X".into()),
            birth_date: Some(date!(1949 - 12 - 30)),
            sex: Some(Sex::Male),
            ..reg("王秀英")
        });
        assert_eq!(q.birth_date(), Some(date!(1949 - 12 - 30)));
        assert_eq!(q.sex(), Some(Sex::Male));
    }

    #[test]
    fn phone_address_other_levels() {
        assert_eq!(
            cmp_phone(Some("13800138000"), Some("13800138000")),
            phone::EXACT
        );
        assert_eq!(
            cmp_phone(Some("65123456"), Some("055165123456")),
            phone::EXACT
        );
        assert_eq!(
            cmp_phone(Some("13800138000"), Some("13800138001")),
            phone::DIFFERENT
        );
        assert_eq!(cmp_phone(None, Some("13800138001")), phone::MISSING);

        let a = |s: &str| crate::normalize::address(s);
        let full = a("安徽省临江市云溪县柳河镇张庄村三组15号");
        let short = a("柳河镇张庄村");
        let other_village = a("安徽省临江市云溪县柳河镇王庄村三组15号");
        let other_town = a("云溪县石桥镇李湾村五组3号");
        assert_eq!(cmp_address(full.as_ref(), full.as_ref()), address::EXACT);
        assert_eq!(
            cmp_address(short.as_ref(), short.as_ref()),
            address::SIMILAR
        );
        assert_eq!(cmp_address(full.as_ref(), short.as_ref()), address::SIMILAR);
        assert_eq!(cmp_address(short.as_ref(), full.as_ref()), address::SIMILAR);
        assert_ne!(
            cmp_address(full.as_ref(), other_village.as_ref()),
            address::SIMILAR
        );
        assert_eq!(
            cmp_address(full.as_ref(), other_town.as_ref()),
            address::DIFFERENT
        );
        assert_eq!(cmp_address(full.as_ref(), None), address::MISSING);
        let latin = a("12 main street springfield");
        let latin2 = a("12 main st springfield");
        let latin3 = a("12 mainstreet sprinfield");
        let latin4 = a("40 queen road hilltop");
        assert_eq!(
            cmp_address(latin.as_ref(), latin2.as_ref()),
            address::SIMILAR
        );
        assert_ne!(
            cmp_address(latin.as_ref(), latin3.as_ref()),
            address::DIFFERENT
        );
        assert_eq!(
            cmp_address(latin.as_ref(), latin4.as_ref()),
            address::DIFFERENT
        );

        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            cmp_other(&s(&["A1234"]), &s(&["B9", "A1234"])),
            other::EXACT
        );
        assert_eq!(cmp_other(&s(&["A1234"]), &s(&["A1243"])), other::NEAR);
        assert_eq!(cmp_other(&s(&["A1234"]), &s(&["C5678"])), other::DIFFERENT);
        assert_eq!(cmp_other(&s(&[]), &s(&["C5678"])), other::MISSING);
    }

    #[test]
    fn guard_fires_for_households_only() {
        let mut parent_child: Pattern = [
            id::DIFFERENT,
            name::DIFFERENT,
            birth::DIFFERENT,
            sex::SAME,
            phone::EXACT,
            address::EXACT,
            other::MISSING,
        ];
        assert!(household_guard(&parent_child));
        parent_child[F_ID] = id::MISSING;
        assert!(household_guard(&parent_child));
        let twins: Pattern = [
            id::MISSING,
            name::ONE_CHAR,
            birth::EXACT,
            sex::SAME,
            phone::EXACT,
            address::SIMILAR,
            other::MISSING,
        ];
        assert!(household_guard(&twins));
        let same_person: Pattern = [
            id::MISSING,
            name::HOMOPHONE,
            birth::EXACT,
            sex::SAME,
            phone::EXACT,
            address::SIMILAR,
            other::MISSING,
        ];
        assert!(!household_guard(&same_person));
        let identified: Pattern = [id::EXACT, name::DIFFERENT, birth::DIFFERENT, 0, 0, 0, 3];
        assert!(!household_guard(&identified));
        let no_household: Pattern = [
            id::MISSING,
            name::DIFFERENT,
            birth::DIFFERENT,
            sex::SAME,
            phone::DIFFERENT,
            address::DIFFERENT,
            other::MISSING,
        ];
        assert!(!household_guard(&no_household));
        // Same name, another birth date: a typo in the date, or a namesake;
        // the name speaks, the guard does not fire. Without a name it does.
        let mut namesake = same_person;
        namesake[F_BIRTH] = birth::DIFFERENT;
        namesake[F_NAME] = name::EXACT;
        assert!(!household_guard(&namesake));
        namesake[F_NAME] = name::MISSING;
        assert!(household_guard(&namesake));
    }
}
