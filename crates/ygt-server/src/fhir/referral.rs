//! Two-way referral (双向转诊) in FHIR R4: the referral is a ServiceRequest, its progress a
//! Task, its booking an Appointment, the calendars Schedules with their Slots. Every
//! interaction calls the referral use cases (`create_referral`, `referral_step`,
//! `referral_view`, `worklist`, `booking_resources`, `calendar_slots`), which authorise and
//! audit as for every other door.
//!
//! Mapping (ygt → FHIR; the same elements are read back on create and update):
//!
//! ServiceRequest/{referral id}
//! - `identifier` the slip number (`urn:ygt:referral-number`); `status` draft → draft,
//!   submitted/redirected/accepted/scheduled/arrived → active, completed → completed,
//!   rejected/cancelled → revoked; `intent` order.
//! - `category` the direction, `urn:ygt:referral-direction` `up` (上转) | `down` (下转);
//!   `code` SNOMED CT 3457005 "Patient referral".
//! - `priority` routine | urgent | stat ↔ urgency routine | urgent | emergency (asap reads as
//!   urgent).
//! - `subject` Patient/{person}. `requester` the signed-in user's institution and doctor, a
//!   contained PractitionerRole (on create, ygt takes them from the sign-in; a requester naming
//!   another Organization is refused).
//! - `performer` Organization/{to_institution_id}, optionally the department and the doctor
//!   as identifier references (`urn:ygt:department`, `urn:ygt:staff`): the target of the
//!   referral, which a redirection changes.
//! - `reasonCode` the diagnosis (ICD-10, `http://hl7.org/fhir/sid/icd-10`; the national
//!   clinical version `urn:oid:2.16.156.10011.2.3.3.11` is read too), the reason as a
//!   text-only concept (on create also the first `note` when no text-only concept is sent), the
//!   written criterion (`urn:ygt:referral-criterion`). `note` the clinical summary.
//! - `orderDetail` the resource needed (`urn:ygt:resource-kind`: ct, mri, ultrasound,
//!   specialist_clinic, bed); `occurrenceDateTime` the appointment.
//! - `supportingInfo` the attached record items, as the resources ygt serves them
//!   (DiagnosticReport/{id}, Condition/{id}, …). Search results leave them out; read the
//!   ServiceRequest for them.
//! - extensions: `urn:ygt:fhir:extension:slot` (valueReference Slot/{id}) books a slot with
//!   the referral on create; `urn:ygt:fhir:extension:treatment-plan` carries the plan of a
//!   down-referral (sub-extensions dischargeSummary, medication*, followUp* as `+14 血压随访`
//!   or `2099-03-01 复查`, warningSigns, rehabGoals).
//!
//! Task/{referral id} (read, search, update)
//! - `focus` and `basedOn` the ServiceRequest, `for` the Patient, `requester` the referring
//!   Organization, `owner` the receiving one.
//! - `status` draft → draft, submitted/redirected → requested, accepted/scheduled →
//!   accepted, arrived → in-progress, completed, rejected, cancelled; `businessStatus` ygt's own
//!   state (`urn:ygt:referral-status`); `statusReason` why it was rejected, cancelled or
//!   redirected; `restriction.period.start` the appointment; `output` the outcome
//!   (`urn:ygt:referral-outcome` diagnosis as valueCodeableConcept, treatment and summary as
//!   valueString).
//! - PUT Task/{id} with a new status is one step: requested (from draft) → submit;
//!   requested with another `owner` Organization → redirect (statusReason required);
//!   received or accepted → accept; accepted again with a new `restriction.period.start` or
//!   slot extension → schedule (after acceptance); rejected → reject and cancelled → cancel
//!   (statusReason required); in-progress → arrival; completed → complete with `output`
//!   (summary required). The status the Task already has changes nothing. `If-Match` makes
//!   the step version-aware.
//!
//! Appointment/{referral id} (read, search): the booking of a referral that has an
//! appointment: proposed (draft), pending (submitted), booked (accepted, scheduled), arrived,
//! fulfilled (completed); `slot` the Slot it holds, `basedOn` the ServiceRequest. An
//! appointment set as a time without a slot is given 30 minutes.
//!
//! Schedule/{resource id} and Slot/{slot id} (read, search): a bookable resource's calendar.
//! Slot `status` free, busy (booked) or busy-unavailable (past); `comment` and the extension
//! `urn:ygt:fhir:extension:slot-availability` (reserved | public | booked | past) say
//! whether a free slot is still reserved for referrals (号源下沉). Slots never say for whom
//! they are booked.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_app::record::parse_cursor;
use ygt_app::referral::{
    Plan, PlanDraft, ReferralDraft, ReferralOutcome, ReferralView, StepDraft, WorklistQuery,
};
use ygt_app::ygt_store::record::Item;
use ygt_app::ygt_store::referral::{Referral, Resource, Slot};
use ygt_app::{AppError, Ctx};
use ygt_domain::referral::{Criterion, Direction, ResourceKind, SlotAvailability, Status, Urgency};
use ygt_domain::{Reason, ValidationError, ValidationErrors};

use super::input::s;
use super::output::{date_time, instant};
use super::{RType, bad_param, base, date_range, fhir, person_param, with_version};
use crate::AppState;
use crate::error::WebError;
use crate::extract::FormData;

pub const NUMBER_SYSTEM: &str = "urn:ygt:referral-number";
pub const DIRECTION_SYSTEM: &str = "urn:ygt:referral-direction";
pub const STATUS_SYSTEM: &str = "urn:ygt:referral-status";
pub const CRITERION_SYSTEM: &str = "urn:ygt:referral-criterion";
pub const OUTCOME_SYSTEM: &str = "urn:ygt:referral-outcome";
pub const KIND_SYSTEM: &str = "urn:ygt:resource-kind";
pub const DEPARTMENT_SYSTEM: &str = "urn:ygt:department";
pub const STAFF_SYSTEM: &str = "urn:ygt:staff";
pub const ITEM_SYSTEM: &str = "urn:ygt:clinical-item";
pub const EXT_SLOT: &str = "urn:ygt:fhir:extension:slot";
pub const EXT_PLAN: &str = "urn:ygt:fhir:extension:treatment-plan";
pub const EXT_AVAILABILITY: &str = "urn:ygt:fhir:extension:slot-availability";
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
/// ICD-10 of the national clinical version (疾病分类与代码), as Chinese documents name it.
pub const ICD10_CN: &str = "urn:oid:2.16.156.10011.2.3.3.11";
const SNOMED: &str = "http://snomed.info/sct";

/// How long an appointment given as a time (without a slot) is shown to last.
const UNSLOTTED_MINUTES: i64 = 30;

// ---------------------------------------------------------------- status maps

fn status_of(r: &Referral) -> Status {
    r.status
}

fn sr_status(st: Status) -> &'static str {
    match st {
        Status::Draft => "draft",
        Status::Submitted
        | Status::Redirected
        | Status::Accepted
        | Status::Scheduled
        | Status::Arrived => "active",
        Status::Completed => "completed",
        Status::Rejected | Status::Cancelled => "revoked",
    }
}

fn task_status(st: Status) -> &'static str {
    match st {
        Status::Draft => "draft",
        Status::Submitted | Status::Redirected => "requested",
        Status::Accepted | Status::Scheduled => "accepted",
        Status::Arrived => "in-progress",
        Status::Completed => "completed",
        Status::Rejected => "rejected",
        Status::Cancelled => "cancelled",
    }
}

fn appointment_status(st: Status) -> &'static str {
    match st {
        Status::Draft => "proposed",
        Status::Submitted | Status::Redirected => "pending",
        Status::Accepted | Status::Scheduled => "booked",
        Status::Arrived => "arrived",
        Status::Completed => "fulfilled",
        Status::Rejected | Status::Cancelled => "cancelled",
    }
}

/// The referral states a FHIR status of `rt` stands for (empty: none).
fn states_of(rt: RType, fhir_status: &str) -> Vec<Status> {
    Status::ALL
        .iter()
        .copied()
        .filter(|st| {
            let mapped = match rt {
                RType::ServiceRequest => sr_status(*st),
                RType::Task => task_status(*st),
                _ => appointment_status(*st),
            };
            mapped == fhir_status
        })
        .collect()
}

fn priority(u: Urgency) -> &'static str {
    match u {
        Urgency::Routine => "routine",
        Urgency::Urgent => "urgent",
        Urgency::Emergency => "stat",
    }
}

// ---------------------------------------------------------------- out

fn meta(r: &Referral) -> Value {
    json!({"versionId": r.version.to_string(), "lastUpdated": instant(r.status_since)})
}

fn number(r: &Referral) -> Value {
    json!([{"system": NUMBER_SYSTEM, "value": r.number}])
}

fn patient_ref(r: &Referral) -> Value {
    json!({"reference": format!("Patient/{}", r.person_id), "display": r.person_name})
}

fn org(id: Uuid, name: &str) -> Value {
    json!({"reference": format!("Organization/{id}"), "display": name})
}

fn sr_ref(r: &Referral) -> Value {
    json!({"reference": format!("ServiceRequest/{}", r.id)})
}

fn set(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v);
    }
}

fn kind_concept(k: ResourceKind, text: Option<&str>) -> Value {
    json!({"coding": [{"system": KIND_SYSTEM, "code": k.code(), "display": k.label_zh()}],
                 "text": text.unwrap_or(k.label_zh())})
}

/// The resource type ygt serves a record item as (None: not served).
fn item_type(kind: &str) -> Option<RType> {
    Some(match kind {
        "encounter" => RType::Encounter,
        "diagnosis" => RType::Condition,
        "measurement" => RType::Observation,
        "lab_report" | "imaging_report" | "ecg_report" | "pathology_report" => {
            RType::DiagnosticReport
        }
        "document" => RType::DocumentReference,
        "prescription" => RType::MedicationRequest,
        _ => return None,
    })
}

fn plan_extension(p: &Plan) -> Value {
    let mut ext = Vec::new();
    let mut push = |url: &str, v: &str| {
        if !v.trim().is_empty() {
            ext.push(json!({"url": url, "valueString": v}));
        }
    };
    push("dischargeSummary", &p.discharge_summary);
    for m in &p.medications {
        push("medication", m);
    }
    for f in &p.follow_ups {
        let when = match (f.after_days, f.on) {
            (_, Some(d)) => d.to_string(),
            (Some(n), None) => format!("+{n}"),
            (None, None) => "+14".to_owned(),
        };
        push("followUp", &format!("{when} {}", f.title));
    }
    push("warningSigns", &p.warning_signs);
    push("rehabGoals", &p.rehab_goals);
    json!({"url": EXT_PLAN, "extension": ext})
}

/// The referral as a ServiceRequest; `items` are its attachments (left out when None).
pub fn service_request(r: &Referral, items: Option<&[Item]>) -> Value {
    let st = status_of(r);
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("ServiceRequest"));
    m.insert("id".into(), json!(r.id.to_string()));
    m.insert("meta".into(), meta(r));
    let mut role = Map::new();
    role.insert("resourceType".into(), json!("PractitionerRole"));
    role.insert("id".into(), json!("requester"));
    if !r.from_doctor.trim().is_empty() {
        role.insert("practitioner".into(), json!({"display": r.from_doctor}));
    }
    role.insert(
        "organization".into(),
        org(r.from_institution_id, &r.from_institution_name),
    );
    if let (Some(id), Some(name)) = (r.from_department_id, &r.from_department_name) {
        role.insert(
            "specialty".into(),
            json!([{"coding": [{"system": DEPARTMENT_SYSTEM, "code": id.to_string(), "display": name}], "text": name}]),
        );
    }
    m.insert("contained".into(), json!([Value::Object(role)]));
    if let Some(p) = r
        .plan
        .as_deref()
        .and_then(|p| serde_json::from_str::<Plan>(p).ok())
    {
        m.insert("extension".into(), json!([plan_extension(&p)]));
    }
    m.insert("identifier".into(), number(r));
    m.insert("status".into(), json!(sr_status(st)));
    m.insert("intent".into(), json!("order"));
    {
        let d = r.direction;
        m.insert(
            "category".into(),
            json!([{"coding": [{"system": DIRECTION_SYSTEM, "code": d.code(), "display": d.label_zh()}], "text": d.label_zh()}]),
        );
    }
    m.insert("priority".into(), json!(priority(r.urgency)));
    m.insert(
        "code".into(),
        json!({"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}], "text": "转诊"}),
    );
    set(
        &mut m,
        "orderDetail",
        r.needs.map(|n| json!([kind_concept(n, None)])),
    );
    m.insert("subject".into(), patient_ref(r));
    set(
        &mut m,
        "occurrenceDateTime",
        r.appointment_at.map(|t| json!(date_time(t))),
    );
    m.insert(
        "authoredOn".into(),
        json!(date_time(r.submitted_at.unwrap_or(r.created_at))),
    );
    let who = if r.from_doctor.trim().is_empty() {
        r.from_institution_name.clone()
    } else {
        format!("{} {}", r.from_institution_name, r.from_doctor)
    };
    m.insert(
        "requester".into(),
        json!({"reference": "#requester", "display": who}),
    );
    let mut performer = vec![org(r.to_institution_id, &r.to_institution_name)];
    if let (Some(id), Some(name)) = (r.to_department_id, &r.to_department_name) {
        performer.push(json!({"type": "Organization", "identifier": {"system": DEPARTMENT_SYSTEM, "value": id.to_string()}, "display": name}));
    }
    if let (Some(id), Some(name)) = (r.to_staff_id, &r.to_staff_name) {
        performer.push(json!({"type": "Practitioner", "identifier": {"system": STAFF_SYSTEM, "value": id.to_string()}, "display": name}));
    }
    m.insert("performer".into(), Value::Array(performer));
    let mut reasons = Vec::new();
    if r.diagnosis_code.is_some() || r.diagnosis_name.is_some() {
        let mut c = Map::new();
        if let Some(code) = &r.diagnosis_code {
            let mut coding = Map::new();
            coding.insert("system".into(), json!(ICD10));
            coding.insert("code".into(), json!(code));
            set(
                &mut coding,
                "display",
                r.diagnosis_name.as_ref().map(|n| json!(n)),
            );
            c.insert("coding".into(), json!([Value::Object(coding)]));
        }
        c.insert(
            "text".into(),
            json!(r.diagnosis_name.as_ref().or(r.diagnosis_code.as_ref())),
        );
        reasons.push(Value::Object(c));
    }
    if !r.reason.trim().is_empty() {
        reasons.push(json!({"text": r.reason}));
    }
    if let Some(c) = r
        .criterion
        .as_deref()
        .and_then(|c| Criterion::parse("criterion", c).ok())
    {
        reasons.push(json!({"coding": [{"system": CRITERION_SYSTEM, "code": c.code(), "display": c.label_zh()}], "text": c.label_zh()}));
    }
    if !reasons.is_empty() {
        m.insert("reasonCode".into(), Value::Array(reasons));
    }
    if let Some(items) = items.filter(|i| !i.is_empty()) {
        let refs: Vec<Value> = items
            .iter()
            .map(|it| match item_type(&it.kind) {
                Some(t) => json!({"reference": format!("{}/{}", t.name(), it.id), "display": it.title}),
                None => json!({"identifier": {"system": ITEM_SYSTEM, "value": it.id.to_string()}, "display": it.title}),
            })
            .collect();
        m.insert("supportingInfo".into(), Value::Array(refs));
    }
    set(
        &mut m,
        "note",
        r.summary
            .as_ref()
            .filter(|t| !t.trim().is_empty())
            .map(|t| json!([{"text": t}])),
    );
    Value::Object(m)
}

fn outcome_type(code: &str, zh: &str) -> Value {
    json!({"coding": [{"system": OUTCOME_SYSTEM, "code": code, "display": zh}], "text": zh})
}

/// The referral's progress as a Task.
pub fn task(r: &Referral) -> Value {
    let st = status_of(r);
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Task"));
    m.insert("id".into(), json!(r.id.to_string()));
    m.insert("meta".into(), meta(r));
    m.insert("identifier".into(), number(r));
    m.insert("basedOn".into(), json!([sr_ref(r)]));
    m.insert("status".into(), json!(task_status(st)));
    if matches!(
        st,
        Status::Rejected | Status::Cancelled | Status::Redirected
    ) && let Some(n) = r.status_note.as_ref().filter(|n| !n.trim().is_empty())
    {
        m.insert("statusReason".into(), json!({"text": n}));
    }
    m.insert(
        "businessStatus".into(),
        json!({"coding": [{"system": STATUS_SYSTEM, "code": st.code(), "display": st.label_zh()}], "text": st.label_zh()}),
    );
    m.insert("intent".into(), json!("order"));
    m.insert("priority".into(), json!(priority(r.urgency)));
    m.insert(
        "code".into(),
        json!({"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill", "display": "Fulfill the focal request"}], "text": "转诊办理"}),
    );
    m.insert("focus".into(), sr_ref(r));
    m.insert("for".into(), patient_ref(r));
    let mut period = Map::new();
    set(
        &mut period,
        "start",
        r.accepted_at.or(r.arrived_at).map(|t| json!(date_time(t))),
    );
    set(&mut period, "end", r.closed_at.map(|t| json!(date_time(t))));
    if !period.is_empty() {
        m.insert("executionPeriod".into(), Value::Object(period));
    }
    m.insert("authoredOn".into(), json!(date_time(r.created_at)));
    m.insert("lastModified".into(), json!(date_time(r.status_since)));
    m.insert(
        "requester".into(),
        org(r.from_institution_id, &r.from_institution_name),
    );
    m.insert(
        "owner".into(),
        org(r.to_institution_id, &r.to_institution_name),
    );
    if let Some(t) = r.appointment_at {
        m.insert(
            "restriction".into(),
            json!({"period": {"start": date_time(t)}}),
        );
    }
    if let Some(o) = r
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str::<ReferralOutcome>(o).ok())
    {
        let mut out = Vec::new();
        if o.diagnosis_code.is_some() || o.diagnosis_name.is_some() {
            let mut c = Map::new();
            if let Some(code) = &o.diagnosis_code {
                let mut coding = Map::new();
                coding.insert("system".into(), json!(ICD10));
                coding.insert("code".into(), json!(code));
                set(
                    &mut coding,
                    "display",
                    o.diagnosis_name.as_ref().map(|n| json!(n)),
                );
                c.insert("coding".into(), json!([Value::Object(coding)]));
            }
            c.insert(
                "text".into(),
                json!(o.diagnosis_name.as_ref().or(o.diagnosis_code.as_ref())),
            );
            out.push(json!({"type": outcome_type("diagnosis", "诊断"), "valueCodeableConcept": Value::Object(c)}));
        }
        if !o.treatment.trim().is_empty() {
            out.push(
                json!({"type": outcome_type("treatment", "治疗经过"), "valueString": o.treatment}),
            );
        }
        if !o.summary.trim().is_empty() {
            out.push(
                json!({"type": outcome_type("summary", "诊疗小结"), "valueString": o.summary}),
            );
        }
        if !out.is_empty() {
            m.insert("output".into(), Value::Array(out));
        }
    }
    Value::Object(m)
}

/// The booking of a referral with an appointment.
pub fn appointment(r: &Referral, booking: Option<&(Slot, Resource)>) -> Option<Value> {
    let start = r.appointment_at?;
    let st = status_of(r);
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Appointment"));
    m.insert("id".into(), json!(r.id.to_string()));
    m.insert("meta".into(), meta(r));
    m.insert("identifier".into(), number(r));
    m.insert("status".into(), json!(appointment_status(st)));
    let kind = booking.map(|(_, res)| res.kind).or(r.needs);
    set(
        &mut m,
        "serviceType",
        kind.map(|k| json!([kind_concept(k, booking.map(|(_, res)| res.name.as_str()))])),
    );
    let place = match booking {
        Some((_, res)) => format!("{} {}", r.to_institution_name, res.name),
        None => match &r.to_department_name {
            Some(d) => format!("{} {d}", r.to_institution_name),
            None => r.to_institution_name.clone(),
        },
    };
    m.insert(
        "description".into(),
        json!(format!("转诊 {} · {place}", r.number)),
    );
    let end = booking
        .map(|(s, _)| s.ends_at)
        .unwrap_or(start + Duration::minutes(UNSLOTTED_MINUTES));
    m.insert("start".into(), json!(instant(start)));
    m.insert("end".into(), json!(instant(end)));
    m.insert(
        "minutesDuration".into(),
        json!((end - start).whole_minutes().max(1)),
    );
    if let Some((s, _)) = booking {
        m.insert(
            "slot".into(),
            json!([{"reference": format!("Slot/{}", s.id)}]),
        );
        set(&mut m, "created", s.booked_at.map(|t| json!(date_time(t))));
    }
    m.insert("basedOn".into(), json!([sr_ref(r)]));
    let confirmed = matches!(
        st,
        Status::Accepted | Status::Scheduled | Status::Arrived | Status::Completed
    );
    m.insert(
        "participant".into(),
        json!([
            {"actor": patient_ref(r), "required": "required", "status": "accepted"},
            {"actor": {"display": place}, "required": "required",
             "status": if confirmed { "accepted" } else { "needs-action" }},
        ]),
    );
    Some(Value::Object(m))
}

fn resource_display(res: &Resource) -> String {
    let mut parts = vec![res.institution_name.as_str()];
    if let Some(d) = &res.department_name {
        parts.push(d);
    }
    if let Some(s) = &res.staff_name {
        parts.push(s);
    }
    parts.push(&res.name);
    parts.join(" ")
}

/// A bookable resource as a Schedule.
pub fn schedule(res: &Resource) -> Value {
    json!({
        "resourceType": "Schedule",
        "id": res.id.to_string(),
        "active": res.active,
        "serviceType": [kind_concept(res.kind, None)],
        "actor": [{"display": resource_display(res)}],
        "comment": res.name,
    })
}

/// A slot of a calendar (never saying for whom it is booked).
pub fn slot(s: &Slot, a: SlotAvailability, kind: Option<ResourceKind>) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Slot"));
    m.insert("id".into(), json!(s.id.to_string()));
    m.insert(
        "extension".into(),
        json!([{"url": EXT_AVAILABILITY, "valueCode": a.code()}]),
    );
    set(
        &mut m,
        "serviceType",
        kind.map(|k| json!([kind_concept(k, None)])),
    );
    m.insert(
        "schedule".into(),
        json!({"reference": format!("Schedule/{}", s.resource_id)}),
    );
    m.insert(
        "status".into(),
        json!(match a {
            SlotAvailability::Booked => "busy",
            SlotAvailability::Past => "busy-unavailable",
            SlotAvailability::Reserved | SlotAvailability::Public => "free",
        }),
    );
    m.insert("start".into(), json!(instant(s.starts_at)));
    m.insert("end".into(), json!(instant(s.ends_at)));
    let comment = match a {
        SlotAvailability::Reserved => Some(format!(
            "医共体转诊预留号源，{} 前仅供转诊预约",
            date_time(s.release_at)
        )),
        SlotAvailability::Public if s.reserved => Some("转诊预留号源，已放号".to_owned()),
        _ => None,
    };
    set(&mut m, "comment", comment.map(|c| json!(c)));
    Value::Object(m)
}

// ---------------------------------------------------------------- in

fn invalid(field: impl Into<String>, en: &str, zh: &str) -> ValidationError {
    ValidationError::new(
        field,
        Reason::Other {
            zh: zh.to_owned(),
            en: en.to_owned(),
        },
    )
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn is_icd10(system: Option<&str>) -> bool {
    match system {
        None => true,
        Some(s) => {
            let l = s.to_ascii_lowercase();
            s == ICD10_CN || l.contains("icd-10") || l.contains("icd10")
        }
    }
}

fn resource_type(res: &Value, want: &str, errs: &mut ValidationErrors) -> bool {
    match res.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == want => true,
        Some(t) => {
            errs.push(invalid(
                "resourceType",
                &format!("is {t}, expected {want}"),
                &format!("为 {t}，应为 {want}"),
            ));
            false
        }
        None => {
            errs.push(ValidationError::new("resourceType", Reason::Required));
            false
        }
    }
}

/// The id of a reference `Type/{id}` (a bare id too).
fn reference_id<'a>(v: &'a str, ty: &str) -> &'a str {
    v.strip_prefix(ty)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(v)
}

fn slot_extension(res: &Value, element: &str, errs: &mut ValidationErrors) -> Option<String> {
    let ext = arr(res, "extension")
        .iter()
        .find(|e| s(e, &["url"]) == Some(EXT_SLOT))?;
    match s(ext, &["valueReference", "reference"]) {
        Some(r) if r.starts_with("Slot/") => Some(reference_id(r, "Slot").to_owned()),
        _ => {
            errs.push(invalid(
                format!("{element}.extension('{EXT_SLOT}')"),
                "must be a valueReference to Slot/{id}",
                "应为指向 Slot/{id} 的 valueReference",
            ));
            None
        }
    }
}

fn plan_draft(ext: &Value) -> PlanDraft {
    let mut d = PlanDraft::default();
    let mut meds = Vec::new();
    let mut follow = Vec::new();
    for e in arr(ext, "extension") {
        let v = s(e, &["valueString"]).unwrap_or("").to_owned();
        match s(e, &["url"]).unwrap_or("") {
            "dischargeSummary" => d.discharge_summary = v,
            "medication" => meds.push(v),
            "followUp" => follow.push(v),
            "warningSigns" => d.warning_signs = v,
            "rehabGoals" => d.rehab_goals = v,
            _ => {}
        }
    }
    d.medications = meds.join("\n");
    d.follow_ups = follow.join("\n");
    d
}

/// A ServiceRequest to create as the draft `create_referral` takes. `own` is the signed-in
/// user's institution (the referring side).
pub fn referral_draft(res: &Value, own: Option<Uuid>) -> Result<ReferralDraft, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    if !resource_type(res, "ServiceRequest", &mut errs) {
        return Err(errs);
    }
    let mut d = ReferralDraft {
        submit: true,
        ..Default::default()
    };
    match s(res, &["status"]) {
        None | Some("active") => d.submit = true,
        Some("draft") => d.submit = false,
        Some(o) => errs.push(invalid(
            "ServiceRequest.status",
            &format!("{o:?}: a new referral is active (submitted) or draft"),
            &format!("{o:?}：新建转诊的状态应为 active（提交）或 draft（草稿）"),
        )),
    }
    match s(res, &["intent"]) {
        None | Some("order" | "original-order" | "proposal" | "plan") => {}
        Some(o) => errs.push(invalid(
            "ServiceRequest.intent",
            &format!("{o:?}: a referral is an order"),
            &format!("{o:?}：转诊的 intent 应为 order"),
        )),
    }
    let directions: Vec<&str> = arr(res, "category")
        .iter()
        .flat_map(|c| arr(c, "coding"))
        .filter(|c| matches!(s(c, &["system"]), None | Some(DIRECTION_SYSTEM)))
        .filter_map(|c| s(c, &["code"]))
        .filter(|c| Direction::parse("direction", c).is_ok())
        .collect();
    match directions.first() {
        Some(dir) => d.direction = (*dir).to_owned(),
        None => errs.push(invalid(
            "ServiceRequest.category",
            &format!("needs the direction: a coding of {DIRECTION_SYSTEM}, up or down"),
            &format!("需写明转诊方向：{DIRECTION_SYSTEM} 的 up（上转）或 down（下转）"),
        )),
    }
    d.urgency = match s(res, &["priority"]) {
        None | Some("routine") => "routine".into(),
        Some("urgent" | "asap") => "urgent".into(),
        Some("stat") => "emergency".into(),
        Some(o) => {
            errs.push(invalid(
                "ServiceRequest.priority",
                &format!("{o:?} is not routine, urgent, asap or stat"),
                &format!("{o:?} 不是 routine、urgent、asap 或 stat"),
            ));
            String::new()
        }
    };
    match (res.get("subject"), s(res, &["subject", "reference"])) {
        (None, _) => errs.push(ValidationError::new(
            "ServiceRequest.subject",
            Reason::Required,
        )),
        (_, Some(r)) if r.starts_with("Patient/") => {
            d.person_id = reference_id(r, "Patient").to_owned();
        }
        _ => errs.push(invalid(
            "ServiceRequest.subject.reference",
            "must be Patient/{id} with the id ygt gave the patient",
            "应为 Patient/{id}，id 为平台的居民编号",
        )),
    }
    if let Some(r) = s(res, &["requester", "reference"])
        && let Some(o) = r.strip_prefix("Organization/")
        && own.is_none_or(|own| own.to_string() != o)
    {
        errs.push(invalid(
            "ServiceRequest.requester",
            "names another institution; a referral is written from the signed-in user's institution",
            "不是本机构；转诊只能以登录用户所在机构名义开具",
        ));
    }
    for (i, p) in arr(res, "performer").iter().enumerate() {
        let field = format!("ServiceRequest.performer[{i}]");
        let reference = s(p, &["reference"]);
        let system = s(p, &["identifier", "system"]);
        let value = s(p, &["identifier", "value"]).map(str::to_owned);
        if let Some(r) = reference.and_then(|r| r.strip_prefix("Organization/")) {
            if d.to_institution_id.is_empty() {
                d.to_institution_id = r.to_owned();
            } else {
                errs.push(invalid(
                    field,
                    "a referral goes to one institution",
                    "转诊只能转往一家机构",
                ));
            }
        } else if system == Some(DEPARTMENT_SYSTEM) && value.is_some() {
            d.to_department_id = value;
        } else if system == Some(STAFF_SYSTEM) && value.is_some() {
            d.to_staff_id = value;
        } else {
            errs.push(invalid(
                field,
                &format!(
                    "must be Organization/{{id}}, or an identifier of {DEPARTMENT_SYSTEM} or {STAFF_SYSTEM}"
                ),
                &format!(
                    "应为 Organization/{{id}}，或 {DEPARTMENT_SYSTEM}、{STAFF_SYSTEM} 的标识符"
                ),
            ));
        }
    }
    if d.to_institution_id.is_empty() && !errs.0.iter().any(|e| e.field.contains("performer")) {
        errs.push(invalid(
            "ServiceRequest.performer",
            "needs the institution referred to (Organization/{id})",
            "需写明转入机构（Organization/{id}）",
        ));
    }
    let mut texts = Vec::new();
    for (i, rc) in arr(res, "reasonCode").iter().enumerate() {
        let codings = arr(rc, "coding");
        if codings.is_empty() {
            if let Some(t) = s(rc, &["text"]) {
                texts.push(t.to_owned());
            }
            continue;
        }
        for (k, c) in codings.iter().enumerate() {
            let system = s(c, &["system"]);
            let code = s(c, &["code"]);
            if system == Some(CRITERION_SYSTEM) {
                d.criterion = code.map(str::to_owned);
            } else if is_icd10(system) {
                d.diagnosis_code = code.map(str::to_owned);
                d.diagnosis_name = s(c, &["display"])
                    .or_else(|| s(rc, &["text"]))
                    .map(str::to_owned);
            } else {
                errs.push(invalid(
                    format!("ServiceRequest.reasonCode[{i}].coding[{k}].system"),
                    &format!("use ICD-10 ({ICD10}) for the diagnosis or {CRITERION_SYSTEM}"),
                    &format!("诊断请用 ICD-10（{ICD10}），转诊标准请用 {CRITERION_SYSTEM}"),
                ));
            }
        }
    }
    let mut notes: Vec<String> = arr(res, "note")
        .iter()
        .filter_map(|n| s(n, &["text"]))
        .map(str::to_owned)
        .collect();
    d.reason = if texts.is_empty() {
        if notes.is_empty() {
            String::new()
        } else {
            notes.remove(0)
        }
    } else {
        texts.join("\n")
    };
    if !notes.is_empty() {
        d.summary = Some(notes.join("\n"));
    }
    d.needs = arr(res, "orderDetail")
        .iter()
        .flat_map(|c| arr(c, "coding"))
        .filter(|c| matches!(s(c, &["system"]), None | Some(KIND_SYSTEM)))
        .find_map(|c| s(c, &["code"]))
        .map(str::to_owned);
    for (i, si) in arr(res, "supportingInfo").iter().enumerate() {
        let by_ref = s(si, &["reference"])
            .and_then(|r| r.split_once('/'))
            .filter(|(t, _)| RType::parse(t).is_some())
            .and_then(|(_, id)| super::parse_resource_id(id))
            .map(|(u, _)| u.to_string());
        let by_ident = (s(si, &["identifier", "system"]) == Some(ITEM_SYSTEM))
            .then(|| s(si, &["identifier", "value"]).map(str::to_owned))
            .flatten();
        match by_ref.or(by_ident) {
            Some(id) => d.item_ids.push(id),
            None => errs.push(invalid(
                format!("ServiceRequest.supportingInfo[{i}]"),
                "must refer to a record resource of this server (DiagnosticReport/{id}, …)",
                "应指向本平台健康档案中的资源（如 DiagnosticReport/{id}）",
            )),
        }
    }
    d.slot_id = slot_extension(res, "ServiceRequest", &mut errs);
    if let Some(p) = arr(res, "extension")
        .iter()
        .find(|e| s(e, &["url"]) == Some(EXT_PLAN))
    {
        d.plan = Some(plan_draft(p));
    }
    if errs.0.is_empty() { Ok(d) } else { Err(errs) }
}

/// The FHIR element of a field of [`ReferralDraft`].
fn create_path(field: &str) -> String {
    let plan = format!("ServiceRequest.extension('{EXT_PLAN}')");
    if let Some(rest) = field.strip_prefix("plan.") {
        let (head, index) = match rest.split_once('[') {
            Some((h, i)) => (h, format!("[{i}")),
            None => (rest, String::new()),
        };
        let sub = match head {
            "discharge_summary" => "dischargeSummary",
            "medications" => "medication",
            "follow_ups" => "followUp",
            "warning_signs" => "warningSigns",
            "rehab_goals" => "rehabGoals",
            other => other,
        };
        return format!("{plan}.extension('{sub}'){index}");
    }
    if let Some(rest) = field.strip_prefix("item_ids") {
        return format!("ServiceRequest.supportingInfo{rest}");
    }
    match field {
        "plan" => plan,
        "person_id" => "ServiceRequest.subject".into(),
        "direction" => "ServiceRequest.category".into(),
        "urgency" => "ServiceRequest.priority".into(),
        "to_institution_id" | "to_department_id" | "to_staff_id" => {
            "ServiceRequest.performer".into()
        }
        "from_department_id" => "ServiceRequest.requester".into(),
        "diagnosis_code" | "diagnosis_name" | "criterion" | "reason" => {
            "ServiceRequest.reasonCode".into()
        }
        "summary" => "ServiceRequest.note".into(),
        "needs" => "ServiceRequest.orderDetail".into(),
        "slot_id" => format!("ServiceRequest.extension('{EXT_SLOT}')"),
        "referral" => "ServiceRequest".into(),
        f if f.starts_with("ServiceRequest") => f.to_owned(),
        other => format!("ServiceRequest.{other}"),
    }
}

/// What a PUT of a Task asks for.
#[derive(Debug, Default)]
struct TaskChange {
    status: String,
    reason: Option<String>,
    owner: Option<String>,
    appointment_at: Option<String>,
    slot_id: Option<String>,
    outcome: ReferralOutcome,
}

fn task_change(res: &Value, id: &str) -> Result<TaskChange, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    if !resource_type(res, "Task", &mut errs) {
        return Err(errs);
    }
    if let Some(body_id) = res.get("id").and_then(Value::as_str)
        && body_id != id
    {
        errs.push(invalid(
            "Task.id",
            &format!("does not match the id in the URL ({id})"),
            &format!("与地址中的 id（{id}）不一致"),
        ));
    }
    let mut c = TaskChange {
        status: s(res, &["status"]).unwrap_or("").to_owned(),
        reason: s(res, &["statusReason", "text"])
            .or_else(|| s(res, &["statusReason", "coding", "display"]))
            .map(str::to_owned),
        ..Default::default()
    };
    if c.status.is_empty() {
        errs.push(ValidationError::new("Task.status", Reason::Required));
    }
    if let Some(o) = res.get("owner") {
        match s(o, &["reference"]).and_then(|r| r.strip_prefix("Organization/")) {
            Some(x) => c.owner = Some(x.to_owned()),
            None => errs.push(invalid(
                "Task.owner",
                "must be Organization/{id}",
                "应为 Organization/{id}",
            )),
        }
    }
    c.appointment_at = s(res, &["restriction", "period", "start"]).map(str::to_owned);
    c.slot_id = slot_extension(res, "Task", &mut errs);
    for (i, o) in arr(res, "output").iter().enumerate() {
        let kind = arr(o.get("type").unwrap_or(&Value::Null), "coding")
            .iter()
            .find(|c| matches!(s(c, &["system"]), None | Some(OUTCOME_SYSTEM)))
            .and_then(|c| s(c, &["code"]))
            .or_else(|| s(o, &["type", "text"]));
        let text = s(o, &["valueString"]).map(str::to_owned);
        match kind {
            Some("diagnosis") => {
                let cc = o.get("valueCodeableConcept");
                let coding = cc.and_then(|cc| {
                    arr(cc, "coding")
                        .iter()
                        .find(|x| is_icd10(s(x, &["system"])))
                });
                c.outcome.diagnosis_code = coding.and_then(|x| s(x, &["code"])).map(str::to_owned);
                c.outcome.diagnosis_name = cc
                    .and_then(|cc| s(cc, &["text"]))
                    .or_else(|| coding.and_then(|x| s(x, &["display"])))
                    .map(str::to_owned)
                    .or(text);
            }
            Some("treatment") => c.outcome.treatment = text.unwrap_or_default(),
            Some("summary") => c.outcome.summary = text.unwrap_or_default(),
            _ => errs.push(invalid(
                format!("Task.output[{i}].type"),
                &format!("must be diagnosis, treatment or summary ({OUTCOME_SYSTEM})"),
                &format!("应为 diagnosis（诊断）、treatment（治疗经过）或 summary（小结）（{OUTCOME_SYSTEM}）"),
            )),
        }
    }
    if errs.0.is_empty() { Ok(c) } else { Err(errs) }
}

fn state_conflict(current: Status, wanted: &str) -> AppError {
    AppError::Conflict {
        field: Some("Task.status".into()),
        zh: format!(
            "转诊当前状态为“{}”，任务不能改为 {wanted}",
            current.label_zh()
        ),
        en: format!(
            "the referral is {}; its Task cannot become {wanted}",
            current.label_en().to_lowercase()
        ),
    }
}

/// The step a Task update asks for (None: the Task already says so).
fn decide(v: &ReferralView, c: &TaskChange) -> Result<Option<StepDraft>, AppError> {
    let r = &v.referral;
    let cur = status_of(r);
    let step = |action: &str| StepDraft {
        action: action.into(),
        reason: c.reason.clone(),
        ..Default::default()
    };
    let new_owner = c
        .owner
        .as_deref()
        .filter(|o| o.trim() != r.to_institution_id.to_string());
    if new_owner.is_some() && c.status != "requested" {
        return Err(AppError::invalid(
            "Task.owner",
            Reason::Other {
                zh: "改派（更换转入机构）时任务状态应保持 requested".into(),
                en: "a new owner is a redirection: the status stays requested".into(),
            },
        ));
    }
    // A new appointment: a slot other than the one held, or another time.
    let held_slot = v.slot.as_ref().map(|s| s.id.to_string());
    let new_slot = c.slot_id.clone().filter(|x| Some(x) != held_slot.as_ref());
    let new_time = match c.appointment_at.as_deref() {
        Some(t) => {
            let at = ygt_app::referral::parse_local_time("Task.restriction.period.start", t)
                .map_err(|e| AppError::Invalid(e.into()))?;
            (Some(at) != r.appointment_at).then(|| t.to_owned())
        }
        None => None,
    };
    let reschedule = new_slot.is_some() || (c.slot_id.is_none() && new_time.is_some());
    Ok(match c.status.as_str() {
        "draft" if cur == Status::Draft => None,
        "draft" => return Err(state_conflict(cur, "draft")),
        "requested" => match cur {
            Status::Draft => Some(step("submit")),
            Status::Submitted | Status::Redirected => new_owner.map(|o| StepDraft {
                action: "redirect".into(),
                reason: c.reason.clone(),
                to_institution_id: Some(o.to_owned()),
                ..Default::default()
            }),
            _ => return Err(state_conflict(cur, "requested")),
        },
        "received" | "accepted" => match cur {
            Status::Submitted | Status::Redirected if reschedule => {
                return Err(AppError::invalid(
                    "Task.restriction.period.start",
                    Reason::Other {
                        zh: "请先接收转诊（accepted），再预约时间".into(),
                        en: "accept the referral first, then set the appointment".into(),
                    },
                ));
            }
            Status::Accepted | Status::Scheduled if reschedule => Some(StepDraft {
                action: "schedule".into(),
                slot_id: new_slot,
                appointment_at: if c.slot_id.is_none() { new_time } else { None },
                ..Default::default()
            }),
            Status::Accepted | Status::Scheduled => None,
            _ => Some(step("accept")),
        },
        "rejected" if cur == Status::Rejected => None,
        "rejected" => Some(step("reject")),
        "cancelled" if cur == Status::Cancelled => None,
        "cancelled" => Some(step("cancel")),
        "in-progress" if cur == Status::Arrived => None,
        "in-progress" => Some(step("arrive")),
        "completed" if cur == Status::Completed => None,
        "completed" => Some(StepDraft {
            action: "complete".into(),
            outcome: Some(c.outcome.clone()),
            ..Default::default()
        }),
        other => {
            return Err(AppError::invalid(
                "Task.status",
                Reason::Other {
                    zh: format!(
                        "{other:?}：转诊任务可改为 requested、accepted、rejected、cancelled、in-progress 或 completed"
                    ),
                    en: format!(
                        "{other:?}: a referral's Task moves to requested, accepted, rejected, cancelled, in-progress or completed"
                    ),
                },
            ));
        }
    })
}

/// The FHIR element of a field of [`StepDraft`].
fn step_path(field: &str) -> String {
    match field {
        "action" => "Task.status".into(),
        "reason" => "Task.statusReason".into(),
        "to_institution_id" | "to_department_id" => "Task.owner".into(),
        "slot_id" => format!("Task.extension('{EXT_SLOT}')"),
        "appointment_at" => "Task.restriction.period.start".into(),
        f if f.starts_with("outcome") => "Task.output".into(),
        f if f.starts_with("Task") => f.to_owned(),
        other => format!("Task.{other}"),
    }
}

/// Renames the fields of validation errors and conflicts; a stale version names the element.
fn rename(e: AppError, f: impl Fn(&str) -> String, version: &str) -> AppError {
    match e {
        AppError::Invalid(errs) => AppError::Invalid(ValidationErrors(
            errs.0
                .into_iter()
                .map(|x| {
                    let name = f(&x.field);
                    x.at(name)
                })
                .collect(),
        )),
        AppError::Conflict { field, zh, en } => AppError::Conflict {
            field: field.map(|x| f(&x)),
            zh,
            en,
        },
        AppError::Stale => AppError::Conflict {
            field: Some(version.to_owned()),
            zh: "该转诊已被他人修改，请重新读取后再试".into(),
            en: "the referral changed since that version; read it again and retry".into(),
        },
        other => other,
    }
}

/// The version of an `If-Match: W/"3"` header.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, WebError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| bad_param("If-Match", "must be W/\"{version}\"", "应为 W/\"{版本号}\""))
}

// ---------------------------------------------------------------- handlers

fn not_found() -> WebError {
    WebError(AppError::NotFound("resource"))
}

fn uuid_of(id: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(id).map_err(|_| not_found())
}

fn located(s: &AppState, rt: RType, r: &Referral, body: &Value, status: StatusCode) -> Response {
    let loc = format!("{}/{}/{}/_history/{}", base(s), rt.name(), r.id, r.version);
    with_version(fhir(status, body), r.version, Some(loc))
}

pub async fn read(s: &AppState, ctx: &Ctx, rt: RType, id: &str) -> Result<Response, WebError> {
    match rt {
        RType::Slot => {
            let (sl, res, a) = s.app.calendar_slot(ctx, uuid_of(id)?).await?;
            Ok(fhir(StatusCode::OK, &slot(&sl, a, Some(res.kind))))
        }
        RType::Schedule => {
            let uuid = uuid_of(id)?;
            let res = s
                .app
                .booking_resources(ctx, None, None)
                .await?
                .into_iter()
                .find(|r| r.id == uuid)
                .ok_or_else(not_found)?;
            Ok(fhir(StatusCode::OK, &schedule(&res)))
        }
        _ => {
            let v = s.app.referral_view(ctx, uuid_of(id)?).await?;
            let body = match rt {
                RType::ServiceRequest => service_request(&v.referral, Some(&v.items)),
                RType::Task => task(&v.referral),
                _ => {
                    let booking = v.slot.clone().zip(v.resource.clone());
                    appointment(&v.referral, booking.as_ref()).ok_or_else(not_found)?
                }
            };
            Ok(with_version(
                fhir(StatusCode::OK, &body),
                v.referral.version,
                None,
            ))
        }
    }
}

pub async fn create(s: &AppState, ctx: &Ctx, rt: RType, res: &Value) -> Result<Response, WebError> {
    if rt != RType::ServiceRequest {
        return Err(WebError::invalid(
            rt.name(),
            Reason::Other {
                zh: "转诊以 ServiceRequest 开具；任务、预约与号源随之产生".into(),
                en: "a referral is created as a ServiceRequest; its Task, Appointment and Slot follow from it".into(),
            },
        ));
    }
    let own = ctx.principal().and_then(|p| p.institution_id);
    let draft = referral_draft(res, own)?;
    let r = s
        .app
        .create_referral(ctx, &draft)
        .await
        .map_err(|e| WebError(rename(e, create_path, "ServiceRequest.meta.versionId")))?;
    let v = s.app.referral_view(ctx, r.id).await?;
    let body = service_request(&v.referral, Some(&v.items));
    Ok(located(s, rt, &v.referral, &body, StatusCode::CREATED))
}

pub async fn update(
    s: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    rt: RType,
    id: &str,
    res: &Value,
) -> Result<Response, WebError> {
    if rt != RType::Task {
        return Err(WebError::invalid(
            rt.name(),
            Reason::Other {
                zh: "转诊的进展通过更新 Task（PUT Task/{id}）办理".into(),
                en: "a referral moves on by updating its Task (PUT Task/{id})".into(),
            },
        ));
    }
    let uuid = uuid_of(id)?;
    let change = task_change(res, id)?;
    let version = if_match(headers)?;
    let v = s.app.referral_view(ctx, uuid).await?;
    let stale = |e: AppError| WebError(rename(e, step_path, "Task.meta.versionId"));
    if let Some(want) = version
        && want != v.referral.version
    {
        return Err(stale(AppError::Stale));
    }
    let r = match decide(&v, &change).map_err(stale)? {
        None => v.referral,
        Some(mut step) => {
            step.version = version;
            s.app.referral_step(ctx, uuid, &step).await.map_err(stale)?
        }
    };
    Ok(located(s, rt, &r, &task(&r), StatusCode::OK))
}

/// The page size of a search.
pub fn count_param(q: &FormData) -> Result<i64, WebError> {
    match q.int("_count")? {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(WebError::invalid(
            "_count",
            Reason::Range { min: 1, max: 200 },
        )),
    }
}

fn searchset(
    base_url: &str,
    rt: RType,
    params: &[(String, String)],
    count: i64,
    cursor: Option<&str>,
    next: Option<&str>,
    entries: Vec<Value>,
) -> Value {
    let query = |c: Option<&str>| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        ser.append_pair("_count", &count.to_string());
        if let Some(c) = c {
            ser.append_pair("_cursor", c);
        }
        ser.finish()
    };
    let mut links = vec![
        json!({"relation": "self", "url": format!("{base_url}/{}?{}", rt.name(), query(cursor))}),
    ];
    if let Some(n) = next {
        links.push(json!({"relation": "next", "url": format!("{base_url}/{}?{}", rt.name(), query(Some(n)))}));
    }
    let n = entries.len();
    let mut b =
        json!({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries});
    if next.is_none() && cursor.is_none() {
        b["total"] = json!(n);
    }
    b
}

fn entry(base_url: &str, rt: RType, id: &str, resource: Value) -> Value {
    json!({"fullUrl": format!("{base_url}/{}/{id}", rt.name()), "resource": resource, "search": {"mode": "match"}})
}

/// The id of a reference parameter (`Type/{id}` or `{id}`).
fn ref_param(q: &FormData, name: &str, ty: &str) -> Result<Option<Uuid>, WebError> {
    let Some(v) = q.opt(name) else {
        return Ok(None);
    };
    Uuid::parse_str(reference_id(&v, ty))
        .map(Some)
        .map_err(|_| {
            bad_param(
                name,
                &format!("must be {ty}/{{id}}"),
                &format!("应为 {ty}/{{id}}"),
            )
        })
}

/// A token parameter's code (`system|code` or `code`).
fn token(v: &str) -> &str {
    v.rsplit('|').next().unwrap_or("")
}

/// The [from, until) of a date parameter with its prefixes (`ge2026-12-01`, `lt2026-12-08`).
fn time_bounds(
    q: &FormData,
    name: &str,
) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), WebError> {
    let (mut from, mut until) = (None, None);
    for v in q.all(name) {
        let v = v.trim();
        let (prefix, value) = match v.get(..2) {
            Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, v.get(2..).unwrap_or("")),
            _ => ("eq", v),
        };
        let (a, b) = date_range(value).ok_or_else(|| {
            bad_param(
                name,
                "must be a date such as ge2026-12-01 or lt2026-12-08T12:00:00+08:00",
                "应为日期，如 ge2026-12-01 或 lt2026-12-08T12:00:00+08:00",
            )
        })?;
        match prefix {
            "ge" => from = Some(a),
            "gt" => from = Some(b),
            "le" => until = Some(b),
            "lt" => until = Some(a),
            _ => {
                from = Some(a);
                until = Some(b);
            }
        }
    }
    Ok((from, until))
}

pub async fn search(
    s: &AppState,
    ctx: &Ctx,
    rt: RType,
    q: &FormData,
) -> Result<Response, WebError> {
    let count = count_param(q)?;
    let base_url = base(s);
    let cursor = q.opt("_cursor");
    let mut params: Vec<(String, String)> = Vec::new();
    let mut entries = Vec::new();
    let mut next: Option<String> = None;
    match rt {
        RType::Schedule => {
            let inst = ref_param(q, "actor", "Organization")?;
            let kind = q.opt("service-type");
            for (k, v) in [
                ("actor", inst.map(|i| i.to_string())),
                ("service-type", kind.clone()),
            ] {
                if let Some(v) = v {
                    params.push((k.into(), v));
                }
            }
            let kind = kind.map(|k| token(&k).to_owned());
            let list = s
                .app
                .booking_resources(ctx, inst, kind.as_deref())
                .await
                .map_err(|e| WebError(rename(e, |_| "service-type".into(), "")))?;
            for res in list.iter().take(count as usize) {
                entries.push(entry(&base_url, rt, &res.id.to_string(), schedule(res)));
            }
        }
        RType::Slot => {
            let resource = match ref_param(q, "schedule", "Schedule")? {
                Some(r) => r,
                None => {
                    return Err(bad_param(
                        "schedule",
                        "a Slot search needs schedule=Schedule/{id}",
                        "查询号源需要 schedule=Schedule/{id}",
                    ));
                }
            };
            params.push(("schedule".into(), format!("Schedule/{resource}")));
            for v in q.all("start") {
                params.push(("start".into(), v));
            }
            let now = OffsetDateTime::now_utc();
            let (from, until) = time_bounds(q, "start")?;
            let mut from = from.unwrap_or(now);
            let mut until = until.unwrap_or(from + Duration::days(14));
            let booked = match q.opt("status").as_deref() {
                None => Some(None),
                Some("free") => {
                    from = from.max(now);
                    Some(Some(false))
                }
                Some("busy") => Some(Some(true)),
                Some("busy-unavailable") => {
                    until = until.min(now);
                    Some(Some(false))
                }
                Some("busy-tentative" | "entered-in-error") => None,
                Some(_) => {
                    return Err(bad_param(
                        "status",
                        "must be free, busy, busy-unavailable, busy-tentative or entered-in-error",
                        "应为 free、busy、busy-unavailable、busy-tentative 或 entered-in-error",
                    ));
                }
            };
            if let Some(st) = q.opt("status") {
                params.push(("status".into(), st));
            }
            let after = match &cursor {
                Some(c) => Some(parse_cursor(c).ok_or_else(|| {
                    bad_param(
                        "_cursor",
                        "is not a cursor of this server",
                        "不是有效的翻页游标",
                    )
                })?),
                None => None,
            };
            if let Some(booked) = booked
                && from < until
            {
                let res = s
                    .app
                    .booking_resources(ctx, None, None)
                    .await?
                    .into_iter()
                    .find(|r| r.id == resource);
                let kind = res.as_ref().map(|r| r.kind);
                let mut slots = s
                    .app
                    .calendar_slots(ctx, resource, from, until, booked, after, count + 1)
                    .await?;
                if slots.len() > count as usize {
                    slots.truncate(count as usize);
                    next = slots.last().map(|(sl, _)| {
                        format!(
                            "{}~{}",
                            sl.starts_at
                                .format(&time::format_description::well_known::Rfc3339)
                                .unwrap_or_default(),
                            sl.id
                        )
                    });
                }
                for (sl, a) in &slots {
                    entries.push(entry(&base_url, rt, &sl.id.to_string(), slot(sl, *a, kind)));
                }
            }
        }
        _ => {
            let mut wq = WorklistQuery {
                list: "all".into(),
                limit: Some(count),
                cursor: cursor.clone(),
                booked: rt == RType::Appointment,
                ..Default::default()
            };
            let mut none = false;
            if let Some(p) = match rt {
                RType::Task => match q.opt("for") {
                    Some(v) => {
                        Some(Uuid::parse_str(reference_id(&v, "Patient")).map_err(|_| {
                            bad_param("for", "must be Patient/{id}", "应为 Patient/{id}")
                        })?)
                    }
                    None => person_param(q)?,
                },
                _ => person_param(q)?,
            } {
                wq.person_id = Some(p.to_string());
                params.push(("patient".into(), p.to_string()));
            }
            if let Some(st) = q.opt("status") {
                let mut states = Vec::new();
                for one in st.split(',') {
                    states.extend(states_of(rt, one.trim()));
                }
                if states.is_empty() {
                    none = true;
                }
                wq.status = Some(
                    states
                        .iter()
                        .map(|x| x.code())
                        .collect::<Vec<_>>()
                        .join(","),
                );
                params.push(("status".into(), st));
            }
            let (from_name, to_name) = match rt {
                RType::ServiceRequest => ("requester", "performer"),
                RType::Task => ("requester", "owner"),
                _ => ("", ""),
            };
            if !from_name.is_empty() {
                if let Some(i) = ref_param(q, from_name, "Organization")? {
                    wq.from_institution_id = Some(i.to_string());
                    params.push((from_name.into(), format!("Organization/{i}")));
                }
                if let Some(i) = ref_param(q, to_name, "Organization")? {
                    wq.to_institution_id = Some(i.to_string());
                    params.push((to_name.into(), format!("Organization/{i}")));
                }
            }
            if rt == RType::ServiceRequest {
                if let Some(i) = q.opt("intent") {
                    none |= i != "order";
                    params.push(("intent".into(), i));
                }
                if let Some(c) = q.opt("category") {
                    let code = token(&c);
                    let d = Direction::parse("category", code).map_err(|_| {
                        bad_param(
                            "category",
                            &format!("must be {DIRECTION_SYSTEM}|up or |down"),
                            &format!("应为 {DIRECTION_SYSTEM}|up 或 |down"),
                        )
                    })?;
                    wq.direction = Some(d.code().to_owned());
                    params.push(("category".into(), c));
                }
            }
            let focus = if rt == RType::Task {
                ref_param(q, "focus", "ServiceRequest")?
            } else {
                None
            };
            if let Some(f) = focus {
                params.push(("focus".into(), format!("ServiceRequest/{f}")));
                // One referral: read it, then apply the other parameters.
                let v = s.app.referral_view(ctx, f).await?;
                let r = &v.referral;
                let wanted = |x: &Option<String>, have: Uuid| {
                    x.as_deref().is_none_or(|x| x == have.to_string())
                };
                let status_ok = wq
                    .status
                    .as_deref()
                    .is_none_or(|st| st.split(',').any(|x| x == r.status.code()));
                if !none
                    && status_ok
                    && wanted(&wq.person_id, r.person_id)
                    && wanted(&wq.from_institution_id, r.from_institution_id)
                    && wanted(&wq.to_institution_id, r.to_institution_id)
                {
                    entries.push(entry(&base_url, rt, &r.id.to_string(), task(r)));
                }
            } else if !none {
                let page = s.app.worklist(ctx, &wq).await.map_err(|e| {
                    WebError(rename(
                        e,
                        |f| match f {
                            "cursor" => "_cursor".into(),
                            "person_id" => "patient".into(),
                            "limit" => "_count".into(),
                            other => other.to_owned(),
                        },
                        "",
                    ))
                })?;
                for (i, r) in page.referrals.iter().enumerate() {
                    let resource = match rt {
                        RType::ServiceRequest => Some(service_request(r, None)),
                        RType::Task => Some(task(r)),
                        _ => appointment(r, page.bookings.get(i).and_then(Option::as_ref)),
                    };
                    if let Some(res) = resource {
                        entries.push(entry(&base_url, rt, &r.id.to_string(), res));
                    }
                }
                next = page.next;
            }
        }
    }
    let b = searchset(
        &base_url,
        rt,
        &params,
        count,
        cursor.as_deref(),
        next.as_deref(),
        entries,
    );
    Ok(fhir(StatusCode::OK, &b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_one_status_per_resource_and_back() {
        for st in Status::ALL {
            for rt in [RType::ServiceRequest, RType::Task, RType::Appointment] {
                let code = match rt {
                    RType::ServiceRequest => sr_status(*st),
                    RType::Task => task_status(*st),
                    _ => appointment_status(*st),
                };
                assert!(states_of(rt, code).contains(st), "{rt:?} {st}");
            }
        }
        assert_eq!(
            states_of(RType::Task, "requested"),
            [Status::Submitted, Status::Redirected]
        );
        assert_eq!(
            states_of(RType::Task, "accepted"),
            [Status::Accepted, Status::Scheduled]
        );
        assert!(states_of(RType::Task, "on-hold").is_empty());
    }

    #[test]
    fn plan_fields_name_the_extension() {
        assert_eq!(
            create_path("plan.follow_ups[1]"),
            format!("ServiceRequest.extension('{EXT_PLAN}').extension('followUp')[1]")
        );
        assert_eq!(
            create_path("item_ids[2]"),
            "ServiceRequest.supportingInfo[2]"
        );
        assert_eq!(create_path("to_institution_id"), "ServiceRequest.performer");
        assert_eq!(step_path("outcome.summary"), "Task.output");
        assert_eq!(step_path("reason"), "Task.statusReason");
    }

    #[test]
    fn a_service_request_reads_into_a_draft() {
        let org = Uuid::now_v7();
        let sr = json!({
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "category": [{"coding": [{"system": DIRECTION_SYSTEM, "code": "up"}]}],
            "priority": "stat",
            "subject": {"reference": "Patient/0190a0a0-0000-7000-8000-000000000001"},
            "performer": [{"reference": format!("Organization/{org}")},
                          {"identifier": {"system": DEPARTMENT_SYSTEM, "value": "d1"}}],
            "reasonCode": [{"coding": [{"system": ICD10_CN, "code": "I63.900", "display": "脑梗死"}]},
                           {"text": "右侧肢体无力"},
                           {"coding": [{"system": CRITERION_SYSTEM, "code": "missing_equipment"}]}],
            "note": [{"text": "高血压10年"}],
            "orderDetail": [{"coding": [{"system": KIND_SYSTEM, "code": "ct"}]}],
            "supportingInfo": [{"reference": "MedicationRequest/0190a0a0-0000-7000-8000-000000000002-1"}],
            "extension": [{"url": EXT_SLOT, "valueReference": {"reference": "Slot/s1"}}],
        });
        let d = referral_draft(&sr, None).unwrap();
        assert_eq!(d.direction, "up");
        assert_eq!(d.urgency, "emergency");
        assert_eq!(d.to_institution_id, org.to_string());
        assert_eq!(d.to_department_id.as_deref(), Some("d1"));
        assert_eq!(d.diagnosis_code.as_deref(), Some("I63.900"));
        assert_eq!(d.diagnosis_name.as_deref(), Some("脑梗死"));
        assert_eq!(d.reason, "右侧肢体无力");
        assert_eq!(d.summary.as_deref(), Some("高血压10年"));
        assert_eq!(d.criterion.as_deref(), Some("missing_equipment"));
        assert_eq!(d.needs.as_deref(), Some("ct"));
        assert_eq!(d.item_ids, ["0190a0a0-0000-7000-8000-000000000002"]);
        assert_eq!(d.slot_id.as_deref(), Some("s1"));
        assert!(d.submit);
        let mut bad = sr.clone();
        bad["requester"] = json!({"reference": format!("Organization/{}", Uuid::now_v7())});
        bad.as_object_mut().unwrap().remove("category");
        let e = referral_draft(&bad, Some(org)).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            ["ServiceRequest.category", "ServiceRequest.requester"]
        );
    }
}
