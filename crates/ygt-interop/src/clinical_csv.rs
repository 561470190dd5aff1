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
//!
//! The file is UTF-8 (a byte-order mark is allowed), comma-separated, quoted as RFC 4180 says.
//! A line may leave out trailing empty columns, never add columns: a line with more values than
//! the header (an unquoted comma inside a value shifts every value after it) is refused, and so
//! is a last line that is shorter than the header when the file ends without a line break (the
//! file was cut off). A quote that is never closed is named with the line it opens on.
//! A refused line names the item it belongs to, so that the item is refused as a whole.

use std::collections::HashMap;
use std::io::Read;

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

    /// The item this row belongs to.
    pub fn key(&self) -> ItemKey {
        (
            self.source_system.clone(),
            self.source_id.clone(),
            self.kind.clone(),
        )
    }
}

/// The source identity of an item: (source_system, source_id, kind).
pub type ItemKey = (String, String, String);

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line number (the header is line 1); for a value spanning lines, its first.
    pub line: u64,
    /// The column concerned, or `line` for the line as a whole.
    pub field: String,
    /// Why, as a stable code: `csv` (not readable as CSV), `encoding` (not UTF-8), `required`,
    /// `columns` (more values than the header, or cut off), `unclosed_quote`.
    pub code: &'static str,
    pub reason: String,
    /// The item the line belongs to, when its source identity could be read: the item is
    /// refused as a whole rather than recorded without this line.
    pub item: Option<ItemKey>,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {} {}", self.line, self.field, self.reason)
    }
}

/// A file that cannot be read at all: its header is missing or wrong. Messages start with the
/// column concerned ([`ClinicalCsvError::field`]).
#[derive(Debug, thiserror::Error)]
pub enum ClinicalCsvError {
    #[error("header is missing: the file is empty (required columns: {cols})", cols = REQUIRED.join(","))]
    Empty,
    #[error("{column} is not a column of the header (required: {cols}){hint}", cols = REQUIRED.join(","))]
    MissingColumn { column: String, hint: String },
    #[error("{0} is a column of the header more than once")]
    DuplicateColumn(String),
    #[error("header could not be read: {0}")]
    Read(String),
}

impl ClinicalCsvError {
    /// The column concerned (`header` for the header as a whole).
    pub fn field(&self) -> &str {
        match self {
            ClinicalCsvError::MissingColumn { column, .. } => column,
            ClinicalCsvError::DuplicateColumn(c) => c,
            ClinicalCsvError::Empty | ClinicalCsvError::Read(_) => "header",
        }
    }

    /// A stable code: `empty`, `missing_column`, `duplicate_column`, `read`.
    pub fn code(&self) -> &'static str {
        match self {
            ClinicalCsvError::Empty => "empty",
            ClinicalCsvError::MissingColumn { .. } => "missing_column",
            ClinicalCsvError::DuplicateColumn(_) => "duplicate_column",
            ClinicalCsvError::Read(_) => "read",
        }
    }
}

/// Where the CSV reader stands, as far as quotes are concerned (the states of `csv_core` with
/// its defaults: `,` between values, `"` quoting, `""` inside quotes, any line break).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    StartField,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Watches the bytes the CSV reader reads: whether the file ends inside a quoted value (and
/// where that value opened), and whether it ends with a line break.
struct Watch<R> {
    inner: R,
    state: QuoteState,
    /// Line (1-based) and value index (0-based) of the current line's start.
    line: u64,
    field: usize,
    /// Where the quoted value being read opened.
    opened: (u64, usize),
    last: Option<u8>,
    bytes: u64,
}

impl<R: Read> Watch<R> {
    fn new(inner: R) -> Self {
        Watch {
            inner,
            state: QuoteState::StartField,
            line: 1,
            field: 0,
            opened: (1, 0),
            last: None,
            bytes: 0,
        }
    }

    fn step(&mut self, b: u8) {
        use QuoteState::*;
        let newline = b == b'\n' || b == b'\r';
        self.state = match (self.state, b) {
            (Quoted, b'"') => QuoteInQuoted,
            (Quoted, _) => Quoted,
            (QuoteInQuoted, b'"') => Quoted,
            (StartField, b'"') => {
                self.opened = (self.line, self.field);
                Quoted
            }
            (_, b',') => {
                self.field += 1;
                StartField
            }
            (_, _) if newline => {
                self.field = 0;
                StartField
            }
            _ => Unquoted,
        };
        if b == b'\n' {
            self.line += 1;
        }
    }

    /// Where a quoted value that never closes opened, once everything has been read.
    fn unclosed(&self) -> Option<(u64, usize)> {
        (self.state == QuoteState::Quoted).then_some(self.opened)
    }

    fn ends_with_line_break(&self) -> bool {
        matches!(self.last, Some(b'\n' | b'\r'))
    }
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(chunk) = buf.get(..n) {
            for b in chunk {
                self.step(*b);
            }
            if let Some(l) = chunk.last() {
                self.last = Some(*l);
            }
            self.bytes += n as u64;
        }
        Ok(n)
    }
}

/// Why bytes are not UTF-8: with a hint when they read as GB 18030 (GBK), which is what
/// spreadsheet programs on Chinese Windows save by default.
fn not_utf8(bytes: &[u8]) -> String {
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        "is not UTF-8 text".to_owned()
    } else {
        let shown: String = text.chars().take(20).collect();
        format!(
            "is not UTF-8 text; it reads as GB 18030/GBK ({shown:?}): save the file as UTF-8 (CSV UTF-8)"
        )
    }
}

/// The hint of a header that lacks columns.
fn header_hint(names: &[String]) -> String {
    match names {
        [only] if only.contains(';') => {
            "; the header is one column with ';' in it: values must be separated by commas".into()
        }
        [only] if only.contains('\t') => {
            "; the header is one column with tabs in it: values must be separated by commas".into()
        }
        _ => String::new(),
    }
}

/// Reads every row; lines that cannot be used are reported (with their number, the column and
/// the item they belong to) and skipped.
pub fn read_clinical(
    input: impl Read,
) -> Result<(Vec<ClinicalRow>, Vec<RowProblem>), ClinicalCsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(Watch::new(input));
    let headers = rdr
        .byte_headers()
        .map_err(|e| ClinicalCsvError::Read(e.to_string()))?
        .clone();
    if rdr.get_ref().bytes == 0 {
        return Err(ClinicalCsvError::Empty);
    }
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
        let pos = col(r).ok_or_else(|| ClinicalCsvError::MissingColumn {
            column: (*r).to_owned(),
            hint: header_hint(&names),
        })?;
        if let Some(slot) = req.get_mut(i) {
            *slot = pos;
        }
    }
    for n in REQUIRED.iter().chain(OPTIONAL.iter()) {
        if names.iter().filter(|h| h == n).count() > 1 {
            return Err(ClinicalCsvError::DuplicateColumn((*n).to_owned()));
        }
    }
    let optional: Vec<(&'static str, usize)> = OPTIONAL
        .iter()
        .filter_map(|n| col(n).map(|i| (*n, i)))
        .collect();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut rec = csv::ByteRecord::new();
    // The last line read: its number and how many values it had.
    let mut last: Option<(u64, usize)> = None;
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(RowProblem {
                    line: e.position().map_or(line, |p| p.line()),
                    field: "line".into(),
                    code: "csv",
                    reason: format!("is not valid CSV: {e}"),
                    item: None,
                });
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        last = Some((line, rec.len()));
        let text = |i: usize| -> Result<String, String> {
            match rec.get(i) {
                None => Ok(String::new()),
                Some(b) => std::str::from_utf8(b)
                    .map(str::to_owned)
                    .map_err(|_| not_utf8(b)),
            }
        };
        let mut bad: Option<(String, &'static str, String)> = None;
        if rec.len() > names.len() && rec.iter().skip(names.len()).any(|f| !f.is_empty()) {
            bad = Some((
                "line".into(),
                "columns",
                format!(
                    "has {} values, the header {} columns: a value with a comma in it must be quoted (\"…\")",
                    rec.len(),
                    names.len()
                ),
            ));
        }
        let mut req_values: Vec<String> = Vec::with_capacity(5);
        for (i, r) in REQUIRED.iter().enumerate() {
            match text(req.get(i).copied().unwrap_or(usize::MAX)) {
                Ok(v) if !v.is_empty() => req_values.push(v),
                Ok(_) => {
                    bad.get_or_insert(((*r).into(), "required", "is required".into()));
                    req_values.push(String::new());
                }
                Err(why) => {
                    bad.get_or_insert(((*r).into(), "encoding", why));
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
                Err(why) => {
                    bad.get_or_insert(((*n).into(), "encoding", why));
                }
            }
        }
        let mut it = req_values.into_iter();
        let row = ClinicalRow {
            line,
            kind: it.next().unwrap_or_default(),
            institution: it.next().unwrap_or_default(),
            source_system: it.next().unwrap_or_default(),
            source_id: it.next().unwrap_or_default(),
            occurred_at: it.next().unwrap_or_default(),
            values,
        };
        match bad {
            Some((field, code, reason)) => problems.push(RowProblem {
                line,
                field,
                code,
                reason,
                item: key_of(&row),
            }),
            None => rows.push(row),
        }
    }
    // The end of the file: a quote never closed swallowed the rest of the file into one value
    // of the last line; a short last line without a line break was cut off.
    let watch = rdr.get_ref();
    if let Some((line, _)) = last {
        let verdict = if let Some((opened, field)) = watch.unclosed() {
            let column = names.get(field).cloned().unwrap_or_else(|| "line".into());
            let end = if watch.ends_with_line_break() {
                watch.line.saturating_sub(1).max(opened)
            } else {
                watch.line
            };
            Some((
                column,
                "unclosed_quote",
                if end > opened {
                    format!(
                        "opens a quote (\") on line {opened} that is never closed: lines {opened}–{end} were read as this one value"
                    )
                } else {
                    format!("opens a quote (\") on line {opened} that is never closed")
                },
            ))
        } else {
            match last {
                Some((_, n)) if n < names.len() && !watch.ends_with_line_break() => Some((
                    "line".into(),
                    "columns",
                    format!(
                        "has {n} of the header's {} columns and the file ends without a line break: the file seems cut off",
                        names.len()
                    ),
                )),
                _ => None,
            }
        };
        if let Some((field, code, reason)) = verdict {
            let mut item = None;
            if let Some(pos) = rows.iter().rposition(|r| r.line == line) {
                item = key_of(&rows.remove(pos));
            }
            if let Some(pos) = problems.iter().rposition(|p| p.line == line) {
                item = problems.remove(pos).item.or(item);
            }
            problems.push(RowProblem {
                line,
                field,
                code,
                reason,
                item,
            });
        }
    }
    Ok((rows, problems))
}

/// The source identity of a row, when all of it is there.
fn key_of(r: &ClinicalRow) -> Option<ItemKey> {
    (!r.source_system.is_empty() && !r.source_id.is_empty() && !r.kind.is_empty()).then(|| r.key())
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
        assert_eq!(problems[0].code, "required");
        assert_eq!(
            problems[0].item,
            Some(("LIS".into(), "L2".into(), "lab_report".into()))
        );
        let err = read_clinical("kind,institution\nx,y\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("source_system"));
        assert_eq!(err.field(), "source_system");
        assert_eq!(err.code(), "missing_column");
    }

    #[test]
    fn invalid_utf8_is_named() {
        let mut bytes = b"kind,institution,source_system,source_id,occurred_at,title\n".to_vec();
        bytes.extend_from_slice(b"lab_report,H,LIS,1,2026-01-01,\xff\xfe\n");
        let (rows, problems) = read_clinical(bytes.as_slice()).unwrap();
        assert!(rows.is_empty());
        assert_eq!(problems[0].field, "title");
        assert_eq!(problems[0].line, 2);
        assert_eq!(problems[0].code, "encoding");
        assert_eq!(problems[0].reason, "is not UTF-8 text");
        // GBK bytes are recognised as such.
        let (gbk, _, _) = encoding_rs::GB18030.encode("吴玉兰");
        let mut bytes =
            b"kind,institution,source_system,source_id,occurred_at,patient_name\n".to_vec();
        bytes.extend_from_slice(b"lab_report,H,LIS,1,2026-01-01,");
        bytes.extend_from_slice(&gbk);
        bytes.push(b'\n');
        let (_, problems) = read_clinical(bytes.as_slice()).unwrap();
        assert_eq!(problems[0].field, "patient_name");
        assert!(problems[0].reason.contains("GB 18030"), "{}", problems[0]);
        assert!(problems[0].reason.contains("吴玉兰"), "{}", problems[0]);
    }

    #[test]
    fn header_problems() {
        let err = read_clinical(&b""[..]).unwrap_err();
        assert_eq!((err.field(), err.code()), ("header", "empty"));
        let err =
            read_clinical("kind;institution;source_system;source_id;occurred_at\n".as_bytes())
                .unwrap_err();
        assert_eq!((err.field(), err.code()), ("kind", "missing_column"));
        assert!(err.to_string().contains("separated by commas"), "{err}");
        let err = read_clinical(
            "kind,institution,source_system,source_id,occurred_at,value,VALUE\n".as_bytes(),
        )
        .unwrap_err();
        assert_eq!((err.field(), err.code()), ("value", "duplicate_column"));
    }

    #[test]
    fn shifted_cut_off_and_unclosed_lines() {
        let head = "kind,institution,source_system,source_id,occurred_at,text,title\n";
        // An unquoted comma shifts the values: refused. Empty extra values are harmless.
        let csv = format!(
            "{head}document,H,EMR,1,2026-01-01,头痛,发热,门诊病历\ndocument,H,EMR,2,2026-01-01,头痛,门诊病历,,\n"
        );
        let (rows, problems) = read_clinical(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].source_id, "2");
        assert_eq!((problems[0].line, problems[0].code), (2, "columns"));
        // A short last line without a line break: cut off. With one: trailing columns left out.
        let csv = format!("{head}document,H,EMR,1,2026-01-01,头痛\ndocument,H,EMR,2,2026-01");
        let (rows, problems) = read_clinical(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].line, problems[0].code), (3, "columns"));
        assert!(problems[0].reason.contains("cut off"));
        assert_eq!(
            problems[0].item,
            Some(("EMR".into(), "2".into(), "document".into()))
        );
        // A quote never closed: the value swallows the rest of the file.
        let csv = format!(
            "{head}document,H,EMR,1,2026-01-01,\"头痛,门诊病历\ndocument,H,EMR,2,2026-01-01,x,y\ndocument,H,EMR,3,2026-01-01,x,y\n"
        );
        let (rows, problems) = read_clinical(csv.as_bytes()).unwrap();
        assert!(rows.is_empty(), "{rows:?}");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, 2);
        assert_eq!(problems[0].field, "text");
        assert_eq!(problems[0].code, "unclosed_quote");
        assert!(problems[0].reason.contains("lines 2–4"), "{}", problems[0]);
        // Quoted values over several lines, with doubled quotes, are fine.
        let csv = format!(
            "{head}document,H,EMR,1,2026-01-01,\"第一行\n第二行 \"\"引用\"\"\",病历\ndocument,H,EMR,2,2026-01-01,x,y"
        );
        let (rows, problems) = read_clinical(csv.as_bytes()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get("text"), Some("第一行\n第二行 \"引用\""));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = b"kind,institution,source_system,source_id,occurred_at,value\n".to_vec();
            bytes.extend(body);
            let _ = read_clinical(bytes.as_slice());
        }

        /// Whatever a CSV writer quotes reads back as written, with no problem; a quote opened
        /// in a line added at the end and never closed is found.
        #[test]
        fn written_files_read_back(values in proptest::collection::vec("[a-z,\"\r\n 头]{0,12}", 1..6)) {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["kind", "institution", "source_system", "source_id", "occurred_at", "text"]).unwrap();
            for (i, v) in values.iter().enumerate() {
                w.write_record(["document", "H", "EMR", &i.to_string(), "2026-01-01", v]).unwrap();
            }
            let bytes = w.into_inner().unwrap();
            let (rows, problems) = read_clinical(bytes.as_slice()).unwrap();
            prop_assert!(problems.is_empty(), "{:?}", problems);
            prop_assert_eq!(rows.len(), values.len());
            for (r, v) in rows.iter().zip(&values) {
                prop_assert_eq!(r.get("text").unwrap_or(""), v.trim_matches(|c: char| c.is_ascii_whitespace()));
            }
            let mut open = bytes.clone();
            open.extend_from_slice(b"document,H,EMR,x,2026-01-01,\"never closed\n");
            let (rows, problems) = read_clinical(open.as_slice()).unwrap();
            prop_assert_eq!(rows.len(), values.len());
            prop_assert_eq!(problems.len(), 1);
            prop_assert_eq!(problems[0].code, "unclosed_quote");
            prop_assert_eq!(problems[0].field.as_str(), "text");
        }
    }
}
