//! Chronic and acute problems: which diagnoses the 360 page lists as chronic conditions.
//!
//! A diagnosis is chronic when its ICD-10 category (the letter and two digits, `I10` of
//! `I10.x00x002`) falls in one of the ranges of [`CHRONIC`]: the long-term conditions the
//! county's family doctors manage (the national basic public health service's hypertension,
//! diabetes and severe mental disorders, the township catalogue's stable chronic diseases and
//! the insurer's outpatient chronic and special diseases). Everything else is acute. Acute
//! events of a chronic disease keep their own codes (an acute stroke is I63, its sequelae
//! I69; status asthmaticus is J46, asthma J45; acute kidney failure is N17, chronic kidney
//! disease N18), so the ranges name the chronic forms only.

/// One range of ICD-10 categories, both ends included, with the name the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChronicRange {
    pub from: &'static str,
    pub to: &'static str,
    pub name: &'static str,
}

const fn range(from: &'static str, to: &'static str, name: &'static str) -> ChronicRange {
    ChronicRange { from, to, name }
}

/// The ICD-10 categories of chronic diseases (data, not code: extend here).
pub const CHRONIC: &[ChronicRange] = &[
    range("B18", "B18", "慢性病毒性肝炎"),
    range("B20", "B24", "艾滋病病毒感染"),
    range("C00", "C97", "恶性肿瘤"),
    range("E00", "E07", "甲状腺疾病"),
    range("E10", "E14", "糖尿病"),
    range("E66", "E66", "肥胖"),
    range("E78", "E78", "血脂异常"),
    range("F00", "F03", "痴呆"),
    range("F20", "F20", "精神分裂症"),
    range("F25", "F25", "分裂情感性障碍"),
    range("F31", "F31", "双相情感障碍"),
    range("G20", "G20", "帕金森病"),
    range("G40", "G40", "癫痫"),
    range("I05", "I09", "慢性风湿性心脏病"),
    range("I10", "I15", "高血压"),
    range("I20", "I25", "冠心病"),
    range("I48", "I48", "心房颤动"),
    range("I50", "I50", "心力衰竭"),
    range("I69", "I69", "脑血管病后遗症"),
    range("J41", "J42", "慢性支气管炎"),
    range("J44", "J44", "慢性阻塞性肺疾病"),
    range("J45", "J45", "支气管哮喘"),
    range("K70", "K70", "酒精性肝病"),
    range("K73", "K74", "慢性肝炎和肝硬化"),
    range("M05", "M06", "类风湿关节炎"),
    range("M15", "M19", "骨关节炎"),
    range("M81", "M81", "骨质疏松"),
    range("N18", "N18", "慢性肾脏病"),
];

/// The chronic range an ICD-10 code belongs to, if any (case and extension do not matter:
/// `i10`, `I10.x00x002`).
pub fn chronic_range(code: &str) -> Option<&'static ChronicRange> {
    let category = category(code)?;
    CHRONIC
        .iter()
        .find(|r| r.from <= category.as_str() && category.as_str() <= r.to)
}

/// Whether a diagnosis code names a chronic disease.
pub fn is_chronic(code: &str) -> bool {
    chronic_range(code).is_some()
}

/// The three-character category in upper case, when the code starts with a letter and two
/// digits.
fn category(code: &str) -> Option<String> {
    let head = code.trim().get(..3)?;
    let b = head.as_bytes();
    let ok = b[0].is_ascii_alphabetic() && b[1..].iter().all(u8::is_ascii_digit);
    ok.then(|| head.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_of_the_ranges() {
        for (code, chronic) in [
            ("I09.9", true),
            ("I10", true),
            ("I10.x00x002", true),
            ("I15.9", true),
            ("I16", false),
            ("I19", false),
            ("I20.0", true),
            ("I25.1", true),
            ("I26", false),
            ("E09", false),
            ("E10", true),
            ("E11.900", true),
            ("E14.9", true),
            ("E15", false),
            ("J43.9", false),
            ("J44.1", true),
            ("J45.9", true),
            ("J46", false),
            ("N17.9", false),
            ("N18.5", true),
            ("N19", false),
            ("I63.900", false),
            ("I68", false),
            ("I69.3", true),
            ("I70", false),
        ] {
            assert_eq!(is_chronic(code), chronic, "{code}");
        }
    }

    #[test]
    fn acute_and_odd_codes() {
        for code in [
            "J06.9",
            "K29.7",
            "S33.5",
            "R51",
            "",
            "I1",
            "10I",
            "脑梗死",
            "  ",
        ] {
            assert!(!is_chronic(code), "{code:?}");
        }
        assert!(is_chronic(" i10 "));
        assert_eq!(chronic_range("E11.9").map(|r| r.name), Some("糖尿病"));
    }

    #[test]
    fn ranges_are_sorted_well_formed_and_disjoint() {
        for r in CHRONIC {
            assert!(category(r.from).as_deref() == Some(r.from), "{r:?}");
            assert!(category(r.to).as_deref() == Some(r.to), "{r:?}");
            assert!(r.from <= r.to && r.from[..1] == r.to[..1], "{r:?}");
        }
        for w in CHRONIC.windows(2) {
            assert!(w[0].to < w[1].from, "{:?} overlaps {:?}", w[0], w[1]);
        }
    }
}
