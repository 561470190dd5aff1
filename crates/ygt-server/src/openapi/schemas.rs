//! The schemas of the OpenAPI document. Response schemas mirror the wire types of each
//! capability (`<capability>/api/wire.rs`) field for field: every field is required and no
//! other field is allowed (`obj`), nullable fields say so, codes list the `code_enum!` codes,
//! dates are `date`, times `date-time`. The schemathesis run of the tests checks real answers
//! against them.

use serde_json::{Map, Value, json};
use ygt_domain::access::{Permission, Role};
use ygt_domain::audit::Outcome as AuditOutcome;
use ygt_domain::clinical::{ItemKind, KeyPopulation};
use ygt_domain::ident::Sex;
use ygt_domain::org::{AllianceForm, InstitutionType, ProfessionalTitle, ServiceKind, Tier};
use ygt_domain::referral::{
    Action, Criterion, Direction, EventKind, Overdue, ResourceKind, SlotAvailability, Status,
    TaskKind, Urgency,
};

/// A GB/T 2260 division code: 6, 9 or 12 digits.
const DIVISION: &str = "^([0-9]{6}|[0-9]{9}|[0-9]{12})$";
/// A resident ID number (GB 11643): 18 characters, or a legacy 15-digit number.
const ID_NUMBER: &str = "^([0-9]{17}[0-9Xx]|[0-9]{15})$";

/// The codes of a `code_enum!` as an enum schema.
macro_rules! codes {
    ($t:ty) => {
        json!({"type": "string", "enum": <$t>::ALL.iter().map(|x| x.code()).collect::<Vec<_>>()})
    };
}

/// The codes of a `code_enum!`, or null.
macro_rules! codes_n {
    ($t:ty) => {
        json!({"type": ["string", "null"], "enum": <$t>::ALL.iter().map(|x| Some(x.code())).chain([None]).collect::<Vec<_>>()})
    };
}

pub(super) fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// An object with exactly these properties, all required.
fn obj(props: Value) -> Value {
    obj_some(props, &[])
}

/// An object with exactly these properties, all required but the `optional` ones (fields a
/// wire type leaves out when empty).
fn obj_some(props: Value, optional: &[&str]) -> Value {
    let required: Vec<&String> = props
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !optional.contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

fn arr(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn or_null(v: Value) -> Value {
    json!({"anyOf": [v, {"type": "null"}]})
}

fn page(item: &str) -> Value {
    obj(
        json!({"items": arr(r(item)), "total": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 0}, "offset": {"type": "integer", "minimum": 0}}),
    )
}

/// The small shapes every group uses.
struct T {
    uuid: Value,
    uuid_n: Value,
    text: Value,
    text_n: Value,
    ts: Value,
    ts_n: Value,
    date_n: Value,
    int: Value,
    count: Value,
    bool: Value,
}

fn t() -> T {
    T {
        uuid: json!({"type": "string", "format": "uuid"}),
        uuid_n: json!({"type": ["string", "null"], "format": "uuid"}),
        text: json!({"type": "string"}),
        text_n: json!({"type": ["string", "null"]}),
        ts: json!({"type": "string", "format": "date-time"}),
        ts_n: json!({"type": ["string", "null"], "format": "date-time"}),
        date_n: json!({"type": ["string", "null"], "format": "date"}),
        int: json!({"type": "integer"}),
        count: json!({"type": "integer", "minimum": 0}),
        bool: json!({"type": "boolean"}),
    }
}

/// Every schema of the document.
pub(super) fn all() -> Value {
    let mut all = Map::new();
    for part in [
        common(),
        org(),
        org_drafts(),
        admin(),
        mpi(),
        mpi_drafts(),
        record(),
        record_drafts(),
        referral(),
        referral_more(),
        referral_drafts(),
    ] {
        if let Value::Object(m) = part {
            all.extend(m);
        }
    }
    Value::Object(all)
}

fn common() -> Value {
    let t = t();
    let reason = json!({"type": "string", "description": "why the field was refused",
        "examples": ["required", "format", "too_long", "unknown_code", "invalid_date", "check_digit", "not_found", "out_of_range", "invalid"]});
    json!({
        "Error": obj(json!({"error": obj(json!({
            "code": {"type": "string", "examples": ["invalid", "not_found", "duplicate", "stale", "conflict", "too_large", "unsupported_media_type"]},
            "message": t.text, "field": t.text_n,
            "details": arr(obj_some(json!({"field": t.text, "message": t.text, "reason": reason}), &["reason"])),
            "request_id": t.text}))})),
    })
}

fn org() -> Value {
    let t = t();
    json!({
        "Community": obj(json!({
            "id": t.uuid, "name": t.text, "form": codes!(AllianceForm), "lead_institution_id": t.uuid_n,
            "division_code": t.text_n, "description": t.text_n, "active": t.bool,
            "version": t.int, "created_at": t.ts, "updated_at": t.ts, "member_count": t.count})),
        "CommunityDetail": obj(json!({
            "community": r("Community"), "lead": or_null(r("Institution")), "members": arr(r("Institution"))})),
        "Institution": obj(json!({
            "id": t.uuid, "name": t.text, "aliases": arr(t.text.clone()),
            "kind": codes!(InstitutionType), "tier": codes!(Tier), "parent_id": t.uuid_n, "uscc": t.text_n,
            "division_code": t.text, "address": t.text_n, "phone": t.text_n, "services": arr(codes!(ServiceKind)),
            "active": t.bool, "version": t.int, "created_at": t.ts, "updated_at": t.ts,
            "staff_count": t.count, "children_count": t.count, "beds": t.count})),
        "Department": obj(json!({
            "id": t.uuid, "institution_id": t.uuid, "name": t.text, "code": t.text_n, "beds": t.count,
            "phone": t.text_n, "active": t.bool, "version": t.int, "created_at": t.ts, "updated_at": t.ts,
            "staff_count": t.count})),
        "Staff": obj(json!({
            "id": t.uuid, "institution_id": t.uuid, "institution_name": t.text, "department_id": t.uuid_n,
            "department_name": t.text_n, "name": t.text, "sex": codes!(Sex), "title": codes!(ProfessionalTitle),
            "licence_number": t.text_n, "id_number_masked": t.text_n, "phone_masked": t.text_n,
            "active": t.bool, "version": t.int, "created_at": t.ts, "updated_at": t.ts})),
        "CommunityPage": page("Community"),
        "InstitutionPage": page("Institution"),
        "DepartmentPage": page("Department"),
        "StaffPage": page("Staff"),
    })
}

fn org_drafts() -> Value {
    let t = t();
    let division = json!({"type": ["string", "null"], "pattern": DIVISION, "description": "GB/T 2260, 6, 9 or 12 digits"});
    json!({
        "CommunityDraft": {"type": "object", "additionalProperties": false, "required": ["name", "form"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100}, "form": codes!(AllianceForm),
            "lead_institution_id": t.uuid_n, "division_code": division, "description": t.text_n}},
        "MemberBody": {"type": "object", "additionalProperties": false, "required": ["institution_id"], "properties": {"institution_id": t.uuid}},
        "InstitutionDraft": {"type": "object", "additionalProperties": false, "required": ["name", "kind", "division_code"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "aliases": {"type": "array", "items": {"type": "string"}, "description": "other names, e.g. the branch plaque of the county hospital"},
            "kind": codes!(InstitutionType), "tier": {"type": ["string", "null"], "description": "empty: the usual tier of the kind"},
            "parent_id": {"type": ["string", "null"], "format": "uuid", "description": "a village clinic's township centre; a township centre's county hospital"},
            "uscc": {"type": ["string", "null"], "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$", "description": "unified social credit code (GB 32100), check digit checked"},
            "division_code": {"type": "string", "pattern": DIVISION, "description": "GB/T 2260, 6, 9 or 12 digits"},
            "address": t.text_n, "phone": t.text_n, "services": arr(codes!(ServiceKind))}},
        "DepartmentDraft": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100}, "code": t.text_n,
            "beds": {"type": ["integer", "null"], "minimum": 0, "maximum": 5000}, "phone": t.text_n}},
        "StaffDraft": {"type": "object", "additionalProperties": false, "required": ["name", "sex", "title", "institution_id"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100}, "sex": {"type": "string", "description": "GB/T 2261.1 code, M/F or 男/女"},
            "title": codes!(ProfessionalTitle), "institution_id": t.uuid, "department_id": t.uuid_n,
            "licence_number": t.text_n, "id_number": {"type": ["string", "null"], "pattern": ID_NUMBER, "description": "GB 11643, 18 digits (15-digit legacy numbers are converted), check digit checked"},
            "phone": t.text_n}},
    })
}

fn admin() -> Value {
    let t = t();
    let scopes = [
        "own_institution",
        "subordinate",
        "care_link",
        "community_wide",
        "authorised",
        "break_glass",
    ];
    json!({
        "Me": obj(json!({"user_id": t.uuid_n, "name": t.text, "display_name": t.text, "institution_id": t.uuid_n,
            "roles": arr(codes!(Role)), "permissions": arr(codes!(Permission))})),
        "AuditEvent": obj(json!({"seq": t.int, "id": t.uuid, "at": t.ts,
            "actor_user_id": t.uuid_n, "actor_name": t.text, "actor_institution_id": t.uuid_n,
            "action": t.text, "resource_type": t.text, "resource_id": t.text_n,
            "resident_id": t.uuid_n, "purpose": t.text_n, "outcome": codes!(AuditOutcome),
            "client_addr": t.text_n, "request_id": t.text, "detail": t.text_n, "hash": t.text})),
        "AuditPage": page("AuditEvent"),
        "AccessDecision": obj(json!({"resident_id": t.uuid, "allowed": {"const": true},
            "scope": {"type": "string", "enum": scopes}})),
        "BreakGlassBody": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {
            "reason": {"type": "string", "minLength": 10, "description": "at least 10 letters, digits or characters (spaces, punctuation and invisible characters do not count)"},
            "minutes": {"type": ["integer", "null"], "minimum": 15, "description": "how long the access lasts; at most (and by default) the configured maximum"}}},
        "BreakGlass": obj(json!({"id": t.uuid, "user_id": t.uuid, "institution_id": t.uuid_n, "resident_id": t.uuid,
            "reason": t.text, "started_at": t.ts, "expires_at": t.ts, "reviewed_by": t.uuid_n, "reviewed_at": t.ts_n,
            "review_note": t.text_n, "review_outcome": t.text_n})),
    })
}

fn mpi() -> Value {
    let t = t();
    json!({
        "Person": obj_some(json!({"id": t.uuid, "name": t.text, "sex": t.text,
            "birth_date": t.date_n, "id_number_masked": t.text_n, "phone_masked": t.text_n,
            "address": t.text_n, "registrations": t.count, "active": t.bool, "merged_into": t.uuid_n,
            "in_scope": {"type": "boolean", "description": "Search results: false for a resident outside your scope, found by the full ID number with the name; it cannot be opened."},
            "registered_at": {"type": "array", "items": t.text, "description": "Search results in scope: institutions where the resident is registered (left out when none)."}}),
            &["in_scope", "registered_at"]),
        "PersonPage": page("Person"),
        "Registered": obj(json!({"person_id": t.uuid, "registration_id": t.uuid,
            "outcome": {"type": "string", "enum": ["linked", "new", "review", "updated", "unchanged"]},
            "id_number_valid": t.bool, "tasks": t.count})),
        "Registration": obj(json!({"id": t.uuid, "person_id": t.uuid, "institution_id": t.uuid,
            "institution_name": t.text, "record_id": t.text_n, "name": t.text, "sex": t.text,
            "birth_date": t.date_n, "id_number_masked": t.text_n, "id_number_valid": t.bool,
            "phone_masked": t.text_n, "address": t.text_n})),
        "HistoryEntry": obj(json!({"id": t.uuid, "person_id": t.uuid, "registration_id": t.uuid_n,
            "action": t.text, "other_person_id": t.uuid_n, "detail": t.text_n, "actor": t.text, "at": t.ts})),
        "PersonDetail": obj(json!({"person": r("Person"), "registrations": arr(r("Registration")),
            "history": arr(r("HistoryEntry"))})),
        "MergeResult": obj(json!({"merged": t.uuid, "into": t.uuid})),
        "UnmergeResult": obj(json!({"person_id": t.uuid})),
        "NotSameResult": obj(json!({"status": {"const": "not_same"}})),
        "MatchTask": obj(json!({"id": t.uuid, "weight": {"type": "number"}, "registration": r("Registration"),
            "candidate": r("Person"),
            "explanation": {"type": ["object", "null"], "description": "the comparison's total weight, decision and score per field"}})),
        "TaskPage": page("MatchTask"),
    })
}

fn mpi_drafts() -> Value {
    let t = t();
    let confirm = json!({"type": "boolean", "const": true});
    json!({
        "ResidentDraft": {"type": "object", "additionalProperties": false, "required": ["institution_id", "name"], "properties": {
            "institution_id": t.uuid, "record_id": t.text_n, "name": {"type": "string", "minLength": 1, "maxLength": 50},
            "sex": {"type": ["string", "null"], "description": "GB/T 2261.1 code, M/F or 男/女"},
            "birth_date": {"type": ["string", "null"], "format": "date"},
            "id_number": {"type": ["string", "null"], "description": "as typed; invalid numbers are kept, flagged and never used as identifiers"},
            "phone": t.text_n, "address": t.text_n, "insurance_number": t.text_n, "health_card_number": t.text_n,
            "division_code": {"type": ["string", "null"], "pattern": DIVISION, "description": "GB/T 2260, 6, 9 or 12 digits"}, "village_group": t.text_n,
            "household_number": t.text_n, "ethnicity": {"type": ["string", "null"], "description": "GB/T 3304 code or name"},
            "nationality": {"type": ["string", "null"], "description": "GB/T 2659 alpha-3"},
            "as_typed": {"type": ["boolean", "null"]}}},
        "MergeBody": {"type": "object", "additionalProperties": false, "required": ["into", "reason", "confirm"],
            "description": "A patient-index steward's merge: the target, a reason of at least 10 letters or characters, and the confirmation.",
            "properties": {"into": t.uuid, "reason": {"type": "string", "minLength": 10, "maxLength": 500}, "confirm": confirm}},
        "SplitBody": {"type": "object", "additionalProperties": false, "required": ["reason", "confirm"],
            "description": "A patient-index steward's split: a reason of at least 10 letters or characters, and the confirmation.",
            "properties": {"reason": {"type": "string", "minLength": 10, "maxLength": 500}, "confirm": confirm}},
    })
}

fn record() -> Value {
    let t = t();
    let num_n = json!({"type": ["number", "null"]});
    json!({
        "Recorded": obj(json!({"item_id": t.uuid, "person_id": t.uuid_n,
            "outcome": {"type": "string", "enum": ["created", "updated", "unchanged"]}, "version": t.int})),
        "RecordResult": obj(json!({"items": arr(r("Recorded"))})),
        "ClinicalItem": obj(json!({"id": t.uuid, "person_id": t.uuid_n, "kind": codes!(ItemKind),
            "institution_id": t.uuid, "institution_name": t.text, "source_system": t.text, "source_id": t.text,
            "encounter_ref": t.text_n, "occurred_at": t.ts, "ended_at": t.ts_n,
            "status": codes!(ygt_domain::clinical::ItemStatus), "code": t.text_n, "code_system": t.text_n,
            "title": t.text, "summary": t.text_n, "department": t.text_n, "doctor": t.text_n,
            "abnormal": t.bool, "body": {"type": "object", "description": "the structured content of the item's kind"},
            "version": t.int, "received_at": t.ts})),
        "Observation": obj(json!({"item_id": t.uuid, "code": t.text, "name": t.text, "value_num": num_n,
            "value_text": t.text_n, "unit": t.text_n, "ref_range": t.text_n, "abnormal": t.text_n,
            "effective_at": t.ts, "institution_name": t.text})),
        "ItemVersion": obj(json!({"version": t.int, "status": t.text, "title": t.text, "body": {"type": "object"},
            "received_at": t.ts, "replaced_at": t.ts})),
        "ItemDetail": obj(json!({"item": r("ClinicalItem"), "observations": arr(r("Observation")),
            "versions": arr(r("ItemVersion"))})),
        "Problem": obj(json!({"code": t.text, "title": t.text, "first_at": t.ts, "last_at": t.ts, "times": t.count})),
        "Trend": obj(json!({"key": t.text, "title": t.text, "unit": t.text, "points": arr(r("Observation"))})),
        "PatientRecord": obj(json!({"person": r("Person"), "tags": arr(codes!(KeyPopulation)),
            "problems": arr(r("Problem")), "allergies": arr(r("ClinicalItem")), "medications": arr(r("ClinicalItem")),
            "counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}, "description": "items per kind"},
            "timeline": arr(r("ClinicalItem")), "next": t.text_n, "trends": arr(r("Trend"))})),
        "RecognisedResult": obj(json!({"code": t.text, "name": t.text, "kind": t.text, "valid_days": t.int,
            "item_id": t.uuid, "value": t.text_n, "unit": t.text_n, "abnormal": t.text_n, "institution": t.text,
            "performed_at": t.ts, "valid_until": t.ts})),
        "RecognisedResults": obj(json!({"items": arr(r("RecognisedResult"))})),
        "Unmatched": obj(json!({"item": r("ClinicalItem"), "sent_as": obj(json!({"name": t.text_n,
            "record_id": t.text_n, "id_number_masked": t.text_n, "sex": t.text_n,
            "birth_date": {"type": ["string", "null"], "description": "as the sender wrote it"}}))})),
        "UnmatchedItems": obj(json!({"items": arr(r("Unmatched"))})),
        "AssignBody": {"type": "object", "additionalProperties": false, "required": ["person_id"], "properties": {"person_id": t.uuid}},
        "AssignResult": obj(json!({"item_id": t.uuid, "person_id": t.uuid})),
    })
}

fn record_drafts() -> Value {
    let t = t();
    let text_n = t.text_n;
    json!({
        "PatientRef": {"type": "object", "additionalProperties": false, "description": "who the item is about: the first that identifies one person wins (person_id, record_id at the item's institution, a valid id_number); else the item waits in the unmatched queue",
            "properties": {"person_id": t.uuid_n, "record_id": text_n, "id_number": text_n, "name": text_n, "sex": text_n, "birth_date": text_n}},
        "ResultDraft": {"type": "object", "additionalProperties": false, "required": ["code", "value"], "properties": {
            "code": {"type": "string"}, "name": text_n, "value": {"type": "string"}, "unit": text_n, "ref_range": text_n,
            "abnormal": {"type": ["string", "null"], "enum": ["N", "H", "L", "HH", "LL", "A", null]}, "effective_at": text_n}},
        "ItemDraft": {"type": "object", "additionalProperties": false, "required": ["kind", "institution_id", "source_system", "source_id", "patient", "occurred_at"], "properties": {
            "kind": codes!(ItemKind), "institution_id": t.uuid, "source_system": {"type": "string"}, "source_id": {"type": "string"},
            "patient": r("PatientRef"), "occurred_at": {"type": "string", "description": "RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in China Standard Time"},
            "ended_at": text_n, "status": codes_n!(ygt_domain::clinical::ItemStatus),
            "code": text_n, "code_system": text_n, "title": text_n, "department": text_n, "doctor": text_n, "encounter_ref": text_n,
            "class": text_n, "chief_complaint": text_n, "cost_total": text_n, "cost_fund": text_n, "cost_personal": text_n, "role": text_n,
            "results": {"type": "array", "items": r("ResultDraft")}, "findings": text_n, "conclusion": text_n, "modality": text_n,
            "body_part": text_n, "study_uid": text_n, "document_type": text_n, "text": text_n,
            "medications": {"type": "array", "items": {"type": "object"}}, "substance": text_n, "reaction": text_n, "severity": text_n}},
        "RecordBody": {"type": "object", "additionalProperties": false, "required": ["items"], "properties": {"items": {"type": "array", "minItems": 1, "maxItems": 1000, "items": r("ItemDraft")}}},
    })
}

/// The fields of a referral (the worklist adds `overdue`).
fn referral_fields() -> Map<String, Value> {
    let t = t();
    let v = json!({"id": t.uuid, "number": t.text, "direction": codes!(Direction), "status": codes!(Status),
        "urgency": codes!(Urgency), "person_id": t.uuid, "person_name": t.text, "person_sex": t.text,
        "person_birth_date": t.date_n, "from_institution_id": t.uuid, "from_institution_name": t.text,
        "from_department_id": t.uuid_n, "from_department_name": t.text_n, "from_user_id": t.uuid_n,
        "from_doctor": t.text, "to_institution_id": t.uuid, "to_institution_name": t.text,
        "to_department_id": t.uuid_n, "to_department_name": t.text_n, "to_staff_id": t.uuid_n,
        "to_staff_name": t.text_n, "diagnosis_code": t.text_n, "diagnosis_name": t.text_n, "reason": t.text,
        "criterion": t.text_n, "summary": t.text_n, "needs": codes_n!(ResourceKind),
        "plan": or_null(r("Plan")), "outcome": or_null(r("Outcome")), "status_note": t.text_n,
        "appointment_at": t.ts_n, "created_at": t.ts, "submitted_at": t.ts_n, "accepted_at": t.ts_n,
        "arrived_at": t.ts_n, "closed_at": t.ts_n, "status_since": t.ts, "version": t.int});
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn referral() -> Value {
    let t = t();
    let mut row = referral_fields();
    row.insert("overdue".into(), codes_n!(Overdue));
    json!({
        "Referral": obj(Value::Object(referral_fields())),
        "WorklistReferral": obj(Value::Object(row)),
        "ReferralPage": obj(json!({"referrals": arr(r("WorklistReferral")), "next": t.text_n})),
        "ReferralEvent": obj(json!({"id": t.uuid, "action": codes!(EventKind), "from_status": codes_n!(Status),
            "to_status": codes!(Status), "actor_user_id": t.uuid_n, "actor_name": t.text,
            "institution_id": t.uuid_n, "note": t.text_n, "at": t.ts})),
        "Plan": obj(json!({"discharge_summary": t.text, "medications": arr(t.text.clone()),
            "follow_ups": arr(obj(json!({"after_days": {"type": ["integer", "null"]}, "on": t.date_n, "title": t.text}))),
            "warning_signs": t.text, "rehab_goals": t.text})),
        "Outcome": obj(json!({"diagnosis_code": t.text_n, "diagnosis_name": t.text_n, "treatment": t.text, "summary": t.text})),
        "ReferralView": obj(json!({"referral": r("Referral"), "person_id_number": t.text_n,
            "events": arr(r("ReferralEvent")), "items": arr(r("ClinicalItem")), "items_hidden": t.bool,
            "plan": or_null(r("Plan")), "outcome": or_null(r("Outcome")), "slot": or_null(r("Slot")),
            "resource": or_null(r("Resource")), "tasks": arr(r("CareTask")), "actions": arr(codes!(Action)),
            "overdue": codes_n!(Overdue)})),
        "WorklistCounts": obj(json!({"outgoing_open": t.count, "incoming_waiting": t.count, "overdue": t.count,
            "handover": t.count, "drafts": t.count, "returned": t.count, "tasks_open": t.count,
            "tasks_overdue": t.count, "tasks_today": t.count, "unread": t.count})),
        "ReferralStats": obj(json!({"total": t.count, "rows": arr(r("StatsRow")),
            "by_reason": arr(r("CountPair")), "by_outcome": arr(r("CountPair"))})),
        "StatsRow": obj(json!({"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "direction": codes!(Direction), "from_institution": t.text, "to_institution": t.text,
            "count": t.count, "accepted": t.count, "rejected": t.count,
            "acceptance_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
            "median_hours_to_acceptance": {"type": ["number", "null"]}, "median_hours_to_arrival": {"type": ["number", "null"]}})),
        "CountPair": {"type": "array", "description": "[what, how many]", "prefixItems": [t.text, t.count],
            "minItems": 2, "maxItems": 2},
    })
}

fn referral_more() -> Value {
    let t = t();
    let mut free = slot_fields();
    free.insert("availability".into(), codes!(SlotAvailability));
    json!({
        "Rule": obj(json!({"urgency": codes!(Urgency), "accept_minutes": t.int, "arrive_minutes": t.int,
            "grace_minutes": t.int, "complete_minutes": t.int})),
        "ReferralSettings": obj(json!({"township": {"type": "string", "description": "one entry per line: codes name [慢病]"},
            "village": t.text, "rules": arr(r("Rule"))})),
        "Suggestions": obj(json!({"suggestions": arr(obj(json!({"direction": codes!(Direction),
            "criterion": codes!(Criterion), "urgency": codes!(Urgency), "detail_zh": t.text,
            "detail_en": t.text, "code": t.text_n})))})),
        "Resource": obj(json!({"id": t.uuid, "institution_id": t.uuid, "institution_name": t.text,
            "department_id": t.uuid_n, "department_name": t.text_n, "kind": codes!(ResourceKind), "name": t.text,
            "location": t.text, "staff_id": t.uuid_n, "staff_name": t.text_n, "release_hours": t.int, "active": t.bool})),
        "Resources": obj(json!({"resources": arr(r("Resource"))})),
        "Created": obj(json!({"id": t.uuid})),
        "Slot": obj(Value::Object(slot_fields())),
        "FreeSlot": obj(Value::Object(free)),
        "Slots": obj(json!({"slots": arr(r("FreeSlot"))})),
        "CareTask": obj(json!({"id": t.uuid, "referral_id": t.uuid_n, "person_id": t.uuid, "person_name": t.text,
            "institution_id": t.uuid, "staff_id": t.uuid_n, "staff_name": t.text_n, "kind": codes!(TaskKind), "title": t.text,
            "due_on": {"type": "string", "format": "date"}, "done_at": t.ts_n, "done_by": t.text_n,
            "note": t.text_n, "created_at": t.ts})),
        "CareTasks": obj(json!({"tasks": arr(r("CareTask"))})),
        "Inbox": obj(json!({"notifications": arr(obj(json!({"id": t.uuid, "user_id": t.uuid,
            "referral_id": t.uuid_n, "kind": t.text, "title_zh": t.text, "title_en": t.text,
            "created_at": t.ts, "read_at": t.ts_n})))})),
        "Marked": obj(json!({"marked": t.count})),
    })
}

fn slot_fields() -> Map<String, Value> {
    let t = t();
    let v = json!({"id": t.uuid, "resource_id": t.uuid, "starts_at": t.ts, "ends_at": t.ts,
        "reserved": t.bool, "release_at": t.ts, "referral_id": t.uuid_n, "booked_at": t.ts_n});
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn referral_drafts() -> Value {
    let t = t();
    let text_n = t.text_n;
    let time_n = json!({"type": ["string", "null"], "description": "RFC 3339 or YYYY-MM-DDTHH:MM (China Standard Time)"});
    json!({
        "PlanDraft": {"type": "object", "properties": {"discharge_summary": {"type": "string"},
            "medications": {"type": "string", "description": "one per line"},
            "follow_ups": {"type": "string", "description": "one per line: `YYYY-MM-DD what` or `+N what` (days after acceptance)"},
            "warning_signs": {"type": "string"}, "rehab_goals": {"type": "string"}}},
        "ReferralDraft": {"type": "object", "required": ["direction", "person_id", "to_institution_id", "reason"], "properties": {
            "direction": codes!(Direction), "person_id": t.uuid, "urgency": codes!(Urgency), "from_department_id": t.uuid_n,
            "to_institution_id": t.uuid, "to_department_id": t.uuid_n, "to_staff_id": t.uuid_n,
            "diagnosis_code": {"type": ["string", "null"], "description": "ICD-10"}, "diagnosis_name": text_n,
            "reason": {"type": "string"}, "criterion": codes_n!(Criterion),
            "summary": text_n, "needs": codes_n!(ResourceKind),
            "slot_id": t.uuid_n, "item_ids": {"type": "array", "items": t.uuid}, "plan": or_null(r("PlanDraft")),
            "submit": {"type": "boolean", "description": "submit at once (default false: a draft)"}}},
        "OutcomeDraft": {"type": "object", "properties": {"diagnosis_code": text_n, "diagnosis_name": text_n,
            "treatment": {"type": "string"}, "summary": {"type": "string"}}},
        "StepDraft": {"type": "object", "required": ["action"], "properties": {"action": codes!(Action),
            "version": {"type": ["integer", "null"], "description": "the version seen; refused with 409 when it changed"},
            "reason": text_n, "to_institution_id": t.uuid_n, "to_department_id": t.uuid_n, "slot_id": t.uuid_n,
            "appointment_at": time_n, "outcome": or_null(r("OutcomeDraft"))}},
        "ReferralSettingsDraft": {"type": "object", "properties": {
            "township": {"type": "string", "description": "one entry per line: codes name [慢病]"},
            "village": {"type": "string"}, "rules": arr(r("Rule"))}},
        "DismissBody": {"type": "object", "additionalProperties": false, "required": ["criterion", "reason"],
            "properties": {"criterion": codes!(Criterion), "reason": {"type": "string"}}},
        "CalendarBody": {"type": "object", "additionalProperties": false, "required": ["institution_id", "kind", "name", "release_hours", "first_start", "minutes", "per_day", "reserved_per_day", "days"], "properties": {
            "institution_id": t.uuid, "department_id": t.uuid_n, "kind": codes!(ResourceKind), "name": {"type": "string"},
            "location": {"type": "string", "maxLength": 100, "description": "Where it is (building, floor, room), printed on the referral slip"}, "staff_id": t.uuid_n,
            "release_hours": {"type": "integer", "minimum": 0, "maximum": 336}, "first_start": {"type": "string", "description": "RFC 3339 or YYYY-MM-DDTHH:MM (China Standard Time)"},
            "minutes": {"type": "integer"}, "per_day": {"type": "integer", "minimum": 1, "maximum": 200}, "reserved_per_day": {"type": "integer", "minimum": 0},
            "days": {"type": "integer", "minimum": 1, "maximum": 180}, "weekends": {"type": "boolean"}}},
        "CompleteBody": {"type": "object", "additionalProperties": false, "properties": {"note": text_n,
            "systolic": {"type": "string", "description": "systolic blood pressure, mmHg (50-300)"},
            "diastolic": {"type": "string", "description": "diastolic blood pressure, mmHg (30-200)"},
            "glucose": {"type": "string", "description": "fasting blood glucose, mmol/L (1.0-40.0)"}}},
    })
}
