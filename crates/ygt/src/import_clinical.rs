//! `ygt import clinical FILE`: historical clinical data through the shared health record's
//! bulk path, with a progress bar. Rows of one item (same source system, source id and kind)
//! are grouped; every refused row or item is reported with its line number and the rest is
//! imported; items already stored are skipped, so a file can be imported again after a fix.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use ygt_app::App;
use ygt_app::record::{ItemDraft, MedicationDraft, ParsedItem, PatientRef, ResultDraft};
use ygt_interop::clinical_csv::{ClinicalRow, read_clinical};

/// Items recorded per transaction.
const BATCH: usize = 20_000;

/// Groups rows into item drafts (first-appearance order) with the line of their first row.
pub fn group(
    rows: &[ClinicalRow],
    institution: &dyn Fn(&str) -> Option<String>,
) -> (Vec<(u64, ItemDraft)>, Vec<String>) {
    let mut out: Vec<(u64, ItemDraft)> = Vec::new();
    let mut index: HashMap<(String, String, String), usize> = HashMap::new();
    let mut problems = Vec::new();
    for r in rows {
        let Some(inst) = institution(&r.institution) else {
            problems.push(format!(
                "line {}: institution {:?} is not in the registry (row skipped)",
                r.line, r.institution
            ));
            continue;
        };
        let key = (r.source_system.clone(), r.source_id.clone(), r.kind.clone());
        let i = *index.entry(key).or_insert_with(|| {
            let text = r.opt("text");
            let kind = r.kind.as_str();
            let d = ItemDraft {
                kind: r.kind.clone(),
                institution_id: inst,
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
                chief_complaint: if kind == "encounter" {
                    text.clone()
                } else {
                    None
                },
                text: if kind == "document" {
                    text.clone()
                } else {
                    None
                },
                reaction: if kind == "allergy" {
                    text.clone()
                } else {
                    None
                },
                substance: if kind == "allergy" {
                    r.opt("title")
                } else {
                    None
                },
                conclusion: if kind.ends_with("_report") {
                    text
                } else {
                    None
                },
                ..Default::default()
            };
            out.push((r.line, d));
            out.len() - 1
        });
        let Some((_, d)) = out.get_mut(i) else {
            continue;
        };
        if let Some(code) = r.opt("result_code") {
            d.results.push(ResultDraft {
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
            d.medications.push(MedicationDraft {
                name: drug,
                dose: r.opt("dose"),
                frequency: r.opt("frequency"),
                days: r.opt("days"),
                ..Default::default()
            });
        }
    }
    (out, problems)
}

pub async fn import(app: &App, file: &Path) -> Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let (rows, problems) = read_clinical(std::io::BufReader::new(f))?;
    for p in &problems {
        eprintln!("{}: {p}", file.display());
    }
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
    let (drafts, grouping) = group(&rows, &find);
    for p in &grouping {
        eprintln!("{}: {p}", file.display());
    }
    let now = time::OffsetDateTime::now_utc();
    let bar = crate::progress_bar(drafts.len() as u64);
    let mut refused = 0usize;
    let (mut created, mut skipped, mut unmatched) = (0usize, 0usize, 0usize);
    let mut batch: Vec<ParsedItem> = Vec::with_capacity(BATCH);
    let mut done = 0u64;
    for (line, d) in &drafts {
        match d.parse(now) {
            Ok(p) => batch.push(p),
            Err(e) => {
                refused += 1;
                for x in e.0 {
                    let msg = format!("{}: line {line}: {x} (item skipped)", file.display());
                    bar.suspend(|| eprintln!("{msg}"));
                }
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
        "Imported {created} clinical items from {} rows ({unmatched} waiting in the unmatched queue); {skipped} already stored; {} items and {} rows refused.",
        rows.len(),
        refused,
        problems.len() + grouping.len()
    );
    Ok(())
}
