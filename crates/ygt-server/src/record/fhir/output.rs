//! FHIR R4 resources out: stored items and persons as the resources they are. Identifiers of
//! residents leave masked, as everywhere else outside the reveal action.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use ygt_app::record::{Body, BodyResult, MedicationDraft};
use ygt_app::view::PersonView;
use ygt_app::ygt_store::record::Item;
use ygt_domain::clinical::{Abnormal, DocumentType, ItemKind, ItemStatus};

use super::{ID_NUMBER_SYSTEM, SOURCE_PREFIX};
use crate::door::fhir::{RType, base64_encode, date_time, instant};

fn meta(version: i64, updated: OffsetDateTime) -> Value {
    json!({"versionId": version.to_string(), "lastUpdated": instant(updated)})
}

fn identifier(it: &Item) -> Value {
    let system =
        if it.source_system.contains(':') && !it.source_system.contains(char::is_whitespace) {
            it.source_system.clone()
        } else {
            let enc: String = it
                .source_system
                .chars()
                .map(|c| if c.is_whitespace() { '_' } else { c })
                .collect();
            format!("{SOURCE_PREFIX}{enc}")
        };
    json!([{"system": system, "value": it.source_id}])
}

fn subject(it: &Item) -> Value {
    match it.person_id {
        Some(p) => json!({"reference": format!("Patient/{p}")}),
        None => json!({"display": "未匹配的居民"}),
    }
}

fn organization(it: &Item) -> Value {
    json!({"reference": format!("Organization/{}", it.institution_id), "display": it.institution_name})
}

fn body(it: &Item) -> Body {
    serde_json::from_str(&it.body).unwrap_or_default()
}

fn set(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v);
    }
}

fn observation_status(it: &Item) -> &'static str {
    match it.status {
        ItemStatus::Amended => "amended",
        ItemStatus::Preliminary => "preliminary",
        ItemStatus::EnteredInError => "entered-in-error",
        _ => "final",
    }
}

fn interpretation(a: Option<Abnormal>) -> Option<Value> {
    a.map(|a| {
        json!([{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": a.code(),
            "display": a.label_en(),
        }], "text": a.label_zh()}])
    })
}

/// The value elements of a result (into an Observation or a component).
fn value_into(m: &mut Map<String, Value>, r: &BodyResult) {
    m.insert(
        "code".into(),
        json!({"coding": [{"code": r.code, "display": r.name}], "text": r.name}),
    );
    match r.value.parse::<f64>().ok().filter(|v| v.is_finite()) {
        Some(v) => {
            let mut q = Map::new();
            q.insert("value".into(), json!(v));
            if let Some(u) = &r.unit {
                q.insert("unit".into(), json!(u));
            }
            m.insert("valueQuantity".into(), Value::Object(q));
        }
        None => {
            m.insert("valueString".into(), json!(r.value));
        }
    }
    set(m, "interpretation", interpretation(r.abnormal));
    set(
        m,
        "referenceRange",
        r.ref_range.as_ref().map(|t| json!([{"text": t}])),
    );
}

/// The resource of an item. `part` selects one medication of a prescription.
pub fn item(rtype: RType, it: &Item, part: usize) -> Value {
    let b = body(it);
    let mut m = Map::new();
    m.insert("resourceType".into(), json!(rtype.name()));
    m.insert(
        "id".into(),
        json!(crate::door::fhir::resource_id(it.id, part)),
    );
    m.insert("meta".into(), meta(it.version, it.updated_at));
    m.insert("identifier".into(), identifier(it));
    let when = date_time(it.occurred_at);
    match rtype {
        RType::Encounter => {
            let (code, display) = match b.class.map(|c| c.code()) {
                Some("emergency") => ("EMER", "emergency"),
                Some("inpatient") => ("IMP", "inpatient encounter"),
                Some("home_visit") => ("HH", "home health"),
                Some("public_health") => ("FLD", "field"),
                _ => ("AMB", "ambulatory"),
            };
            m.insert(
                "status".into(),
                json!(match it.status {
                    ItemStatus::EnteredInError => "entered-in-error",
                    ItemStatus::Preliminary => "in-progress",
                    _ => "finished",
                }),
            );
            m.insert(
                "class".into(),
                json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code, "display": display}),
            );
            m.insert("type".into(), json!([{"text": it.title}]));
            set(
                &mut m,
                "serviceType",
                it.department.as_ref().map(|d| json!({"text": d})),
            );
            m.insert("subject".into(), subject(it));
            set(
                &mut m,
                "participant",
                it.doctor
                    .as_ref()
                    .map(|d| json!([{"individual": {"display": d}}])),
            );
            let mut period = Map::new();
            period.insert("start".into(), json!(when));
            if let Some(e) = it.ended_at {
                period.insert("end".into(), json!(date_time(e)));
            }
            m.insert("period".into(), Value::Object(period));
            set(
                &mut m,
                "reasonCode",
                b.chief_complaint.as_ref().map(|c| json!([{"text": c}])),
            );
            m.insert("serviceProvider".into(), organization(it));
        }
        RType::Condition => {
            let verification = if it.status == ItemStatus::EnteredInError {
                "entered-in-error"
            } else if it.status == ItemStatus::Preliminary {
                "provisional"
            } else {
                "confirmed"
            };
            m.insert(
                "verificationStatus".into(),
                json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]}),
            );
            m.insert(
                "category".into(),
                json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}],
                        "text": b.role.map(|r| r.label_zh()).unwrap_or("诊断")}]),
            );
            let mut code = Map::new();
            if let Some(c) = &it.code {
                code.insert(
                    "coding".into(),
                    json!([{"system": "http://hl7.org/fhir/sid/icd-10", "code": c, "display": it.title}]),
                );
            }
            code.insert("text".into(), json!(it.title));
            m.insert("code".into(), Value::Object(code));
            m.insert("subject".into(), subject(it));
            set(
                &mut m,
                "encounter",
                it.encounter_ref
                    .as_ref()
                    .map(|e| json!({"identifier": {"value": e}})),
            );
            m.insert("onsetDateTime".into(), json!(when));
            m.insert("recordedDate".into(), json!(date_time(it.received_at)));
            set(
                &mut m,
                "recorder",
                it.doctor.as_ref().map(|d| json!({"display": d})),
            );
        }
        RType::Observation => {
            m.insert("status".into(), json!(observation_status(it)));
            m.insert(
                "category".into(),
                json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}]),
            );
            m.insert("subject".into(), subject(it));
            m.insert("effectiveDateTime".into(), json!(when));
            m.insert("issued".into(), json!(instant(it.received_at)));
            m.insert("performer".into(), json!([organization(it)]));
            match b.results.as_slice() {
                [one] => value_into(&mut m, one),
                many => {
                    let mut code = Map::new();
                    if let Some(c) = &it.code {
                        code.insert("coding".into(), json!([{"code": c, "display": it.title}]));
                    }
                    code.insert("text".into(), json!(it.title));
                    m.insert("code".into(), Value::Object(code));
                    let comps: Vec<Value> = many
                        .iter()
                        .map(|r| {
                            let mut c = Map::new();
                            value_into(&mut c, r);
                            Value::Object(c)
                        })
                        .collect();
                    m.insert("component".into(), Value::Array(comps));
                }
            }
        }
        RType::DiagnosticReport => {
            let (cat, display) = match it.kind {
                ItemKind::ImagingReport => ("RAD", "Radiology"),
                ItemKind::EcgReport => ("EC", "Electrocardiac"),
                ItemKind::PathologyReport => ("PAT", "Pathology (gross & histopath, not surgical)"),
                _ => ("LAB", "Laboratory"),
            };
            m.insert("status".into(), json!(observation_status(it)));
            m.insert(
                "category".into(),
                json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": cat, "display": display}]}]),
            );
            let mut code = Map::new();
            if let Some(c) = &it.code {
                code.insert("coding".into(), json!([{"code": c, "display": it.title}]));
            }
            code.insert("text".into(), json!(it.title));
            m.insert("code".into(), Value::Object(code));
            m.insert("subject".into(), subject(it));
            m.insert("effectiveDateTime".into(), json!(when));
            m.insert("issued".into(), json!(instant(it.received_at)));
            m.insert("performer".into(), json!([organization(it)]));
            set(
                &mut m,
                "resultsInterpreter",
                it.doctor.as_ref().map(|d| json!([{"display": d}])),
            );
            if !b.results.is_empty() {
                let contained: Vec<Value> = b
                    .results
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let mut o = Map::new();
                        o.insert("resourceType".into(), json!("Observation"));
                        o.insert("id".into(), json!(format!("r{i}")));
                        o.insert("status".into(), json!(observation_status(it)));
                        value_into(&mut o, r);
                        Value::Object(o)
                    })
                    .collect();
                let refs: Vec<Value> = (0..b.results.len())
                    .map(|i| json!({"reference": format!("#r{i}")}))
                    .collect();
                m.insert("contained".into(), Value::Array(contained));
                m.insert("result".into(), Value::Array(refs));
            }
            if b.study_uid.is_some() {
                m.insert(
                    "imagingStudy".into(),
                    json!([{"reference": format!("ImagingStudy/{}", it.id)}]),
                );
            }
            set(
                &mut m,
                "conclusion",
                b.conclusion.as_ref().map(|c| json!(c)),
            );
            set(
                &mut m,
                "presentedForm",
                b.findings.as_ref().map(|f| {
                    json!([{"contentType": "text/plain; charset=utf-8", "language": "zh-CN",
                            "data": base64_encode(f.as_bytes()), "title": "检查所见"}])
                }),
            );
        }
        RType::ImagingStudy => {
            m.insert(
                "status".into(),
                json!(if it.status == ItemStatus::EnteredInError {
                    "entered-in-error"
                } else {
                    "available"
                }),
            );
            if let Some(uid) = &b.study_uid
                && let Some(Value::Array(ids)) = m.get_mut("identifier")
            {
                ids.push(json!({"system": "urn:dicom:uid", "value": format!("urn:oid:{uid}")}));
            }
            set(
                &mut m,
                "modality",
                b.modality.map(|md| {
                    json!([{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": md.code()}])
                }),
            );
            m.insert("subject".into(), subject(it));
            m.insert("started".into(), json!(when));
            set(
                &mut m,
                "referrer",
                it.doctor.as_ref().map(|d| json!({"display": d})),
            );
            let desc = match &b.body_part {
                Some(p) if !it.title.contains(p.as_str()) => format!("{} {p}", it.title),
                _ => it.title.clone(),
            };
            m.insert("description".into(), json!(desc));
        }
        RType::DocumentReference => {
            m.insert(
                "status".into(),
                json!(if it.status == ItemStatus::EnteredInError {
                    "entered-in-error"
                } else {
                    "current"
                }),
            );
            if it.status != ItemStatus::EnteredInError {
                m.insert("docStatus".into(), json!(observation_status(it)));
            }
            let dt = b.document_type.unwrap_or(DocumentType::OutpatientRecord);
            let loinc = match dt {
                DocumentType::OutpatientRecord => "34108-1",
                DocumentType::AdmissionRecord => "34117-2",
                DocumentType::ProgressNote => "11506-3",
                DocumentType::DischargeSummary => "18842-5",
                DocumentType::OperationNote => "11504-8",
                DocumentType::ReferralRecord => "57133-1",
                DocumentType::HealthCheck => "68608-9",
            };
            m.insert(
                "type".into(),
                json!({"coding": [{"system": "http://loinc.org", "code": loinc, "display": dt.label_en()}], "text": dt.label_zh()}),
            );
            m.insert("subject".into(), subject(it));
            m.insert("date".into(), json!(instant(it.occurred_at)));
            set(
                &mut m,
                "author",
                it.doctor.as_ref().map(|d| json!([{"display": d}])),
            );
            m.insert("custodian".into(), organization(it));
            m.insert("description".into(), json!(it.title));
            // The text inline; the PDF by reference to its Binary (relative to the base).
            let mut content = Vec::new();
            if b.text.is_some() || b.attachment.is_none() {
                content.push(json!({"attachment": {"contentType": "text/plain; charset=utf-8", "language": "zh-CN",
                    "data": base64_encode(b.text.as_deref().unwrap_or("").as_bytes()), "title": it.title}}));
            }
            if let Some(a) = &b.attachment {
                content.push(
                    json!({"attachment": {"contentType": a.content_type, "language": "zh-CN",
                    "url": format!("Binary/{}", it.id), "size": a.size, "title": it.title}}),
                );
            }
            m.insert("content".into(), Value::Array(content));
            m.insert("context".into(), json!({"period": {"start": when}}));
        }
        RType::MedicationRequest => {
            m.insert(
                "status".into(),
                json!(if it.status == ItemStatus::EnteredInError {
                    "entered-in-error"
                } else {
                    "completed"
                }),
            );
            m.insert("intent".into(), json!("order"));
            let med = b.medications.get(part).cloned().unwrap_or(MedicationDraft {
                name: it.title.clone(),
                ..Default::default()
            });
            let mut concept = Map::new();
            if let Some(c) = &med.code {
                concept.insert("coding".into(), json!([{"code": c, "display": med.name}]));
            }
            concept.insert("text".into(), json!(med.name));
            m.insert("medicationCodeableConcept".into(), Value::Object(concept));
            m.insert("subject".into(), subject(it));
            m.insert("authoredOn".into(), json!(when));
            set(
                &mut m,
                "requester",
                it.doctor.as_ref().map(|d| json!({"display": d})),
            );
            if b.medications.len() > 1 {
                m.insert(
                    "groupIdentifier".into(),
                    json!({"system": "urn:ygt:prescription", "value": it.id.to_string()}),
                );
            }
            let text: Vec<&str> = [
                med.dose.as_deref(),
                med.route.as_deref(),
                med.frequency.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !text.is_empty() {
                let mut dosage = Map::new();
                dosage.insert("text".into(), json!(text.join(" ")));
                set(
                    &mut dosage,
                    "route",
                    med.route.as_ref().map(|r| json!({"text": r})),
                );
                set(
                    &mut dosage,
                    "timing",
                    med.frequency.as_ref().map(|f| json!({"code": {"text": f}})),
                );
                m.insert("dosageInstruction".into(), json!([Value::Object(dosage)]));
            }
            if let Some(d) = med
                .days
                .as_deref()
                .and_then(|d| d.trim().parse::<f64>().ok())
            {
                m.insert(
                    "dispenseRequest".into(),
                    json!({"expectedSupplyDuration": {"value": d, "unit": "天", "system": "http://unitsofmeasure.org", "code": "d"}}),
                );
            }
        }
        RType::Patient
        | RType::ServiceRequest
        | RType::Task
        | RType::Appointment
        | RType::Schedule
        | RType::Slot => {}
    }
    Value::Object(m)
}

/// A resident as a Patient (golden record; identifiers masked).
pub fn patient(p: &PersonView) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Patient"));
    m.insert("id".into(), json!(p.id.to_string()));
    m.insert("meta".into(), meta(p.version, p.updated_at));
    if let Some(id) = &p.id_number {
        m.insert(
            "identifier".into(),
            json!([{"use": "official", "type": {"text": "居民身份证号（已脱敏）"},
                    "system": ID_NUMBER_SYSTEM, "value": id}]),
        );
    }
    m.insert("active".into(), json!(p.active));
    m.insert("name".into(), json!([{"use": "official", "text": p.name}]));
    m.insert(
        "gender".into(),
        json!(match p.sex.as_str() {
            "1" => "male",
            "2" => "female",
            "9" => "other",
            _ => "unknown",
        }),
    );
    if let Some(b) = p.birth_date {
        m.insert(
            "birthDate".into(),
            json!(format!(
                "{:04}-{:02}-{:02}",
                b.year(),
                u8::from(b.month()),
                b.day()
            )),
        );
    }
    if let Some(phone) = &p.phone {
        m.insert(
            "telecom".into(),
            json!([{"system": "phone", "value": phone}]),
        );
    }
    set(
        &mut m,
        "address",
        p.address.as_ref().map(|a| json!([{"text": a}])),
    );
    if let Some(into) = p.merged_into {
        m.insert(
            "link".into(),
            json!([{"other": {"reference": format!("Patient/{into}")}, "type": "replaced-by"}]),
        );
    }
    Value::Object(m)
}
