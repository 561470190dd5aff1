//! Property tests of the break-glass reason in `ygt_domain::access`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use ygt_domain::access::{BREAK_GLASS_REASON_MIN, BreakGlassReason};

/// Characters that never count: spaces, punctuation (ASCII and full-width), symbols and
/// invisible formatting characters.
const FILLER: &[char] = &[
    ' ', '\u{3000}', '.', ',', '!', '?', '-', '_', '*', '#', '。', '，', '！', '？', '、', '；',
    '：', '…', '—', '（', '）', '《', '》', '\u{200c}', '\u{200d}', '\u{2060}', '\u{00ad}', '☆',
    '+', '=', '~', '·',
];

/// Characters that count: Latin letters, digits, CJK ideographs.
fn counted_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        prop::char::range('0', '9'),
        prop::char::range('\u{4e00}', '\u{9fa5}'),
    ]
}

fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FILLER), 0..40).prop_map(|v| v.into_iter().collect())
}

proptest! {
    /// Nothing but spaces, punctuation and invisible characters is never a reason.
    #[test]
    fn filler_alone_is_refused(s in filler()) {
        let e = BreakGlassReason::parse("reason", &s).unwrap_err();
        prop_assert_eq!(e.field, "reason");
    }

    /// Fewer than the minimum counted characters, however padded, is refused.
    #[test]
    fn too_few_counted_characters_are_refused(
        parts in prop::collection::vec((counted_char(), filler()), 0..BREAK_GLASS_REASON_MIN),
        lead in filler(),
    ) {
        let mut s = lead;
        for (c, f) in &parts {
            s.push(*c);
            s.push_str(f);
        }
        prop_assert!(BreakGlassReason::parse("reason", &s).is_err(), "{:?}", s);
    }

    /// Enough counted characters, whatever lies between them, is accepted and kept in order.
    #[test]
    fn enough_counted_characters_are_accepted(
        parts in prop::collection::vec(
            (counted_char(), prop::collection::vec(prop::sample::select(FILLER), 0..3)),
            BREAK_GLASS_REASON_MIN..60,
        ),
    ) {
        let mut s = String::new();
        let mut letters = String::new();
        for (c, f) in &parts {
            s.push(*c);
            letters.push(*c);
            s.extend(f.iter());
        }
        let r = BreakGlassReason::parse("reason", &s).unwrap();
        let kept: String = r.as_str().chars().filter(|c| c.is_alphanumeric()).collect();
        prop_assert_eq!(kept, letters);
    }

    /// Whatever is accepted has at least the minimum of counted characters and no control
    /// characters.
    #[test]
    fn accepted_reasons_hold_the_rule(s in "\\PC{0,80}") {
        if let Ok(r) = BreakGlassReason::parse("reason", &s) {
            prop_assert!(BreakGlassReason::counted(r.as_str()) >= BREAK_GLASS_REASON_MIN);
            prop_assert!(!r.as_str().chars().any(char::is_control));
        } else {
            let invisible = |c: char| {
                c.is_control()
                    || matches!(c, '\u{200b}' | '\u{feff}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            };
            let explained = BreakGlassReason::counted(&s) < BREAK_GLASS_REASON_MIN
                || s.chars().any(invisible)
                || s.chars().count() > 500;
            prop_assert!(explained, "refused without a reason: {:?}", s);
        }
    }
}
