//! Property tests of the password policy's context (`ygt_domain::password::Context`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use ygt_domain::password::{Context, PasswordPolicy, check};

/// Pinyin of the test county's characters (the application uses `ygt_empi::pinyin_of`).
fn spell(text: &str) -> (Vec<String>, String) {
    const TABLE: &[(char, &str)] = &[
        ('云', "yun"),
        ('溪', "xi"),
        ('县', "xian"),
        ('人', "ren"),
        ('民', "min"),
        ('医', "yi"),
        ('院', "yuan"),
        ('石', "shi"),
        ('桥', "qiao"),
        ('镇', "zhen"),
    ];
    let syl: Vec<&str> = text
        .chars()
        .filter_map(|c| TABLE.iter().find(|(k, _)| *k == c).map(|(_, v)| *v))
        .collect();
    let initials = syl.iter().filter_map(|s| s.chars().next()).collect();
    (
        if syl.is_empty() {
            Vec::new()
        } else {
            vec![syl.concat()]
        },
        initials,
    )
}

fn context() -> Context {
    Context::new("operator9", Some("李四"), 2026).with_names(["云溪县人民医院", "石桥镇"], &spell)
}

/// Words an attacker tries first: the platform's, the county's and an institution's names in
/// Chinese, pinyin and initials, and years near now (the person's own name is refused by a
/// rule of its own).
fn context_part() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "医共体平台",
            "医共体",
            "ygt",
            "YGT",
            "yigongti",
            "云溪",
            "云溪县",
            "Yunxi",
            "YUNXI",
            "yunxixian",
            "人民医院",
            "renminyiyuan",
            "yxxrmyy",
            "石桥",
            "Shiqiao",
        ])
        .prop_map(str::to_owned),
        (2016i32..=2029).prop_map(|y| y.to_string()),
    ]
}

/// Symbols, which no word of the context contains.
fn symbols(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            '#', '$', '%', '&', '*', '+', '=', '?', '^', '~', '<', '>',
        ]),
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    /// Taking the context out leaves exactly what is not context: words and years anywhere,
    /// in any case, count nothing; the symbols between them count one each.
    #[test]
    fn only_what_is_not_context_counts(
        parts in prop::collection::vec((context_part(), symbols(4)), 1..5),
    ) {
        let c = context();
        let mut p = String::new();
        let mut units = 0;
        for (w, s) in &parts {
            p.push_str(w);
            p.push_str(s);
            units += s.chars().count();
        }
        prop_assert_eq!(c.remaining_units(&p), units, "{}", p);
    }

    /// A password made of context words and years plus fewer than the minimum length of
    /// anything else is refused, whatever else it satisfies.
    #[test]
    fn built_from_the_context_is_refused(
        parts in prop::collection::vec(context_part(), 1..4),
        rest in "[A-Za-z0-9!@#%]{0,9}",
        at in 0usize..4,
    ) {
        let mut pieces = parts.clone();
        pieces.insert(at.min(pieces.len()), rest.clone());
        let p: String = pieces.concat();
        let e = check(&PasswordPolicy::default(), "password", &p, &context());
        prop_assert!(e.is_err(), "{} accepted", p);
        prop_assert_eq!(e.unwrap_err().field, "password");
    }

    /// Beside ten units that are not context, context words do not make a good password bad
    /// (the units are the threshold: nine are not enough).
    #[test]
    fn ten_other_units_suffice(word in context_part(), front in any::<bool>()) {
        let core = "Tq8#mVz2Lp";
        let p = if front { format!("{word}{core}") } else { format!("{core}{word}") };
        prop_assert_eq!(check(&PasswordPolicy::default(), "password", &p, &context()), Ok(()), "{}", p);
        let short = &core[..9];
        let p = if front { format!("{word}{short}") } else { format!("{short}{word}") };
        prop_assert!(check(&PasswordPolicy::default(), "password", &p, &context()).is_err(), "{}", p);
    }
}
