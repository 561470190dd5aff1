//! Property tests: preparing and scoring never panic, scoring is symmetric,
//! blocking keys are deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use time::Date;
use ygt_empi::{Config, Model, Registration, Sex, blocking_hashes, blocking_keys, prepare, score};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\u{4e00}-\u{9fa5}]{0,5}",
        "[陳张王李单曾解尉迟 　·a-zA-Z]{0,6}",
        "[0-9xX]{14,19}",
        "[０-９Ｘ]{15,18}",
        "[a-z ]{0,20}",
        "[省市县区镇乡村组号一二三十0-9\u{4e00}-\u{4e20}]{0,25}",
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), text().prop_map(Some)]
}

fn date() -> impl Strategy<Value = Option<Date>> {
    prop_oneof![
        Just(None),
        (1900i32..2030, 1u16..=366).prop_map(|(y, d)| Date::from_ordinal_date(y, d).ok()),
    ]
}

fn sex() -> impl Strategy<Value = Option<Sex>> {
    prop_oneof![
        Just(None),
        Just(Some(Sex::Male)),
        Just(Some(Sex::Female)),
        Just(Some(Sex::Unknown)),
        Just(Some(Sex::Unstated)),
    ]
}

prop_compose! {
    fn registration()(
        record_id in "[a-z0-9]{0,8}",
        name in text(),
        sex in sex(),
        birth_date in date(),
        id_number in opt_text(),
        phone in opt_text(),
        address in opt_text(),
        other_ids in proptest::collection::vec(text(), 0..3),
    ) -> Registration {
        Registration { record_id, institution: "i".into(), name, sex, birth_date, id_number, phone, address, other_ids }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn prepare_and_score_never_panic_and_are_symmetric(a in registration(), b in registration()) {
        let (pa, pb) = (prepare(&a), prepare(&b));
        let model = Model::default_chinese();
        let cfg = Config::default();
        let ab = score(&pa, &pb, &model, &cfg);
        let ba = score(&pb, &pa, &model, &cfg);
        prop_assert!(ab.total.is_finite());
        prop_assert_eq!(ab.total, ba.total);
        prop_assert_eq!(ab.decision, ba.decision);
        prop_assert_eq!(ab.guard, ba.guard);
        for (x, y) in ab.fields.iter().zip(&ba.fields) {
            prop_assert_eq!(x.field, y.field);
            prop_assert_eq!(x.level, y.level);
            prop_assert_eq!(x.weight, y.weight);
        }
        // A registration compared with itself never weighs against itself.
        let aa = score(&pa, &pa, &model, &cfg);
        prop_assert!(aa.fields.iter().skip(1).all(|f| f.weight >= 0.0), "{:?}", aa);
    }

    #[test]
    fn blocking_keys_are_deterministic(a in registration()) {
        let k1 = blocking_keys(&prepare(&a));
        let k2 = blocking_keys(&prepare(&a.clone()));
        prop_assert_eq!(&k1, &k2);
        let mut sorted = k1.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted, k1.clone());
        // Independent of the record id and institution.
        let h = blocking_hashes(&prepare(&a));
        let other = Registration { record_id: "other".into(), institution: "elsewhere".into(), ..a };
        prop_assert_eq!(blocking_keys(&prepare(&other)), k1.clone());
        // One hash per distinct key (no collisions among one registration's keys).
        prop_assert_eq!(h.len(), k1.len());
    }

    #[test]
    fn same_registration_shares_a_key_when_identifying(a in registration()) {
        let p = prepare(&a);
        let keys = blocking_keys(&p);
        if p.valid_id_number().is_some() || p.phone_digits().is_some() {
            prop_assert!(!keys.is_empty());
        }
    }
}

fn named(name: &str) -> Registration {
    Registration {
        name: name.into(),
        ..Default::default()
    }
}

/// Search by initials and by sound: 陈海燕 is `chy`, 乐 in a surname reads `yue` or `le`, and the
/// homophone 陈海艳 shares a spelling with 陈海燕.
#[test]
fn initials_and_spellings_for_search() {
    assert_eq!(prepare(&named("陈海燕")).name_initials(), vec!["chy"]);
    let le = prepare(&named("乐小明")).name_initials();
    assert!(
        le.contains(&"lxm".to_owned()) && le.contains(&"yxm".to_owned()),
        "{le:?}"
    );
    assert_eq!(
        prepare(&named("Zhang San Feng")).name_initials(),
        vec!["zsf"]
    );
    assert!(prepare(&named("")).name_initials().is_empty());
    let a = prepare(&named("陈海艳")).name_spellings();
    let b = prepare(&named("陈海燕")).name_spellings();
    assert!(a.iter().any(|s| b.contains(s)), "{a:?} {b:?}");
}

proptest! {
    #[test]
    fn initials_are_the_first_letters_of_a_spelling(name in "[\u{4e00}-\u{9fa5}]{1,4}") {
        let p = prepare(&named(&name));
        let initials = p.name_initials();
        prop_assert!(!initials.is_empty());
        for i in initials {
            // One letter per character (or the character itself when it has no reading).
            prop_assert_eq!(i.chars().count(), name.chars().count());
        }
    }
}
