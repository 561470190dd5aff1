//! FHIR resources into referral drafts and steps: a ServiceRequest into a referral, a Task
//! update into the step it asks for.

use super::output::status_of;
use super::*;
use ygt_domain::message::Message;
use ygt_domain::msg;

// ---------------------------------------------------------------- in

pub(super) fn invalid(field: impl Into<String>, why: Message) -> ValidationError {
    ValidationError::new(field, Reason::Other(why))
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
                msg!("referral.expected", t = t, want = want),
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
pub(super) fn reference_id<'a>(v: &'a str, ty: &str) -> &'a str {
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
                msg!("referral.valuereference_slot"),
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
            msg!(
                "referral.new_referral_active_submitted",
                o = format!("{o:?}")
            ),
        )),
    }
    match s(res, &["intent"]) {
        None | Some("order" | "original-order" | "proposal" | "plan") => {}
        Some(o) => errs.push(invalid(
            "ServiceRequest.intent",
            msg!("referral.referral_order", o = format!("{o:?}")),
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
            msg!(
                "referral.needs_direction_coding_up",
                direction_system = DIRECTION_SYSTEM
            ),
        )),
    }
    d.urgency = match s(res, &["priority"]) {
        None | Some("routine") => "routine".into(),
        Some("urgent" | "asap") => "urgent".into(),
        Some("stat") => "emergency".into(),
        Some(o) => {
            errs.push(invalid(
                "ServiceRequest.priority",
                msg!("referral.routine_urgent_asap_stat", o = format!("{o:?}")),
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
            msg!("referral.patient_id_ygt_gave"),
        )),
    }
    if let Some(r) = s(res, &["requester", "reference"])
        && let Some(o) = r.strip_prefix("Organization/")
        && own.is_none_or(|own| own.to_string() != o)
    {
        errs.push(invalid(
            "ServiceRequest.requester",
            msg!("referral.names_another_institution_referral"),
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
                    msg!("referral.referral_goes_one_institution"),
                ));
            }
        } else if system == Some(DEPARTMENT_SYSTEM) && value.is_some() {
            d.to_department_id = value;
        } else if system == Some(STAFF_SYSTEM) && value.is_some() {
            d.to_staff_id = value;
        } else {
            errs.push(invalid(
                field,
                msg!(
                    "referral.organization_identifier",
                    department_system = DEPARTMENT_SYSTEM,
                    staff_system = STAFF_SYSTEM
                ),
            ));
        }
    }
    if d.to_institution_id.is_empty() && !errs.0.iter().any(|e| e.field.contains("performer")) {
        errs.push(invalid(
            "ServiceRequest.performer",
            msg!("referral.needs_institution_referred_organization"),
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
                    msg!(
                        "referral.use_icd_10_diagnosis",
                        icd10 = ICD10,
                        criterion_system = CRITERION_SYSTEM
                    ),
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
            .and_then(|(_, id)| parse_resource_id(id))
            .map(|(u, _)| u.to_string());
        let by_ident = (s(si, &["identifier", "system"]) == Some(ITEM_SYSTEM))
            .then(|| s(si, &["identifier", "value"]).map(str::to_owned))
            .flatten();
        match by_ref.or(by_ident) {
            Some(id) => d.item_ids.push(id),
            None => errs.push(invalid(
                format!("ServiceRequest.supportingInfo[{i}]"),
                msg!("referral.refer_record_resource_server"),
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
pub(super) fn create_path(field: &str) -> String {
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
pub(super) struct TaskChange {
    status: String,
    reason: Option<String>,
    owner: Option<String>,
    appointment_at: Option<String>,
    slot_id: Option<String>,
    outcome: ReferralOutcome,
}

pub(super) fn task_change(res: &Value, id: &str) -> Result<TaskChange, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    if !resource_type(res, "Task", &mut errs) {
        return Err(errs);
    }
    if let Some(body_id) = res.get("id").and_then(Value::as_str)
        && body_id != id
    {
        errs.push(invalid(
            "Task.id",
            msg!("referral.does_match_id_url", id = id),
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
                msg!("referral.organization", id = id),
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
                msg!(
                    "referral.diagnosis_treatment_summary",
                    outcome_system = OUTCOME_SYSTEM
                ),
            )),
        }
    }
    if errs.0.is_empty() { Ok(c) } else { Err(errs) }
}

fn state_conflict(current: Status, wanted: &str) -> AppError {
    AppError::conflict(
        Some("Task.status"),
        msg!(
            "referral.referral_task_cannot_become",
            current = current,
            wanted = wanted
        ),
    )
}

/// The step a Task update asks for (None: the Task already says so).
pub(super) fn decide(v: &ReferralView, c: &TaskChange) -> Result<Option<StepDraft>, AppError> {
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
            Reason::Other(msg!("referral.new_owner_redirection_status")),
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
                    Reason::Other(msg!("referral.accept_referral_first_then")),
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
                Reason::Other(msg!("referral.referral_s_task_moves", other = other)),
            ));
        }
    })
}

/// The FHIR element of a field of [`StepDraft`].
pub(super) fn step_path(field: &str) -> String {
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
pub(super) fn rename(e: AppError, f: impl Fn(&str) -> String, version: &str) -> AppError {
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
        AppError::Conflict { field, msg } => AppError::Conflict {
            field: field.map(|x| f(&x)),
            msg,
        },
        AppError::Stale => AppError::conflict(
            Some(version.to_owned()).as_deref(),
            msg!("referral.referral_changed_since_version"),
        ),
        other => other,
    }
}
