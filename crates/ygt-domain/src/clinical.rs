//! The shared health record: kinds of clinical items and the coded values they carry.
//!
//! Items arrive from every member institution through FHIR, HL7 v2 and CSV; these types are
//! what all three doors parse into.

use std::fmt;

use crate::code_enum;
use crate::error::{Reason, ValidationError};

code_enum! {
    /// What a clinical item is.
    pub enum ItemKind {
        Encounter = ("encounter", "就诊", "Encounter"),
        Diagnosis = ("diagnosis", "诊断", "Diagnosis"),
        LabReport = ("lab_report", "检验报告", "Lab report"),
        ImagingReport = ("imaging_report", "影像报告", "Imaging report"),
        EcgReport = ("ecg_report", "心电报告", "ECG report"),
        PathologyReport = ("pathology_report", "病理报告", "Pathology report"),
        Document = ("document", "病历文书", "Clinical document"),
        Prescription = ("prescription", "处方与医嘱", "Prescription or medication order"),
        Measurement = ("measurement", "体征与设备测量", "Vital sign or device measurement"),
        Allergy = ("allergy", "过敏", "Allergy"),
    }
}

code_enum! {
    /// The class of an encounter.
    pub enum EncounterClass {
        Outpatient = ("outpatient", "门诊", "Outpatient"),
        Emergency = ("emergency", "急诊", "Emergency"),
        Inpatient = ("inpatient", "住院", "Inpatient"),
        HomeVisit = ("home_visit", "家庭访视", "Home visit"),
        PublicHealth = ("public_health", "公卫随访", "Public-health visit"),
    }
}

code_enum! {
    /// Whether a diagnosis is the main one of its encounter.
    pub enum DiagnosisRole {
        Primary = ("primary", "主要诊断", "Primary"),
        Secondary = ("secondary", "其他诊断", "Secondary"),
    }
}

code_enum! {
    /// The state of a reported item. A corrected report replaces the earlier version, which
    /// stays in the item's history.
    pub enum ItemStatus {
        Final = ("final", "已发布", "Final"),
        Amended = ("amended", "已更正", "Amended"),
        Preliminary = ("preliminary", "初步报告", "Preliminary"),
        EnteredInError = ("entered_in_error", "已作废", "Entered in error"),
    }
}

code_enum! {
    /// How a result compares with its reference range (HL7 v2 table 0078 codes).
    pub enum Abnormal {
        Normal = ("N", "正常", "Normal"),
        High = ("H", "偏高", "High"),
        Low = ("L", "偏低", "Low"),
        CriticalHigh = ("HH", "危急值（高）", "Critically high"),
        CriticalLow = ("LL", "危急值（低）", "Critically low"),
        Abnormal = ("A", "异常", "Abnormal"),
    }
}

impl Abnormal {
    /// Whether the flag marks a value outside its reference range.
    pub fn is_abnormal(self) -> bool {
        self != Abnormal::Normal
    }
}

code_enum! {
    /// Clinical document types (WS 445 parts).
    pub enum DocumentType {
        OutpatientRecord = ("outpatient_record", "门（急）诊病历", "Outpatient record"),
        AdmissionRecord = ("admission_record", "入院记录", "Admission record"),
        ProgressNote = ("progress_note", "病程记录", "Progress note"),
        DischargeSummary = ("discharge_summary", "出院小结", "Discharge summary"),
        OperationNote = ("operation_note", "手术记录", "Operation note"),
        ReferralRecord = ("referral_record", "转诊记录", "Referral record"),
        HealthCheck = ("health_check", "健康体检", "Health check"),
    }
}

code_enum! {
    /// Imaging modalities (DICOM codes).
    pub enum Modality {
        Ct = ("CT", "CT", "CT"),
        Mr = ("MR", "磁共振", "MRI"),
        Dx = ("DX", "X线摄影", "Radiography"),
        Us = ("US", "超声", "Ultrasound"),
        Mg = ("MG", "乳腺钼靶", "Mammography"),
        Es = ("ES", "内镜", "Endoscopy"),
        Ot = ("OT", "其他", "Other"),
    }
}

code_enum! {
    /// Key populations of basic public health services, computed from age and conditions.
    pub enum KeyPopulation {
        Child = ("child", "0–6岁儿童", "Child aged 0–6"),
        Elderly = ("elderly", "65岁及以上老年人", "Aged 65 or over"),
        Hypertension = ("hypertension", "高血压患者", "Hypertension"),
        Diabetes = ("diabetes", "糖尿病患者", "Diabetes"),
    }
}

impl KeyPopulation {
    /// The key populations of a resident: age in whole years (if known) and the ICD-10
    /// categories of their diagnoses (hypertensive diseases I10–I15, diabetes E10–E14).
    pub fn of(age: Option<i32>, categories: &[&str]) -> Vec<KeyPopulation> {
        let mut out = Vec::new();
        match age {
            Some(a) if a < 7 => out.push(KeyPopulation::Child),
            Some(a) if a >= 65 => out.push(KeyPopulation::Elderly),
            _ => {}
        }
        let any = |lo: &str, hi: &str| categories.iter().any(|c| *c >= lo && *c <= hi);
        if any("I10", "I15") {
            out.push(KeyPopulation::Hypertension);
        }
        if any("E10", "E14") {
            out.push(KeyPopulation::Diabetes);
        }
        out
    }
}

/// An ICD-10 code, as the national clinical version writes them: a letter, two digits and an
/// optional extension after a dot (`I10`, `E11.900`, `I10.x00x002`). Stored with the letter
/// in upper case and `x` placeholders in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Icd10Code(String);

impl Icd10Code {
    pub fn parse(field: &str, s: &str) -> Result<Icd10Code, ValidationError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ValidationError::new(field, Reason::Required));
        }
        let bad = || ValidationError::new(field, Reason::Format("icd10"));
        let (head, ext) = match t.split_once('.') {
            Some((h, e)) => (h, Some(e)),
            None => (t, None),
        };
        let hb = head.as_bytes();
        if hb.len() != 3 || !hb[0].is_ascii_alphabetic() || !hb[1..].iter().all(u8::is_ascii_digit)
        {
            return Err(bad());
        }
        let mut out = String::with_capacity(t.len());
        out.push(char::from(hb[0].to_ascii_uppercase()));
        out.push_str(&head[1..]);
        if let Some(e) = ext {
            if e.is_empty() || e.len() > 10 || !e.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad());
            }
            out.push('.');
            // The placeholder x in lower case, every other letter in upper case.
            out.extend(e.chars().map(|c| {
                if c.eq_ignore_ascii_case(&'x') {
                    'x'
                } else {
                    c.to_ascii_uppercase()
                }
            }));
        }
        Ok(Icd10Code(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The three-character category (`I10` of `I10.x00x002`).
    pub fn category(&self) -> &str {
        self.0.get(..3).unwrap_or(&self.0)
    }
}

impl fmt::Display for Icd10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money in fen (分, hundredths of a yuan), never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

impl Fen {
    /// Parses yuan with at most two decimals (`123`, `123.4`, `123.45`); not negative.
    pub fn parse_yuan(field: &str, s: &str) -> Result<Fen, ValidationError> {
        let t = s.trim().trim_start_matches('¥').trim_start_matches('￥');
        let bad = || ValidationError::new(field, Reason::Format("yuan"));
        if t.is_empty() {
            return Err(ValidationError::new(field, Reason::Required));
        }
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty()
            || int.len() > 12
            || !int.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let yuan: i64 = int.parse().map_err(|_| bad())?;
        let mut cents: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        if frac.len() == 1 {
            cents *= 10;
        }
        Ok(Fen(yuan * 100 + cents))
    }

    pub fn yuan(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A numeric reference range as lab systems write it: `3.9-6.1`, `3.9~6.1`, `<5.2`, `>1.0`,
/// `≤5.2`. Ranges that are text (`阴性`) are kept as text by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefRange {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl RefRange {
    pub fn parse(s: &str) -> Option<RefRange> {
        let t: String = s
            .trim()
            .chars()
            .map(|c| match c {
                '～' | '~' | '—' | '–' | '－' => '-',
                '＜' | '≤' => '<',
                '＞' | '≥' => '>',
                c => c,
            })
            .filter(|c| !c.is_whitespace())
            .collect();
        let num = |x: &str| x.parse::<f64>().ok().filter(|v| v.is_finite());
        if let Some(rest) = t.strip_prefix('<') {
            return num(rest.trim_start_matches('=')).map(|h| RefRange {
                low: None,
                high: Some(h),
            });
        }
        if let Some(rest) = t.strip_prefix('>') {
            return num(rest.trim_start_matches('=')).map(|l| RefRange {
                low: Some(l),
                high: None,
            });
        }
        // A dash after the first character separates the bounds (the first may be a sign).
        let cut = t.char_indices().skip(1).find(|(_, c)| *c == '-')?.0;
        let (a, b) = (&t[..cut], &t[cut + 1..]);
        let (low, high) = (num(a)?, num(b)?);
        (low <= high).then_some(RefRange {
            low: Some(low),
            high: Some(high),
        })
    }

    /// High, low or normal for a value.
    pub fn classify(&self, v: f64) -> Abnormal {
        match (self.low, self.high) {
            (_, Some(h)) if v > h => Abnormal::High,
            (Some(l), _) if v < l => Abnormal::Low,
            _ => Abnormal::Normal,
        }
    }
}

/// The largest document file accepted: 20 MiB.
pub const DOCUMENT_MAX_BYTES: usize = 20 * 1024 * 1024;

/// A PDF document as a member sent it (病历文书的 PDF 版本): its bytes start with `%PDF-`,
/// its last kilobyte holds the `%%EOF` marker (a file cut off in transfer has none), and it is
/// at most [`DOCUMENT_MAX_BYTES`]. Cheap to clone; `Debug` shows its size and SHA-256, never
/// its content.
#[derive(Clone, PartialEq, Eq)]
pub struct Pdf {
    bytes: std::sync::Arc<[u8]>,
    sha256: String,
}

impl Pdf {
    /// Its media type.
    pub const MEDIA_TYPE: &'static str = "application/pdf";

    pub fn parse(field: &str, bytes: Vec<u8>) -> Result<Pdf, ValidationError> {
        if bytes.is_empty() {
            return Err(ValidationError::new(field, Reason::Required));
        }
        if bytes.len() > DOCUMENT_MAX_BYTES {
            return Err(ValidationError::new(
                field,
                Reason::Other(crate::msg!(
                    "record.document_too_large",
                    bytes = bytes.len(),
                    max = DOCUMENT_MAX_BYTES
                )),
            ));
        }
        if !bytes.starts_with(b"%PDF-") {
            return Err(ValidationError::new(field, Reason::Format("pdf")));
        }
        let tail = bytes.get(bytes.len().saturating_sub(1024)..).unwrap_or(&[]);
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err(ValidationError::new(
                field,
                Reason::Other(crate::msg!("record.document_cut_off")),
            ));
        }
        let sha256 = crate::audit::to_hex(&crate::audit::HashAlg::Sha256.digest(&bytes));
        Ok(Pdf {
            bytes: bytes.into(),
            sha256,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Lowercase hex of the SHA-256 of the bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

impl fmt::Debug for Pdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pdf({} bytes, sha256 {})", self.len(), self.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn icd10_codes() {
        for (input, want) in [
            ("I10", "I10"),
            ("i10", "I10"),
            ("E11.900", "E11.900"),
            ("I10.X00X002", "I10.x00x002"),
            (" j06.9 ", "J06.9"),
        ] {
            assert_eq!(Icd10Code::parse("code", input).unwrap().as_str(), want);
        }
        for bad in ["", "10", "I1", "I100", "II0", "I10.", "I10.9-1", "高血压"] {
            assert!(Icd10Code::parse("code", bad).is_err(), "{bad}");
        }
        assert_eq!(
            Icd10Code::parse("c", "I10.x00x002").unwrap().category(),
            "I10"
        );
        let e = Icd10Code::parse("diagnoses[0].code", "X").unwrap_err();
        assert_eq!(e.field, "diagnoses[0].code");
    }

    #[test]
    fn key_populations() {
        assert_eq!(
            KeyPopulation::of(Some(70), &["I10", "K29"]),
            vec![KeyPopulation::Elderly, KeyPopulation::Hypertension]
        );
        assert_eq!(KeyPopulation::of(Some(3), &[]), vec![KeyPopulation::Child]);
        assert_eq!(
            KeyPopulation::of(None, &["E11"]),
            vec![KeyPopulation::Diabetes]
        );
        assert!(KeyPopulation::of(Some(40), &["I20", "E15"]).is_empty());
    }

    #[test]
    fn money() {
        assert_eq!(Fen::parse_yuan("c", "125.5").unwrap(), Fen(12550));
        assert_eq!(Fen::parse_yuan("c", "0.05").unwrap(), Fen(5));
        assert_eq!(Fen::parse_yuan("c", "￥30").unwrap(), Fen(3000));
        assert_eq!(Fen(12550).yuan(), "125.50");
        for bad in ["", "-1", "1.234", "abc", "1e5", ".5"] {
            assert!(Fen::parse_yuan("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reference_ranges() {
        let r = RefRange::parse("3.9-6.1").unwrap();
        assert_eq!(r.classify(7.2), Abnormal::High);
        assert_eq!(r.classify(3.0), Abnormal::Low);
        assert_eq!(r.classify(5.0), Abnormal::Normal);
        assert_eq!(RefRange::parse("3.9～6.1"), Some(r));
        assert_eq!(
            RefRange::parse("<5.2"),
            Some(RefRange {
                low: None,
                high: Some(5.2)
            })
        );
        assert_eq!(
            RefRange::parse("≥1.0"),
            Some(RefRange {
                low: Some(1.0),
                high: None
            })
        );
        assert_eq!(
            RefRange::parse("-2-2"),
            Some(RefRange {
                low: Some(-2.0),
                high: Some(2.0)
            })
        );
        assert_eq!(RefRange::parse("阴性"), None);
        assert_eq!(RefRange::parse("6-3"), None);
    }

    proptest! {
        #[test]
        fn icd10_parse_never_panics_and_roundtrips(s in "\\PC{0,16}") {
            if let Ok(c) = Icd10Code::parse("c", &s) {
                prop_assert_eq!(Icd10Code::parse("c", c.as_str()).unwrap(), c);
            }
        }

        #[test]
        fn money_roundtrips(v in 0i64..1_000_000_000) {
            prop_assert_eq!(Fen::parse_yuan("c", &Fen(v).yuan()).unwrap(), Fen(v));
        }

        #[test]
        fn ranges_never_panic(s in "\\PC{0,16}") {
            let _ = RefRange::parse(&s);
        }
    }

    fn pdf_bytes(body: &str) -> Vec<u8> {
        format!("%PDF-1.4\n{body}\n%%EOF\n").into_bytes()
    }

    #[test]
    fn pdf_is_checked() {
        let p = Pdf::parse("data", pdf_bytes("1 0 obj << >> endobj")).unwrap();
        assert_eq!(p.len(), 36);
        assert_eq!(p.bytes(), pdf_bytes("1 0 obj << >> endobj").as_slice());
        assert_eq!(p.sha256().len(), 64);
        assert!(format!("{p:?}").contains("36 bytes"));
        let code = |b: Vec<u8>| Pdf::parse("data", b).unwrap_err().reason.code();
        assert_eq!(code(Vec::new()), "required");
        assert_eq!(code(b"GIF89a".to_vec()), "format");
        assert_eq!(code(b"%PDF-1.4\n1 0 obj".to_vec()), "invalid");
        let mut big = pdf_bytes("");
        big.resize(DOCUMENT_MAX_BYTES + 1, b' ');
        big.extend_from_slice(b"%%EOF");
        let e = Pdf::parse("data", big).unwrap_err();
        assert_eq!(e.field, "data");
        assert!(
            e.reason
                .message_en()
                .starts_with("record.document_too_large"),
            "{e}"
        );
        // At the limit exactly: accepted.
        let mut max = pdf_bytes("");
        max.resize(DOCUMENT_MAX_BYTES - 6, b' ');
        max.extend_from_slice(b"%%EOF\n");
        assert_eq!(Pdf::parse("data", max).unwrap().len(), DOCUMENT_MAX_BYTES);
    }
}
