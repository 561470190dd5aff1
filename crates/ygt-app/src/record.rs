//! The shared health record: one use case for every door (FHIR, HL7 v2, CSV, JSON API) that
//! records clinical items, and the reads behind the patient 360 page.
//!
//! Recording is idempotent per source identity (source system, original identifier, kind): the
//! same item sent twice is stored once; a changed item replaces the stored one and the earlier
//! version is kept. Items whose patient the index cannot identify wait in the unmatched queue.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::macros::offset;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};
use uuid::Uuid;
use ygt_domain::access::Permission;
use ygt_domain::clinical::{
    Abnormal, DiagnosisRole, DocumentType, EncounterClass, Fen, Icd10Code, ItemKind, ItemStatus,
    Modality, Pdf, RefRange,
};
use ygt_domain::ident::{IdNumber, Sex};
use ygt_domain::msg;
use ygt_domain::{Reason, ValidationError, ValidationErrors};
use ygt_store::Tx;
use ygt_store::document::{DocumentContent, NewContent};
use ygt_store::record::{
    Item, ItemHead, ItemVersion, NewItem, NewObservation, Observation, Problem, RecognisedItem,
    SourceKey, TimelineFilter,
};

use crate::access::Event;
use crate::{App, AppError, Ctx, Result, new_id};
use ygt_domain::audit::Outcome;

/// Who an item is about, as the sender identifies them. The first that identifies one person
/// wins: the ygt person id, the institution's own patient number, a valid resident ID number.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PatientRef {
    pub person_id: Option<String>,
    pub record_id: Option<String>,
    pub id_number: Option<String>,
    pub name: Option<String>,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
}

/// An item waiting in the unmatched queue, with the patient as its source named them (the ID
/// number masked).
#[derive(Debug, Clone)]
pub struct Unmatched {
    pub item: Item,
    pub sent_as: SentAs,
}

#[derive(Debug, Clone, Default)]
pub struct SentAs {
    pub name: Option<String>,
    pub record_id: Option<String>,
    pub id_number: Option<ygt_domain::masked::MaskedIdNumber>,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
}

impl Unmatched {
    fn of(item: Item) -> Self {
        let p: PatientRef = serde_json::from_str(&item.patient_ref).unwrap_or_default();
        Unmatched {
            sent_as: SentAs {
                name: p.name,
                record_id: p.record_id,
                id_number: ygt_domain::masked::id_number(p.id_number.as_deref()),
                sex: p.sex,
                birth_date: p.birth_date,
            },
            item,
        }
    }
}

/// One result or measurement value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ResultDraft {
    pub code: String,
    pub name: Option<String>,
    pub value: String,
    pub unit: Option<String>,
    pub ref_range: Option<String>,
    pub abnormal: Option<String>,
    pub effective_at: Option<String>,
}

/// One medication of a prescription or order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MedicationDraft {
    pub name: String,
    pub code: Option<String>,
    pub dose: Option<String>,
    pub route: Option<String>,
    pub frequency: Option<String>,
    pub days: Option<String>,
    pub quantity: Option<String>,
}

/// A clinical item as any door hands it over (text, parsed here).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ItemDraft {
    pub kind: String,
    pub institution_id: String,
    pub source_system: String,
    pub source_id: String,
    pub patient: PatientRef,
    pub occurred_at: String,
    pub ended_at: Option<String>,
    pub status: Option<String>,
    pub code: Option<String>,
    pub code_system: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub doctor: Option<String>,
    pub encounter_ref: Option<String>,
    /// Encounters: outpatient, emergency, inpatient, home_visit, public_health.
    pub class: Option<String>,
    pub chief_complaint: Option<String>,
    /// Encounter costs in yuan: total, paid by the insurance fund, paid by the patient.
    pub cost_total: Option<String>,
    pub cost_fund: Option<String>,
    pub cost_personal: Option<String>,
    /// Diagnoses: primary or secondary (the ICD-10 code goes in `code`).
    pub role: Option<String>,
    /// Reports and measurements.
    pub results: Vec<ResultDraft>,
    pub findings: Option<String>,
    pub conclusion: Option<String>,
    pub modality: Option<String>,
    pub body_part: Option<String>,
    pub study_uid: Option<String>,
    /// Documents: the text, or a PDF of the document, or both.
    pub document_type: Option<String>,
    pub text: Option<String>,
    /// The document as a PDF file (checked when the door read it: FHIR `attachment.data`).
    #[serde(skip)]
    pub pdf: Option<Pdf>,
    /// Prescriptions.
    pub medications: Vec<MedicationDraft>,
    /// Allergies.
    pub substance: Option<String>,
    pub reaction: Option<String>,
    pub severity: Option<String>,
}

/// The structured content of an item (stored as JSON; only the fields of its kind are set).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Body {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<EncounterClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chief_complaint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_total_fen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_fund_fen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_personal_fen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<DiagnosisRole>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<BodyResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_part: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<DocumentType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The file of a document sent as a file; its bytes are in `document_contents`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<BodyAttachment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub medications: Vec<MedicationDraft>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BodyResult {
    pub code: String,
    pub name: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abnormal: Option<Abnormal>,
}

/// The file of a document: what it is, how big, its SHA-256 (lowercase hex).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BodyAttachment {
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

/// A parsed item, ready to record.
#[derive(Debug, Clone)]
pub struct ParsedItem {
    pub kind: ItemKind,
    pub patient: PatientRef,
    pub person_id: Option<Uuid>,
    pub id_number: Option<IdNumber>,
    pub item: NewItem,
    /// The file of a document, kept with the item.
    pub pdf: Option<Pdf>,
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn text(
    field: &str,
    s: &Option<String>,
    max: usize,
) -> std::result::Result<Option<String>, ValidationError> {
    match opt(s) {
        None => Ok(None),
        Some(t) if t.chars().count() > max => {
            Err(ValidationError::new(field, Reason::TooLong { max }))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn required(field: &str, s: &str, max: usize) -> std::result::Result<String, ValidationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, Reason::Required));
    }
    if t.chars().count() > max {
        return Err(ValidationError::new(field, Reason::TooLong { max }));
    }
    Ok(t.to_owned())
}

/// China Standard Time: what clinical systems of the county mean by a time without offset.
const CST: time::UtcOffset = offset!(+8);

/// Parses a clinical time: RFC 3339 with an offset, or `YYYY-MM-DD[ HH:MM[:SS]]` (also with
/// `T`) in China Standard Time. Not more than a day in the future.
pub fn parse_time(
    field: &str,
    s: &str,
    now: OffsetDateTime,
) -> std::result::Result<OffsetDateTime, ValidationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, Reason::Required));
    }
    let bad = || ValidationError::new(field, Reason::Format("record_time"));
    let parsed =
        if let Ok(v) = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
            v
        } else {
            let norm = t.replacen('T', " ", 1);
            let (d, tm) = norm.split_once(' ').unwrap_or((norm.as_str(), ""));
            let date = Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| bad())?;
            let time = match tm.trim() {
                "" => Time::MIDNIGHT,
                x => Time::parse(
                    x,
                    time::macros::format_description!("[hour]:[minute]:[second]"),
                )
                .or_else(|_| Time::parse(x, time::macros::format_description!("[hour]:[minute]")))
                .map_err(|_| bad())?,
            };
            PrimitiveDateTime::new(date, time).assume_offset(CST)
        };
    if parsed > now + Duration::days(1) {
        return Err(ValidationError::new(
            field,
            Reason::Other(msg!("record.future")),
        ));
    }
    if parsed.year() < 1900 {
        return Err(ValidationError::new(field, Reason::Date));
    }
    Ok(parsed)
}

fn parse_uuid(field: &str, s: &str) -> std::result::Result<Uuid, ValidationError> {
    Uuid::parse_str(s.trim()).map_err(|_| ValidationError::new(field, Reason::Format("uuid")))
}

impl ItemDraft {
    /// Parses the draft; every error names its field (`results[2].value`).
    pub fn parse(&self, now: OffsetDateTime) -> std::result::Result<ParsedItem, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let kind = errs.check(ItemKind::parse("kind", &self.kind));
        let institution = errs.check(parse_uuid("institution_id", &self.institution_id));
        let source_system = errs.check(required("source_system", &self.source_system, 100));
        let source_id = errs.check(required("source_id", &self.source_id, 200));
        let occurred_at = errs.check(parse_time("occurred_at", &self.occurred_at, now));
        let ended_at = match opt(&self.ended_at) {
            None => None,
            Some(t) => errs.check(parse_time("ended_at", t, now)),
        };
        if let (Some(a), Some(b)) = (occurred_at, ended_at)
            && b < a
        {
            errs.push(ValidationError::new(
                "ended_at",
                Reason::Other(msg!("record.before_start")),
            ));
        }
        let status = match opt(&self.status) {
            None => Some(ItemStatus::Final),
            Some(s) => errs.check(ItemStatus::parse("status", s)),
        };
        let person_id = match opt(&self.patient.person_id) {
            None => None,
            Some(p) => errs.check(parse_uuid("patient.person_id", p)),
        };
        // The patient as the sender names them is kept as sent (an invalid ID number too,
        // never used as an identifier), within bounds.
        for (f, v, max) in [
            ("patient.record_id", &self.patient.record_id, 100),
            ("patient.id_number", &self.patient.id_number, 40),
            ("patient.name", &self.patient.name, 100),
            ("patient.birth_date", &self.patient.birth_date, 40),
        ] {
            errs.check(text(f, v, max));
        }
        let id_number =
            opt(&self.patient.id_number).and_then(|s| IdNumber::parse("patient.id_number", s).ok());
        if let Some(s) = opt(&self.patient.sex) {
            errs.check(Sex::parse("patient.sex", s));
        }
        if opt(&self.patient.person_id).is_none()
            && opt(&self.patient.record_id).is_none()
            && opt(&self.patient.id_number).is_none()
            && opt(&self.patient.name).is_none()
        {
            errs.push(ValidationError::new(
                "patient",
                Reason::Other(msg!("record.needs_patient")),
            ));
        }
        let mut code = errs.check(text("code", &self.code, 64)).flatten();
        let code_system = errs
            .check(text("code_system", &self.code_system, 100))
            .flatten();
        let mut title = errs.check(text("title", &self.title, 200)).flatten();
        let department = errs
            .check(text("department", &self.department, 100))
            .flatten();
        let doctor = errs.check(text("doctor", &self.doctor, 100)).flatten();
        let encounter_ref = errs
            .check(text("encounter_ref", &self.encounter_ref, 200))
            .flatten();
        let mut body = Body::default();
        let mut observations = Vec::new();
        let mut summary: Option<String> = None;
        let mut abnormal = false;
        let when = occurred_at.unwrap_or(now);
        match kind {
            Some(ItemKind::Encounter) => {
                body.class = match opt(&self.class) {
                    None => {
                        errs.push(ValidationError::new("class", Reason::Required));
                        None
                    }
                    Some(c) => errs.check(EncounterClass::parse("class", c)),
                };
                body.chief_complaint = errs
                    .check(text("chief_complaint", &self.chief_complaint, 500))
                    .flatten();
                let money = |errs: &mut ValidationErrors, f: &str, v: &Option<String>| {
                    opt(v)
                        .and_then(|s| errs.check(Fen::parse_yuan(f, s)))
                        .map(|x| x.0)
                };
                body.cost_total_fen = money(&mut errs, "cost_total", &self.cost_total);
                body.cost_fund_fen = money(&mut errs, "cost_fund", &self.cost_fund);
                body.cost_personal_fen = money(&mut errs, "cost_personal", &self.cost_personal);
                if let (Some(t), Some(f), Some(p)) = (
                    body.cost_total_fen,
                    body.cost_fund_fen,
                    body.cost_personal_fen,
                ) && f + p != t
                {
                    errs.push(ValidationError::new(
                        "cost_total",
                        Reason::Other(msg!("record.cost_parts")),
                    ));
                }
                if title.is_none() {
                    title = body.class.map(|c| c.label_zh().to_owned());
                }
                summary = body.chief_complaint.clone();
            }
            Some(ItemKind::Diagnosis) => {
                match opt(&self.code) {
                    None => errs.push(ValidationError::new("code", Reason::Required)),
                    Some(c) => {
                        if let Some(icd) = errs.check(Icd10Code::parse("code", c)) {
                            code = Some(icd.as_str().to_owned());
                        }
                    }
                }
                body.role = match opt(&self.role) {
                    None => Some(DiagnosisRole::Primary),
                    Some(r) => errs.check(DiagnosisRole::parse("role", r)),
                };
                if title.is_none() {
                    errs.push(ValidationError::new("title", Reason::Required));
                }
            }
            Some(
                k @ (ItemKind::LabReport
                | ItemKind::ImagingReport
                | ItemKind::EcgReport
                | ItemKind::PathologyReport
                | ItemKind::Measurement),
            ) => {
                for (i, r) in self.results.iter().enumerate() {
                    let f = |x: &str| format!("results[{i}].{x}");
                    let Some(rcode) = errs.check(required(&f("code"), &r.code, 64)) else {
                        continue;
                    };
                    let name = errs
                        .check(text(&f("name"), &r.name, 100))
                        .flatten()
                        .unwrap_or_else(|| rcode.clone());
                    let Some(value) = errs.check(required(&f("value"), &r.value, 2000)) else {
                        continue;
                    };
                    let num = value.parse::<f64>().ok().filter(|v| v.is_finite());
                    let unit = errs.check(text(&f("unit"), &r.unit, 30)).flatten();
                    let range = errs
                        .check(text(&f("ref_range"), &r.ref_range, 60))
                        .flatten();
                    let flag = match opt(&r.abnormal) {
                        Some(a) => errs.check(Abnormal::parse(&f("abnormal"), a)),
                        None => match (num, range.as_deref().and_then(RefRange::parse)) {
                            (Some(v), Some(rr)) => Some(rr.classify(v)),
                            _ => None,
                        },
                    };
                    let effective = match opt(&r.effective_at) {
                        None => Some(when),
                        Some(t) => errs.check(parse_time(&f("effective_at"), t, now)),
                    };
                    abnormal |= flag.is_some_and(Abnormal::is_abnormal);
                    observations.push(NewObservation {
                        code: rcode.clone(),
                        name: name.clone(),
                        value_num: num,
                        value_text: if num.is_some() {
                            None
                        } else {
                            Some(value.clone())
                        },
                        unit: unit.clone(),
                        ref_range: range.clone(),
                        abnormal: flag.map(|a| a.code().to_owned()),
                        effective_at: effective.unwrap_or(when),
                    });
                    body.results.push(BodyResult {
                        code: rcode,
                        name,
                        value,
                        unit,
                        ref_range: range,
                        abnormal: flag,
                    });
                }
                body.findings = errs
                    .check(text("findings", &self.findings, 20_000))
                    .flatten();
                body.conclusion = errs
                    .check(text("conclusion", &self.conclusion, 5_000))
                    .flatten();
                body.modality = match opt(&self.modality) {
                    None => None,
                    Some(m) => errs.check(Modality::parse("modality", m)),
                };
                body.body_part = errs.check(text("body_part", &self.body_part, 60)).flatten();
                body.study_uid = match opt(&self.study_uid) {
                    None => None,
                    Some(u)
                        if u.len() <= 64 && u.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
                    {
                        Some(u.to_owned())
                    }
                    Some(_) => {
                        errs.push(ValidationError::new(
                            "study_uid",
                            Reason::Format("dicom_uid"),
                        ));
                        None
                    }
                };
                if k == ItemKind::ImagingReport
                    && code.is_none()
                    && let (Some(m), Some(p)) = (body.modality, &body.body_part)
                {
                    // Imaging is recognised by modality and body part.
                    code = Some(format!("{}:{p}", m.code()));
                }
                let needs_results = matches!(k, ItemKind::LabReport | ItemKind::Measurement);
                if needs_results && self.results.is_empty() {
                    errs.push(ValidationError::new("results", Reason::Required));
                }
                if !needs_results
                    && body.conclusion.is_none()
                    && body.findings.is_none()
                    && self.results.is_empty()
                {
                    errs.push(ValidationError::new("conclusion", Reason::Required));
                }
                if title.is_none() {
                    title = match (k, body.modality, &body.body_part) {
                        (ItemKind::ImagingReport, Some(m), Some(p)) => {
                            Some(format!("{p}{}", m.label_zh()))
                        }
                        (ItemKind::Measurement, _, _) if body.results.len() == 1 => {
                            body.results.first().map(|r| r.name.clone())
                        }
                        _ => Some(k.label_zh().to_owned()),
                    };
                }
                summary = body.conclusion.clone().or_else(|| {
                    let parts: Vec<String> = body
                        .results
                        .iter()
                        .take(4)
                        .map(|r| {
                            let flag = match r.abnormal {
                                Some(Abnormal::High | Abnormal::CriticalHigh) => "↑",
                                Some(Abnormal::Low | Abnormal::CriticalLow) => "↓",
                                _ => "",
                            };
                            format!(
                                "{} {}{}{flag}",
                                r.name,
                                r.value,
                                r.unit.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    (!parts.is_empty()).then(|| parts.join("，"))
                });
            }
            Some(ItemKind::Document) => {
                body.document_type = match opt(&self.document_type) {
                    None => {
                        errs.push(ValidationError::new("document_type", Reason::Required));
                        None
                    }
                    Some(d) => errs.check(DocumentType::parse("document_type", d)),
                };
                body.text = errs.check(text("text", &self.text, 200_000)).flatten();
                if opt(&self.text).is_none() && self.pdf.is_none() {
                    errs.push(ValidationError::new("text", Reason::Required));
                }
                body.attachment = self.pdf.as_ref().map(|p| BodyAttachment {
                    content_type: Pdf::MEDIA_TYPE.to_owned(),
                    size: u64::try_from(p.len()).unwrap_or(u64::MAX),
                    sha256: p.sha256().to_owned(),
                });
                if title.is_none() {
                    title = body.document_type.map(|d| d.label_zh().to_owned());
                }
                summary = body
                    .text
                    .as_deref()
                    .map(|t| t.chars().take(120).collect())
                    .or_else(|| {
                        self.pdf
                            .as_ref()
                            .map(|p| format!("PDF 文档，{}", size_text(p.len())))
                    });
            }
            Some(ItemKind::Prescription) => {
                if self.medications.is_empty() {
                    errs.push(ValidationError::new("medications", Reason::Required));
                }
                for (i, m) in self.medications.iter().enumerate() {
                    for (f, v) in [
                        ("code", &m.code),
                        ("dose", &m.dose),
                        ("route", &m.route),
                        ("frequency", &m.frequency),
                        ("days", &m.days),
                        ("quantity", &m.quantity),
                    ] {
                        errs.check(text(&format!("medications[{i}].{f}"), v, 100));
                    }
                    if let Some(n) =
                        errs.check(required(&format!("medications[{i}].name"), &m.name, 100))
                    {
                        let mut m = m.clone();
                        m.name = n;
                        body.medications.push(m);
                    }
                }
                if title.is_none() {
                    title = Some("处方".to_owned());
                }
                summary = Some(
                    body.medications
                        .iter()
                        .map(|m| {
                            [
                                Some(m.name.as_str()),
                                m.dose.as_deref(),
                                m.frequency.as_deref(),
                            ]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ")
                        })
                        .collect::<Vec<_>>()
                        .join("；"),
                );
            }
            Some(ItemKind::Allergy) => {
                body.substance = errs
                    .check(text("substance", &self.substance, 100))
                    .flatten();
                if opt(&self.substance).is_none() {
                    errs.push(ValidationError::new("substance", Reason::Required));
                }
                body.reaction = errs.check(text("reaction", &self.reaction, 200)).flatten();
                body.severity = errs.check(text("severity", &self.severity, 30)).flatten();
                if title.is_none() {
                    title = body.substance.as_ref().map(|s| format!("{s}过敏"));
                }
                summary = body.reaction.clone();
            }
            None => {}
        }
        if self.pdf.is_some() && kind.is_some_and(|k| k != ItemKind::Document) {
            errs.push(ValidationError::new(
                "pdf",
                Reason::Other(msg!("record.pdf_only_documents")),
            ));
        }
        if !errs.0.is_empty() {
            return Err(errs);
        }
        let (
            Some(kind),
            Some(institution_id),
            Some(source_system),
            Some(source_id),
            Some(occurred_at),
            Some(status),
        ) = (
            kind,
            institution,
            source_system,
            source_id,
            occurred_at,
            status,
        )
        else {
            return Err(errs);
        };
        let body = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
        let patient_ref = serde_json::to_string(&self.patient).unwrap_or_else(|_| "{}".into());
        Ok(ParsedItem {
            kind,
            patient: self.patient.clone(),
            person_id,
            id_number,
            item: NewItem {
                person_id: None,
                kind: kind.code().to_owned(),
                institution_id,
                source_system,
                source_id,
                encounter_ref,
                occurred_at,
                ended_at,
                status: status.code().to_owned(),
                code,
                code_system,
                title: title.unwrap_or_else(|| kind.label_zh().to_owned()),
                summary,
                department,
                doctor,
                abnormal,
                body,
                patient_ref,
                record_id: opt(&self.patient.record_id).map(str::to_owned),
                observations,
            },
            pdf: self.pdf.clone(),
        })
    }
}

/// A file size as people read it: 512 B, 3.4 KB, 1.2 MB.
pub fn size_text(bytes: usize) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{} KB", fmt_num((b / 1024.0 * 10.0).round() / 10.0))
    } else {
        format!(
            "{} MB",
            fmt_num((b / (1024.0 * 1024.0) * 10.0).round() / 10.0)
        )
    }
}

/// What a bulk import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BulkRecordReport {
    pub created: usize,
    /// Already stored (same source identity), or repeated in the input.
    pub skipped: usize,
    /// Stored without a person: in the unmatched queue.
    pub unmatched: usize,
}

/// What became of one recorded item.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub item_id: Uuid,
    pub person_id: Option<Uuid>,
    /// created, updated (a new version), unchanged (sent before)
    pub outcome: &'static str,
    pub version: i64,
}

impl App {
    /// Records clinical items in one transaction (all or nothing): authorised per institution
    /// (`patient.write`), linked to persons through the index or held as unmatched, idempotent
    /// per source identity, audited per item.
    pub async fn record_items(
        &self,
        ctx: &Ctx,
        items: &[ParsedItem],
        channel: &str,
    ) -> Result<Vec<Recorded>> {
        self.authorise_items(ctx, items, "record.write").await?;
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let out = self.record_in(&mut tx, ctx, items, channel).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Records authorised items inside the caller's transaction, which holds the write lock.
    pub(crate) async fn record_in(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        items: &[ParsedItem],
        channel: &str,
    ) -> Result<Vec<Recorded>> {
        let now = self.now();
        // A batch of new items (the usual HL7 group commit or FHIR transaction): a few
        // statements for all of them.
        if items.len() >= FRESH_BATCH_MIN
            && let Some(out) = self.record_fresh(tx, ctx, items, channel, now).await?
        {
            return Ok(out);
        }
        let institutions: BTreeSet<Uuid> = items.iter().map(|p| p.item.institution_id).collect();
        for inst in &institutions {
            if tx.institution_tier(*inst).await?.is_none() {
                return Err(AppError::invalid("institution_id", Reason::NotFound));
            }
        }
        let mut out = Vec::with_capacity(items.len());
        let mut events = Vec::with_capacity(items.len());
        for (i, p) in items.iter().enumerate() {
            let person = self.resolve_patient(tx, p, i, items.len()).await?;
            let head = tx.item_by_source(source_key(&p.item)).await?;
            let mut it = p.item.clone();
            let (id, outcome, version) = match head {
                None => {
                    it.person_id = person;
                    let id = new_id();
                    tx.insert_item(id, &it, now).await?;
                    (id, "created", 1)
                }
                Some(h) => {
                    // Never un-match: an item once linked stays with its person.
                    it.person_id = person.or(h.person_id);
                    if same_content(&h, &it) {
                        (h.id, "unchanged", h.version)
                    } else {
                        tx.replace_item(&h, &it, now).await?;
                        (h.id, "updated", h.version + 1)
                    }
                }
            };
            if let Some(pdf) = &p.pdf
                && outcome != "unchanged"
            {
                tx.insert_content(id, it.institution_id, content_of(pdf), now)
                    .await?;
            }
            if outcome != "unchanged" {
                events.push(write_event(&p.item, it.person_id, id, outcome, channel));
            }
            out.push(Recorded {
                item_id: id,
                person_id: it.person_id,
                outcome,
                version,
            });
        }
        self.audit_many_in(tx, ctx, &events, Outcome::Allowed)
            .await?;
        Ok(out)
    }

    /// [`App::record_in`] for a batch whose items are all new (no stored item has their source
    /// identity, and no two share one): institutions, sources and patients looked up once for
    /// the batch, items and observations inserted together (COPY on PostgreSQL), care links in
    /// one insert, one audit event per item as the item-by-item path writes. `None` (nothing
    /// written) when an item is not new: the caller takes the item-by-item path, which
    /// handles corrections.
    async fn record_fresh(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        items: &[ParsedItem],
        channel: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<Recorded>>> {
        let keys: Vec<SourceKey<'_>> = items.iter().map(|p| source_key(&p.item)).collect();
        let mut seen: HashSet<SourceKey<'_>> = HashSet::with_capacity(keys.len());
        if !keys.iter().all(|k| seen.insert(*k)) {
            return Ok(None);
        }
        let listed: Vec<Uuid> = items
            .iter()
            .map(|p| p.item.institution_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let found = tx.existing_institutions(&listed).await?;
        if listed.iter().any(|i| !found.contains(i)) {
            return Err(AppError::invalid("institution_id", Reason::NotFound));
        }
        if !tx.existing_sources(&keys).await?.is_empty() {
            return Ok(None);
        }
        let fresh: Vec<(usize, &ParsedItem)> = items.iter().enumerate().collect();
        let persons = resolve_batch(tx, items.len(), &fresh).await?;
        let rows: Vec<(Uuid, Option<Uuid>, &NewItem)> = items
            .iter()
            .zip(persons)
            .map(|(p, person)| (new_id(), person, &p.item))
            .collect();
        tx.bulk_insert_items(&rows, now).await?;
        for (p, (id, _, it)) in items.iter().zip(&rows) {
            if let Some(pdf) = &p.pdf {
                tx.insert_content(*id, it.institution_id, content_of(pdf), now)
                    .await?;
            }
        }
        let mut events = Vec::with_capacity(rows.len());
        let mut out = Vec::with_capacity(rows.len());
        for (p, (id, person, _)) in items.iter().zip(&rows) {
            events.push(write_event(&p.item, *person, *id, "created", channel));
            out.push(Recorded {
                item_id: *id,
                person_id: *person,
                outcome: "created",
                version: 1,
            });
        }
        self.audit_many_in(tx, ctx, &events, Outcome::Allowed)
            .await?;
        Ok(Some(out))
    }

    /// Checks `patient.write` over every institution the items come from, and, for items that
    /// name a person directly, that the actor may see that person: data is a way into a
    /// record, so only for persons the actor may already see. Patient
    /// numbers and ID numbers are what a caring institution holds anyway. Returns the
    /// institutions.
    pub(crate) async fn authorise_items(
        &self,
        ctx: &Ctx,
        items: &[ParsedItem],
        action: &str,
    ) -> Result<BTreeSet<Uuid>> {
        let institutions: BTreeSet<Uuid> = items.iter().map(|p| p.item.institution_id).collect();
        for inst in &institutions {
            let i = items
                .iter()
                .position(|p| p.item.institution_id == *inst)
                .unwrap_or(0);
            let field = if items.len() > 1 {
                format!("items[{i}].institution_id")
            } else {
                "institution_id".to_owned()
            };
            self.require_scoped_ref(
                ctx,
                Permission::PatientWrite,
                *inst,
                &field,
                Event::new(action, "institution", Some(inst.to_string())),
            )
            .await?;
        }
        let named: BTreeSet<Uuid> = if matches!(ctx.actor, crate::Actor::System) {
            BTreeSet::new()
        } else {
            items.iter().filter_map(|p| p.person_id).collect()
        };
        for person in named {
            // An unknown person is refused later, naming the field.
            if self.store().person(person).await?.is_some() {
                self.resident_access(ctx, person, action, "treatment")
                    .await?;
            }
        }
        Ok(institutions)
    }

    /// Parses and records drafts as one batch (all or nothing); errors name the item
    /// (`items[2].results[0].value`) when there are several.
    pub async fn record_drafts(
        &self,
        ctx: &Ctx,
        drafts: &[ItemDraft],
        channel: &str,
    ) -> Result<Vec<Recorded>> {
        if drafts.is_empty() {
            return Err(AppError::invalid("items", Reason::Required));
        }
        if drafts.len() > 1000 {
            return Err(AppError::invalid(
                "items",
                Reason::Range { min: 1, max: 1000 },
            ));
        }
        let now = self.now();
        let mut errs = ValidationErrors::default();
        let mut parsed = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.iter().enumerate() {
            match d.parse(now) {
                Ok(p) => parsed.push(p),
                Err(e) => {
                    for x in e.0 {
                        let f = if drafts.len() > 1 {
                            format!("items[{i}].{}", x.field)
                        } else {
                            x.field.clone()
                        };
                        errs.push(x.at(f));
                    }
                }
            }
        }
        if !errs.0.is_empty() {
            return Err(AppError::Invalid(errs));
        }
        self.record_items(ctx, &parsed, channel).await
    }

    /// The person an item is about, or none (unmatched).
    async fn resolve_patient(
        &self,
        tx: &mut Tx,
        p: &ParsedItem,
        index: usize,
        count: usize,
    ) -> Result<Option<Uuid>> {
        let field = |f: &str| {
            if count > 1 {
                format!("items[{index}].patient.{f}")
            } else {
                format!("patient.{f}")
            }
        };
        if let Some(id) = p.person_id {
            return match tx.current_person(id).await? {
                Some(person) => Ok(Some(person)),
                None => Err(AppError::Invalid(ValidationErrors(vec![
                    ValidationError::new(field("person_id"), Reason::NotFound),
                ]))),
            };
        }
        if let Some(rec) = opt(&p.patient.record_id)
            && let Some(person) = tx.person_by_record(p.item.institution_id, rec).await?
        {
            return Ok(Some(person));
        }
        if let Some(idn) = &p.id_number {
            let found = tx.persons_by_id_number(idn.as_str()).await?;
            if found.len() == 1 {
                return Ok(found.first().copied());
            }
        }
        Ok(None)
    }

    /// Records many new items at once (migration of history, generated data): authorised
    /// per institution, persons resolved as for single items, items already stored (same
    /// source identity) skipped, one transaction, one audit event per institution. Corrections
    /// of stored items go through [`App::record_items`].
    pub async fn bulk_record(
        &self,
        ctx: &Ctx,
        items: &[ParsedItem],
        channel: &str,
    ) -> Result<BulkRecordReport> {
        let institutions = self
            .authorise_items(ctx, items, "record.bulk_import")
            .await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let listed: Vec<Uuid> = institutions.iter().copied().collect();
        let found = tx.existing_institutions(&listed).await?;
        if listed.iter().any(|i| !found.contains(i)) {
            return Err(AppError::invalid("institution_id", Reason::NotFound));
        }
        let keys: Vec<SourceKey<'_>> = items.iter().map(|p| source_key(&p.item)).collect();
        let t0 = std::time::Instant::now();
        let existing = tx.existing_sources(&keys).await?;
        let t_existing = t0.elapsed();
        let existing: HashSet<SourceKey<'_>> = existing
            .iter()
            .map(|(n, s, i, k)| (*n, s.as_str(), i.as_str(), k.as_str()))
            .collect();
        let mut report = BulkRecordReport::default();
        // The items to store: not stored yet, and the first of their source identity here.
        let mut seen: HashSet<SourceKey<'_>> = HashSet::with_capacity(items.len());
        let fresh: Vec<(usize, &ParsedItem)> = items
            .iter()
            .zip(&keys)
            .enumerate()
            .filter(|(_, (_, key))| !existing.contains(*key) && seen.insert(**key))
            .map(|(i, (p, _))| (i, p))
            .collect();
        report.skipped = items.len() - fresh.len();
        let persons = resolve_batch(&mut tx, items.len(), &fresh).await?;
        let mut rows: Vec<(Uuid, Option<Uuid>, &NewItem)> = Vec::with_capacity(fresh.len());
        for ((_, p), person) in fresh.iter().zip(persons) {
            if person.is_none() {
                report.unmatched += 1;
            }
            rows.push((new_id(), person, &p.item));
        }
        let t_resolve = t0.elapsed();
        tx.bulk_cache(Some(256)).await?;
        tx.bulk_insert_items(&rows, now).await?;
        tx.bulk_cache(None).await?;
        for ((_, p), (id, _, it)) in fresh.iter().zip(&rows) {
            if let Some(pdf) = &p.pdf {
                tx.insert_content(*id, it.institution_id, content_of(pdf), now)
                    .await?;
            }
        }
        let t_insert = t0.elapsed();
        let mut per_institution: HashMap<Uuid, usize> = HashMap::new();
        for (_, _, it) in &rows {
            *per_institution.entry(it.institution_id).or_default() += 1;
        }
        // One event per institution, appended to the chain together.
        let events: Vec<Event<'_>> = institutions
            .iter()
            .map(|inst| {
                let n = per_institution.get(inst).copied().unwrap_or(0);
                Event::new("record.bulk_import", "institution", Some(inst.to_string()))
                    .detail(format!("channel={channel} items={n}"))
            })
            .collect();
        self.audit_many_in(&mut tx, ctx, &events, Outcome::Allowed)
            .await?;
        let t_links = t0.elapsed();
        tx.commit().await?;
        tracing::debug!(
            target: "ygt::record",
            existing_ms = t_existing.as_millis(),
            resolve_ms = (t_resolve - t_existing).as_millis(),
            insert_ms = (t_insert - t_resolve).as_millis(),
            links_audit_ms = (t_links - t_insert).as_millis(),
            commit_ms = (t0.elapsed() - t_links).as_millis(),
            items = rows.len(),
            "bulk record"
        );
        report.created = rows.len();
        Ok(report)
    }

    /// Items waiting for a person, in the actor's institutions.
    pub async fn unmatched_items(&self, ctx: &Ctx, limit: i64) -> Result<Vec<Unmatched>> {
        self.require(
            ctx,
            Permission::PatientWrite,
            Event::new("record.unmatched", "queue", None),
        )
        .await?;
        let scope = self.institution_scope(ctx).await?;
        Ok(self
            .store()
            .unmatched_items(scope.as_deref(), limit)
            .await?
            .into_iter()
            .map(Unmatched::of)
            .collect())
    }

    /// Assigns an unmatched item to a person (after a look at both).
    pub async fn assign_unmatched(&self, ctx: &Ctx, item_id: Uuid, person_id: Uuid) -> Result<()> {
        let item = self
            .store()
            .item(item_id)
            .await?
            .ok_or(AppError::NotFound("item"))?;
        self.require_scoped(
            ctx,
            Permission::PatientWrite,
            item.institution_id,
            Event::new("record.assign", item.kind.code(), Some(item_id.to_string())),
        )
        .await?;
        if self.store().person(person_id).await?.is_none() {
            return Err(AppError::invalid("person_id", Reason::NotFound));
        }
        // Attaching data gives the institution a care link to the person: only for a person
        // the actor may already see (register them at the institution first otherwise).
        self.resident_access(ctx, person_id, "record.assign", "treatment")
            .await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let Some(person) = tx.current_person(person_id).await? else {
            return Err(AppError::invalid("person_id", Reason::NotFound));
        };
        if tx.assign_item(item_id, person, now).await? == 0 {
            return Err(AppError::conflict(None, msg!("record.item_already_filed")));
        }
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("record.assign", item.kind.code(), Some(item_id.to_string()))
                .resident(person),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// From this many items a batch of new items is written together ([`App::record_in`]).
const FRESH_BATCH_MIN: usize = 2;

/// The audit event of writing an item (`outcome` created or updated).
fn write_event<'a>(
    it: &'a NewItem,
    person: Option<Uuid>,
    id: Uuid,
    outcome: &str,
    channel: &str,
) -> Event<'a> {
    let mut e = Event::new("record.write", &it.kind, Some(id.to_string())).detail(format!(
        "outcome={outcome} channel={channel} source={}:{}{}",
        it.source_system,
        it.source_id,
        if person.is_none() { " unmatched" } else { "" }
    ));
    if let Some(person) = person {
        e = e.resident(person);
    }
    e
}

/// The persons of items not stored yet, found as `resolve_patient` finds them, each lookup
/// made once for the batch: persons named directly (merged ones followed), then by the
/// institution's patient number, then by the ID number. `fresh` holds (index among the
/// `total` items, item); an unknown person named directly is refused naming the item.
async fn resolve_batch(
    tx: &mut Tx,
    total: usize,
    fresh: &[(usize, &ParsedItem)],
) -> Result<Vec<Option<Uuid>>> {
    // Persons named directly, resolved in one round trip (merged ones followed).
    let named: Vec<Uuid> = fresh
        .iter()
        .filter_map(|(_, p)| p.person_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut current: HashMap<Uuid, Option<Uuid>> = HashMap::with_capacity(named.len());
    for (id, merged_into, active) in tx.persons_state(&named).await? {
        let now_id = match merged_into {
            Some(_) => tx.current_person(id).await?,
            None => active.then_some(id),
        };
        current.insert(id, now_id);
    }
    // The others as `resolve_patient` finds them, each lookup made once for the batch:
    // by the institution's patient number, then by the ID number.
    let unnamed = || {
        fresh
            .iter()
            .map(|(_, p)| *p)
            .filter(|p| p.person_id.is_none())
    };
    let records: Vec<(Uuid, &str)> = unnamed()
        .filter_map(|p| opt(&p.patient.record_id).map(|r| (p.item.institution_id, r)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_record: HashMap<(Uuid, &str), Uuid> = records
        .iter()
        .copied()
        .zip(tx.person_by_records(&records).await?)
        .filter_map(|(k, person)| person.map(|person| (k, person)))
        .collect();
    let by_record_of = |p: &ParsedItem| {
        opt(&p.patient.record_id).and_then(|r| by_record.get(&(p.item.institution_id, r)).copied())
    };
    let numbers: Vec<&str> = unnamed()
        .filter(|p| by_record_of(p).is_none())
        .filter_map(|p| p.id_number.as_ref().map(IdNumber::as_str))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_number: HashMap<&str, Uuid> = numbers
        .iter()
        .copied()
        .zip(tx.person_by_id_numbers(&numbers).await?)
        .filter_map(|(k, person)| person.map(|person| (k, person)))
        .collect();
    let mut out = Vec::with_capacity(fresh.len());
    for (i, p) in fresh {
        let person = match p.person_id {
            Some(id) => match current.get(&id) {
                Some(Some(x)) => Some(*x),
                _ => {
                    let f = if total > 1 {
                        format!("items[{i}].patient.person_id")
                    } else {
                        "patient.person_id".to_owned()
                    };
                    return Err(AppError::Invalid(ValidationErrors(vec![
                        ValidationError::new(f, Reason::NotFound),
                    ])));
                }
            },
            None => by_record_of(p).or_else(|| {
                p.id_number
                    .as_ref()
                    .and_then(|n| by_number.get(n.as_str()).copied())
            }),
        };
        out.push(person);
    }
    Ok(out)
}

/// The source identity of an item: the institution that sent it, its system, id and kind.
fn source_key(it: &NewItem) -> SourceKey<'_> {
    (
        it.institution_id,
        it.source_system.as_str(),
        it.source_id.as_str(),
        it.kind.as_str(),
    )
}

fn content_of(pdf: &Pdf) -> NewContent<'_> {
    NewContent {
        content_type: Pdf::MEDIA_TYPE,
        sha256: pdf.sha256(),
        data: pdf.bytes(),
    }
}

fn same_content(h: &ItemHead, it: &NewItem) -> bool {
    h.body == it.body
        && h.title == it.title
        && h.status == it.status
        && h.occurred_at == it.occurred_at
        && h.person_id == it.person_id
}

/// The most recent values a trend chart shows, per code.
pub const TREND_POINTS: i64 = 120;

/// How many items a page of the timeline shows.
pub const TIMELINE_PAGE: i64 = 50;

/// Codes of the trend charts on the 360 page: (chart, codes, unit).
pub const TRENDS: &[(&str, &str, &[&str], &str)] = &[
    ("bp", "血压", &["SBP", "DBP"], "mmHg"),
    ("glu", "空腹血糖", &["GLU"], "mmol/L"),
    ("hba1c", "糖化血红蛋白", &["HBA1C"], "%"),
    ("crea", "肌酐", &["CREA"], "μmol/L"),
];

/// Everything the patient 360 page shows.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    pub person: crate::view::PersonView,
    /// Key populations (age and conditions).
    pub tags: Vec<ygt_domain::clinical::KeyPopulation>,
    pub problems: Vec<Problem>,
    pub allergies: Vec<Item>,
    pub medications: Vec<Item>,
    pub counts: BTreeMap<String, i64>,
    pub timeline: Vec<Item>,
    /// Cursor of the next page (occurred_at RFC 3339 and id), if there is one.
    pub next: Option<String>,
    pub trends: Vec<Trend>,
}

#[derive(Debug, Clone)]
pub struct Trend {
    pub key: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub points: Vec<Observation>,
}

/// A result of the recognition catalogue that is still valid.
#[derive(Debug, Clone)]
pub struct RecognisedResult {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub valid_days: i64,
    pub item_id: Uuid,
    pub value: Option<String>,
    pub unit: Option<String>,
    pub abnormal: Option<String>,
    pub institution: String,
    pub performed_at: OffsetDateTime,
    pub valid_until: OffsetDateTime,
}

/// Parses a timeline cursor `RFC3339~uuid`.
pub fn parse_cursor(s: &str) -> Option<(OffsetDateTime, Uuid)> {
    let (t, id) = s.rsplit_once('~')?;
    let t = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t, Uuid::parse_str(id).ok()?))
}

fn cursor(it: &Item) -> String {
    let t = it
        .occurred_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!("{t}~{}", it.id)
}

impl App {
    /// The patient 360 view: authorised by data scope and audited like every read of a
    /// resident's data.
    pub async fn patient_record(
        &self,
        ctx: &Ctx,
        person_id: Uuid,
        filter: &TimelineFilter,
        purpose: &str,
    ) -> Result<PatientRecord> {
        let person = self
            .store()
            .person(person_id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        self.resident_access(ctx, person_id, "record.read", purpose)
            .await?;
        let store = self.store();
        let now = self.now();
        let mut timeline = store.timeline(person_id, filter, TIMELINE_PAGE + 1).await?;
        let next = if timeline.len() > usize::try_from(TIMELINE_PAGE).unwrap_or(50) {
            timeline.truncate(usize::try_from(TIMELINE_PAGE).unwrap_or(50));
            timeline.last().map(cursor)
        } else {
            None
        };
        let every: Vec<&str> = TRENDS.iter().flat_map(|t| t.2.iter().copied()).collect();
        let all_points = store
            .series(
                person_id,
                &every,
                now - Duration::days(365 * 5),
                TREND_POINTS,
            )
            .await?;
        let mut trends = Vec::new();
        for (key, title, codes, unit) in TRENDS {
            let points: Vec<_> = all_points
                .iter()
                .filter(|o| codes.contains(&o.code.as_str()))
                .cloned()
                .collect();
            if !points.is_empty() {
                trends.push(Trend {
                    key,
                    title,
                    unit,
                    points,
                });
            }
        }
        let problems = store.problems(person_id).await?;
        let age = person.birth_date.map(|b| {
            let today = now.date();
            let mut a = today.year() - b.year();
            if (u8::from(today.month()), today.day()) < (u8::from(b.month()), b.day()) {
                a -= 1;
            }
            a
        });
        let categories: Vec<&str> = problems
            .iter()
            .map(|p| p.code.get(..3).unwrap_or(&p.code))
            .collect();
        let tags = ygt_domain::clinical::KeyPopulation::of(age, &categories);
        Ok(PatientRecord {
            tags,
            problems,
            allergies: store.items_of_kind(person_id, "allergy", None, 20).await?,
            medications: store
                .items_of_kind(
                    person_id,
                    "prescription",
                    Some(now - Duration::days(90)),
                    10,
                )
                .await?,
            counts: store.item_counts(person_id).await?.into_iter().collect(),
            timeline,
            next,
            trends,
            person: crate::view::PersonView::from(&person),
        })
    }

    /// An item as it stands right after the caller wrote it, for the response of that write
    /// (the write was authorised and audited; reading back what one sent is not a new read).
    pub async fn written_item(&self, recorded: &Recorded) -> Result<Item> {
        self.store()
            .item(recorded.item_id)
            .await?
            .ok_or(AppError::NotFound("item"))
    }

    /// The person a registration just written belongs to, for the response of that write.
    /// The resident a registration produced, as its writer may see it: the golden record when
    /// the writer may open the person (its own proven registration, say), otherwise only what
    /// the writer sent itself (a registration that linked to someone outside its scope shows
    /// nothing of the others').
    pub async fn written_person(
        &self,
        ctx: &Ctx,
        registered: &crate::mpi::Registered,
    ) -> Result<crate::view::PersonView> {
        let person = self
            .store()
            .person(registered.person_id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        if self.may_see(ctx, person.id).await? {
            return Ok(crate::view::PersonView::from(&person));
        }
        let reg = self
            .store()
            .registration(registered.registration_id)
            .await?
            .ok_or(AppError::NotFound("registration"))?;
        Ok(crate::view::PersonView::of_registration(&person, &reg))
    }

    /// A page of a resident's items for a search (FHIR search, integrations): authorised and
    /// audited like the 360 page, newest first, at most 200, with the cursor of the next page.
    pub async fn search_record(
        &self,
        ctx: &Ctx,
        person_id: Uuid,
        filter: &TimelineFilter,
        limit: i64,
    ) -> Result<(Vec<Item>, Option<String>)> {
        self.store()
            .person(person_id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        self.resident_access(ctx, person_id, "record.search", "treatment")
            .await?;
        let limit = limit.clamp(1, 200);
        let mut items = self.store().timeline(person_id, filter, limit + 1).await?;
        let next = if items.len() > usize::try_from(limit).unwrap_or(200) {
            items.truncate(usize::try_from(limit).unwrap_or(200));
            items.last().map(cursor)
        } else {
            None
        };
        Ok((items, next))
    }

    /// One item with its values and earlier versions; authorised through its person.
    pub async fn record_item(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
    ) -> Result<(Item, Vec<Observation>, Vec<ItemVersion>)> {
        let item = self
            .store()
            .item(item_id)
            .await?
            .ok_or(AppError::NotFound("item"))?;
        self.item_access(ctx, &item, "record.read_item").await?;
        let obs = self.store().item_observations(item_id).await?;
        let versions = self.store().item_versions(item_id).await?;
        Ok((item, obs, versions))
    }

    /// Reading one stored item: by the resident's data scope (the audit event names the item);
    /// for an item still waiting for its resident, by `patient.write` over its institution; and
    /// for an integration token holding `record.read_own`, the items its own institution sent
    /// (it reads back what it wrote, nothing else of the record).
    async fn item_access(&self, ctx: &Ctx, item: &Item, action: &str) -> Result<()> {
        let what = format!("item={}", item.id);
        let event = || Event::new(action, item.kind.code(), Some(item.id.to_string()));
        if let Some(p) = ctx.principal()
            && !p.can(Permission::PatientRead)
            && p.can(Permission::RecordReadOwn)
            && !p.must_change_password
        {
            if p.institution_id == Some(item.institution_id) {
                let mut e = event().detail(format!("scope=own_data {what}"));
                if let Some(person) = item.person_id {
                    e = e.resident(person);
                }
                return self.audit(ctx, e, Outcome::Allowed).await;
            }
            return Err(self
                .deny(
                    ctx,
                    event(),
                    AppError::forbidden(msg!("record.token_reads_own")),
                )
                .await);
        }
        match item.person_id {
            Some(p) => {
                self.resident_access_to(ctx, p, action, "treatment", Some(&what))
                    .await?;
            }
            None => {
                self.require_scoped(ctx, Permission::PatientWrite, item.institution_id, event())
                    .await?;
                self.audit(ctx, event(), Outcome::Allowed).await?;
            }
        }
        Ok(())
    }

    /// The file of a document (its PDF), authorised and audited like viewing the item: by the
    /// resident's data scope (`record.read_document`, naming the item), or, for an item still
    /// waiting for its resident, by `patient.write` over its institution.
    pub async fn document_content(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
    ) -> Result<(Item, DocumentContent)> {
        let item = self
            .store()
            .item(item_id)
            .await?
            .ok_or(AppError::NotFound("item"))?;
        self.item_access(ctx, &item, "record.read_document").await?;
        let body: Body = serde_json::from_str(&item.body).unwrap_or_default();
        let Some(att) = body.attachment else {
            return Err(AppError::NotFound("document file"));
        };
        let content = self
            .store()
            .document_content(item_id, &att.sha256)
            .await?
            .ok_or(AppError::NotFound("document file"))?;
        Ok((item, content))
    }

    /// Results from any member that are still valid under the mutual-recognition catalogue.
    pub async fn recognised_results(
        &self,
        ctx: &Ctx,
        person_id: Uuid,
    ) -> Result<Vec<RecognisedResult>> {
        self.store()
            .person(person_id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        self.resident_access(ctx, person_id, "record.recognised_results", "treatment")
            .await?;
        let now = self.now();
        let catalogue = self.store().recognised_catalogue().await?;
        let window = |c: &&ygt_store::record::RecognisedItem| {
            (c.code.clone(), now - Duration::days(c.valid_days))
        };
        // Two statements whatever the catalogue's length: observations, whole reports.
        let (obs_codes, item_codes): (Vec<_>, Vec<_>) = catalogue
            .iter()
            .filter(|c| c.active)
            .partition(|c| c.kind == "lab_report" || c.kind == "measurement");
        let store = self.store();
        let observations = store
            .latest_observations(person_id, &obs_codes.iter().map(window).collect::<Vec<_>>())
            .await?;
        let items = store
            .latest_items_with_codes(
                person_id,
                &item_codes.iter().map(window).collect::<Vec<_>>(),
            )
            .await?;
        let mut out = Vec::new();
        for c in obs_codes {
            let since = now - Duration::days(c.valid_days);
            for o in observations
                .iter()
                .filter(|o| o.code == c.code && o.effective_at >= since)
            {
                out.push(RecognisedResult {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    kind: c.kind.clone(),
                    valid_days: c.valid_days,
                    item_id: o.item_id,
                    value: o.value_num.map(fmt_num).or(o.value_text.clone()),
                    unit: o.unit.clone(),
                    abnormal: o.abnormal.clone(),
                    institution: o.institution_name.clone(),
                    performed_at: o.effective_at,
                    valid_until: o.effective_at + Duration::days(c.valid_days),
                });
            }
        }
        for c in item_codes {
            let since = now - Duration::days(c.valid_days);
            for it in items
                .iter()
                .filter(|i| i.code.as_deref() == Some(c.code.as_str()) && i.occurred_at >= since)
            {
                out.push(RecognisedResult {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    kind: c.kind.clone(),
                    valid_days: c.valid_days,
                    item_id: it.id,
                    value: it.summary.clone(),
                    unit: None,
                    abnormal: it.abnormal.then(|| "A".to_owned()),
                    institution: it.institution_name.clone(),
                    performed_at: it.occurred_at,
                    valid_until: it.occurred_at + Duration::days(c.valid_days),
                });
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.performed_at));
        Ok(out)
    }

    /// The mutual-recognition catalogue (anyone signed in may read it).
    pub async fn recognition_catalogue(&self) -> Result<Vec<RecognisedItem>> {
        Ok(self.store().recognised_catalogue().await?)
    }

    /// Adds or changes a catalogue entry (community administrators).
    pub async fn set_recognised_item(&self, ctx: &Ctx, item: &RecognisedItem) -> Result<()> {
        self.require(
            ctx,
            Permission::RegistryWriteAll,
            Event::new("record.recognition", "catalogue", Some(item.code.clone())),
        )
        .await?;
        let mut errs = ValidationErrors::default();
        errs.check(required("code", &item.code, 64));
        errs.check(required("name", &item.name, 100));
        errs.check(ItemKind::parse("kind", &item.kind));
        if !(1..=3650).contains(&item.valid_days) {
            errs.push(ValidationError::new(
                "valid_days",
                Reason::Range { min: 1, max: 3650 },
            ));
        }
        if !errs.0.is_empty() {
            return Err(AppError::Invalid(errs));
        }
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        tx.upsert_recognised(item, now).await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("record.recognition", "catalogue", Some(item.code.clone())),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A number as people write it (no trailing zeros).
pub fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
