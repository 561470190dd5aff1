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

use axum::http::{HeaderMap, StatusCode};
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
use ygt_domain::clinical::ItemKind;
use ygt_domain::msg;
use ygt_domain::referral::{Criterion, Direction, ResourceKind, SlotAvailability, Status, Urgency};
use ygt_domain::{Reason, ValidationError, ValidationErrors};

mod input;
mod output;

use input::{create_path, decide, reference_id, referral_draft, rename, step_path, task_change};
use output::{appointment, schedule, service_request, slot, states_of, task};

use crate::AppState;
use crate::door::error::WebError;
use crate::door::extract::FormData;
use crate::door::fhir::{
    RType, bad_param, base, count_param, date_range, date_time, fhir, if_match, instant,
    parse_resource_id, person_param, s, with_version,
};

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
            Reason::Other(msg!("referral.referral_created_as_servicerequest")),
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
            Reason::Other(msg!("referral.referral_moves_updating_task", id = id)),
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
        .map_err(|_| bad_param(name, msg!("referral.must_be", ty = ty)))
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
        let (a, b) = date_range(value)
            .ok_or_else(|| bad_param(name, msg!("referral.date_such_as_ge2026")))?;
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

pub async fn search(s: &AppState, ctx: &Ctx, rt: RType, q: &FormData) -> Result<Value, WebError> {
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
                        msg!("referral.slot_search_needs_schedule"),
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
                        msg!("referral.free_busy_busy_unavailable"),
                    ));
                }
            };
            if let Some(st) = q.opt("status") {
                params.push(("status".into(), st));
            }
            let after = match &cursor {
                Some(c) => Some(
                    parse_cursor(c)
                        .ok_or_else(|| bad_param("_cursor", msg!("referral.cursor_server")))?,
                ),
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
                    Some(v) => Some(
                        Uuid::parse_str(reference_id(&v, "Patient"))
                            .map_err(|_| bad_param("for", msg!("referral.patient_3")))?,
                    ),
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
                            msg!("referral.up_down", direction_system = DIRECTION_SYSTEM),
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
    Ok(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::output::{appointment_status, sr_status, task_status};
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
