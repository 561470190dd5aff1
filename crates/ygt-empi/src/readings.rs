//! Pinyin readings of names: every reading of each character (heteronyms),
//! with the surname readings of the first character(s) taking precedence.

use pinyin::ToPinyinMulti;

/// Every toneless reading of `c`, most common first, without duplicates
/// (`ü` kept as in the table). Empty for characters without pinyin.
pub(crate) fn readings(c: char) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            let s = p.plain();
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Compound surnames and their readings.
const COMPOUND_SURNAMES: &[(&str, [&str; 2])] = &[
    ("尉迟", ["yu", "chi"]),
    ("万俟", ["mo", "qi"]),
    ("长孙", ["zhang", "sun"]),
    ("单于", ["chan", "yu"]),
    ("澹台", ["tan", "tai"]),
];

/// Single-character surnames read differently from the character's common
/// reading.
const SURNAMES: &[(char, &str)] = &[
    ('单', "shan"),
    ('曾', "zeng"),
    ('解', "xie"),
    ('仇', "qiu"),
    ('区', "ou"),
    ('朴', "piao"),
    ('查', "zha"),
    ('翟', "zhai"),
    ('盖', "ge"),
    ('缪', "miao"),
    ('覃', "qin"),
    ('尉', "wei"),
    ('秘', "bi"),
    ('种', "chong"),
    ('员', "yun"),
    ('长', "chang"),
    ('重', "chong"),
    ('句', "gou"),
    ('繁', "po"),
    ('能', "nai"),
    ('乜', "nie"),
    ('冼', "xian"),
    ('莘', "shen"),
    ('宿', "su"),
    ('隗', "wei"),
    ('沈', "shen"),
    ('贾', "jia"),
    ('石', "shi"),
    ('柏', "bai"),
    ('都', "du"),
    ('召', "shao"),
    ('折', "she"),
    ('葛', "ge"),
    ('阚', "kan"),
    ('藏', "zang"),
    ('尧', "yao"),
    ('朝', "chao"),
    ('曲', "qu"),
    ('纪', "ji"),
    ('燕', "yan"),
    ('过', "guo"),
];

/// Readings of every character of a name whose first character(s) are the
/// surname: a known surname's reading replaces the character's readings.
/// A single character is not taken as a surname.
pub(crate) fn name_readings(chars: &[char]) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&'static str>> = chars.iter().map(|&c| readings(c)).collect();
    if chars.len() < 2 {
        return out;
    }
    if chars.len() >= 3 {
        for (surname, r) in COMPOUND_SURNAMES {
            let mut sc = surname.chars();
            if sc.next() == chars.first().copied() && sc.next() == chars.get(1).copied() {
                out[0] = vec![r[0]];
                out[1] = vec![r[1]];
                return out;
            }
        }
    }
    if let Some((_, r)) = SURNAMES
        .iter()
        .find(|(c, _)| Some(*c) == chars.first().copied())
    {
        out[0] = vec![*r];
    }
    out
}

/// Whether two characters can be read alike (same character, or a common
/// reading): `ra` and `rb` are reading hashes, 0 for none.
pub(crate) fn compatible(a: char, ra: &[u32; 4], b: char, rb: &[u32; 4]) -> bool {
    a == b || ra.iter().any(|x| *x != 0 && rb.contains(x))
}

/// Pinyin spellings of a name (readings concatenated, `ü` as `v`), at most
/// `cap` of them, the most common readings first. Characters without pinyin
/// are kept as they are.
pub(crate) fn spellings(chars: &[char], readings: &[Vec<&'static str>], cap: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for (c, r) in chars.iter().zip(readings) {
        if r.is_empty() {
            for s in &mut out {
                s.push(c.to_ascii_lowercase());
            }
            continue;
        }
        let mut next = Vec::with_capacity((out.len() * r.len()).min(cap));
        'outer: for s in &out {
            for syl in r {
                if next.len() >= cap {
                    break 'outer;
                }
                let mut t = s.clone();
                t.extend(syl.chars().map(|c| if c == 'ü' { 'v' } else { c }));
                next.push(t);
            }
        }
        out = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn heteronyms_have_every_reading() {
        assert_eq!(readings('李'), vec!["li"]);
        let xing = readings('行');
        assert!(xing.contains(&"xing") && xing.contains(&"hang"));
        let le = readings('乐');
        assert!(le.contains(&"le") && le.contains(&"yue"));
        assert!(readings('a').is_empty());
        assert_eq!(readings('吕'), vec!["lü"]);
    }

    #[test]
    fn surname_readings_override() {
        for (name, reading) in [
            ("单雄信", "shan"),
            ("曾国藩", "zeng"),
            ("解缙", "xie"),
            ("仇英", "qiu"),
            ("区志强", "ou"),
            ("朴正熙", "piao"),
            ("查良镛", "zha"),
            ("翟志刚", "zhai"),
            ("盖叫天", "ge"),
            ("缪钺", "miao"),
        ] {
            let r = name_readings(&chars(name));
            assert_eq!(r[0], vec![reading], "{name}");
        }
        let r = name_readings(&chars("尉迟恭"));
        assert_eq!(r[0], vec!["yu"]);
        assert_eq!(r[1], vec!["chi"]);
        // Only the first character is a surname.
        let r = name_readings(&chars("王单"));
        assert!(r[1].contains(&"dan"));
        // A single character is not a surname.
        assert!(name_readings(&chars("单"))[0].contains(&"dan"));
    }

    #[test]
    fn spellings_cover_heteronyms() {
        let c = chars("曾乐");
        let r = name_readings(&c);
        let s = spellings(&c, &r, 8);
        assert!(s.contains(&"zengle".to_owned()));
        assert!(s.contains(&"zengyue".to_owned()));
        assert!(!s.iter().any(|x| x.starts_with("ceng")));
        let c = chars("吕a");
        let s = spellings(&c, &name_readings(&c), 8);
        assert_eq!(s, vec!["lva".to_owned()]);
        let c = chars("行行行行行");
        assert!(spellings(&c, &name_readings(&c), 8).len() <= 8);
    }

    #[test]
    fn homophones_are_compatible() {
        let h = |c: char| {
            let mut out = [0u32; 4];
            for (slot, r) in out.iter_mut().zip(readings(c)) {
                *slot = u32::try_from(crate::normalize::fnv64(r.as_bytes()) >> 32)
                    .unwrap_or(1)
                    .max(1);
            }
            out
        };
        assert!(compatible('李', &h('李'), '理', &h('理')));
        assert!(compatible('英', &h('英'), '瑛', &h('瑛')));
        assert!(!compatible('英', &h('英'), '兰', &h('兰')));
        assert!(compatible('a', &h('a'), 'a', &h('a')));
        assert!(!compatible('a', &h('a'), 'b', &h('b')));
    }
}
