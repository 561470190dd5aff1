//! FHIR R4 resources in: each supported resource becomes the draft the one use case takes (a
//! [`ResidentDraft`] or an [`ItemDraft`]). Errors name the FHIR element (`Observation.code`).

use std::collections::HashMap;
use ygt_domain::message::Message;
use ygt_domain::msg;

use serde_json::Value;
use uuid::Uuid;
use ygt_app::mpi::ResidentDraft;
use ygt_app::record::{ItemDraft, MedicationDraft, PatientRef, ResultDraft};
use ygt_app::submit::Submission;
use ygt_domain::clinical::Pdf;
use ygt_domain::{Reason, ValidationError, ValidationErrors};

use super::{ID_NUMBER_SYSTEM, INSURANCE_SYSTEM, SOURCE_PREFIX};
use crate::door::fhir::{RType, at, base64_decode, s};

/// What a reference inside a Bundle (`urn:uuid:…`) points to.
#[derive(Debug, Clone)]
pub enum Target {
    /// The Patient of entry n.
    PatientEntry(usize),
    /// An Observation of the Bundle (folded into the DiagnosticReport that refers to it).
    Observation(Value),
}

/// The context of a mapping: who sends (their institution is the default source), and the
/// Bundle's full URLs.
pub struct Input<'a> {
    pub default_institution: Option<Uuid>,
    pub bundle: &'a HashMap<String, Target>,
}

fn invalid(field: impl Into<String>, why: Message) -> ValidationError {
    ValidationError::new(field, Reason::Other(why))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn own(x: Option<&str>) -> Option<String> {
    x.map(str::to_owned)
}

/// The text of a CodeableConcept: its text, else the first coding's display, else its code.
fn concept_text(c: Option<&Value>) -> Option<String> {
    let c = c?;
    own(s(c, &["text"]))
        .or_else(|| own(s(c, &["coding", "display"])))
        .or_else(|| own(s(c, &["coding", "code"])))
}

/// The first coding's code of a CodeableConcept.
fn concept_code(c: Option<&Value>) -> Option<String> {
    own(s(c?, &["coding", "code"]))
}

/// Every code of a CodeableConcept (or several), upper-cased.
fn all_codes(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |c: &Value| {
        for coding in arr(c, "coding") {
            if let Some(x) = s(coding, &["code"]) {
                out.push(x.to_uppercase());
            }
        }
        if let Some(t) = s(c, &["text"]) {
            out.push(t.to_uppercase());
        }
    };
    match v {
        Some(Value::Array(a)) => a.iter().for_each(&mut push),
        Some(c) => push(c),
        None => {}
    }
    out
}

fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// The id of an `Organization/{uuid}` reference.
fn organization(v: Option<&Value>) -> Option<String> {
    let r = s(v?, &["reference"])?;
    r.strip_prefix("Organization/").map(str::to_owned)
}

/// The source identity: the first identifier (system without ygt's prefix, value).
fn source(res: &Value, rtype: RType) -> (String, String, bool) {
    let ident = arr(res, "identifier").first();
    let system = ident.and_then(|i| s(i, &["system"]));
    let value = ident.and_then(|i| s(i, &["value"]));
    match (system, value) {
        (sys, Some(v)) => (
            sys.map(|x| x.strip_prefix(SOURCE_PREFIX).unwrap_or(x).to_owned())
                .unwrap_or_else(|| "fhir".to_owned()),
            v.to_owned(),
            true,
        ),
        _ => (
            "fhir".to_owned(),
            format!("{}/{}", rtype.name(), Uuid::now_v7()),
            false,
        ),
    }
}

/// The patient a resource is about (`subject` or `patient`).
fn subject(
    res: &Value,
    rtype: RType,
    key: &str,
    input: &Input,
    errs: &mut ValidationErrors,
) -> (PatientRef, Option<usize>) {
    let field = format!("{}.{key}", rtype.name());
    let mut p = PatientRef::default();
    let Some(r) = res.get(key) else {
        errs.push(ValidationError::new(field, Reason::Required));
        return (p, None);
    };
    if let Some(reference) = s(r, &["reference"]) {
        if let Some(id) = reference.strip_prefix("Patient/") {
            match Uuid::parse_str(id) {
                Ok(u) => p.person_id = Some(u.to_string()),
                Err(_) => errs.push(invalid(
                    format!("{field}.reference"),
                    msg!("record.patient_id_ygt_gave", id = id),
                )),
            }
            return (p, None);
        }
        return match input.bundle.get(reference) {
            Some(Target::PatientEntry(i)) => (p, Some(*i)),
            _ => {
                errs.push(invalid(
                    format!("{field}.reference"),
                    msg!("record.refers_patient_server_bundle"),
                ));
                (p, None)
            }
        };
    }
    if let Some(v) = s(r, &["identifier", "value"]) {
        let system = s(r, &["identifier", "system"]).unwrap_or("");
        if system == ID_NUMBER_SYSTEM || looks_like_id_number(v) {
            p.id_number = Some(v.to_owned());
        } else {
            p.record_id = Some(v.to_owned());
        }
    }
    p.name = own(s(r, &["display"]));
    if p.id_number.is_none() && p.record_id.is_none() && p.name.is_none() {
        errs.push(invalid(
            field,
            msg!("record.needs_reference_identifier_display"),
        ));
    }
    (p, None)
}

fn looks_like_id_number(v: &str) -> bool {
    let b = v.as_bytes();
    (b.len() == 18
        && b.iter().take(17).all(u8::is_ascii_digit)
        && b.get(17)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'X' || *c == b'x'))
        || (b.len() == 15 && b.iter().all(u8::is_ascii_digit))
}

fn status(v: Option<&str>, field: &str, errs: &mut ValidationErrors) -> Option<String> {
    let st = match v? {
        "final" | "completed" | "finished" | "current" | "available" | "active" | "confirmed" => {
            "final"
        }
        "amended" | "corrected" | "appended" => "amended",
        "preliminary" | "registered" | "partial" | "in-progress" | "draft" | "provisional" => {
            "preliminary"
        }
        "entered-in-error" | "cancelled" | "refuted" => "entered_in_error",
        other => {
            errs.push(invalid(
                field,
                msg!("record.unknown_status", other = format!("{other:?}")),
            ));
            return None;
        }
    };
    Some(st.to_owned())
}

fn base_draft(
    res: &Value,
    rtype: RType,
    kind: &str,
    input: &Input,
    errs: &mut ValidationErrors,
) -> (ItemDraft, Option<usize>) {
    let (source_system, source_id, _) = source(res, rtype);
    let (patient, entry) = subject(res, rtype, "subject", input, errs);
    let d = ItemDraft {
        kind: kind.to_owned(),
        source_system,
        source_id,
        patient,
        ..Default::default()
    };
    (d, entry)
}

fn institution(
    d: &mut ItemDraft,
    explicit: Option<String>,
    input: &Input,
    field: &str,
    errs: &mut ValidationErrors,
) {
    match explicit.or_else(|| input.default_institution.map(|u| u.to_string())) {
        Some(i) => d.institution_id = i,
        None => errs.push(invalid(field, msg!("record.names_organization_sender_has"))),
    }
}

/// Maps a resource of a supported type.
pub fn map(rtype: RType, res: &Value, input: &Input) -> Result<Submission, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    match res.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == rtype.name() => {}
        Some(t) => {
            errs.push(invalid(
                "resourceType",
                msg!("record.expected", t = t, name = rtype.name()),
            ));
            return Err(errs);
        }
        None => {
            errs.push(ValidationError::new("resourceType", Reason::Required));
            return Err(errs);
        }
    }
    let out = match rtype {
        RType::Patient => Submission::Resident(Box::new(patient(res, input, &mut errs))),
        _ => {
            let (draft, patient_entry) = item(rtype, res, input, &mut errs);
            Submission::Item {
                draft: Box::new(draft),
                patient_entry,
            }
        }
    };
    if errs.0.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn patient(res: &Value, input: &Input, errs: &mut ValidationErrors) -> ResidentDraft {
    let mut d = ResidentDraft::default();
    match organization(res.get("managingOrganization"))
        .or_else(|| input.default_institution.map(|u| u.to_string()))
    {
        Some(i) => d.institution_id = i,
        None => errs.push(invalid(
            "Patient.managingOrganization",
            msg!("record.names_organization_sender_has_2"),
        )),
    }
    for ident in arr(res, "identifier") {
        let Some(v) = s(ident, &["value"]) else {
            continue;
        };
        let system = s(ident, &["system"]).unwrap_or("");
        let ty = s(ident, &["type", "coding", "code"]).unwrap_or("");
        if system == ID_NUMBER_SYSTEM || matches!(ty, "NNCHN" | "NI" | "CHNID") {
            d.id_number = Some(v.to_owned());
        } else if system == INSURANCE_SYSTEM || ty == "SB" {
            d.insurance_number = Some(v.to_owned());
        } else if d.record_id.is_none() || matches!(ty, "MR" | "PI") {
            d.record_id = Some(v.to_owned());
        }
    }
    let name = arr(res, "name").first();
    d.name = name
        .and_then(|n| own(s(n, &["text"])))
        .or_else(|| {
            let n = name?;
            let family = s(n, &["family"]).unwrap_or("");
            let given: Vec<&str> = arr(n, "given").iter().filter_map(Value::as_str).collect();
            let given = given.join("");
            let cjk = |t: &str| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            let full = if cjk(family) || cjk(&given) {
                format!("{family}{given}")
            } else {
                format!("{given} {family}").trim().to_owned()
            };
            (!full.is_empty()).then_some(full)
        })
        .unwrap_or_default();
    if d.name.is_empty() {
        errs.push(ValidationError::new("Patient.name", Reason::Required));
    }
    d.sex = match s(res, &["gender"]) {
        None => None,
        Some("male") => Some("1".into()),
        Some("female") => Some("2".into()),
        Some("other") => Some("9".into()),
        Some("unknown") => Some("0".into()),
        Some(other) => {
            errs.push(invalid(
                "Patient.gender",
                msg!(
                    "record.male_female_other_unknown",
                    other = format!("{other:?}")
                ),
            ));
            None
        }
    };
    d.birth_date = own(s(res, &["birthDate"]));
    d.phone = arr(res, "telecom")
        .iter()
        .find(|t| matches!(s(t, &["system"]), Some("phone") | Some("sms") | None))
        .and_then(|t| own(s(t, &["value"])));
    d.address = arr(res, "address").first().and_then(|a| {
        own(s(a, &["text"])).or_else(|| {
            let lines: Vec<&str> = arr(a, "line").iter().filter_map(Value::as_str).collect();
            let parts = [
                s(a, &["state"]).unwrap_or(""),
                s(a, &["city"]).unwrap_or(""),
                s(a, &["district"]).unwrap_or(""),
                &lines.join(""),
            ]
            .concat();
            (!parts.is_empty()).then_some(parts)
        })
    });
    for ext in arr(res, "extension") {
        let url = s(ext, &["url"]).unwrap_or("");
        let value = s(ext, &["valueCoding", "code"])
            .or_else(|| s(ext, &["valueCodeableConcept", "coding", "code"]))
            .or_else(|| s(ext, &["valueString"]))
            .or_else(|| s(ext, &["valueCode"]));
        if url.ends_with("ethnicity") {
            d.ethnicity = own(value);
        } else if url.ends_with("nationality") {
            d.nationality = own(value);
        } else if url.ends_with("household-number") {
            d.household_number = own(value);
        } else if url.ends_with("division-code") {
            d.division_code = own(value);
        }
    }
    d
}

fn item(
    rtype: RType,
    res: &Value,
    input: &Input,
    errs: &mut ValidationErrors,
) -> (ItemDraft, Option<usize>) {
    let n = rtype.name();
    match rtype {
        RType::Encounter => {
            let (mut d, e) = base_draft(res, rtype, "encounter", input, errs);
            institution(
                &mut d,
                organization(res.get("serviceProvider")),
                input,
                "Encounter.serviceProvider",
                errs,
            );
            d.class = match s(res, &["class", "code"]) {
                None => {
                    errs.push(ValidationError::new("Encounter.class", Reason::Required));
                    None
                }
                Some(c) => match c.to_uppercase().as_str() {
                    "AMB" | "OUTPATIENT" => Some("outpatient".into()),
                    "EMER" | "EMERGENCY" => Some("emergency".into()),
                    "IMP" | "ACUTE" | "NONAC" | "SS" | "INPATIENT" => Some("inpatient".into()),
                    "HH" | "HOME_VISIT" => Some("home_visit".into()),
                    "FLD" | "PUBLIC_HEALTH" => Some("public_health".into()),
                    _ => {
                        errs.push(invalid(
                            "Encounter.class.code",
                            msg!("record.amb_emer_imp_hh", c = format!("{c:?}")),
                        ));
                        None
                    }
                },
            };
            d.occurred_at = s(res, &["period", "start"]).unwrap_or("").to_owned();
            d.ended_at = own(s(res, &["period", "end"]));
            d.status = status(s(res, &["status"]), "Encounter.status", errs);
            d.title = concept_text(at(res, &["type"]));
            d.department = concept_text(res.get("serviceType"));
            d.chief_complaint = concept_text(at(res, &["reasonCode"]));
            d.doctor = own(s(res, &["participant", "individual", "display"]));
            (d, e)
        }
        RType::Condition => {
            let (mut d, e) = base_draft(res, rtype, "diagnosis", input, errs);
            institution(&mut d, None, input, "Condition.recorder", errs);
            let code = res.get("code");
            let icd = code.and_then(|c| {
                arr(c, "coding")
                    .iter()
                    .find(|x| s(x, &["system"]).is_some_and(|sy| sy.contains("icd")))
                    .or_else(|| arr(c, "coding").first())
            });
            d.code = icd.and_then(|x| own(s(x, &["code"])));
            d.code_system = Some("ICD-10".into());
            d.title = code
                .and_then(|c| own(s(c, &["text"])))
                .or_else(|| icd.and_then(|x| own(s(x, &["display"]))));
            d.occurred_at = s(res, &["onsetDateTime"])
                .or_else(|| s(res, &["recordedDate"]))
                .unwrap_or("")
                .to_owned();
            d.status = status(
                s(res, &["verificationStatus", "coding", "code"]),
                "Condition.verificationStatus",
                errs,
            );
            d.doctor = own(s(res, &["recorder", "display"]));
            d.encounter_ref = own(s(res, &["encounter", "identifier", "value"]));
            d.role = all_codes(res.get("category"))
                .iter()
                .find(|c| matches!(c.as_str(), "PRIMARY" | "SECONDARY"))
                .map(|c| c.to_lowercase());
            (d, e)
        }
        RType::Observation => {
            let (mut d, e) = base_draft(res, rtype, "measurement", input, errs);
            institution(
                &mut d,
                arr(res, "performer")
                    .iter()
                    .find_map(|p| organization(Some(p))),
                input,
                "Observation.performer",
                errs,
            );
            d.occurred_at = s(res, &["effectiveDateTime"])
                .or_else(|| s(res, &["effectivePeriod", "start"]))
                .or_else(|| s(res, &["effectiveInstant"]))
                .or_else(|| s(res, &["issued"]))
                .unwrap_or("")
                .to_owned();
            d.status = status(s(res, &["status"]), "Observation.status", errs);
            d.encounter_ref = own(s(res, &["encounter", "identifier", "value"]));
            d.results = observation_results(res, "Observation", errs);
            if res.get("code").is_none() {
                errs.push(ValidationError::new("Observation.code", Reason::Required));
            }
            d.code = concept_code(res.get("code"));
            d.title = concept_text(res.get("code"));
            (d, e)
        }
        RType::DiagnosticReport => {
            let cats = all_codes(res.get("category"));
            let has = |xs: &[&str]| cats.iter().any(|c| xs.contains(&c.as_str()));
            let kind = if has(&["RAD", "IMG", "IMAGING", "CT", "MR", "US", "DX", "RX", "MG"]) {
                "imaging_report"
            } else if has(&["EC", "ECG", "CARDIOLOGY", "CUS"]) {
                "ecg_report"
            } else if has(&["PAT", "SP", "PATHOLOGY", "CP"]) {
                "pathology_report"
            } else {
                "lab_report"
            };
            let (mut d, e) = base_draft(res, rtype, kind, input, errs);
            institution(
                &mut d,
                arr(res, "performer")
                    .iter()
                    .find_map(|p| organization(Some(p))),
                input,
                "DiagnosticReport.performer",
                errs,
            );
            d.occurred_at = s(res, &["effectiveDateTime"])
                .or_else(|| s(res, &["effectivePeriod", "start"]))
                .or_else(|| s(res, &["issued"]))
                .unwrap_or("")
                .to_owned();
            d.status = status(s(res, &["status"]), "DiagnosticReport.status", errs);
            if res.get("code").is_none() {
                errs.push(ValidationError::new(
                    "DiagnosticReport.code",
                    Reason::Required,
                ));
            }
            d.code = concept_code(res.get("code"));
            d.title = concept_text(res.get("code"));
            d.conclusion = own(s(res, &["conclusion"]));
            d.doctor = own(s(res, &["resultsInterpreter", "display"]));
            d.encounter_ref = own(s(res, &["encounter", "identifier", "value"]));
            for m in ["CT", "MR", "US", "DX", "MG", "ES"] {
                if kind == "imaging_report" && cats.iter().any(|c| c == m) {
                    d.modality = Some(m.to_owned());
                }
            }
            for (i, form) in arr(res, "presentedForm").iter().enumerate() {
                let ct = s(form, &["contentType"]).unwrap_or("");
                if !ct.starts_with("text/plain") {
                    continue;
                }
                match s(form, &["data"]).map(base64_decode) {
                    Some(Some(bytes)) => match String::from_utf8(bytes) {
                        Ok(t) => d.findings = Some(t),
                        Err(_) => errs.push(invalid(
                            format!("DiagnosticReport.presentedForm[{i}].data"),
                            msg!("record.utf_8_text"),
                        )),
                    },
                    Some(None) => errs.push(invalid(
                        format!("DiagnosticReport.presentedForm[{i}].data"),
                        msg!("record.valid_base64"),
                    )),
                    None => {}
                }
            }
            let contained: HashMap<String, &Value> = arr(res, "contained")
                .iter()
                .filter_map(|c| Some((format!("#{}", s(c, &["id"])?), c)))
                .collect();
            for (i, r) in arr(res, "result").iter().enumerate() {
                let field = format!("DiagnosticReport.result[{i}]");
                let Some(reference) = s(r, &["reference"]) else {
                    errs.push(ValidationError::new(
                        format!("{field}.reference"),
                        Reason::Required,
                    ));
                    continue;
                };
                let obs = contained.get(reference).copied().or_else(|| {
                    match input.bundle.get(reference) {
                        Some(Target::Observation(v)) => Some(v),
                        _ => None,
                    }
                });
                match obs {
                    Some(o) => {
                        let mut rs = observation_results(o, &field, errs);
                        if rs.len() == 1
                            && let Some(r0) = rs.first_mut()
                            && r0.effective_at.is_none()
                        {
                            r0.effective_at = own(s(o, &["effectiveDateTime"]));
                        }
                        d.results.extend(rs);
                    }
                    None => errs.push(invalid(
                        format!("{field}.reference"),
                        msg!("record.refer_contained_observation_id"),
                    )),
                }
            }
            (d, e)
        }
        RType::ImagingStudy => {
            let (mut d, e) = base_draft(res, rtype, "imaging_report", input, errs);
            institution(&mut d, None, input, "ImagingStudy", errs);
            d.study_uid = arr(res, "identifier")
                .iter()
                .find(|i| s(i, &["system"]) == Some("urn:dicom:uid"))
                .and_then(|i| s(i, &["value"]))
                .map(|v| v.strip_prefix("urn:oid:").unwrap_or(v).to_owned());
            d.occurred_at = s(res, &["started"]).unwrap_or("").to_owned();
            d.status = match s(res, &["status"]) {
                Some("registered") => Some("preliminary".into()),
                Some("available") | None => Some("final".into()),
                Some("entered-in-error") | Some("cancelled") => Some("entered_in_error".into()),
                Some(other) => {
                    errs.push(invalid(
                        "ImagingStudy.status",
                        msg!("record.unknown_status_2", other = format!("{other:?}")),
                    ));
                    None
                }
            };
            d.modality = own(s(res, &["modality", "code"]))
                .or_else(|| own(s(res, &["series", "modality", "code"])));
            d.body_part = own(s(res, &["series", "bodySite", "display"]))
                .or_else(|| own(s(res, &["series", "bodySite", "code"])));
            d.title = own(s(res, &["description"]));
            d.findings = own(s(res, &["description"]))
                .or_else(|| Some("影像检查已完成，待出报告".to_owned()));
            d.doctor = own(s(res, &["referrer", "display"]));
            (d, e)
        }
        RType::DocumentReference => {
            let (mut d, e) = base_draft(res, rtype, "document", input, errs);
            institution(
                &mut d,
                organization(res.get("custodian")),
                input,
                "DocumentReference.custodian",
                errs,
            );
            let codes = all_codes(res.get("type"));
            d.document_type = codes.iter().find_map(|c| {
                Some(
                    match c.as_str() {
                        "OUTPATIENT_RECORD" | "34108-1" | "11488-4" => "outpatient_record",
                        "ADMISSION_RECORD" | "34117-2" => "admission_record",
                        "PROGRESS_NOTE" | "11506-3" => "progress_note",
                        "DISCHARGE_SUMMARY" | "18842-5" => "discharge_summary",
                        "OPERATION_NOTE" | "11504-8" => "operation_note",
                        "REFERRAL_RECORD" | "57133-1" => "referral_record",
                        "HEALTH_CHECK" | "68608-9" => "health_check",
                        _ => return None,
                    }
                    .to_owned(),
                )
            });
            if d.document_type.is_none() {
                errs.push(invalid(
                    "DocumentReference.type",
                    msg!("record.supported_document_type_loinc"),
                ));
            }
            d.occurred_at = s(res, &["context", "period", "start"])
                .or_else(|| s(res, &["date"]))
                .unwrap_or("")
                .to_owned();
            d.status = match s(res, &["status"]) {
                Some("entered-in-error") => Some("entered_in_error".into()),
                _ => status(s(res, &["docStatus"]), "DocumentReference.docStatus", errs),
            };
            d.doctor = own(s(res, &["author", "display"]));
            d.title = own(s(res, &["description"]));
            let contents = arr(res, "content");
            if contents.is_empty() {
                errs.push(ValidationError::new(
                    "DocumentReference.content",
                    Reason::Required,
                ));
            }
            for (i, c) in contents.iter().enumerate() {
                let f = format!("DocumentReference.content[{i}].attachment");
                let ct = s(c, &["attachment", "contentType"]).unwrap_or("text/plain");
                let media = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if media != "text/plain" && media != Pdf::MEDIA_TYPE {
                    errs.push(invalid(
                        format!("{f}.contentType"),
                        msg!("record.supported_send_document_as", ct = ct),
                    ));
                    continue;
                }
                if d.title.is_none() {
                    d.title = own(s(c, &["attachment", "title"]));
                }
                let bytes = match s(c, &["attachment", "data"]).map(base64_decode) {
                    Some(Some(bytes)) => bytes,
                    Some(None) => {
                        errs.push(invalid(format!("{f}.data"), msg!("record.valid_base64_2")));
                        continue;
                    }
                    None if s(c, &["attachment", "url"]).is_some() => {
                        errs.push(invalid(
                            format!("{f}.data"),
                            msg!("record.required_ygt_does_fetch"),
                        ));
                        continue;
                    }
                    None => {
                        errs.push(ValidationError::new(format!("{f}.data"), Reason::Required));
                        continue;
                    }
                };
                if let Some(size) = at(c, &["attachment", "size"]) {
                    let n = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                    if size.as_u64() != Some(n) {
                        errs.push(invalid(
                            format!("{f}.size"),
                            msg!("record.but_data_has_bytes", size = size.to_string(), n = n),
                        ));
                        continue;
                    }
                }
                if media == Pdf::MEDIA_TYPE {
                    if d.pdf.is_some() {
                        errs.push(invalid(
                            format!("{f}.contentType"),
                            msg!("record.second_pdf_document_has"),
                        ));
                        continue;
                    }
                    match Pdf::parse(&format!("{f}.data"), bytes) {
                        Ok(pdf) => d.pdf = Some(pdf),
                        Err(e) => errs.push(e),
                    }
                } else {
                    match String::from_utf8(bytes) {
                        Ok(t) => d.text = Some(t),
                        Err(_) => {
                            errs.push(invalid(format!("{f}.data"), msg!("record.utf_8_text_2")))
                        }
                    }
                }
            }
            (d, e)
        }
        RType::MedicationRequest => {
            let (mut d, e) = base_draft(res, rtype, "prescription", input, errs);
            institution(&mut d, None, input, "MedicationRequest.requester", errs);
            d.occurred_at = s(res, &["authoredOn"]).unwrap_or("").to_owned();
            d.status = match s(res, &["status"]) {
                Some("entered-in-error") | Some("cancelled") => Some("entered_in_error".into()),
                Some("draft") => Some("preliminary".into()),
                _ => Some("final".into()),
            };
            d.doctor = own(s(res, &["requester", "display"]));
            let med = res.get("medicationCodeableConcept");
            let dose =
                at(res, &["dosageInstruction", "doseAndRate", "doseQuantity"]).and_then(|q| {
                    let v = q.get("value").and_then(number_text)?;
                    Some(format!("{v}{}", s(q, &["unit"]).unwrap_or("")))
                });
            let days = at(res, &["dispenseRequest", "expectedSupplyDuration", "value"])
                .and_then(number_text);
            let quantity = at(res, &["dispenseRequest", "quantity"]).and_then(|q| {
                let v = q.get("value").and_then(number_text)?;
                Some(format!("{v}{}", s(q, &["unit"]).unwrap_or("")))
            });
            match concept_text(med) {
                Some(name) => d.medications.push(MedicationDraft {
                    name,
                    code: concept_code(med),
                    dose: dose.or_else(|| own(s(res, &["dosageInstruction", "text"]))),
                    route: concept_text(at(res, &["dosageInstruction", "route"])),
                    frequency: concept_text(at(res, &["dosageInstruction", "timing", "code"])),
                    days,
                    quantity,
                }),
                None => errs.push(ValidationError::new(
                    "MedicationRequest.medicationCodeableConcept",
                    Reason::Required,
                )),
            }
            d.encounter_ref = own(s(res, &["encounter", "identifier", "value"]));
            (d, e)
        }
        RType::Patient
        | RType::ServiceRequest
        | RType::Task
        | RType::Appointment
        | RType::Schedule
        | RType::Slot => (
            {
                errs.push(invalid(n, msg!("record.clinical_item")));
                ItemDraft::default()
            },
            None,
        ),
    }
}

/// The values of an Observation: its value, or its components (blood pressure).
fn observation_results(o: &Value, field: &str, errs: &mut ValidationErrors) -> Vec<ResultDraft> {
    let one = |v: &Value, code: Option<&Value>, f: &str, errs: &mut ValidationErrors| {
        let code_text = concept_code(code);
        let Some(c) = code_text else {
            errs.push(ValidationError::new(format!("{f}.code"), Reason::Required));
            return None;
        };
        let (value, unit) = if let Some(q) = v.get("valueQuantity") {
            (
                q.get("value").and_then(number_text),
                own(s(q, &["unit"])).or_else(|| own(s(q, &["code"]))),
            )
        } else if let Some(x) = s(v, &["valueString"]) {
            (Some(x.to_owned()), None)
        } else if let Some(cc) = v.get("valueCodeableConcept") {
            (concept_text(Some(cc)), None)
        } else if let Some(b) = v.get("valueBoolean").and_then(Value::as_bool) {
            (Some(if b { "阳性" } else { "阴性" }.to_owned()), None)
        } else if let Some(n) = v.get("valueInteger") {
            (number_text(n), None)
        } else {
            (None, None)
        };
        let Some(value) = value else {
            errs.push(invalid(
                format!("{f}.value[x]"),
                msg!("record.missing_valuequantity_valuestring_valuecodeableconcept"),
            ));
            return None;
        };
        let range = at(v, &["referenceRange"]).and_then(|r| {
            own(s(r, &["text"])).or_else(|| {
                let lo = at(r, &["low", "value"]).and_then(number_text);
                let hi = at(r, &["high", "value"]).and_then(number_text);
                match (lo, hi) {
                    (Some(l), Some(h)) => Some(format!("{l}-{h}")),
                    (Some(l), None) => Some(format!(">={l}")),
                    (None, Some(h)) => Some(format!("<={h}")),
                    _ => None,
                }
            })
        });
        Some(ResultDraft {
            code: c,
            name: concept_text(code),
            value,
            unit,
            ref_range: range,
            abnormal: own(s(v, &["interpretation", "coding", "code"])),
            effective_at: None,
        })
    };
    let mut out = Vec::new();
    let comps = arr(o, "component");
    let has_value = [
        "valueQuantity",
        "valueString",
        "valueCodeableConcept",
        "valueInteger",
        "valueBoolean",
    ]
    .iter()
    .any(|k| o.get(*k).is_some());
    if (has_value || comps.is_empty())
        && let Some(r) = one(o, o.get("code"), field, errs)
    {
        out.push(r);
    }
    for (i, c) in comps.iter().enumerate() {
        if let Some(r) = one(c, c.get("code"), &format!("{field}.component[{i}]"), errs) {
            out.push(r);
        }
    }
    out
}

/// The FHIR element behind a draft field, for error messages.
pub fn fhir_path(rtype: RType, field: &str) -> String {
    let n = rtype.name();
    let (head, rest) = match field.find(['.', '[']) {
        Some(i) => (&field[..i], &field[i..]),
        None => (field, ""),
    };
    let el = match (rtype, head) {
        (_, "source_system") => "identifier[0].system",
        (_, "source_id") => "identifier[0].value",
        (_, "patient") => "subject",
        (RType::Patient, "institution_id") => "managingOrganization",
        (RType::Patient, "birth_date") => "birthDate",
        (RType::Patient, "sex") => "gender",
        (RType::Patient, "id_number" | "record_id" | "insurance_number") => "identifier",
        (RType::Patient, "phone") => "telecom",
        (RType::Patient, "ethnicity" | "nationality" | "division_code" | "household_number") => {
            "extension"
        }
        (RType::Encounter, "institution_id") => "serviceProvider",
        (RType::Encounter, "occurred_at") => "period.start",
        (RType::Encounter, "ended_at") => "period.end",
        (RType::Encounter, "title") => "type",
        (RType::Encounter, "chief_complaint") => "reasonCode",
        (RType::Condition, "occurred_at") => "onsetDateTime",
        (RType::Condition, "code" | "title") => "code",
        (RType::Observation, "occurred_at") => "effectiveDateTime",
        (RType::Observation, "results") => "value[x]",
        (RType::DiagnosticReport, "occurred_at") => "effectiveDateTime",
        (RType::DiagnosticReport, "results") => "result",
        (RType::DiagnosticReport, "findings") => "presentedForm",
        (RType::DiagnosticReport, "institution_id") => "performer",
        (RType::Observation, "institution_id") => "performer",
        (RType::ImagingStudy, "occurred_at") => "started",
        (RType::ImagingStudy, "study_uid") => "identifier",
        (RType::ImagingStudy, "findings" | "conclusion") => "description",
        (RType::DocumentReference, "occurred_at") => "date",
        (RType::DocumentReference, "text" | "pdf") => "content[0].attachment.data",
        (RType::DocumentReference, "document_type") => "type",
        (RType::DocumentReference, "institution_id") => "custodian",
        (RType::MedicationRequest, "occurred_at") => "authoredOn",
        (RType::MedicationRequest, "medications") => "medicationCodeableConcept",
        (_, "status") => "status",
        (_, "code") => "code",
        (_, "title") => "code.text",
        (_, "doctor") => "performer",
        (_, "class") => "class",
        (_, "modality") => "modality",
        (_, "conclusion") => "conclusion",
        (_, other) => other,
    };
    if el == head {
        format!("{n}.{field}")
    } else if matches!(head, "medications" | "patient")
        || (head == "results" && rtype == RType::Observation)
    {
        format!("{n}.{el}")
    } else {
        format!("{n}.{el}{rest}")
    }
}
