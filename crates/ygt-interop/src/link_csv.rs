//! The CSV format of `ygt link` and `ygt import residents`.
//!
//! Input header: `record_id,institution,name,sex,birth_date,id_number,phone,address` (in any
//! order; extra columns are ignored), and optionally `other_ids`: further identifiers of the
//! person (insurance number, health card number, a social security number), separated by `;`. Sex `M`, `F`, `1`, `2` (or 男/女) or empty; birth_date
//! `YYYY-MM-DD` or empty; id_number as typed (18 or 15 characters, empty, or malformed).
//! Output: `record_id,person_id`, one row per input record that has a record_id.

use std::collections::HashSet;
use std::io::{Read, Write};

use time::Date;
use ygt_domain::ident::Sex;
use ygt_empi::Registration;

/// The columns an input file must have.
pub const COLUMNS: [&str; 8] = [
    "record_id",
    "institution",
    "name",
    "sex",
    "birth_date",
    "id_number",
    "phone",
    "address",
];

/// A problem with one line of the input (1-based line number, counting the header as line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub field: String,
    pub reason: String,
    /// Whether the record was still used (with that field left empty).
    pub kept: bool,
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {} {}{}",
            self.line,
            self.field,
            self.reason,
            if self.kept {
                " (record kept without it)"
            } else {
                " (record skipped)"
            }
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkCsvError {
    #[error("the header lacks the column {0:?} (expected {cols})", cols = COLUMNS.join(","))]
    MissingColumn(String),
    #[error("the file could not be read: {0}")]
    Read(String),
    #[error("the output could not be written: {0}")]
    Write(String),
}

/// What was read: the registrations (in input order) with their line numbers, and problems.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub records: Vec<Registration>,
    pub lines: Vec<u64>,
    pub problems: Vec<LineProblem>,
}

fn parse_sex(s: &str) -> Option<Option<Sex>> {
    match s.trim() {
        "" => Some(None),
        "M" | "m" | "1" | "男" => Some(Some(Sex::Male)),
        "F" | "f" | "2" | "女" => Some(Some(Sex::Female)),
        "0" | "9" => Some(None),
        _ => None,
    }
}

fn parse_date(s: &str) -> Option<Option<Date>> {
    let t = s.trim();
    if t.is_empty() {
        return Some(None);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(t, &fmt).ok().map(Some)
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Reads a link/import file. Malformed lines are reported and, when they have a record_id,
/// still produce a record (with the bad fields left empty).
pub fn read<R: Read>(input: R) -> Result<ReadResult, LinkCsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|e| LinkCsvError::Read(e.to_string()))?
        .clone();
    let mut idx = [0usize; 8];
    for (k, col) in COLUMNS.iter().enumerate() {
        let pos = headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == *col)
            .ok_or_else(|| LinkCsvError::MissingColumn((*col).to_owned()))?;
        if let Some(slot) = idx.get_mut(k) {
            *slot = pos;
        }
    }
    let other_col = headers
        .iter()
        .position(|h| h.trim().trim_start_matches('\u{feff}') == "other_ids");
    let mut out = ReadResult::default();
    let mut seen = HashSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(2);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.problems.push(LineProblem {
                    line,
                    field: "line".into(),
                    reason: format!("could not be read: {e}"),
                    kept: false,
                });
                continue;
            }
        };
        let get = |k: usize| -> &str { idx.get(k).and_then(|p| rec.get(*p)).unwrap_or("") };
        if rec.len() != headers.len() {
            out.problems.push(LineProblem {
                line,
                field: "line".into(),
                reason: format!("has {} fields, the header {}", rec.len(), headers.len()),
                kept: !get(0).trim().is_empty(),
            });
        }
        let record_id = get(0).trim().to_owned();
        if record_id.is_empty() {
            out.problems.push(LineProblem {
                line,
                field: "record_id".into(),
                reason: "is empty".into(),
                kept: false,
            });
            continue;
        }
        if !seen.insert(record_id.clone()) {
            out.problems.push(LineProblem {
                line,
                field: "record_id".into(),
                reason: format!("{record_id} appears more than once"),
                kept: true,
            });
        }
        let sex = parse_sex(get(3)).unwrap_or_else(|| {
            out.problems.push(LineProblem {
                line,
                field: "sex".into(),
                reason: format!("{:?} is not M, F, 1, 2 or empty", get(3)),
                kept: true,
            });
            None
        });
        let birth_date = parse_date(get(4)).unwrap_or_else(|| {
            out.problems.push(LineProblem {
                line,
                field: "birth_date".into(),
                reason: format!("{:?} is not a date YYYY-MM-DD", get(4)),
                kept: true,
            });
            None
        });
        if get(2).trim().is_empty() {
            out.problems.push(LineProblem {
                line,
                field: "name".into(),
                reason: "is empty".into(),
                kept: true,
            });
        }
        out.records.push(Registration {
            record_id,
            institution: get(1).trim().to_owned(),
            name: get(2).trim().to_owned(),
            sex,
            birth_date,
            id_number: opt(get(5)),
            phone: opt(get(6)),
            address: opt(get(7)),
            other_ids: other_col
                .and_then(|c| rec.get(c))
                .map(|v| {
                    v.split(';')
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        });
        out.lines.push(line);
    }
    Ok(out)
}

/// Writes `record_id,person_id` rows.
pub fn write<W: Write>(output: W, rows: &[(String, String)]) -> Result<(), LinkCsvError> {
    let mut w = csv::Writer::from_writer(output);
    w.write_record(["record_id", "person_id"])
        .map_err(|e| LinkCsvError::Write(e.to_string()))?;
    for (r, p) in rows {
        w.write_record([r, p])
            .map_err(|e| LinkCsvError::Write(e.to_string()))?;
    }
    w.flush().map_err(|e| LinkCsvError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "record_id,institution,name,sex,birth_date,id_number,phone,address\n";

    #[test]
    fn reads_good_and_bad_lines() {
        let text = format!(
            "{HEADER}r1,村卫生室,王秀英,F,1955-07-12,341890195507120029,13955012345,\"柳河镇,张庄村\"\n\
             ,村卫生室,无名,F,,,,\n\
             r3,卫生院,李四,X,1955-13-40,不详,,\n\
             r4,卫生院,赵五\n\
             r1,县医院,王秀英,2,,,,\n"
        );
        let r = read(text.as_bytes()).unwrap();
        let ids: Vec<&str> = r.records.iter().map(|x| x.record_id.as_str()).collect();
        assert_eq!(ids, vec!["r1", "r3", "r4", "r1"]);
        assert_eq!(r.lines, vec![2, 4, 5, 6]);
        assert_eq!(r.records[0].address.as_deref(), Some("柳河镇,张庄村"));
        let p: Vec<(u64, &str)> = r
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            p,
            vec![
                (3, "record_id"),
                (4, "sex"),
                (4, "birth_date"),
                (5, "line"),
                (6, "record_id")
            ]
        );
        assert_eq!(
            r.records[1].id_number.as_deref(),
            Some("不详"),
            "kept as typed for the engine"
        );
    }

    #[test]
    fn other_identifiers_are_read_when_present() {
        let text = "record_id,institution,name,sex,birth_date,id_number,phone,address,other_ids\n\
             r1,A,john smith,M,,,,,3902079; 1234\n";
        let r = read(text.as_bytes()).unwrap();
        assert_eq!(
            r.records[0].other_ids,
            vec!["3902079".to_string(), "1234".to_string()]
        );
        let r = read(format!("{HEADER}r1,A,x,,,,,\n").as_bytes()).unwrap();
        assert!(r.records[0].other_ids.is_empty());
    }

    #[test]
    fn a_missing_column_is_named() {
        let e = read("record_id,name\n1,x\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("institution"), "{e}");
    }

    #[test]
    fn writes_the_output() {
        let mut out = Vec::new();
        write(&mut out, &[("r1".into(), "P1".into())]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "record_id,person_id\nr1,P1\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,400}") {
            let _ = read(format!("{HEADER}{s}").as_bytes());
        }
    }
}
