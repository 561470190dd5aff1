//! The normalised form of a registration, computed once.

use time::Date;
use ygt_domain::ident::{IdNumber, Sex};

use crate::Registration;
use crate::normalize::{self, is_han};
use crate::readings;

/// How many pinyin spellings of one name are kept for blocking.
pub(crate) const MAX_SPELLINGS: usize = 8;

/// A name in characters (with their readings) or in Latin letters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Name {
    Missing,
    /// Chinese characters (and possibly other letters), normalised, with
    /// the sounds of each: hashes of up to four readings, 0 for none.
    Han {
        chars: Box<[char]>,
        sounds: Box<[Sounds]>,
    },
    /// Latin letters: lower-case words.
    Latin {
        words: Vec<String>,
        joined: String,
    },
}

/// Hashes of up to four toneless readings of one character (0: none).
pub(crate) type Sounds = [u32; 4];

fn sounds(readings: &[&'static str]) -> Sounds {
    let mut out = [0u32; 4];
    for (slot, r) in out.iter_mut().zip(readings) {
        *slot = u32::try_from(normalize::fnv64(r.as_bytes()) >> 32)
            .unwrap_or(1)
            .max(1);
    }
    out
}

impl Name {
    /// Every reading of each character (surname readings for the surname).
    pub(crate) fn readings(&self) -> Vec<Vec<&'static str>> {
        match self {
            Name::Han { chars, .. } => readings::name_readings(chars),
            _ => Vec::new(),
        }
    }

    /// The first letters of the syllables of every spelling of a Chinese name (`chy` for
    /// 陈海燕), or of the words of a Latin one; at most `MAX_SPELLINGS`, deduplicated.
    pub(crate) fn initials(&self) -> Vec<String> {
        match self {
            Name::Missing => Vec::new(),
            Name::Han { chars, .. } => {
                let firsts: Vec<Vec<&'static str>> = readings::name_readings(chars)
                    .iter()
                    .map(|r| {
                        let mut f: Vec<&'static str> =
                            r.iter().filter_map(|syl| syl.get(..1)).collect();
                        f.sort_unstable();
                        f.dedup();
                        f
                    })
                    .collect();
                let mut out = readings::spellings(chars, &firsts, MAX_SPELLINGS);
                out.sort_unstable();
                out.dedup();
                out
            }
            Name::Latin { words, .. } => {
                vec![words.iter().filter_map(|w| w.get(..1)).collect()]
            }
        }
    }

    /// Pinyin spellings of a Chinese name (at most `MAX_SPELLINGS`), or the
    /// concatenated words of a Latin one.
    pub(crate) fn spellings(&self) -> Vec<String> {
        match self {
            Name::Missing => Vec::new(),
            Name::Han { chars, .. } => {
                readings::spellings(chars, &readings::name_readings(chars), MAX_SPELLINGS)
            }
            Name::Latin { words, .. } => {
                // In the given order and reversed (given name and surname
                // swapped).
                let forward = words.concat();
                let mut rev = words.clone();
                rev.reverse();
                let backward = rev.concat();
                if backward == forward {
                    vec![forward]
                } else {
                    vec![forward, backward]
                }
            }
        }
    }
}

/// An identity number as 17 body digits and a check character, whether it is
/// a valid GB 11643 number, and whether it was given in 15 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdInfo {
    pub body: [u8; 17],
    pub check: u8,
    pub valid: bool,
    pub legacy: bool,
}

/// Normalised form of a registration, computed once (pinyin readings,
/// digits, ...). Produced by [`prepare`](crate::prepare).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub(crate) record_id: String,
    pub(crate) name: Name,
    pub(crate) id: Option<IdInfo>,
    /// The registration's birth date, or the one its valid ID number implies.
    pub(crate) birth: Option<Date>,
    /// Male or female: the registration's, or the one its valid ID implies.
    pub(crate) sex: Option<Sex>,
    pub(crate) phone: Option<String>,
    pub(crate) address: Option<normalize::Address>,
    pub(crate) other_ids: Vec<String>,
    /// Whether any identity number text was given (valid or not).
    pub(crate) raw_id_given: bool,
}

impl Prepared {
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The canonical 18-character number when the registration carries a
    /// valid identity number (15-digit numbers converted); `None` for a
    /// missing or invalid one.
    pub fn valid_id_number(&self) -> Option<String> {
        self.id.filter(|id| id.valid).map(|id| {
            id.body
                .iter()
                .chain([&id.check])
                .map(|&b| char::from(b))
                .collect()
        })
    }

    /// Whether an identity number was given but is not a valid one.
    pub fn id_number_invalid(&self) -> bool {
        self.id.is_none_or(|id| !id.valid) && self.raw_id_given
    }

    /// The normalised name: characters, or lower-case Latin words.
    pub fn normalized_name(&self) -> String {
        match &self.name {
            Name::Missing => String::new(),
            Name::Han { chars, .. } => chars.iter().collect(),
            Name::Latin { joined, .. } => joined.clone(),
        }
    }

    /// Pinyin of the name, one syllable per character separated by spaces,
    /// the most common reading of each character (surname readings for the
    /// surname). Latin names as they are.
    pub fn name_pinyin(&self) -> String {
        match &self.name {
            Name::Missing => String::new(),
            Name::Han { chars, .. } => chars
                .iter()
                .zip(self.name.readings())
                .map(|(c, r)| r.first().map_or_else(|| c.to_string(), |s| (*s).to_owned()))
                .collect::<Vec<_>>()
                .join(" "),
            Name::Latin { joined, .. } => joined.clone(),
        }
    }

    /// Every pinyin spelling of the name (syllables concatenated, `ü` as
    /// `v`), at most eight, for search by pinyin.
    pub fn name_spellings(&self) -> Vec<String> {
        self.name.spellings()
    }

    /// The initials of every spelling of the name (`chy` for 陈海燕), for search by initials.
    pub fn name_initials(&self) -> Vec<String> {
        self.name.initials()
    }

    /// Birth date: the registration's, or the one its valid ID implies.
    pub fn birth_date(&self) -> Option<Date> {
        self.birth
    }

    /// Male or female: the registration's, or the one its valid ID implies.
    pub fn sex(&self) -> Option<Sex> {
        self.sex
    }

    /// Phone number as digits (country code dropped).
    pub fn phone_digits(&self) -> Option<&str> {
        self.phone.as_deref()
    }

    /// The address as compared: below the county level, numerals as digits.
    pub fn normalized_address(&self) -> Option<&str> {
        self.address.as_ref().map(|a| &*a.text)
    }

    /// Other identifiers, normalised (upper case, letters and digits).
    pub fn other_ids(&self) -> &[String] {
        &self.other_ids
    }
}

fn prepare_name(raw: &str) -> Name {
    let cleaned: Vec<char> = normalize::basic(raw)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if cleaned.is_empty() {
        return Name::Missing;
    }
    if cleaned.iter().any(|&c| is_han(c)) {
        let chars: Vec<char> = cleaned
            .into_iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let sounds: Box<[Sounds]> = readings::name_readings(&chars)
            .iter()
            .map(|r| sounds(r))
            .collect();
        return Name::Han {
            chars: chars.into_boxed_slice(),
            sounds,
        };
    }
    let lower = raw
        .chars()
        .map(normalize::half_width)
        .collect::<String>()
        .to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.replace('ü', "v"))
        .collect();
    if words.is_empty() {
        return Name::Missing;
    }
    let joined = words.join(" ");
    Name::Latin { words, joined }
}

fn body_from(digits: &[u8]) -> Option<[u8; 17]> {
    let mut body = [0u8; 17];
    if digits.len() != 17 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    body.copy_from_slice(digits);
    // Placeholders such as 000000000000000000 carry no identity.
    (normalize::distinct_bytes(&body) >= 4).then_some(body)
}

/// Reads an identity number: a valid one through `IdNumber`, an invalid one
/// that still has the shape of a number (17 digits and a check character,
/// 15 digits, or 17 digits) as its body, anything else as nothing.
pub(crate) fn prepare_id(raw: &str) -> Option<(IdInfo, Option<IdNumber>)> {
    if let Ok(id) = IdNumber::parse("id_number", raw) {
        let bytes = id.as_str().as_bytes();
        let body = body_from(bytes.get(..17)?)?;
        let info = IdInfo {
            body,
            check: *bytes.get(17)?,
            valid: true,
            legacy: id.was_legacy(),
        };
        return Some((info, Some(id)));
    }
    let t: Vec<u8> = raw
        .chars()
        .map(normalize::half_width)
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.'))
        .map(|c| c.to_ascii_uppercase())
        .collect::<String>()
        .into_bytes();
    let (body, check, legacy) = match t.len() {
        18 => (body_from(&t[..17])?, t[17], false),
        17 => (body_from(&t)?, b'?', false),
        15 if t.iter().all(u8::is_ascii_digit) => {
            let mut d = Vec::with_capacity(17);
            d.extend_from_slice(&t[..6]);
            d.extend_from_slice(b"19");
            d.extend_from_slice(&t[6..]);
            (body_from(&d)?, b'?', true)
        }
        _ => return None,
    };
    Some((
        IdInfo {
            body,
            check,
            valid: false,
            legacy,
        },
        None,
    ))
}

/// Normalises a registration once for blocking and comparison.
pub fn prepare(r: &Registration) -> Prepared {
    let parsed = r.id_number.as_deref().and_then(prepare_id);
    let raw_id_given = r
        .id_number
        .as_deref()
        .is_some_and(|s| s.chars().any(|c| !c.is_whitespace()));
    let (id, valid) = match parsed {
        Some((info, valid)) => (Some(info), valid),
        None => (None, None),
    };
    let sex = r
        .sex
        .filter(|s| matches!(s, Sex::Male | Sex::Female))
        .or_else(|| valid.as_ref().map(IdNumber::sex));
    let birth = r
        .birth_date
        .or_else(|| valid.as_ref().map(IdNumber::birth_date));
    let mut other_ids: Vec<String> = r
        .other_ids
        .iter()
        .filter_map(|s| normalize::other_id(s))
        .collect();
    other_ids.sort_unstable();
    other_ids.dedup();
    Prepared {
        record_id: r.record_id.clone(),
        name: prepare_name(&r.name),
        id,
        birth,
        sex,
        phone: r.phone.as_deref().and_then(normalize::phone),
        address: r.address.as_deref().and_then(normalize::address),
        other_ids,
        raw_id_given,
    }
}
