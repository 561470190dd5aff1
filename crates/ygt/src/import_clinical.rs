//! `ygt import clinical FILE`: historical clinical data through the shared health record's
//! bulk path, with a progress bar. Rows of one item (same source system, source id and kind)
//! are grouped.
//!
//! What a user can count on:
//!
//! - A file whose header is wrong (empty file, a required column missing or twice) is refused
//!   as a whole: nothing is recorded, the exit status is not 0.
//! - Every other problem is reported with its line and column (`line 7: value …`) and refuses
//!   the *item* it belongs to, never part of it: a lab report whose third result line cannot be
//!   read is not recorded with two results. The other items are recorded.
//! - Items are committed in batches of [`BATCH`]; items already stored (same source identity)
//!   are skipped, so after fixing the reported lines the same file is imported again and only
//!   what was refused is added. If the database fails in the middle, the batches before stay
//!   recorded and a second run completes the import.
//! - An ID number that is not valid is reported but does not refuse the item: it is kept as
//!   sent and never used to find the resident (the item may wait in the unmatched queue).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use time::OffsetDateTime;
use ygt_app::App;
use ygt_app::record::{ItemDraft, MedicationDraft, ParsedItem, PatientRef, ResultDraft};
use ygt_domain::ValidationError;
use ygt_domain::ident::IdNumber;
use ygt_interop::clinical_csv::{ClinicalCsvError, ClinicalRow, ItemKey, read_clinical};

/// Items recorded per transaction.
pub const BATCH: usize = 20_000;

/// A problem of the file, named by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    /// The column of the file (or `line` for the line as a whole).
    pub field: String,
    /// A stable code: the reason codes of validation (`required`, `format`, `unknown_code`,
    /// `invalid_date`, `too_long`, `check_digit`, `not_found`, `invalid`, …) or of the file
    /// (`csv`, `encoding`, `columns`, `unclosed_quote`, `incomplete`).
    pub code: &'static str,
    pub reason: String,
    /// Whether the item was still recorded.
    pub kept: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {} {} ({})",
            self.line,
            self.field,
            self.reason,
            if self.kept {
                "item recorded"
            } else {
                "item refused"
            }
        )
    }
}

/// An item of the file, grouped from its lines, not parsed yet.
pub struct Pending {
    /// The line of its first row.
    pub line: u64,
    /// The lines of its results and medications, in order.
    result_lines: Vec<u64>,
    medication_lines: Vec<u64>,
    pub draft: ItemDraft,
}

/// The file read and grouped: the items to parse and the problems found so far.
pub struct Grouped {
    pub rows: usize,
    pub items: Vec<Pending>,
    /// Items refused for a line of theirs that could not be used.
    pub refused: usize,
    pub problems: Vec<Problem>,
}

fn refused(line: u64, field: &str, code: &'static str, reason: String) -> Problem {
    Problem {
        line,
        field: field.to_owned(),
        code,
        reason,
        kept: false,
    }
}

/// Reads and groups a file. `institution` finds an institution's id by id, name or alias.
pub fn group(
    input: impl Read,
    institution: &dyn Fn(&str) -> Option<String>,
) -> Result<Grouped, ClinicalCsvError> {
    let (rows, row_problems) = read_clinical(input)?;
    let mut problems: Vec<Problem> = Vec::new();
    // Items with a refused line, and the first such line.
    let mut broken: HashMap<ItemKey, u64> = HashMap::new();
    for p in row_problems {
        if let Some(k) = p.item {
            broken.entry(k).or_insert(p.line);
        }
        problems.push(refused(p.line, &p.field, p.code, p.reason));
    }
    let mut resolved: Vec<(&ClinicalRow, String)> = Vec::with_capacity(rows.len());
    for r in &rows {
        match institution(&r.institution) {
            Some(inst) => resolved.push((r, inst)),
            None => {
                broken.entry(r.key()).or_insert(r.line);
                problems.push(refused(
                    r.line,
                    "institution",
                    "not_found",
                    format!("{:?} is not an institution of the registry", r.institution),
                ));
            }
        }
    }
    let mut out: Vec<Pending> = Vec::new();
    let mut index: HashMap<ItemKey, usize> = HashMap::new();
    // Lines of items refused for a line of theirs elsewhere: reported once per item.
    let mut incomplete: BTreeMap<u64, (ItemKey, u64)> = BTreeMap::new();
    for (r, inst) in resolved {
        let key = r.key();
        if let Some(bad) = broken.get(&key) {
            incomplete.entry(r.line).or_insert((key, *bad));
            continue;
        }
        let i = *index.entry(key).or_insert_with(|| {
            out.push(Pending {
                line: r.line,
                result_lines: Vec::new(),
                medication_lines: Vec::new(),
                draft: draft_of(r, inst),
            });
            out.len() - 1
        });
        let Some(p) = out.get_mut(i) else {
            continue;
        };
        if let Some(code) = r.opt("result_code") {
            p.result_lines.push(r.line);
            p.draft.results.push(ResultDraft {
                code,
                name: r.opt("result_name"),
                value: r.opt("value").unwrap_or_default(),
                unit: r.opt("unit"),
                ref_range: r.opt("ref_range"),
                abnormal: r.opt("abnormal"),
                effective_at: None,
            });
        }
        if let Some(drug) = r.opt("drug") {
            p.medication_lines.push(r.line);
            p.draft.medications.push(MedicationDraft {
                name: drug,
                dose: r.opt("dose"),
                frequency: r.opt("frequency"),
                days: r.opt("days"),
                ..Default::default()
            });
        }
    }
    let mut reported: std::collections::HashSet<ItemKey> = std::collections::HashSet::new();
    for (line, (key, bad)) in incomplete {
        if reported.insert(key.clone()) {
            let (system, id, kind) = key;
            problems.push(refused(
                line,
                "line",
                "incomplete",
                format!("is part of {kind} {system}/{id}, refused as a whole for its line {bad}"),
            ));
        }
    }
    problems.sort_by_key(|p| p.line);
    Ok(Grouped {
        rows: rows.len(),
        items: out,
        refused: broken.len(),
        problems,
    })
}

/// The draft of an item from its first row.
fn draft_of(r: &ClinicalRow, institution_id: String) -> ItemDraft {
    let text = r.opt("text");
    let kind = r.kind.as_str();
    let only = |k: bool, v: &Option<String>| if k { v.clone() } else { None };
    ItemDraft {
        kind: r.kind.clone(),
        institution_id,
        source_system: r.source_system.clone(),
        source_id: r.source_id.clone(),
        patient: PatientRef {
            record_id: r.opt("patient_record_id"),
            id_number: r.opt("patient_id_number"),
            name: r.opt("patient_name"),
            ..Default::default()
        },
        occurred_at: r.occurred_at.clone(),
        ended_at: r.opt("ended_at"),
        status: r.opt("status"),
        code: r.opt("code"),
        code_system: r.opt("code_system"),
        title: r.opt("title"),
        department: r.opt("department"),
        doctor: r.opt("doctor"),
        encounter_ref: r.opt("encounter_ref"),
        class: r.opt("class"),
        cost_total: r.opt("cost_total"),
        modality: r.opt("modality"),
        body_part: r.opt("body_part"),
        study_uid: r.opt("study_uid"),
        document_type: r.opt("document_type"),
        chief_complaint: only(kind == "encounter", &text),
        text: only(kind == "document", &text),
        reaction: only(kind == "allergy", &text),
        substance: only(kind == "allergy", &r.opt("title")),
        conclusion: only(kind.ends_with("_report"), &text),
        ..Default::default()
    }
}

impl Pending {
    /// Parses the item; every problem names the line and the column of the file.
    pub fn parse(&self, now: OffsetDateTime) -> (Option<ParsedItem>, Vec<Problem>) {
        match self.draft.parse(now) {
            Ok(p) => {
                let mut warnings = Vec::new();
                if let Some(n) = self.draft.patient.id_number.as_deref()
                    && let Err(e) = IdNumber::parse("patient_id_number", n)
                {
                    warnings.push(Problem {
                        line: self.line,
                        field: "patient_id_number".into(),
                        code: e.reason.code(),
                        reason: format!(
                            "{}; kept as sent, not used to find the resident",
                            ygt_server::i18n::Lang::En.reason(&e.reason)
                        ),
                        kept: true,
                    });
                }
                (Some(p), warnings)
            }
            Err(errs) => (None, errs.0.iter().map(|e| self.locate(e)).collect()),
        }
    }

    /// The line and column of a draft's field (`results[2].value` is the `value` of the line
    /// of the third result).
    fn locate(&self, e: &ValidationError) -> Problem {
        let nth = |lines: &[u64], rest: &str| -> (u64, String) {
            let (n, sub) = rest
                .split_once("].")
                .map_or((rest.trim_end_matches(']'), ""), |(n, s)| (n, s));
            let line = n
                .parse::<usize>()
                .ok()
                .and_then(|i| lines.get(i).copied())
                .unwrap_or(self.line);
            (line, sub.to_owned())
        };
        let (line, column) = if let Some(rest) = e.field.strip_prefix("results[") {
            let (line, sub) = nth(&self.result_lines, rest);
            let col = match sub.as_str() {
                "code" => "result_code",
                "name" => "result_name",
                "effective_at" => "occurred_at",
                other => other,
            };
            (line, col.to_owned())
        } else if let Some(rest) = e.field.strip_prefix("medications[") {
            let (line, sub) = nth(&self.medication_lines, rest);
            let col = match sub.as_str() {
                "name" => "drug",
                other => other,
            };
            (line, col.to_owned())
        } else {
            let col = match e.field.as_str() {
                "results" => "result_code",
                "medications" => "drug",
                "institution_id" => "institution",
                "chief_complaint" | "conclusion" | "findings" | "reaction" => "text",
                "substance" => "title",
                "patient.record_id" => "patient_record_id",
                "patient.id_number" => "patient_id_number",
                "patient.name" => "patient_name",
                other => other,
            };
            (self.line, col.to_owned())
        };
        if e.field == "patient" {
            return refused(
                line,
                "patient_name",
                "required",
                "is required when patient_record_id and patient_id_number are empty".into(),
            );
        }
        refused(
            line,
            &column,
            e.reason.code(),
            ygt_server::i18n::Lang::En.reason(&e.reason),
        )
    }
}

pub async fn import(app: &App, file: &Path) -> Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let ctx = ygt_app::Ctx::system();
    let (institutions, _) = app.list_institutions(&ctx, &Default::default()).await?;
    let find = |name: &str| {
        institutions
            .iter()
            .find(|i| {
                i.id.to_string() == name || i.name == name || i.aliases.iter().any(|a| a == name)
            })
            .map(|i| i.id.to_string())
    };
    let g = group(std::io::BufReader::new(f), &find)
        .map_err(|e| anyhow!("{}: line 1: {} (nothing imported)", file.display(), e))?;
    for p in &g.problems {
        eprintln!("{}: {p}", file.display());
    }
    let now = time::OffsetDateTime::now_utc();
    let bar = crate::progress_bar(g.items.len() as u64);
    let mut refused = g.refused;
    let mut lines = g.problems.iter().filter(|p| !p.kept).count();
    let (mut created, mut skipped, mut unmatched) = (0usize, 0usize, 0usize);
    let mut batch: Vec<ParsedItem> = Vec::with_capacity(BATCH.min(g.items.len()));
    let mut done = 0u64;
    for pending in &g.items {
        let (item, problems) = pending.parse(now);
        for p in &problems {
            let msg = format!("{}: {p}", file.display());
            bar.suspend(|| eprintln!("{msg}"));
        }
        match item {
            Some(p) => batch.push(p),
            None => {
                refused += 1;
                lines += problems.len();
            }
        }
        done += 1;
        if batch.len() >= BATCH {
            let r = app.bulk_record(&ctx, &batch, "csv").await?;
            (created, skipped, unmatched) = (
                created + r.created,
                skipped + r.skipped,
                unmatched + r.unmatched,
            );
            batch.clear();
            bar.set_position(done);
        }
    }
    if !batch.is_empty() {
        let r = app.bulk_record(&ctx, &batch, "csv").await?;
        (created, skipped, unmatched) = (
            created + r.created,
            skipped + r.skipped,
            unmatched + r.unmatched,
        );
    }
    bar.finish_and_clear();
    eprintln!(
        "Imported {created} clinical items from {} rows ({unmatched} waiting in the unmatched queue); {skipped} already stored; {refused} items refused ({lines} problems named above).",
        g.rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Reads, groups and parses a whole file: the items ready to record and every problem, by
    /// line. What `ygt import clinical` records and reports, without a database.
    fn check(
        input: impl Read,
        institution: &dyn Fn(&str) -> Option<String>,
        now: OffsetDateTime,
    ) -> Result<(Vec<ParsedItem>, Vec<Problem>), ClinicalCsvError> {
        let g = group(input, institution)?;
        let mut problems = g.problems;
        let mut items = Vec::new();
        for p in &g.items {
            let (item, found) = p.parse(now);
            items.extend(item);
            problems.extend(found);
        }
        problems.sort_by_key(|p| p.line);
        Ok((items, problems))
    }

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clinical_csv")
    }

    type Expected = (u64, String, String, bool);

    /// malformed.tsv: (file, items still recorded, problems).
    fn manifest() -> Vec<(String, usize, Vec<Expected>)> {
        let text = std::fs::read_to_string(corpus().join("malformed.tsv")).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.trim().is_empty())
            .map(|l| {
                let mut cols = l.split('\t');
                let file = cols.next().unwrap().to_owned();
                let stored = cols.next().unwrap().parse().unwrap();
                let problems = cols
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(|p| {
                        let kept = p.ends_with('~');
                        let mut parts = p.trim_end_matches('~').split(':');
                        (
                            parts.next().unwrap().parse().unwrap(),
                            parts.next().unwrap().to_owned(),
                            parts.next().unwrap().to_owned(),
                            kept,
                        )
                    })
                    .collect();
                (file, stored, problems)
            })
            .collect()
    }

    const COUNTY: &str = "0190d5a0-0000-7000-8000-000000000001";

    fn find(name: &str) -> Option<String> {
        (name == "云溪县人民医院").then(|| COUNTY.to_owned())
    }

    fn run(name: &str) -> Result<(Vec<ParsedItem>, Vec<Problem>), ClinicalCsvError> {
        let bytes = std::fs::read(corpus().join("malformed").join(name)).unwrap();
        check(bytes.as_slice(), &find, OffsetDateTime::now_utc())
    }

    /// Every file of the corpus: exactly the problems the manifest lists (line, column, code,
    /// whether the item is kept), each with a reason, and the items that remain.
    #[test]
    fn malformed_corpus() {
        let listed = manifest();
        let mut found: Vec<String> = std::fs::read_dir(corpus().join("malformed"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut names: Vec<String> = listed.iter().map(|(n, _, _)| n.clone()).collect();
        names.sort();
        assert_eq!(found, names, "every file of the corpus is in malformed.tsv");
        assert!(listed.len() >= 15);
        for (name, stored, mut want) in listed {
            let mut got: Vec<Expected> = match run(&name) {
                Ok((items, problems)) => {
                    assert_eq!(items.len(), stored, "{name}: {problems:#?}");
                    for p in &problems {
                        assert!(!p.reason.trim().is_empty(), "{name}: {p:?}");
                        let shown = p.to_string();
                        assert!(
                            shown.starts_with(&format!("line {}: {} ", p.line, p.field)),
                            "{name}: {shown}"
                        );
                    }
                    problems
                        .iter()
                        .map(|p| (p.line, p.field.clone(), p.code.to_owned(), p.kept))
                        .collect()
                }
                Err(e) => {
                    assert_eq!(stored, 0, "{name}");
                    assert!(!e.to_string().is_empty());
                    vec![(1, e.field().to_owned(), e.code().to_owned(), false)]
                }
            };
            got.sort();
            want.sort();
            assert_eq!(got, want, "{name}");
        }
    }

    /// The reasons say what is wrong and what to do.
    #[test]
    fn reasons_are_clear() {
        let reason = |name: &str, line: u64| {
            let (_, problems) = run(name).unwrap();
            problems
                .iter()
                .find(|p| p.line == line)
                .map(|p| p.to_string())
                .unwrap()
        };
        let r = reason("gbk_encoded.csv", 2);
        assert!(
            r.contains("GB 18030/GBK") && r.contains("云溪县人民医院"),
            "{r}"
        );
        assert!(r.contains("save the file as UTF-8"), "{r}");
        let r = reason("unbalanced_quotes.csv", 3);
        assert!(r.contains("never closed") && r.contains("lines 3–4"), "{r}");
        let r = reason("truncated_row.csv", 3);
        assert!(r.contains("cut off"), "{r}");
        let r = reason("extra_columns.csv", 2);
        assert!(r.contains("10 values, the header 9 columns"), "{r}");
        let r = reason("partial_items.csv", 2);
        assert!(
            r.contains("lab_report LIS/P-1") && r.contains("line 3"),
            "{r}"
        );
        assert!(r.ends_with("(item refused)"), "{r}");
        let r = reason("bad_dates.csv", 4);
        assert!(r.contains("occurred_at is in the future"), "{r}");
        let r = reason("bad_icd10.csv", 2);
        assert!(r.contains("ICD-10"), "{r}");
        let r = reason("bad_id_number.csv", 2);
        assert!(r.contains("not used to find the resident"), "{r}");
        assert!(r.ends_with("(item recorded)"), "{r}");
        let e = run("semicolon_separated.csv").err().unwrap();
        assert!(e.to_string().contains("separated by commas"), "{e}");
    }

    /// A good file: rows grouped into items in order, results and drugs on their lines.
    #[test]
    fn groups_rows_into_items() {
        let csv = "kind,institution,source_system,source_id,occurred_at,patient_name,result_code,value,drug,dose\n\
                   lab_report,云溪县人民医院,LIS,L-1,2025-06-01 08:00,吴玉兰,GLU,7.9,,\n\
                   prescription,云溪县人民医院,HIS,RX-1,2025-06-01 09:00,吴玉兰,,,二甲双胍片,0.5g\n\
                   lab_report,云溪县人民医院,LIS,L-1,2025-06-01 08:00,吴玉兰,HBA1C,阴性,,\n\
                   prescription,云溪县人民医院,HIS,RX-1,2025-06-01 09:00,吴玉兰,,,阿卡波糖片,50mg\n";
        let g = group(csv.as_bytes(), &find).unwrap();
        assert!(g.problems.is_empty());
        assert_eq!(g.items.len(), 2);
        assert_eq!(g.items[0].result_lines, vec![2, 4]);
        assert_eq!(g.items[1].medication_lines, vec![3, 5]);
        let (items, problems) = check(csv.as_bytes(), &find, OffsetDateTime::now_utc()).unwrap();
        assert!(problems.is_empty());
        assert_eq!(items[0].item.observations.len(), 2);
        // A value that is not a number is a text result, not an error.
        assert_eq!(
            items[0].item.observations[1].value_text.as_deref(),
            Some("阴性")
        );
    }
}
