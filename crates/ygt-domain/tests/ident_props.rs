//! Property tests of the identifiers in `ygt_domain::ident`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use time::{Date, Duration};
use ygt_domain::ident::{DivisionCode, IdNumber, Phone, Sex, Uscc};

const PROVINCES: &[&str] = &[
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83", "91",
];
const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

fn area6() -> impl Strategy<Value = String> {
    (prop::sample::select(PROVINCES), "[0-9]{4}").prop_map(|(p, rest)| format!("{p}{rest}"))
}

/// Any date from the first day of `from` to the last day of `to`.
fn birth_between(from: i32, to: i32) -> impl Strategy<Value = Date> {
    let start = Date::from_calendar_date(from, time::Month::January, 1).unwrap();
    let end = Date::from_calendar_date(to, time::Month::December, 31).unwrap();
    (0..=(end - start).whole_days()).prop_map(move |d| start + Duration::days(d))
}

/// Any birth date an identity number may have.
fn birth() -> impl Strategy<Value = Date> {
    birth_between(1800, 2100)
}

fn id_number() -> impl Strategy<Value = IdNumber> {
    (area6(), birth(), 0u16..=999).prop_map(|(a, b, s)| IdNumber::from_parts(&a, b, s).unwrap())
}

fn uscc_body() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(USCC_ALPHABET.chars().collect::<Vec<_>>()),
        17,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn replace_at(s: &str, i: usize, c: char) -> String {
    s.chars()
        .enumerate()
        .map(|(j, d)| if j == i { c } else { d })
        .collect()
}

proptest! {
    #[test]
    fn from_parts_parses_back(area in area6(), b in birth(), seq in 0u16..=999) {
        let id = IdNumber::from_parts(&area, b, seq).unwrap();
        let parsed = IdNumber::parse("id", id.as_str()).unwrap();
        prop_assert_eq!(&parsed, &id);
        prop_assert_eq!(parsed.birth_date(), b);
        prop_assert_eq!(parsed.division_code(), area.as_str());
        let sex = if (seq % 10) % 2 == 1 { Sex::Male } else { Sex::Female };
        prop_assert_eq!(parsed.sex(), sex);
        prop_assert!(!parsed.was_legacy());
    }

    #[test]
    fn id_display_round_trips(id in id_number()) {
        let shown = id.to_string();
        prop_assert_eq!(shown.parse::<IdNumber>().unwrap(), id.clone());
        prop_assert_eq!(IdNumber::parse("id", &shown.to_lowercase()).unwrap(), id);
    }

    #[test]
    fn id_single_substitution_rejected(id in id_number(), pos in 0usize..18, shift in 1usize..11) {
        // Replace the character at `pos` by another one allowed there: a digit,
        // or at the check position a digit or X.
        let alphabet: &[u8] = if pos == 17 { b"0123456789X" } else { b"0123456789" };
        let original = id.as_str().as_bytes()[pos];
        let i = alphabet.iter().position(|&b| b == original).unwrap();
        let shift = 1 + (shift - 1) % (alphabet.len() - 1);
        let c = char::from(alphabet[(i + shift) % alphabet.len()]);
        let changed = replace_at(id.as_str(), pos, c);
        prop_assert_ne!(&changed, id.as_str());
        prop_assert!(IdNumber::parse("id", &changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn id_adjacent_transposition_rejected(id in id_number(), pos in 0usize..17) {
        let chars: Vec<char> = id.as_str().chars().collect();
        if chars[pos] == chars[pos + 1] {
            return Ok(()); // nothing to swap
        }
        let mut swapped = chars.clone();
        swapped.swap(pos, pos + 1);
        let swapped: String = swapped.into_iter().collect();
        prop_assert!(IdNumber::parse("id", &swapped).is_err(), "{} accepted", swapped);
    }

    #[test]
    fn legacy_converts(area in area6(), b in birth_between(1900, 1999), seq in 0u16..=999) {
        let id = IdNumber::from_parts(&area, b, seq).unwrap();
        let legacy = format!("{}{}", &id.as_str()[..6], &id.as_str()[8..17]);
        let parsed = IdNumber::parse("id", &legacy).unwrap();
        prop_assert!(parsed.was_legacy());
        prop_assert_eq!(parsed, id);
    }

    #[test]
    fn id_parse_never_panics(s in any::<String>()) {
        let _ = IdNumber::parse("id", &s);
        let _ = IdNumber::parse_at("id", &s, Date::MIN);
        let _ = IdNumber::check_char(&s);
    }

    #[test]
    fn id_parse_never_panics_on_id_like_input(s in "[0-9xX０-９ｘＸ ]{0,20}") {
        if let Ok(id) = IdNumber::parse("id", &s) {
            prop_assert_eq!(IdNumber::parse("id", id.as_str()).unwrap(), id);
        }
    }

    #[test]
    fn uscc_from_body_round_trips(body in uscc_body()) {
        let u = Uscc::from_body(&body).unwrap();
        prop_assert!(u.as_str().starts_with(&body));
        prop_assert_eq!(Uscc::parse("uscc", u.as_str()).unwrap(), u.clone());
        prop_assert_eq!(u.to_string().parse::<Uscc>().unwrap(), u);
    }

    #[test]
    fn uscc_single_substitution_rejected(body in uscc_body(), pos in 0usize..18, shift in 1usize..31) {
        let u = Uscc::from_body(&body).unwrap();
        let alphabet = USCC_ALPHABET.as_bytes();
        let original = u.as_str().as_bytes()[pos];
        let i = alphabet.iter().position(|&b| b == original).unwrap();
        let c = char::from(alphabet[(i + shift) % alphabet.len()]);
        let changed = replace_at(u.as_str(), pos, c);
        prop_assert_ne!(&changed, u.as_str());
        prop_assert!(Uscc::parse("uscc", &changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn uscc_parse_never_panics(s in any::<String>()) {
        let _ = Uscc::parse("uscc", &s);
        let _ = Uscc::from_body(&s);
    }

    #[test]
    fn division_code_round_trips_and_within(p in prop::sample::select(PROVINCES), rest in "[0-9]{4}([0-9]{3}([0-9]{3})?)?") {
        let d = DivisionCode::parse("d", &format!("{p}{rest}")).unwrap();
        prop_assert_eq!(d.to_string().parse::<DivisionCode>().unwrap(), d.clone());
        prop_assert!(d.is_within(&d));
        let county = DivisionCode::parse("d", d.county()).unwrap();
        let province = DivisionCode::parse("d", &format!("{p}0000")).unwrap();
        prop_assert!(d.is_within(&province));
        if d.level() >= county.level() {
            prop_assert!(d.is_within(&county));
        }
    }

    #[test]
    fn division_code_parse_never_panics(s in any::<String>()) {
        if let Ok(d) = DivisionCode::parse("d", &s) {
            let _ = (d.level(), d.province(), d.county(), d.significant());
        }
    }

    #[test]
    fn phone_parse_never_panics(s in any::<String>()) {
        if let Ok(p) = Phone::parse("phone", &s) {
            let _ = (p.masked(), p.area_code(), p.extension());
        }
    }

    #[test]
    fn phone_canonical_reparses(s in "(\\+86 ?)?[0-9 -]{7,20}") {
        if let Ok(p) = Phone::parse("phone", &s) {
            prop_assert_eq!(Phone::parse("phone", p.as_str()).unwrap(), p.clone());
            prop_assert_eq!(p.to_string().parse::<Phone>().unwrap(), p);
        }
    }

    #[test]
    fn mobile_numbers_parse(n in "1[3-9][0-9]{9}") {
        let p = Phone::parse("phone", &n).unwrap();
        prop_assert!(p.is_mobile());
        prop_assert_eq!(p.as_str(), n.as_str());
        prop_assert_eq!(Phone::parse("phone", &format!("+86 {}", n)).unwrap(), p);
    }

    #[test]
    fn landlines_parse(area in "010|02[0-9]|0[3-9][0-9]{2}", local in "[1-9][0-9]{6,7}", ext in proptest::option::of("[0-9]{1,6}")) {
        let input = match &ext { Some(e) => format!("{area}{local}-{e}"), None => format!("{area}{local}") };
        let p = Phone::parse("phone", &input).unwrap();
        let canonical = match &ext { Some(e) => format!("{area}-{local}-{e}"), None => format!("{area}-{local}") };
        prop_assert_eq!(p.as_str(), canonical.as_str());
        prop_assert_eq!(p.area_code(), Some(area.as_str()));
        prop_assert_eq!(Phone::parse("phone", p.as_str()).unwrap(), p);
    }
}

// --------------------------------------------------------------------------- person names

/// Invisible and formatting characters a name must never hide (Cf, controls, Hangul fillers).
const INVISIBLE: &[char] = &[
    '\u{00AD}',
    '\u{061C}',
    '\u{180E}',
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{200E}',
    '\u{200F}',
    '\u{202A}',
    '\u{202B}',
    '\u{202C}',
    '\u{202D}',
    '\u{202E}',
    '\u{2060}',
    '\u{2061}',
    '\u{2062}',
    '\u{2063}',
    '\u{2064}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{206A}',
    '\u{206F}',
    '\u{FEFF}',
    '\u{FFF9}',
    '\u{FFFB}',
    '\u{E0001}',
    '\u{E0041}',
    '\u{E007F}',
    '\u{3164}',
    '\u{115F}',
    '\u{1160}',
    '\u{FFA0}',
    '\u{0000}',
    '\u{0007}',
    '\u{001B}',
    '\u{007F}',
    '\u{009F}',
];

/// A visible name: two to four common Chinese characters, or Latin words.
fn visible_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::char::range('\u{4e00}', '\u{9fa5}'), 2..5)
            .prop_map(|v| v.into_iter().collect::<String>()),
        "[A-Z][a-z]{1,8}( [A-Z][a-z]{1,8}){0,2}",
    ]
}

proptest! {
    /// Visible names pass unchanged.
    #[test]
    fn visible_names_pass(name in visible_name()) {
        prop_assert_eq!(ygt_domain::ident::person_name("name", &name, 50).unwrap(), name);
    }

    /// One invisible or formatting character anywhere in a name refuses it, naming the field
    /// and the character.
    #[test]
    fn an_invisible_character_anywhere_refuses_the_name(
        name in visible_name(),
        c in prop::sample::select(INVISIBLE),
        at in 0usize..10,
    ) {
        let mut chars: Vec<char> = name.chars().collect();
        let at = at.min(chars.len());
        chars.insert(at, c);
        let s: String = chars.into_iter().collect();
        let e = ygt_domain::ident::person_name("display_name", &s, 50).unwrap_err();
        prop_assert_eq!(e.field.as_str(), "display_name");
        let code = format!("U+{:04X}", u32::from(c));
        prop_assert!(e.reason.message().to_string().starts_with("common.name_invisible"));
        prop_assert!(e.reason.message().to_string().contains(&code));
        prop_assert!(e.reason.message_en().contains(&code));
    }
}
