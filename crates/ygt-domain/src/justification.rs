//! A stated reason for an act that needs one (a merge, a split, emergency access): at least a
//! few real words, which spaces, punctuation and invisible characters do not make.

use crate::{Reason, ValidationError};

/// A reason someone wrote for what they did, kept with the act and shown to the auditor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Justification(String);

impl Justification {
    /// Letters, digits and CJK characters a reason needs at least.
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 500;

    /// Needs [`Self::MIN_CHARS`] letters or characters (Unicode alphabetic or numeric); the
    /// text is kept trimmed, as written.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ValidationError::new(field, Reason::Required));
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                field,
                Reason::TooLong {
                    max: Self::MAX_CHARS,
                },
            ));
        }
        if Self::counted(t) < Self::MIN_CHARS {
            return Err(ValidationError::new(
                field,
                Reason::Other(crate::msg!(
                    "common.reason_too_short",
                    min = Self::MIN_CHARS
                )),
            ));
        }
        Ok(Justification(t.to_owned()))
    }

    /// The letters, digits and characters of `s` that count towards the minimum.
    pub fn counted(s: &str) -> usize {
        s.chars().filter(|c| counts(*c)).count()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A letter or digit that shows: the Hangul fillers are letters to Unicode but print nothing.
fn counts(c: char) -> bool {
    c.is_alphanumeric() && !matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_count_and_noise_does_not() {
        assert!(Justification::parse("reason", "两份登记为同一居民，核对身份证一致").is_ok());
        assert!(Justification::parse("reason", "same person per ID card").is_ok());
        for bad in [
            "",
            "   ",
            "..........",
            "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}",
            "，，，，，，，，，，，，",
            "同一人",
            "a b c d e f g h i",
        ] {
            let e = Justification::parse("reason", bad).unwrap_err();
            assert_eq!(e.field, "reason", "{bad:?}");
        }
    }

    proptest! {
        /// Whatever the noise around them, fewer than ten letters never make a reason.
        #[test]
        fn noise_never_counts(
            letters in "[a-z\u{4e00}-\u{4e10}]{0,9}",
            noise in proptest::collection::vec(prop_oneof![
                Just(' '), Just('.'), Just('，'), Just('\u{200B}'), Just('\u{2060}'), Just('\u{00AD}'), Just('\u{3164}'), Just('-')
            ], 0..40)
        ) {
            let mut s: String = noise.iter().collect();
            s.push_str(&letters);
            prop_assert!(Justification::parse("reason", &s).is_err());
        }
    }
}
