//! Blocking: the keys two registrations of one person are likely to share,
//! and the candidate pairs of a set of registrations.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::compare::{Pattern, compare};
use crate::normalize::fnv64;
use crate::parallel;
use crate::prepare::{Name, Prepared};

/// The near-ID keys mask two adjacent digits of the 17 body digits, at
/// every position: two numbers that differ in one digit, or by swapping two
/// adjacent digits, share the key whose window covers the difference, and
/// every key keeps 15 digits (area, most of the birth date, sequence), so
/// that its block stays small.
const ID_WINDOWS: usize = 16;

/// Surname and given-name spellings used by the keys: for Chinese names,
/// every reading of the first character and the spellings of the rest; for
/// Latin names, the last and the first word.
fn name_parts(name: &Name) -> (Vec<String>, Vec<String>) {
    match name {
        Name::Missing => (Vec::new(), Vec::new()),
        Name::Han { chars, .. } => {
            let readings = name.readings();
            let mut surnames: Vec<String> = match (chars.first(), readings.first()) {
                (Some(c), Some(r)) if r.is_empty() => vec![c.to_string()],
                (Some(_), Some(r)) => r.iter().map(|s| s.replace('ü', "v")).collect(),
                _ => Vec::new(),
            };
            surnames.truncate(3);
            let given = if chars.len() >= 2 {
                crate::readings::spellings(
                    &chars[1..],
                    &readings[1..],
                    crate::prepare::MAX_SPELLINGS / 2,
                )
            } else {
                Vec::new()
            };
            (surnames, given)
        }
        Name::Latin { words, .. } => {
            // Either word may be the surname: given names and surnames are
            // swapped now and then.
            let mut all: Vec<String> = words.clone();
            all.sort_unstable();
            all.dedup();
            (all, Vec::new())
        }
    }
}

/// Calls `f` with every blocking key of a registration (possibly twice).
fn visit_keys(p: &Prepared, f: &mut dyn FnMut(&str)) {
    let mut buf = String::with_capacity(64);
    let mut key = |args: std::fmt::Arguments<'_>| {
        buf.clear();
        let _ = buf.write_fmt(args);
        f(&buf);
    };
    if let Some(id) = &p.id {
        let body: String = id.body.iter().map(|&b| char::from(b)).collect();
        key(format_args!("id:{body}"));
        for k in 0..ID_WINDOWS {
            let masked: String = id
                .body
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if i == k || i == k + 1 {
                        '_'
                    } else {
                        char::from(b)
                    }
                })
                .collect();
            key(format_args!("iw{k}:{masked}"));
        }
    }
    if let Some(phone) = &p.phone {
        let tail = phone.get(phone.len().saturating_sub(8)..).unwrap_or(phone);
        key(format_args!("ph:{tail}"));
    }
    let spellings = p.name.spellings();
    if let Some(b) = p.birth {
        let (y, m, d) = (b.year(), u8::from(b.month()), b.day());
        for s in &spellings {
            key(format_args!("nb:{s}|{y}"));
            key(format_args!("nd:{s}|{m:02}{d:02}"));
        }
        let (surnames, given) = name_parts(&p.name);
        for s in surnames {
            key(format_args!("sb:{s}|{y:04}{m:02}{d:02}"));
        }
        for g in given {
            key(format_args!("gb:{g}|{y:04}{m:02}{d:02}"));
        }
    }
    if let Some(addr) = &p.address {
        let village = addr.village();
        for s in &spellings {
            key(format_args!("na:{s}|{village}"));
        }
        let area = addr.area();
        if let Some(b) = p.birth {
            let (y, m, d) = (b.year(), u8::from(b.month()), b.day());
            key(format_args!("ab:{area}|{y:04}{m:02}{d:02}"));
            if area != village {
                key(format_args!("ab:{village}|{y:04}{m:02}{d:02}"));
            }
        }
        if let Name::Latin { words, .. } = &p.name {
            // Initials of the first and last word, in either order.
            let initial = |w: Option<&String>| w.and_then(|w| w.chars().next()).unwrap_or('_');
            let (a, z) = (initial(words.first()), initial(words.last()));
            let (lo, hi) = if a <= z { (a, z) } else { (z, a) };
            key(format_args!("pn:{area}|{lo}{hi}"));
            // Each word with the area and with the village (the other word
            // mistyped or replaced, the birth date missing).
            for w in words {
                key(format_args!("wa:{w}|{area}"));
                key(format_args!("wa:{w}|{village}"));
            }
        }
    }
    if let Name::Latin { words, .. } = &p.name
        && words.len() >= 2
    {
        // Latin names are rarely shared: the name alone (words sorted).
        let mut sorted: Vec<&str> = words.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        key(format_args!("nl:{}", sorted.join(" ")));
    }
    for o in &p.other_ids {
        key(format_args!("o:{o}"));
    }
}

/// Stable blocking keys of one registration (strings, so a database can
/// index them), sorted and deduplicated:
///
/// - `id:` the 17 body digits of the ID number (valid, or invalid but shaped
///   like one; 15-digit numbers converted), and `iwK:` the body with digits K
///   and K+1 masked (any one-digit typo or adjacent transposition leaves one
///   of them intact);
/// - `ph:` the last 8 digits of the phone number;
/// - `nb:` each pinyin spelling of the name with the birth year, `nd:` with
///   the month and day (a typo in the year);
/// - `na:` each spelling with the village part of the address;
/// - `ab:` the area of the address (postcode, else village) with the birth
///   date, and the village with the birth date; for Latin names `pn:` the area with the initials of the first and
///   last word (typos in both names, birth date missing) and `wa:` each word
///   with the area and with the village;
/// - `sb:` surname pinyin with the birth date, `gb:` given-name pinyin with
///   the birth date (one character missing or mistyped on either side);
/// - for Latin names of two words or more, `nl:` the words sorted;
/// - `o:` each other identifier.
pub fn blocking_keys(p: &Prepared) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(24);
    visit_keys(p, &mut |k| keys.push(k.to_owned()));
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The blocking keys of a registration as signed 64-bit hashes (FNV-1a of
/// the key strings, the hash the batch engine blocks on), sorted and
/// deduplicated: what a database stores so that online matching finds
/// candidates through an integer index a fraction of the size of the keys.
pub fn blocking_hashes(p: &Prepared) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(32);
    visit_keys(p, &mut |k| {
        out.push(i64::from_ne_bytes(fnv64(k.as_bytes()).to_ne_bytes()));
    });
    out.sort_unstable();
    out.dedup();
    out
}

fn hi(h: u64) -> u32 {
    u32::try_from(h >> 32).unwrap_or(0)
}

fn lo(h: u64) -> u32 {
    u32::try_from(h & 0xFFFF_FFFF).unwrap_or(0)
}

/// A candidate pair `(i, j)`, `i < j`, and its comparison pattern.
pub(crate) type PairPattern = (u32, u32, Pattern);

/// The blocks of a set of registrations: the usable blocks (at least two
/// and at most `max_block` registrations) and, for each registration, the
/// usable blocks it is in.
pub(crate) struct Blocks {
    /// Offsets into `groups_of` per registration (CSR).
    offsets: Vec<usize>,
    /// Usable blocks of each registration, ascending.
    groups_of: Vec<u32>,
    /// Offsets into `members` per usable block (CSR).
    group_offsets: Vec<usize>,
    /// Members of the usable blocks, ascending within a block.
    members: Vec<u32>,
}

impl Blocks {
    pub(crate) fn build(regs: &[Prepared], max_block: usize) -> Blocks {
        // (hash high, hash low, registration): 12 bytes, sorted as a tuple.
        let next = AtomicUsize::new(0);
        const CHUNK: usize = 1024;
        let mut parts: Vec<Vec<[u32; 3]>> = parallel::run(|| {
            let mut out: Vec<[u32; 3]> = Vec::new();
            let mut mine: Vec<u64> = Vec::with_capacity(32);
            loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= regs.len() {
                    break;
                }
                for (i, p) in regs.iter().enumerate().take(start + CHUNK).skip(start) {
                    let i = u32::try_from(i).unwrap_or(u32::MAX);
                    mine.clear();
                    visit_keys(p, &mut |k| mine.push(fnv64(k.as_bytes())));
                    mine.sort_unstable();
                    mine.dedup();
                    out.extend(mine.iter().map(|&h| [hi(h), lo(h), i]));
                }
            }
            out
        });
        // Concatenate into the largest part (a large vector grows in place).
        parts.sort_unstable_by_key(|p| std::cmp::Reverse(p.len()));
        let mut entries = parts.first_mut().map(std::mem::take).unwrap_or_default();
        for part in parts.iter_mut().skip(1) {
            entries.append(part);
            *part = Vec::new();
        }
        drop(parts);
        entries.sort_unstable();
        // Number the usable blocks and list their members.
        let mut group_offsets = vec![0usize];
        let mut members = Vec::new();
        let mut start = 0;
        while start < entries.len() {
            let h = [entries[start][0], entries[start][1]];
            let mut end = start + 1;
            while end < entries.len() && entries[end][..2] == h {
                end += 1;
            }
            let size = end - start;
            if size >= 2 && size <= max_block.max(2) {
                members.extend(entries[start..end].iter().map(|e| e[2]));
                group_offsets.push(members.len());
            }
            start = end;
        }
        drop(entries);
        // The blocks of each registration (CSR by counting), ascending.
        let mut offsets = vec![0usize; regs.len() + 1];
        for &i in &members {
            if let Some(o) = offsets.get_mut(i as usize + 1) {
                *o += 1;
            }
        }
        for i in 0..regs.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets.clone();
        let mut groups_of = vec![0u32; members.len()];
        for g in 0..group_offsets.len() - 1 {
            let g32 = u32::try_from(g).unwrap_or(u32::MAX);
            for &i in &members[group_offsets[g]..group_offsets[g + 1]] {
                if let Some(c) = cursor.get_mut(i as usize) {
                    if let Some(slot) = groups_of.get_mut(*c) {
                        *slot = g32;
                    }
                    *c += 1;
                }
            }
        }
        Blocks {
            offsets,
            groups_of,
            group_offsets,
            members,
        }
    }

    /// Members of usable block `g`.
    fn members_of(&self, g: u32) -> &[u32] {
        let g = g as usize;
        match (self.group_offsets.get(g), self.group_offsets.get(g + 1)) {
            (Some(&a), Some(&b)) => self.members.get(a..b).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn groups_of(&self, i: u32) -> &[u32] {
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.groups_of.get(a..b).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Whether `i` and `j` share a usable block (are a candidate pair).
    pub(crate) fn shares_key(&self, i: u32, j: u32) -> bool {
        let (a, b) = (self.groups_of(i), self.groups_of(j));
        let (mut x, mut y) = (0, 0);
        while let (Some(ka), Some(kb)) = (a.get(x), b.get(y)) {
            match ka.cmp(kb) {
                std::cmp::Ordering::Less => x += 1,
                std::cmp::Ordering::Greater => y += 1,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// Every candidate pair `(i, j)`, `i < j`, once, with its comparison
    /// pattern, in parallel, sorted. `tick(registrations_done)` is called
    /// now and then.
    pub(crate) fn compare_all(
        &self,
        regs: &[Prepared],
        tick: &(dyn Fn(usize) + Sync),
    ) -> Vec<PairPattern> {
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        const CHUNK: usize = 1024;
        let n = regs.len();
        let mut parts: Vec<(usize, Vec<PairPattern>)> = parallel::run(|| {
            let mut mine = Vec::new();
            let mut partners: Vec<u32> = Vec::new();
            loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= n {
                    break;
                }
                let end = (start + CHUNK).min(n);
                let mut out: Vec<(u32, u32, Pattern)> = Vec::new();
                for (i, a) in regs.iter().enumerate().take(end).skip(start) {
                    let i = u32::try_from(i).unwrap_or(u32::MAX);
                    partners.clear();
                    for &g in self.groups_of(i) {
                        partners.extend(self.members_of(g).iter().filter(|&&j| j > i));
                    }
                    partners.sort_unstable();
                    partners.dedup();
                    for &j in &partners {
                        if let Some(b) = regs.get(j as usize) {
                            out.push((i, j, compare(a, b)));
                        }
                    }
                }
                mine.push((start, out));
                let d = done.fetch_add(end - start, Ordering::Relaxed) + (end - start);
                tick(d);
            }
            mine
        })
        .into_iter()
        .flatten()
        .collect();
        parts.sort_unstable_by_key(|(start, _)| *start);
        let mut all: Vec<(u32, u32, Pattern)> =
            Vec::with_capacity(parts.iter().map(|(_, p)| p.len()).sum());
        for (_, p) in parts {
            all.extend(p);
        }
        all
    }
}

/// Candidate pairs `(i, j)`, `i < j`, of a set of prepared registrations:
/// those sharing a blocking key in a block of at most `cfg.max_block_size`.
pub fn candidate_pairs(regs: &[Prepared], cfg: &crate::Config) -> Vec<(usize, usize)> {
    let blocks = Blocks::build(regs, cfg.max_block_size);
    blocks
        .compare_all(regs, &|_| {})
        .into_iter()
        .map(|(i, j, _)| (i as usize, j as usize))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Registration, prepare};
    use time::macros::date;

    #[test]
    fn keys_of_a_registration() {
        let p = prepare(&Registration {
            record_id: "1".into(),
            name: "曾乐".into(),
            birth_date: Some(date!(1965 - 03 - 12)),
            id_number: Some("11010519491231002X".into()),
            phone: Some("138-0013-8000".into()),
            address: Some("安徽省临江市云溪县柳河镇张庄村三组15号".into()),
            other_ids: vec!["ins-001".into()],
            ..Registration::default()
        });
        let keys = blocking_keys(&p);
        for k in [
            "id:11010519491231002",
            "iw0:__010519491231002",
            "iw15:110105194912310__",
            "ph:00138000",
            "nb:zengle|1965",
            "nb:zengyue|1965",
            "nd:zengle|0312",
            "sb:zeng|19650312",
            "gb:le|19650312",
            "gb:yue|19650312",
            "na:zengle|柳河镇张庄村",
            "ab:柳河镇张庄村|19650312",
            "o:INS001",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|k| k.starts_with("nb:ceng")));
        assert!(keys.len() < 40);
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, keys);
    }

    #[test]
    fn near_ids_share_a_key() {
        let ids = [
            "11010519491231002X",
            "11010519491231003X", // typo
            "11010519492131002X", // transposition
            "110105491231002",    // 15 digits (another person, but same body)
        ];
        let preps: Vec<Prepared> = ids
            .iter()
            .map(|s| {
                prepare(&Registration {
                    id_number: Some((*s).into()),
                    ..Registration::default()
                })
            })
            .collect();
        let k0 = blocking_keys(&preps[0]);
        for p in &preps[1..] {
            let k = blocking_keys(p);
            assert!(k.iter().any(|x| k0.contains(x)), "{k:?}");
        }
    }

    #[test]
    fn pairs_are_produced_once() {
        let r = Registration {
            name: "王秀英".into(),
            birth_date: Some(date!(1970 - 01 - 02)),
            phone: Some("13912345678".into()),
            id_number: Some("11010519491231002X".into()),
            ..Registration::default()
        };
        let regs: Vec<Prepared> = (0..5).map(|_| prepare(&r)).collect();
        let pairs = candidate_pairs(&regs, &crate::Config::default());
        assert_eq!(pairs.len(), 10);
        let small = crate::Config {
            max_block_size: 3,
            ..crate::Config::default()
        };
        assert!(candidate_pairs(&regs, &small).is_empty());
    }
}
