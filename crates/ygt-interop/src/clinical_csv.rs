//! The CSV format of `ygt import clinical`: historical clinical data, one row per item, or per
//! value of an item (rows sharing `source_system`, `source_id` and `kind` make one item: a
//! lab report with several results, a prescription with several drugs).
//!
//! Required columns: `kind,institution,source_system,source_id,occurred_at`. Optional columns
//! (any order; unknown columns are ignored): `ended_at, status, patient_record_id,
//! patient_id_number, patient_name, code, code_system, title, department, doctor,
//! encounter_ref, class, text, modality, body_part, study_uid, document_type, result_code,
//! result_name, value, unit, ref_range, abnormal, drug, dose, frequency, days`.
//!
//! `text` is the chief complaint of an encounter, the conclusion of a report, the text of a
//! document, the reaction of an allergy (whose substance is the `title`).

use std::collections::HashMap;
use std::io::Read;

use crate::link_csv::LineProblem;

/// The columns every file must have.
pub const REQUIRED: [&str; 5] = [
    "kind",
    "institution",
    "source_system",
    "source_id",
    "occurred_at",
];

/// The optional columns understood.
pub const OPTIONAL: [&str; 28] = [
    "ended_at",
    "status",
    "patient_record_id",
    "patient_id_number",
    "patient_name",
    "code",
    "code_system",
    "title",
    "department",
    "doctor",
    "encounter_ref",
    "class",
    "text",
    "modality",
    "body_part",
    "study_uid",
    "document_type",
    "result_code",
    "result_name",
    "value",
    "unit",
    "ref_range",
    "abnormal",
    "drug",
    "dose",
    "frequency",
    "days",
    "cost_total",
];

/// One row: the required values and whichever optional ones are not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicalRow {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    pub kind: String,
    pub institution: String,
    pub source_system: String,
    pub source_id: String,
    pub occurred_at: String,
    values: HashMap<&'static str, String>,
}

impl ClinicalRow {
    /// An optional column's value, if present and not blank.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.values.get(column).map(String::as_str)
    }

    /// The same, owned.
    pub fn opt(&self, column: &str) -> Option<String> {
        self.get(column).map(str::to_owned)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClinicalCsvError {
    #[error("the header lacks the column {0:?} (required: {cols})", cols = REQUIRED.join(","))]
    MissingColumn(String),
    #[error("the file could not be read: {0}")]
    Read(String),
}

/// Reads every row; lines that cannot be used are reported (with their number) and skipped.
pub fn read_clinical(
    input: impl Read,
) -> Result<(Vec<ClinicalRow>, Vec<LineProblem>), ClinicalCsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = rdr
        .byte_headers()
        .map_err(|e| ClinicalCsvError::Read(e.to_string()))?
        .clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    let col = |n: &str| names.iter().position(|h| h == n);
    let mut req = [0usize; 5];
    for (i, r) in REQUIRED.iter().enumerate() {
        req[i] = col(r).ok_or_else(|| ClinicalCsvError::MissingColumn((*r).to_owned()))?;
    }
    let optional: Vec<(&'static str, usize)> = OPTIONAL
        .iter()
        .filter_map(|n| col(n).map(|i| (*n, i)))
        .collect();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(LineProblem {
                    line: e.position().map_or(line, |p| p.line()),
                    field: "line".into(),
                    reason: format!("is not valid CSV: {e}"),
                    kept: false,
                });
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let text = |i: usize| -> Result<String, ()> {
            match rec.get(i) {
                None => Ok(String::new()),
                Some(b) => std::str::from_utf8(b).map(str::to_owned).map_err(|_| ()),
            }
        };
        let mut bad: Option<(String, String)> = None;
        let mut req_values: Vec<String> = Vec::with_capacity(5);
        for (i, r) in REQUIRED.iter().enumerate() {
            match text(req[i]) {
                Ok(v) if !v.is_empty() => req_values.push(v),
                Ok(_) => {
                    bad.get_or_insert(((*r).into(), "is required".into()));
                    req_values.push(String::new());
                }
                Err(()) => {
                    bad.get_or_insert(((*r).into(), "is not UTF-8 text".into()));
                    req_values.push(String::new());
                }
            }
        }
        let mut values = HashMap::new();
        for (n, i) in &optional {
            match text(*i) {
                Ok(v) if !v.is_empty() => {
                    values.insert(*n, v);
                }
                Ok(_) => {}
                Err(()) => {
                    bad.get_or_insert(((*n).into(), "is not UTF-8 text".into()));
                }
            }
        }
        if let Some((field, reason)) = bad {
            problems.push(LineProblem {
                line,
                field,
                reason,
                kept: false,
            });
            continue;
        }
        let mut it = req_values.into_iter();
        rows.push(ClinicalRow {
            line,
            kind: it.next().unwrap_or_default(),
            institution: it.next().unwrap_or_default(),
            source_system: it.next().unwrap_or_default(),
            source_id: it.next().unwrap_or_default(),
            occurred_at: it.next().unwrap_or_default(),
            values,
        });
    }
    Ok((rows, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rows_problems_and_missing_columns() {
        let csv = "kind,institution,source_system,source_id,occurred_at,result_code,value,unit\n\
                   lab_report,云溪县人民医院,LIS,L1,2026-03-05 08:00,GLU,7.2,mmol/L\n\
                   lab_report,云溪县人民医院,LIS,L1,2026-03-05 08:00,HBA1C,7.9,%\n\
                   lab_report,,LIS,L2,2026-03-05,GLU,5.0,mmol/L\n\
                   \n\
                   imaging_report,云溪县人民医院,PACS,\"C,1\",2026-03-06\n";
        let (rows, problems) = read_clinical(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].get("result_code"), Some("GLU"));
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[2].source_id, "C,1");
        assert_eq!(rows[2].get("value"), None);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 4);
        assert_eq!(problems[0].field, "institution");
        let err = read_clinical("kind,institution\nx,y\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("source_system"));
    }

    #[test]
    fn invalid_utf8_is_named() {
        let mut bytes = b"kind,institution,source_system,source_id,occurred_at,title\n".to_vec();
        bytes.extend_from_slice(b"lab_report,H,LIS,1,2026-01-01,\xff\xfe\n");
        let (rows, problems) = read_clinical(bytes.as_slice()).unwrap();
        assert!(rows.is_empty());
        assert_eq!(problems[0].field, "title");
        assert_eq!(problems[0].line, 2);
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = b"kind,institution,source_system,source_id,occurred_at,value\n".to_vec();
            bytes.extend(body);
            let _ = read_clinical(bytes.as_slice());
        }
    }
}
