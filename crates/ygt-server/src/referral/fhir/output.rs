//! Referrals, calendars and slots as FHIR resources (ServiceRequest, Task, Appointment,
//! Schedule, Slot) and the status maps between ygt and FHIR.

use super::*;

// ---------------------------------------------------------------- status maps

pub(super) fn status_of(r: &Referral) -> Status {
    r.status
}

pub(super) fn sr_status(st: Status) -> &'static str {
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

pub(super) fn task_status(st: Status) -> &'static str {
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

pub(super) fn appointment_status(st: Status) -> &'static str {
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
pub(super) fn states_of(rt: RType, fhir_status: &str) -> Vec<Status> {
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

pub(super) fn priority(u: Urgency) -> &'static str {
    match u {
        Urgency::Routine => "routine",
        Urgency::Urgent => "urgent",
        Urgency::Emergency => "stat",
    }
}

// ---------------------------------------------------------------- out

pub(super) fn meta(r: &Referral) -> Value {
    json!({"versionId": r.version.to_string(), "lastUpdated": instant(r.status_since)})
}

pub(super) fn number(r: &Referral) -> Value {
    json!([{"system": NUMBER_SYSTEM, "value": r.number}])
}

fn patient_ref(r: &Referral) -> Value {
    json!({"reference": format!("Patient/{}", r.person_id), "display": r.person_name})
}

pub(super) fn org(id: Uuid, name: &str) -> Value {
    json!({"reference": format!("Organization/{id}"), "display": name})
}

fn sr_ref(r: &Referral) -> Value {
    json!({"reference": format!("ServiceRequest/{}", r.id)})
}

pub(super) fn set(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v);
    }
}

fn kind_concept(k: ResourceKind, text: Option<&str>) -> Value {
    json!({"coding": [{"system": KIND_SYSTEM, "code": k.code(), "display": k.label_zh()}],
                 "text": text.unwrap_or(k.label_zh())})
}

/// The resource type ygt serves a record item as (None: not served).
fn item_type(kind: ItemKind) -> Option<RType> {
    Some(match kind {
        ItemKind::Encounter => RType::Encounter,
        ItemKind::Diagnosis => RType::Condition,
        ItemKind::Measurement => RType::Observation,
        ItemKind::LabReport
        | ItemKind::ImagingReport
        | ItemKind::EcgReport
        | ItemKind::PathologyReport => RType::DiagnosticReport,
        ItemKind::Document => RType::DocumentReference,
        ItemKind::Prescription => RType::MedicationRequest,
        ItemKind::Allergy => return None,
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
            .map(|it| match item_type(it.kind) {
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
