//! Identifiers as everyone but the audited reveal sees them.
//!
//! A resident's ID number, phone number and insurance or health-card numbers leave the server
//! in full only through the reveal use case. Everything else carries these types, which hold
//! the masked text and nothing else: a value of them cannot be turned back into the number.

use std::fmt;

use crate::ident::{IdNumber, Phone};

/// A resident ID number, masked: `1101**********002X` (an invalid number as typed keeps its
/// first two characters: `11****`).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MaskedIdNumber(String);

impl MaskedIdNumber {
    pub fn of(raw: &str) -> Self {
        let v = raw.trim();
        MaskedIdNumber(match IdNumber::parse("id_number", v) {
            Ok(id) => id.masked(),
            Err(_) => keep_head(v, 2),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number, masked: `138****5678`, `0551-******67`.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MaskedPhone(String);

impl MaskedPhone {
    pub fn of(raw: &str) -> Self {
        MaskedPhone(match Phone::parse("phone", raw.trim()) {
            Ok(p) => p.masked(),
            Err(_) => "****".to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Any other personal number (insurance, health card): its last four characters only.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MaskedNumber(String);

impl MaskedNumber {
    pub fn of(raw: &str) -> Self {
        let chars: Vec<char> = raw.trim().chars().collect();
        let keep = if chars.len() > 8 { 4 } else { 0 };
        let tail: String = chars[chars.len() - keep..].iter().collect();
        MaskedNumber(format!("****{tail}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first `n` characters and four stars; four stars for anything that short.
fn keep_head(v: &str, n: usize) -> String {
    if v.chars().count() <= n + 2 {
        "****".to_owned()
    } else {
        format!("{}****", v.chars().take(n).collect::<String>())
    }
}

macro_rules! show {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
show!(MaskedIdNumber, MaskedPhone, MaskedNumber);

/// Masks an optional ID number.
pub fn id_number(v: Option<&str>) -> Option<MaskedIdNumber> {
    v.filter(|s| !s.trim().is_empty()).map(MaskedIdNumber::of)
}

/// Masks an optional phone number.
pub fn phone(v: Option<&str>) -> Option<MaskedPhone> {
    v.filter(|s| !s.trim().is_empty()).map(MaskedPhone::of)
}

/// Masks an optional other number.
pub fn number(v: Option<&str>) -> Option<MaskedNumber> {
    v.filter(|s| !s.trim().is_empty()).map(MaskedNumber::of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_numbers_keep_head_and_tail() {
        assert_eq!(
            MaskedIdNumber::of("11010519491231002X").as_str(),
            "1101**********002X"
        );
        assert_eq!(MaskedPhone::of("13812345678").as_str(), "138****5678");
        assert_eq!(MaskedNumber::of("ZJ1234567890").as_str(), "****7890");
        assert_eq!(MaskedNumber::of("123").as_str(), "****");
        assert_eq!(MaskedIdNumber::of("123").as_str(), "****");
    }

    proptest! {
        /// No masked value carries a run of 7 or more digits of its input, so neither an ID
        /// number nor a mobile number can be read back from it.
        #[test]
        fn masked_values_never_carry_the_number(s in "[0-9Xx]{0,24}") {
            for m in [
                MaskedIdNumber::of(&s).0,
                MaskedPhone::of(&s).0,
                MaskedNumber::of(&s).0,
            ] {
                let longest = m
                    .split(|c: char| !c.is_ascii_digit())
                    .map(str::len)
                    .max()
                    .unwrap_or(0);
                prop_assert!(longest < 7, "{s} -> {m}");
            }
        }
    }
}
