//! Five years of clinical history for the residents of the index: most visits at primary
//! level, chronic patients with regular follow-up measurements, county-hospital labs, imaging
//! and ECGs, the occasional admission with its discharge summary. Deterministic per seed.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_app::record::{ItemDraft, MedicationDraft, PatientRef, ResultDraft};

use crate::rng::Rng;

/// A resident as the generator needs them: the person, where they are registered, their age.
#[derive(Debug, Clone)]
pub struct Patient {
    pub person: Uuid,
    pub age: i64,
    pub female: bool,
    /// Primary-level institution (village clinic or township centre) where they are registered.
    pub primary: Uuid,
    /// The patient number there, if any.
    pub record_id: Option<String>,
}

const ACUTE: &[(&str, &str, &str, &str)] = &[
    // (ICD-10, diagnosis, chief complaint, drug)
    (
        "J06.900",
        "急性上呼吸道感染",
        "咳嗽、咽痛 2 天",
        "复方氨酚烷胺片",
    ),
    ("K29.700", "慢性胃炎", "上腹部隐痛 1 周", "奥美拉唑肠溶胶囊"),
    ("S33.501", "腰扭伤", "搬重物后腰痛 1 天", "布洛芬缓释胶囊"),
    ("M54.500", "腰痛", "反复腰痛 1 月", "双氯芬酸钠缓释片"),
    ("J20.900", "急性支气管炎", "咳嗽咳痰 5 天", "氨溴索片"),
    ("K52.900", "急性胃肠炎", "腹泻 2 天", "蒙脱石散"),
    ("L30.900", "皮炎", "皮肤瘙痒 3 天", "炉甘石洗剂"),
    ("H10.900", "结膜炎", "眼红、分泌物增多", "左氧氟沙星滴眼液"),
];

const IMAGING: &[(&str, &str, &str, &str)] = &[
    // (modality, body part, findings, conclusion)
    (
        "CT",
        "胸部",
        "双肺纹理清晰，未见明确实质性病变；纵隔未见肿大淋巴结。",
        "胸部 CT 平扫未见明显异常。",
    ),
    (
        "CT",
        "胸部",
        "右肺上叶见一约 6mm 磨玻璃密度结节，边界清。",
        "右肺上叶小结节，建议 12 个月后复查。",
    ),
    (
        "CT",
        "头颅",
        "双侧基底节区见点状低密度影，脑室系统不大。",
        "双侧基底节区腔隙性脑梗死。",
    ),
    (
        "DX",
        "胸部",
        "两肺纹理增多，心影不大，膈面光整。",
        "两肺纹理增多，请结合临床。",
    ),
    (
        "US",
        "腹部",
        "肝脏大小正常，回声增强，后方衰减；胆囊、胰腺、脾脏未见异常。",
        "脂肪肝（轻度）。",
    ),
];

fn day_time(rng: &mut Rng, day: OffsetDateTime) -> String {
    let t = day.to_offset(time::macros::offset!(+8));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        rng.range(8, 16),
        rng.range(0, 59)
    )
}

fn one(code: &str, name: &str, value: f64, unit: &str, range: &str) -> ResultDraft {
    ResultDraft {
        code: code.into(),
        name: Some(name.into()),
        value: format!("{value:.1}"),
        unit: Some(unit.into()),
        ref_range: Some(range.into()),
        ..Default::default()
    }
}

/// The items of one resident's five years, oldest first. `county` is the county hospital.
pub fn history(rng: &mut Rng, p: &Patient, county: Uuid, now: OffsetDateTime) -> Vec<ItemDraft> {
    let mut out = Vec::new();
    let patient = PatientRef {
        person_id: Some(p.person.to_string()),
        record_id: p.record_id.clone(),
        ..Default::default()
    };
    let start = now - Duration::days(5 * 365);
    let hypertensive = p.age >= 35 && rng.chance(((p.age - 30) as f64 / 100.0).clamp(0.05, 0.45));
    let diabetic = p.age >= 40 && rng.chance(((p.age - 35) as f64 / 250.0).clamp(0.03, 0.18));
    let pid = p.person.simple().to_string();
    let mut n = 0usize;
    let mut next_id = |prefix: &str| {
        n += 1;
        format!("{prefix}-{pid}-{n}")
    };
    let base = |kind: &str, inst: Uuid, system: &str, id: String, at: String| ItemDraft {
        kind: kind.into(),
        institution_id: inst.to_string(),
        source_system: system.into(),
        source_id: id,
        patient: patient.clone(),
        occurred_at: at,
        ..Default::default()
    };
    if rng.chance(0.05) {
        let mut a = base(
            "allergy",
            p.primary,
            "HIS",
            next_id("AL"),
            day_time(rng, start),
        );
        a.substance = Some(
            if rng.chance(0.7) {
                "青霉素"
            } else {
                "磺胺类药物"
            }
            .into(),
        );
        a.reaction = Some("皮疹".into());
        a.severity = Some("中度".into());
        out.push(a);
    }
    // Acute visits at primary level, about two a year.
    let visits = rng.range(3, 14);
    for _ in 0..visits {
        let day = start + Duration::days(rng.range(0, 5 * 365 - 1));
        let at = day_time(rng, day);
        let Some(&(code, name, complaint, drug)) = rng.pick(ACUTE) else {
            continue;
        };
        let enc = next_id("OP");
        let mut e = base("encounter", p.primary, "HIS", enc.clone(), at.clone());
        e.class = Some("outpatient".into());
        e.chief_complaint = Some(complaint.into());
        e.department = Some("全科".into());
        let total = rng.range(20, 180);
        e.cost_total = Some(format!("{total}.00"));
        e.cost_fund = Some(format!("{}.00", total * 6 / 10));
        e.cost_personal = Some(format!("{}.00", total - total * 6 / 10));
        out.push(e);
        let mut d = base("diagnosis", p.primary, "HIS", next_id("DX"), at.clone());
        d.code = Some(code.into());
        d.title = Some(name.into());
        d.encounter_ref = Some(enc.clone());
        out.push(d);
        let mut rx = base("prescription", p.primary, "HIS", next_id("RX"), at);
        rx.encounter_ref = Some(enc);
        rx.medications = vec![MedicationDraft {
            name: drug.into(),
            dose: Some("常规剂量".into()),
            frequency: Some("tid".into()),
            days: Some("5".into()),
            ..Default::default()
        }];
        out.push(rx);
    }
    // Chronic care: quarterly follow-ups with measurements, a yearly diagnosis and prescription.
    if hypertensive || diabetic {
        let mut sbp = rng.normal(146.0, 8.0);
        for q in 0..20 {
            let day = start + Duration::days(q * 91 + rng.range(0, 20));
            if day > now {
                break;
            }
            let at = day_time(rng, day);
            let enc = next_id("FU");
            let mut e = base("encounter", p.primary, "PHS", enc.clone(), at.clone());
            e.class = Some("public_health".into());
            e.title = Some(
                if hypertensive {
                    "高血压随访"
                } else {
                    "糖尿病随访"
                }
                .into(),
            );
            out.push(e);
            let mut m = base("measurement", p.primary, "PHS", next_id("VS"), at.clone());
            m.encounter_ref = Some(enc.clone());
            // Treatment brings pressure down over the years, with noise.
            sbp = (sbp - 0.6 + rng.normal(0.0, 2.0)).clamp(110.0, 200.0);
            let s = sbp + rng.normal(0.0, 6.0);
            let d = s * 0.6 + rng.normal(4.0, 4.0);
            m.title = Some("血压".into());
            m.results = vec![
                one("SBP", "收缩压", s.round(), "mmHg", "90-139"),
                one("DBP", "舒张压", d.round(), "mmHg", "60-89"),
            ];
            if diabetic {
                let g = rng.normal(7.2, 1.3).clamp(3.5, 20.0);
                m.results
                    .push(one("GLU", "空腹血糖", g, "mmol/L", "3.9-6.1"));
            }
            out.push(m);
            if q % 4 == 0 {
                let (code, name, drug) = if hypertensive {
                    ("I10.x00x002", "原发性高血压", "苯磺酸氨氯地平片")
                } else {
                    ("E11.900", "2型糖尿病", "盐酸二甲双胍片")
                };
                let mut dx = base("diagnosis", p.primary, "PHS", next_id("DX"), at.clone());
                dx.code = Some(code.into());
                dx.title = Some(name.into());
                dx.encounter_ref = Some(enc.clone());
                out.push(dx);
                if diabetic && hypertensive {
                    let mut dx2 = base("diagnosis", p.primary, "PHS", next_id("DX"), at.clone());
                    dx2.code = Some("E11.900".into());
                    dx2.title = Some("2型糖尿病".into());
                    dx2.role = Some("secondary".into());
                    dx2.encounter_ref = Some(enc.clone());
                    out.push(dx2);
                }
                let mut rx = base("prescription", p.primary, "PHS", next_id("RX"), at);
                rx.encounter_ref = Some(enc);
                rx.medications = vec![MedicationDraft {
                    name: drug.into(),
                    dose: Some(if hypertensive { "5mg" } else { "0.5g" }.into()),
                    frequency: Some(if hypertensive { "qd" } else { "bid" }.into()),
                    days: Some("90".into()),
                    ..Default::default()
                }];
                out.push(rx);
            }
        }
    }
    // County hospital: labs, imaging, ECG for some; an admission for a few.
    let county_visits = if hypertensive || diabetic {
        rng.range(1, 4)
    } else if rng.chance(0.3) {
        1
    } else {
        0
    };
    for _ in 0..county_visits {
        let day = start + Duration::days(rng.range(0, 5 * 365 - 1));
        let at = day_time(rng, day);
        let enc = next_id("CH");
        let mut e = base("encounter", county, "HIS", enc.clone(), at.clone());
        e.class = Some("outpatient".into());
        e.department = Some(if hypertensive { "心内科" } else { "内科" }.into());
        e.chief_complaint = Some("复查".into());
        out.push(e);
        let mut lab = base("lab_report", county, "LIS", next_id("LAB"), at.clone());
        lab.title = Some("生化全项".into());
        lab.department = Some("检验科".into());
        lab.encounter_ref = Some(enc.clone());
        lab.results = vec![
            one(
                "GLU",
                "空腹血糖",
                rng.normal(if diabetic { 7.6 } else { 5.2 }, 0.8)
                    .clamp(3.0, 20.0),
                "mmol/L",
                "3.9-6.1",
            ),
            one(
                "CREA",
                "肌酐",
                rng.normal(if p.female { 62.0 } else { 78.0 }, 14.0)
                    .clamp(30.0, 300.0),
                "μmol/L",
                if p.female { "41-73" } else { "57-97" },
            ),
            one(
                "ALT",
                "丙氨酸氨基转移酶",
                rng.normal(24.0, 9.0).clamp(5.0, 200.0),
                "U/L",
                "7-40",
            ),
            one(
                "TC",
                "总胆固醇",
                rng.normal(4.9, 0.8).clamp(2.5, 9.0),
                "mmol/L",
                "<5.2",
            ),
        ];
        if diabetic {
            lab.results.push(one(
                "HBA1C",
                "糖化血红蛋白",
                rng.normal(7.1, 0.9).clamp(4.5, 13.0),
                "%",
                "4.0-6.0",
            ));
        }
        out.push(lab);
        if rng.chance(0.5) {
            let Some(&(modality, part, findings, conclusion)) = rng.pick(IMAGING) else {
                continue;
            };
            let mut im = base("imaging_report", county, "PACS", next_id("IMG"), at.clone());
            im.modality = Some(modality.into());
            im.body_part = Some(part.into());
            im.findings = Some(findings.into());
            im.conclusion = Some(conclusion.into());
            im.department = Some("放射科".into());
            im.study_uid = Some(format!(
                "1.2.156.112605.{}.{}",
                p.person.as_u128() % 1_000_000_007,
                rng.range(1, 999_999)
            ));
            im.encounter_ref = Some(enc.clone());
            out.push(im);
        }
        if hypertensive && rng.chance(0.5) {
            let mut ecg = base("ecg_report", county, "ECG", next_id("ECG"), at.clone());
            ecg.code = Some("ECG".into());
            ecg.title = Some("常规心电图".into());
            ecg.conclusion = Some(
                if rng.chance(0.7) {
                    "窦性心律，正常心电图。"
                } else {
                    "窦性心律，左心室高电压。"
                }
                .into(),
            );
            ecg.encounter_ref = Some(enc);
            out.push(ecg);
        }
    }
    if p.age >= 50 && rng.chance(0.04) {
        let day = start + Duration::days(rng.range(0, 5 * 365 - 30));
        let days = rng.range(5, 12);
        let enc = next_id("IP");
        let mut e = base("encounter", county, "HIS", enc.clone(), day_time(rng, day));
        e.class = Some("inpatient".into());
        e.ended_at = Some(day_time(rng, day + Duration::days(days)));
        e.department = Some("心内科".into());
        e.chief_complaint = Some("胸闷、气短 3 天".into());
        let total = rng.range(6000, 18000);
        e.cost_total = Some(format!("{total}.00"));
        e.cost_fund = Some(format!("{}.00", total * 7 / 10));
        e.cost_personal = Some(format!("{}.00", total - total * 7 / 10));
        out.push(e);
        let mut doc = base(
            "document",
            county,
            "EMR",
            next_id("DS"),
            day_time(rng, day + Duration::days(days)),
        );
        doc.document_type = Some("discharge_summary".into());
        doc.encounter_ref = Some(enc);
        doc.text = Some(format!(
            "入院诊断：冠状动脉粥样硬化性心脏病，不稳定型心绞痛。\n住院 {days} 天，予抗血小板、调脂、扩冠治疗，症状缓解。\n出院诊断：冠心病，不稳定型心绞痛。\n出院医嘱：阿司匹林肠溶片 100mg qd，阿托伐他汀钙片 20mg qn；低盐低脂饮食；1 个月后心内科门诊复查，胸痛加重立即就诊。"
        ));
        out.push(doc);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn patient(age: i64) -> Patient {
        Patient {
            person: Uuid::from_u128(42),
            age,
            female: true,
            primary: Uuid::from_u128(7),
            record_id: Some("V-1".into()),
        }
    }

    #[test]
    fn every_generated_item_parses_and_history_is_deterministic() {
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        let county = Uuid::from_u128(1);
        let mut kinds = std::collections::BTreeMap::new();
        let mut primary = 0usize;
        let mut total = 0usize;
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let p = patient(30 + i64::try_from(seed % 50).unwrap());
            let items = history(&mut rng, &p, county, now);
            let again = history(&mut Rng::new(seed), &p, county, now);
            assert_eq!(items, again, "deterministic per seed");
            for d in &items {
                let parsed = d.parse(now).unwrap_or_else(|e| panic!("{d:?}: {e:?}"));
                *kinds.entry(parsed.kind.code()).or_insert(0usize) += 1;
                if parsed.item.institution_id == p.primary {
                    primary += 1;
                }
                total += 1;
                assert!(parsed.item.occurred_at <= now);
            }
        }
        for k in [
            "encounter",
            "diagnosis",
            "prescription",
            "measurement",
            "lab_report",
            "imaging_report",
        ] {
            assert!(kinds.get(k).copied().unwrap_or(0) > 0, "{k}: {kinds:?}");
        }
        // Most care happens at primary level.
        assert!(
            primary * 10 > total * 6,
            "{primary} of {total} at primary level"
        );
    }

    #[test]
    fn chronic_patients_are_followed_up_quarterly() {
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        let mut followed = 0;
        for seed in 0..100 {
            let items = history(&mut Rng::new(seed), &patient(70), Uuid::from_u128(1), now);
            let bp = items
                .iter()
                .filter(|d| d.kind == "measurement" && d.results.iter().any(|r| r.code == "SBP"))
                .count();
            if bp > 0 {
                assert!(bp >= 16, "about four a year for five years: {bp}");
                followed += 1;
            }
        }
        assert!(
            followed > 20,
            "a good share of 70-year-olds is hypertensive: {followed}"
        );
    }
}
