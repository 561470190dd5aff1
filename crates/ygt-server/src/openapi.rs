//! The OpenAPI 3.1 document of the JSON API, built from the router's own route list: a route
//! without documentation here fails a test.

use serde_json::{Map, Value, json};
use ygt_domain::ident::Sex;
use ygt_domain::org::{AllianceForm, InstitutionType, ProfessionalTitle, ServiceKind, Tier};

/// Documentation of one operation: (method, path, tag, summary, request schema, response schema, query parameters).
type Op = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

const LIST_INST: &[(&str, &str, &str)] = &[
    ("tier", "string", "county | township | village"),
    ("kind", "string", "institution type code"),
    ("parent_id", "string", "only institutions under this one"),
    ("community_id", "string", "only members of this community"),
    ("q", "string", "part of the name or an alias"),
    ("include_inactive", "boolean", "also deactivated ones"),
    ("limit", "integer", "1..500, default 100"),
    ("offset", "integer", "default 0"),
];
const LIST_STAFF: &[(&str, &str, &str)] = &[
    ("institution_id", "string", "staff of this institution"),
    ("department_id", "string", "staff of this department"),
    ("title", "string", "professional title code"),
    ("q", "string", "part of the name or licence number"),
    ("include_inactive", "boolean", "also deactivated ones"),
    ("limit", "integer", "1..500, default 100"),
    ("offset", "integer", "default 0"),
];
const INCLUDE_INACTIVE: &[(&str, &str, &str)] =
    &[("include_inactive", "boolean", "also deactivated ones")];

pub const OPERATIONS: &[Op] = &[
    (
        "GET",
        "/api/v1/communities",
        "communities",
        "List communities",
        None,
        "CommunityPage",
        INCLUDE_INACTIVE,
    ),
    (
        "POST",
        "/api/v1/communities",
        "communities",
        "Create a community",
        Some("CommunityDraft"),
        "Community",
        &[],
    ),
    (
        "GET",
        "/api/v1/communities/{id}",
        "communities",
        "Read a community",
        None,
        "Community",
        &[],
    ),
    (
        "PUT",
        "/api/v1/communities/{id}",
        "communities",
        "Replace a community (If-Match: version)",
        Some("CommunityDraft"),
        "Community",
        &[],
    ),
    (
        "POST",
        "/api/v1/communities/{id}/deactivate",
        "communities",
        "Deactivate a community",
        None,
        "Community",
        &[],
    ),
    (
        "POST",
        "/api/v1/communities/{id}/activate",
        "communities",
        "Reactivate a community",
        None,
        "Community",
        &[],
    ),
    (
        "GET",
        "/api/v1/communities/{id}/members",
        "communities",
        "List member institutions",
        None,
        "InstitutionPage",
        &[],
    ),
    (
        "POST",
        "/api/v1/communities/{id}/members",
        "communities",
        "Add a member institution",
        Some("MemberBody"),
        "CommunityDetail",
        &[],
    ),
    (
        "DELETE",
        "/api/v1/communities/{id}/members/{institution_id}",
        "communities",
        "Record that a member left (kept in history)",
        None,
        "CommunityDetail",
        &[],
    ),
    (
        "GET",
        "/api/v1/institutions",
        "institutions",
        "List institutions",
        None,
        "InstitutionPage",
        LIST_INST,
    ),
    (
        "POST",
        "/api/v1/institutions",
        "institutions",
        "Create an institution",
        Some("InstitutionDraft"),
        "Institution",
        &[],
    ),
    (
        "GET",
        "/api/v1/institutions/{id}",
        "institutions",
        "Read an institution",
        None,
        "Institution",
        &[],
    ),
    (
        "PUT",
        "/api/v1/institutions/{id}",
        "institutions",
        "Replace an institution (If-Match: version)",
        Some("InstitutionDraft"),
        "Institution",
        &[],
    ),
    (
        "POST",
        "/api/v1/institutions/{id}/deactivate",
        "institutions",
        "Deactivate an institution",
        None,
        "Institution",
        &[],
    ),
    (
        "POST",
        "/api/v1/institutions/{id}/activate",
        "institutions",
        "Reactivate an institution",
        None,
        "Institution",
        &[],
    ),
    (
        "GET",
        "/api/v1/institutions/{id}/departments",
        "departments",
        "List an institution's departments",
        None,
        "DepartmentPage",
        &[],
    ),
    (
        "POST",
        "/api/v1/institutions/{id}/departments",
        "departments",
        "Create a department",
        Some("DepartmentDraft"),
        "Department",
        &[],
    ),
    (
        "GET",
        "/api/v1/departments/{id}",
        "departments",
        "Read a department",
        None,
        "Department",
        &[],
    ),
    (
        "PUT",
        "/api/v1/departments/{id}",
        "departments",
        "Replace a department (If-Match: version)",
        Some("DepartmentDraft"),
        "Department",
        &[],
    ),
    (
        "POST",
        "/api/v1/departments/{id}/deactivate",
        "departments",
        "Deactivate a department",
        None,
        "Department",
        &[],
    ),
    (
        "POST",
        "/api/v1/departments/{id}/activate",
        "departments",
        "Reactivate a department",
        None,
        "Department",
        &[],
    ),
    (
        "GET",
        "/api/v1/staff",
        "staff",
        "List staff",
        None,
        "StaffPage",
        LIST_STAFF,
    ),
    (
        "POST",
        "/api/v1/staff",
        "staff",
        "Create a staff member",
        Some("StaffDraft"),
        "Staff",
        &[],
    ),
    (
        "GET",
        "/api/v1/staff/{id}",
        "staff",
        "Read a staff member",
        None,
        "Staff",
        &[],
    ),
    (
        "PUT",
        "/api/v1/staff/{id}",
        "staff",
        "Replace a staff member (If-Match: version)",
        Some("StaffDraft"),
        "Staff",
        &[],
    ),
    (
        "POST",
        "/api/v1/staff/{id}/deactivate",
        "staff",
        "Deactivate a staff member",
        None,
        "Staff",
        &[],
    ),
    (
        "POST",
        "/api/v1/staff/{id}/activate",
        "staff",
        "Reactivate a staff member",
        None,
        "Staff",
        &[],
    ),
    (
        "GET",
        "/api/v1/me",
        "access",
        "The signed-in user or token: roles and permissions",
        None,
        "Me",
        &[],
    ),
    (
        "GET",
        "/api/v1/audit",
        "audit",
        "Search the audit log (newest first; the search is audited)",
        None,
        "AuditPage",
        AUDIT_QUERY,
    ),
    (
        "GET",
        "/api/v1/residents",
        "residents",
        "Find residents in the caller's scope by name (characters, homophones, pinyin or its initials), ID number (one typo forgiven), phone or insurance number (masked); outside the scope only the full ID number with the name finds one, marked in_scope=false",
        None,
        "PersonPage",
        &[
            ("q", "string", "the search text"),
            ("limit", "integer", "1..500"),
            ("offset", "integer", "0.. (total in the answer)"),
        ],
    ),
    (
        "POST",
        "/api/v1/residents",
        "residents",
        "Register a resident at an institution; matched at once (linked, new, or review)",
        Some("ResidentDraft"),
        "Registered",
        &[],
    ),
    (
        "GET",
        "/api/v1/residents/{id}",
        "residents",
        "A resident with registrations and history (data scope; audited)",
        None,
        "PersonDetail",
        &[],
    ),
    (
        "POST",
        "/api/v1/residents/{id}/merge",
        "residents",
        "Merge this resident into another",
        Some("MergeBody"),
        "MergeResult",
        &[],
    ),
    (
        "POST",
        "/api/v1/registrations/{id}/unmerge",
        "residents",
        "Split a registration off into a resident of its own",
        Some("SplitBody"),
        "UnmergeResult",
        &[],
    ),
    (
        "GET",
        "/api/v1/mpi/tasks",
        "residents",
        "Possible matches waiting for review, with explanations",
        None,
        "TaskPage",
        &[],
    ),
    (
        "POST",
        "/api/v1/mpi/tasks/{id}/link",
        "residents",
        "Decide: the same person",
        None,
        "UnmergeResult",
        &[],
    ),
    (
        "POST",
        "/api/v1/mpi/tasks/{id}/not-same",
        "residents",
        "Decide: not the same person (remembered)",
        None,
        "NotSameResult",
        &[],
    ),
    (
        "GET",
        "/api/v1/residents/{id}/access",
        "access",
        "May the caller see this resident's data, and why (audited)",
        None,
        "AccessDecision",
        &[("purpose", "string", "treatment, follow_up, referral, ...")],
    ),
    (
        "POST",
        "/api/v1/residents/{id}/break-glass",
        "access",
        "Emergency access to an existing resident with a stated reason, for a limited time; flagged for review",
        Some("BreakGlassBody"),
        "BreakGlass",
        &[],
    ),
    (
        "POST",
        "/api/v1/clinical-items",
        "record",
        "Record clinical items (all or nothing; idempotent per source system, source id and kind; a changed item becomes a new version)",
        Some("RecordBody"),
        "RecordResult",
        &[],
    ),
    (
        "GET",
        "/api/v1/clinical-items/{id}",
        "record",
        "One clinical item with its values and earlier versions (data scope; audited)",
        None,
        "ItemDetail",
        &[],
    ),
    (
        "GET",
        "/api/v1/residents/{id}/record",
        "record",
        "The patient 360 record: problems, allergies, medication, counts, a page of the timeline, trends (data scope; audited)",
        None,
        "PatientRecord",
        &[
            ("kind", "string", "comma-separated item kinds"),
            ("from", "string", "items at or after this time"),
            ("to", "string", "items before this time"),
            ("before", "string", "the `next` cursor of the previous page"),
            ("purpose", "string", "treatment, follow_up, referral, ..."),
        ],
    ),
    (
        "GET",
        "/api/v1/patients/{id}/recognised-results",
        "record",
        "Results from any member still valid under mutual recognition (检查检验结果互认)",
        None,
        "RecognisedResults",
        &[],
    ),
    (
        "GET",
        "/api/v1/unmatched-items",
        "record",
        "Items whose patient the index could not identify, in the caller's institutions",
        None,
        "UnmatchedItems",
        &[],
    ),
    (
        "POST",
        "/api/v1/unmatched-items/{id}/assign",
        "record",
        "Assign an unmatched item to a resident",
        Some("AssignBody"),
        "AssignResult",
        &[],
    ),
];

/// Operations of two-way referral.
const REFERRAL_OPERATIONS: &[Op] = &[
    (
        "GET",
        "/api/v1/referrals",
        "referral",
        "A worklist of the caller's institutions (outgoing, incoming, overdue, handover, all), most recently changed first",
        None,
        "ReferralPage",
        &[
            (
                "list",
                "string",
                "outgoing | incoming | overdue | handover | all",
            ),
            ("status", "string", "one state"),
            ("direction", "string", "up | down"),
            ("person_id", "string", "one resident"),
            ("cursor", "string", "the `next` of the previous page"),
        ],
    ),
    (
        "POST",
        "/api/v1/referrals",
        "referral",
        "Write a referral (a draft, or submitted at once), booking a slot with it; opens the resident's record to the receiving institution while it runs",
        Some("ReferralDraft"),
        "Referral",
        &[],
    ),
    (
        "GET",
        "/api/v1/referrals/{id}",
        "referral",
        "A referral with its history, attachments, plan, outcome, booking, care tasks and the actions the caller may take (audited)",
        None,
        "ReferralView",
        &[],
    ),
    (
        "POST",
        "/api/v1/referrals/{id}/steps",
        "referral",
        "Take a step: submit, accept, reject, redirect, schedule, arrive, complete (with the outcome) or cancel; exactly one of concurrent steps wins",
        Some("StepDraft"),
        "Referral",
        &[],
    ),
    (
        "GET",
        "/api/v1/referral-counts",
        "referral",
        "Counts of the caller's worklists, open care tasks and unread messages",
        None,
        "WorklistCounts",
        &[],
    ),
    (
        "GET",
        "/api/v1/referral-stats",
        "referral",
        "Referral statistics by month, direction and institution: counts, acceptance rate, median hours to acceptance and arrival; by reason and outcome",
        None,
        "ReferralStats",
        &[
            ("from", "string", "first month, YYYY-MM"),
            ("to", "string", "last month, YYYY-MM"),
        ],
    ),
    (
        "GET",
        "/api/v1/referral-settings",
        "referral",
        "The primary-level disease catalogues and the overdue rules",
        None,
        "ReferralSettings",
        &[],
    ),
    (
        "PUT",
        "/api/v1/referral-settings",
        "referral",
        "Replace the catalogues and the overdue rules (community administrators)",
        Some("ReferralSettings"),
        "ReferralSettings",
        &[],
    ),
    (
        "GET",
        "/api/v1/residents/{id}/referral-suggestions",
        "referral",
        "Referrals the written criteria suggest for a resident, seen from the caller's institution (audited)",
        None,
        "Suggestions",
        &[(
            "needs",
            "string",
            "services the patient needs, comma-separated (ct, mri, ...)",
        )],
    ),
    (
        "POST",
        "/api/v1/residents/{id}/referral-suggestions/dismiss",
        "referral",
        "Dismiss a suggestion with a reason (audited)",
        Some("DismissBody"),
        "Empty",
        &[],
    ),
    (
        "GET",
        "/api/v1/booking-resources",
        "booking",
        "Bookable resources: specialist clinics, CT, MRI, ultrasound, beds",
        None,
        "Resources",
        &[
            ("institution_id", "string", "one institution"),
            (
                "kind",
                "string",
                "specialist_clinic | ct | mri | ultrasound | bed",
            ),
        ],
    ),
    (
        "POST",
        "/api/v1/booking-resources",
        "booking",
        "Create a resource with its calendar and the share reserved for referrals",
        Some("CalendarBody"),
        "Created",
        &[],
    ),
    (
        "GET",
        "/api/v1/booking-resources/{id}/slots",
        "booking",
        "Free future slots of a resource and who may book each now (reserved or public)",
        None,
        "Slots",
        &[("days", "integer", "how many days ahead, 1..60, default 14")],
    ),
    (
        "GET",
        "/api/v1/care-tasks",
        "referral",
        "Care tasks of the caller's institutions (follow-ups handed over with down-referrals)",
        None,
        "CareTasks",
        &[("open", "boolean", "only open tasks (default true)")],
    ),
    (
        "POST",
        "/api/v1/care-tasks/{id}/complete",
        "referral",
        "Mark a care task done; blood pressure and glucose readings become a measurement in the resident's record",
        Some("CompleteBody"),
        "CareTask",
        &[],
    ),
    (
        "GET",
        "/api/v1/inbox",
        "referral",
        "The caller's messages, newest first",
        None,
        "Inbox",
        &[("unread", "boolean", "only unread")],
    ),
    (
        "POST",
        "/api/v1/inbox/read",
        "referral",
        "Mark all the caller's messages read",
        None,
        "Marked",
        &[],
    ),
];

const AUDIT_QUERY: &[(&str, &str, &str)] = &[
    ("resident_id", "string", "events about this resident"),
    ("user_id", "string", "events by this account"),
    (
        "institution_id",
        "string",
        "events by users of this institution",
    ),
    ("action", "string", "prefix of the action, such as auth."),
    ("outcome", "string", "allowed | denied | failed"),
    ("limit", "integer", "1..500, default 100"),
    ("offset", "integer", "default 0"),
];

fn codes(all: Vec<&'static str>) -> Value {
    json!({"type": "string", "enum": all})
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn page(item: &str) -> Value {
    json!({"type": "object", "required": ["items", "total", "limit", "offset"], "properties": {
        "items": {"type": "array", "items": r(item)},
        "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}}})
}

fn schemas() -> Value {
    let uuid = json!({"type": "string", "format": "uuid"});
    let uuid_n = json!({"type": ["string", "null"], "format": "uuid"});
    let text_n = json!({"type": ["string", "null"]});
    let ts = json!({"type": "string", "format": "date-time"});
    let tier = codes(Tier::ALL.iter().map(|x| x.code()).collect());
    let kind = codes(InstitutionType::ALL.iter().map(|x| x.code()).collect());
    let service = codes(ServiceKind::ALL.iter().map(|x| x.code()).collect());
    let form = codes(AllianceForm::ALL.iter().map(|x| x.code()).collect());
    let title = codes(ProfessionalTitle::ALL.iter().map(|x| x.code()).collect());
    let sex = codes(Sex::ALL.iter().map(|x| x.code()).collect());
    let mut v = json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["code", "message"], "properties": {
            "code": {"type": "string", "examples": ["invalid", "not_found", "duplicate", "stale", "conflict", "too_large", "unsupported_media_type"]},
            "message": {"type": "string"}, "field": text_n,
            "details": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"},
                "reason": {"type": "string", "description": "why the field was refused",
                    "examples": ["required", "format", "too_long", "unknown_code", "invalid_date", "check_digit", "not_found", "out_of_range", "invalid"]}}}},
            "request_id": {"type": "string"}}}}},
        "CommunityDraft": {"type": "object", "additionalProperties": false, "required": ["name", "form"], "properties": {
            "name": {"type": "string", "maxLength": 100}, "form": form,
            "lead_institution_id": uuid_n, "division_code": {"type": ["string", "null"], "description": "GB/T 2260, 6, 9 or 12 digits"},
            "description": text_n}},
        "Community": {"type": "object", "properties": {
            "id": uuid, "name": {"type": "string"}, "form": form, "lead_institution_id": uuid_n,
            "division_code": text_n, "description": text_n, "active": {"type": "boolean"},
            "version": {"type": "integer"}, "created_at": ts, "updated_at": ts, "member_count": {"type": "integer"}}},
        "CommunityDetail": {"type": "object", "properties": {
            "community": r("Community"), "lead": {"oneOf": [r("Institution"), {"type": "null"}]},
            "members": {"type": "array", "items": r("Institution")}}},
        "MemberBody": {"type": "object", "additionalProperties": false, "required": ["institution_id"], "properties": {"institution_id": uuid}},
        "InstitutionDraft": {"type": "object", "additionalProperties": false, "required": ["name", "kind", "division_code"], "properties": {
            "name": {"type": "string", "maxLength": 100},
            "aliases": {"type": "array", "items": {"type": "string"}, "description": "other names, e.g. the branch plaque of the county hospital"},
            "kind": kind, "tier": {"type": ["string", "null"], "description": "empty: the usual tier of the kind"},
            "parent_id": {"type": ["string", "null"], "format": "uuid", "description": "a village clinic's township centre; a township centre's county hospital"},
            "uscc": {"type": ["string", "null"], "description": "unified social credit code (GB 32100), checked"},
            "division_code": {"type": "string", "description": "GB/T 2260, 6, 9 or 12 digits"},
            "address": text_n, "phone": text_n, "services": {"type": "array", "items": service}}},
        "Institution": {"type": "object", "properties": {
            "id": uuid, "name": {"type": "string"}, "aliases": {"type": "array", "items": {"type": "string"}},
            "kind": kind, "tier": tier, "parent_id": uuid_n, "uscc": text_n, "division_code": {"type": "string"},
            "address": text_n, "phone": text_n, "services": {"type": "array", "items": service},
            "active": {"type": "boolean"}, "version": {"type": "integer"}, "created_at": ts, "updated_at": ts,
            "staff_count": {"type": "integer"}, "children_count": {"type": "integer"}, "beds": {"type": "integer"}}},
        "DepartmentDraft": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 100}, "code": text_n,
            "beds": {"type": ["integer", "null"], "minimum": 0, "maximum": 5000}, "phone": text_n}},
        "Department": {"type": "object", "properties": {
            "id": uuid, "institution_id": uuid, "name": {"type": "string"}, "code": text_n, "beds": {"type": "integer"},
            "phone": text_n, "active": {"type": "boolean"}, "version": {"type": "integer"}, "created_at": ts, "updated_at": ts,
            "staff_count": {"type": "integer"}}},
        "StaffDraft": {"type": "object", "additionalProperties": false, "required": ["name", "sex", "title", "institution_id"], "properties": {
            "name": {"type": "string", "maxLength": 100}, "sex": {"type": "string", "description": "GB/T 2261.1 code, M/F or 男/女"},
            "title": title, "institution_id": uuid, "department_id": uuid_n,
            "licence_number": text_n, "id_number": {"type": ["string", "null"], "description": "GB 11643, 18 digits (15-digit legacy numbers are converted)"},
            "phone": text_n}},
        "Staff": {"type": "object", "properties": {
            "id": uuid, "institution_id": uuid, "institution_name": {"type": "string"}, "department_id": uuid_n,
            "department_name": text_n, "name": {"type": "string"}, "sex": sex, "title": title, "licence_number": text_n,
            "id_number_masked": text_n, "phone_masked": text_n, "active": {"type": "boolean"}, "version": {"type": "integer"},
            "created_at": ts, "updated_at": ts}},
        "Me": {"type": "object", "properties": {"user_id": uuid_n, "name": {"type": "string"},
            "display_name": {"type": "string"}, "institution_id": uuid_n,
            "roles": {"type": "array", "items": {"type": "string"}}, "permissions": {"type": "array", "items": {"type": "string"}}}},
        "AuditEvent": {"type": "object", "properties": {"seq": {"type": "integer"}, "id": uuid, "at": ts,
            "actor_user_id": uuid_n, "actor_name": {"type": "string"}, "actor_institution_id": uuid_n,
            "action": {"type": "string"}, "resource_type": {"type": "string"}, "resource_id": text_n,
            "resident_id": uuid_n, "purpose": text_n, "outcome": {"type": "string", "enum": ["allowed", "denied", "failed"]},
            "client_addr": text_n, "request_id": {"type": "string"}, "detail": text_n, "hash": {"type": "string"}}},
        "AuditPage": page("AuditEvent"),
        "AccessDecision": {"type": "object", "properties": {"resident_id": uuid, "allowed": {"type": "boolean"},
            "scope": {"type": "string", "enum": ["own_institution", "subordinate", "care_link", "community_wide", "authorised", "break_glass"]}}},
        "BreakGlassBody": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {
            "reason": {"type": "string", "minLength": 10, "description": "at least 10 letters, digits or characters (spaces, punctuation and invisible characters do not count)"},
            "minutes": {"type": "integer", "minimum": 15, "description": "how long the access lasts; at most (and by default) the configured maximum"}}},
        "BreakGlass": {"type": "object", "properties": {"id": uuid, "user_id": uuid, "institution_id": uuid_n, "resident_id": uuid,
            "reason": {"type": "string"}, "started_at": ts, "expires_at": ts, "reviewed_by": uuid_n, "reviewed_at": {"type": ["string", "null"]},
            "review_note": text_n, "review_outcome": text_n}},
        "Person": {"type": "object", "properties": {"id": uuid, "name": {"type": "string"}, "sex": {"type": "string"},
            "birth_date": {"type": ["string", "null"], "format": "date"}, "id_number_masked": text_n, "phone_masked": text_n,
            "address": text_n, "registrations": {"type": "integer"}, "active": {"type": "boolean"}, "merged_into": uuid_n,
            "in_scope": {"type": "boolean", "description": "Search results: false for a resident outside your scope, found by the full ID number with the name; it cannot be opened."}}},
        "PersonPage": page("Person"),
        "Registered": {"type": "object", "properties": {"person_id": uuid, "registration_id": uuid,
            "outcome": {"type": "string", "enum": ["linked", "new", "review", "updated", "unchanged"]}, "id_number_valid": {"type": "boolean"}, "tasks": {"type": "integer"}}},
        "PersonDetail": {"type": "object", "properties": {"person": r("Person"), "registrations": {"type": "array", "items": {"type": "object"}},
            "history": {"type": "array", "items": {"type": "object"}}}},
        "MergeBody": {"type": "object", "additionalProperties": false, "required": ["into", "reason", "confirm"],
            "description": "A patient-index steward's merge: the target, a reason of at least 10 letters or characters, and the confirmation.",
            "properties": {"into": uuid, "reason": {"type": "string", "maxLength": 500}, "confirm": {"type": "boolean", "const": true}}},
        "SplitBody": {"type": "object", "additionalProperties": false, "required": ["reason", "confirm"],
            "description": "A patient-index steward's split: a reason of at least 10 letters or characters, and the confirmation.",
            "properties": {"reason": {"type": "string", "maxLength": 500}, "confirm": {"type": "boolean", "const": true}}},
        "MergeResult": {"type": "object", "properties": {"merged": uuid, "into": uuid}},
        "UnmergeResult": {"type": "object", "properties": {"person_id": uuid}},
        "NotSameResult": {"type": "object", "properties": {"status": {"type": "string"}}},
        "TaskPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"}}},
        "CommunityPage": page("Community"),
        "InstitutionPage": page("Institution"),
        "DepartmentPage": page("Department"),
        "StaffPage": page("Staff"),
    });
    if let (Some(all), Value::Object(more)) = (v.as_object_mut(), record_schemas()) {
        all.extend(more);
    }
    if let (Some(all), Value::Object(more)) = (v.as_object_mut(), referral_schemas()) {
        all.extend(more);
    }
    v
}

/// Schemas of the master patient index's drafts and of the shared health record.
fn record_schemas() -> Value {
    let uuid = json!({"type": "string", "format": "uuid"});
    let uuid_n = json!({"type": ["string", "null"], "format": "uuid"});
    let text_n = json!({"type": ["string", "null"]});
    let ts = json!({"type": "string", "format": "date-time"});
    let item_kind = codes(
        ygt_domain::clinical::ItemKind::ALL
            .iter()
            .map(|x| x.code())
            .collect(),
    );
    json!({
        "ResidentDraft": {"type": "object", "additionalProperties": false, "required": ["institution_id", "name"], "properties": {
            "institution_id": uuid, "record_id": text_n, "name": {"type": "string", "maxLength": 50},
            "sex": {"type": ["string", "null"], "description": "GB/T 2261.1 code, M/F or 男/女"},
            "birth_date": {"type": ["string", "null"], "format": "date"},
            "id_number": {"type": ["string", "null"], "description": "as typed; invalid numbers are kept, flagged and never used as identifiers"},
            "phone": text_n, "address": text_n, "insurance_number": text_n, "health_card_number": text_n,
            "division_code": {"type": ["string", "null"], "description": "GB/T 2260, 6, 9 or 12 digits"}, "village_group": text_n,
            "household_number": text_n, "ethnicity": {"type": ["string", "null"], "description": "GB/T 3304 code or name"},
            "nationality": {"type": ["string", "null"], "description": "GB/T 2659 alpha-3"}}},
        "PatientRef": {"type": "object", "additionalProperties": false, "description": "who the item is about: the first that identifies one person wins (person_id, record_id at the item's institution, a valid id_number); else the item waits in the unmatched queue",
            "properties": {"person_id": uuid_n, "record_id": text_n, "id_number": text_n, "name": text_n, "sex": text_n, "birth_date": text_n}},
        "ResultDraft": {"type": "object", "additionalProperties": false, "required": ["code", "value"], "properties": {
            "code": {"type": "string"}, "name": text_n, "value": {"type": "string"}, "unit": text_n, "ref_range": text_n,
            "abnormal": {"type": ["string", "null"], "enum": ["N", "H", "L", "HH", "LL", "A", null]}, "effective_at": text_n}},
        "ItemDraft": {"type": "object", "additionalProperties": false, "required": ["kind", "institution_id", "source_system", "source_id", "patient", "occurred_at"], "properties": {
            "kind": item_kind, "institution_id": uuid, "source_system": {"type": "string"}, "source_id": {"type": "string"},
            "patient": r("PatientRef"), "occurred_at": {"type": "string", "description": "RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in China Standard Time"},
            "ended_at": text_n, "status": {"type": ["string", "null"], "enum": ["final", "amended", "preliminary", "entered_in_error", null]},
            "code": text_n, "code_system": text_n, "title": text_n, "department": text_n, "doctor": text_n, "encounter_ref": text_n,
            "class": text_n, "chief_complaint": text_n, "cost_total": text_n, "cost_fund": text_n, "cost_personal": text_n, "role": text_n,
            "results": {"type": "array", "items": r("ResultDraft")}, "findings": text_n, "conclusion": text_n, "modality": text_n,
            "body_part": text_n, "study_uid": text_n, "document_type": text_n, "text": text_n,
            "medications": {"type": "array", "items": {"type": "object"}}, "substance": text_n, "reaction": text_n, "severity": text_n}},
        "RecordBody": {"type": "object", "additionalProperties": false, "required": ["items"], "properties": {"items": {"type": "array", "minItems": 1, "maxItems": 1000, "items": r("ItemDraft")}}},
        "RecordResult": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
            "item_id": uuid, "person_id": uuid_n, "outcome": {"type": "string", "enum": ["created", "updated", "unchanged"]}, "version": {"type": "integer"}}}}}},
        "ClinicalItem": {"type": "object", "properties": {"id": uuid, "person_id": uuid_n, "kind": item_kind, "institution_id": uuid, "institution_name": {"type": "string"},
            "source_system": {"type": "string"}, "source_id": {"type": "string"}, "occurred_at": ts, "status": {"type": "string"}, "code": text_n,
            "title": {"type": "string"}, "summary": text_n, "abnormal": {"type": "boolean"}, "body": {"type": "object"}, "version": {"type": "integer"}}},
        "ItemDetail": {"type": "object", "properties": {"item": r("ClinicalItem"), "observations": {"type": "array", "items": {"type": "object"}}, "versions": {"type": "array", "items": {"type": "object"}}}},
        "PatientRecord": {"type": "object", "properties": {"person": r("Person"), "problems": {"type": "array", "items": {"type": "object"}},
            "allergies": {"type": "array", "items": r("ClinicalItem")}, "medications": {"type": "array", "items": r("ClinicalItem")},
            "counts": {"type": "object"}, "timeline": {"type": "array", "items": r("ClinicalItem")}, "next": text_n, "trends": {"type": "array", "items": {"type": "object"}}}},
        "RecognisedResults": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}, "valid_days": {"type": "integer"}, "item_id": uuid,
            "value": text_n, "unit": text_n, "abnormal": text_n, "institution": {"type": "string"}, "performed_at": ts, "valid_until": ts}}}}},
        "UnmatchedItems": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"item": r("ClinicalItem"), "sent_as": {"type": "object"}}}}}},
        "AssignBody": {"type": "object", "additionalProperties": false, "required": ["person_id"], "properties": {"person_id": uuid}},
        "AssignResult": {"type": "object", "properties": {"item_id": uuid, "person_id": uuid}},
    })
}

/// Schemas of two-way referral.
fn referral_schemas() -> Value {
    use ygt_domain::referral::{Action, Criterion, Direction, ResourceKind, Status, Urgency};
    let uuid = json!({"type": "string", "format": "uuid"});
    let uuid_n = json!({"type": ["string", "null"], "format": "uuid"});
    let text_n = json!({"type": ["string", "null"]});
    let ts = json!({"type": "string", "format": "date-time"});
    let ts_n = json!({"type": ["string", "null"], "format": "date-time"});
    let status = codes(Status::ALL.iter().map(|x| x.code()).collect());
    let direction = codes(Direction::ALL.iter().map(|x| x.code()).collect());
    let urgency = codes(Urgency::ALL.iter().map(|x| x.code()).collect());
    let action = codes(Action::ALL.iter().map(|x| x.code()).collect());
    let criterion = codes(Criterion::ALL.iter().map(|x| x.code()).collect());
    let kind = codes(ResourceKind::ALL.iter().map(|x| x.code()).collect());
    let obj = json!({"type": "object"});
    json!({
        "PlanDraft": {"type": "object", "properties": {"discharge_summary": {"type": "string"},
            "medications": {"type": "string", "description": "one per line"},
            "follow_ups": {"type": "string", "description": "one per line: `YYYY-MM-DD what` or `+N what` (days after acceptance)"},
            "warning_signs": {"type": "string"}, "rehab_goals": {"type": "string"}}},
        "ReferralDraft": {"type": "object", "required": ["direction", "person_id", "to_institution_id", "reason"], "properties": {
            "direction": direction, "person_id": uuid, "urgency": urgency, "from_department_id": uuid_n,
            "to_institution_id": uuid, "to_department_id": uuid_n, "to_staff_id": uuid_n,
            "diagnosis_code": {"type": ["string", "null"], "description": "ICD-10"}, "diagnosis_name": text_n,
            "reason": {"type": "string"}, "criterion": {"type": ["string", "null"], "enum": Criterion::ALL.iter().map(|x| Some(x.code())).chain([None]).collect::<Vec<_>>()},
            "summary": text_n, "needs": {"type": ["string", "null"], "enum": ResourceKind::ALL.iter().map(|x| Some(x.code())).chain([None]).collect::<Vec<_>>()},
            "slot_id": uuid_n, "item_ids": {"type": "array", "items": uuid}, "plan": {"oneOf": [r("PlanDraft"), {"type": "null"}]},
            "submit": {"type": "boolean", "description": "submit at once (default false: a draft)"}}},
        "Outcome": {"type": "object", "properties": {"diagnosis_code": text_n, "diagnosis_name": text_n, "treatment": {"type": "string"}, "summary": {"type": "string"}}},
        "StepDraft": {"type": "object", "required": ["action"], "properties": {"action": action,
            "version": {"type": ["integer", "null"], "description": "the version seen; refused with 409 when it changed"},
            "reason": text_n, "to_institution_id": uuid_n, "to_department_id": uuid_n, "slot_id": uuid_n,
            "appointment_at": {"type": ["string", "null"], "description": "RFC 3339 or YYYY-MM-DDTHH:MM (China Standard Time)"},
            "outcome": {"oneOf": [r("Outcome"), {"type": "null"}]}}},
        "Referral": {"type": "object", "properties": {"id": uuid, "number": {"type": "string"}, "direction": direction, "status": status, "urgency": urgency,
            "person_id": uuid, "person_name": {"type": "string"}, "from_institution_id": uuid, "from_institution_name": {"type": "string"},
            "from_doctor": {"type": "string"}, "to_institution_id": uuid, "to_institution_name": {"type": "string"}, "to_department_id": uuid_n,
            "to_department_name": text_n, "to_staff_id": uuid_n, "diagnosis_code": text_n, "diagnosis_name": text_n, "reason": {"type": "string"},
            "criterion": {"type": ["string", "null"]}, "summary": text_n, "needs": text_n, "plan": text_n, "outcome": text_n, "status_note": text_n,
            "appointment_at": ts_n, "created_at": ts, "submitted_at": ts_n, "accepted_at": ts_n, "arrived_at": ts_n, "closed_at": ts_n,
            "status_since": ts, "version": {"type": "integer"}, "overdue": text_n}},
        "ReferralPage": {"type": "object", "properties": {"referrals": {"type": "array", "items": r("Referral")}, "next": text_n}},
        "ReferralView": {"type": "object", "properties": {"referral": r("Referral"), "events": {"type": "array", "items": obj},
            "items": {"type": "array", "items": r("ClinicalItem")}, "plan": {"oneOf": [obj, {"type": "null"}]}, "outcome": {"oneOf": [r("Outcome"), {"type": "null"}]},
            "slot": {"oneOf": [r("Slot"), {"type": "null"}]}, "resource": {"oneOf": [r("Resource"), {"type": "null"}]},
            "tasks": {"type": "array", "items": r("CareTask")}, "actions": {"type": "array", "items": action}, "overdue": text_n}},
        "WorklistCounts": {"type": "object", "properties": {"outgoing_open": {"type": "integer"}, "incoming_waiting": {"type": "integer"},
            "overdue": {"type": "integer"}, "handover": {"type": "integer"}, "tasks_open": {"type": "integer"}, "unread": {"type": "integer"}}},
        "ReferralStats": {"type": "object", "properties": {"total": {"type": "integer"}, "rows": {"type": "array", "items": {"type": "object", "properties": {
            "month": {"type": "string"}, "direction": direction, "from_institution": {"type": "string"}, "to_institution": {"type": "string"},
            "count": {"type": "integer"}, "accepted": {"type": "integer"}, "rejected": {"type": "integer"}, "acceptance_rate": {"type": ["number", "null"]},
            "median_hours_to_acceptance": {"type": ["number", "null"]}, "median_hours_to_arrival": {"type": ["number", "null"]}}}},
            "by_reason": {"type": "array", "items": {"type": "array"}}, "by_outcome": {"type": "array", "items": {"type": "array"}}}},
        "ReferralSettings": {"type": "object", "properties": {"township": {"type": "string", "description": "one entry per line: codes name [慢病]"},
            "village": {"type": "string"}, "rules": {"type": "array", "items": {"type": "object", "properties": {"urgency": urgency,
            "accept_minutes": {"type": "integer"}, "arrive_minutes": {"type": "integer"}, "grace_minutes": {"type": "integer"}, "complete_minutes": {"type": "integer"}}}}}},
        "Suggestions": {"type": "object", "properties": {"suggestions": {"type": "array", "items": {"type": "object", "properties": {
            "direction": direction, "criterion": criterion, "urgency": urgency, "detail_zh": {"type": "string"}, "detail_en": {"type": "string"}, "code": text_n}}}}},
        "DismissBody": {"type": "object", "additionalProperties": false, "required": ["criterion", "reason"], "properties": {"criterion": criterion, "reason": {"type": "string"}}},
        "Empty": {"type": "object"},
        "Resource": {"type": "object", "properties": {"id": uuid, "institution_id": uuid, "institution_name": {"type": "string"}, "department_id": uuid_n,
            "department_name": text_n, "kind": kind, "name": {"type": "string"}, "location": {"type": "string"}, "staff_id": uuid_n, "staff_name": text_n,
            "release_hours": {"type": "integer"}, "active": {"type": "boolean"}}},
        "Resources": {"type": "object", "properties": {"resources": {"type": "array", "items": r("Resource")}}},
        "CalendarBody": {"type": "object", "additionalProperties": false, "required": ["institution_id", "kind", "name", "release_hours", "first_start", "minutes", "per_day", "reserved_per_day", "days"], "properties": {
            "institution_id": uuid, "department_id": uuid_n, "kind": kind, "name": {"type": "string"},
            "location": {"type": "string", "maxLength": 100, "description": "Where it is (building, floor, room), printed on the referral slip"}, "staff_id": uuid_n,
            "release_hours": {"type": "integer", "minimum": 0, "maximum": 336}, "first_start": {"type": "string", "description": "RFC 3339 or YYYY-MM-DDTHH:MM (China Standard Time)"},
            "minutes": {"type": "integer"}, "per_day": {"type": "integer", "minimum": 1, "maximum": 200}, "reserved_per_day": {"type": "integer", "minimum": 0},
            "days": {"type": "integer", "minimum": 1, "maximum": 180}, "weekends": {"type": "boolean"}}},
        "Created": {"type": "object", "properties": {"id": uuid}},
        "Slot": {"type": "object", "properties": {"id": uuid, "resource_id": uuid, "starts_at": ts, "ends_at": ts, "reserved": {"type": "boolean"},
            "release_at": ts, "referral_id": uuid_n, "booked_at": ts_n, "availability": {"type": "string", "enum": ["reserved", "public", "booked", "past"]}}},
        "Slots": {"type": "object", "properties": {"slots": {"type": "array", "items": r("Slot")}}},
        "CareTask": {"type": "object", "properties": {"id": uuid, "referral_id": uuid_n, "person_id": uuid, "person_name": {"type": "string"},
            "institution_id": uuid, "staff_id": uuid_n, "staff_name": text_n, "kind": {"type": "string"}, "title": {"type": "string"},
            "due_on": {"type": "string", "format": "date"}, "done_at": ts_n, "done_by": text_n, "note": text_n, "created_at": ts}},
        "CareTasks": {"type": "object", "properties": {"tasks": {"type": "array", "items": r("CareTask")}}},
        "CompleteBody": {"type": "object", "additionalProperties": false, "properties": {"note": text_n, "systolic": {"type": "string", "description": "systolic blood pressure, mmHg (50-300)"}, "diastolic": {"type": "string", "description": "diastolic blood pressure, mmHg (30-200)"}, "glucose": {"type": "string", "description": "fasting blood glucose, mmol/L (1.0-40.0)"}}},
        "Inbox": {"type": "object", "properties": {"notifications": {"type": "array", "items": {"type": "object", "properties": {
            "id": uuid, "referral_id": uuid_n, "kind": {"type": "string"}, "title_zh": {"type": "string"}, "title_en": {"type": "string"},
            "created_at": ts, "read_at": ts_n}}}}},
        "Marked": {"type": "object", "properties": {"marked": {"type": "integer"}}},
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, tag, summary, req, resp, query) in
        OPERATIONS.iter().chain(REFERRAL_OPERATIONS)
    {
        let mut params: Vec<Value> = Vec::new();
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true,
                    "schema": {"type": "string", "format": "uuid"}}));
            }
        }
        for (name, ty, desc) in *query {
            params.push(json!({"name": name, "in": "query", "required": false,
                "description": desc, "schema": {"type": ty}}));
        }
        if *method == "PUT" {
            params.push(json!({"name": "If-Match", "in": "header", "required": false,
                "description": "the version from the ETag of a GET; refused with 409 when it changed",
                "schema": {"type": "string"}}));
        }
        let ok = if *method == "POST" && req.is_some() && !path.ends_with("/members") {
            // creations answer 201
            "201"
        } else {
            "200"
        };
        let err = json!({"description": "error", "content": {"application/json": {"schema": r("Error")}}});
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": format!("{}{}", method.to_lowercase(), path.replace(['/', '{', '}'], "_")),
            "parameters": params,
            "responses": {
                ok: {"description": "success", "content": {"application/json": {"schema": r(resp)}}},
                "401": err.clone(), "403": err.clone(), "404": err.clone(), "409": err.clone(), "422": err,
            }
        });
        if let (Some(req), Some(obj)) = (req, op.as_object_mut()) {
            obj.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": r(req)}}}),
            );
            if let Some(responses) = obj.get_mut("responses").and_then(Value::as_object_mut) {
                responses.insert(
                    "413".into(),
                    json!({"description": "the body is larger than 2 MiB", "content": {"application/json": {"schema": r("Error")}}}),
                );
                responses.insert(
                    "415".into(),
                    json!({"description": "the body is not application/json", "content": {"application/json": {"schema": r("Error")}}}),
                );
            }
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(method.to_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ygt API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON API of ygt, the county medical community platform (医共体平台). \
                Errors are {\"error\":{\"code\",\"message\",\"field\"}}; messages follow ?lang=zh|en."
        },
        "paths": paths,
        "security": [{"session": []}, {"token": []}],
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "ygt_session",
                    "description": "the session of a signed-in user; state-changing requests also send X-CSRF-Token"},
                "token": {"type": "http", "scheme": "bearer",
                    "description": "an API token (ygt_…) scoped to an institution and permissions"}
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_route_is_documented_and_nothing_else() {
        let routes: Vec<(String, String)> = crate::route_list()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/v1/"))
            .map(|r| (r.method.to_owned(), r.path.to_owned()))
            .collect();
        let documented: Vec<(String, String)> = OPERATIONS
            .iter()
            .chain(REFERRAL_OPERATIONS)
            .map(|o| (o.0.to_owned(), o.1.to_owned()))
            .collect();
        for r in &routes {
            assert!(documented.contains(r), "route {r:?} has no OpenAPI entry");
        }
        for d in &documented {
            assert!(
                routes.contains(d),
                "OpenAPI documents {d:?}, which is not routed"
            );
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "missing schema {name}");
        }
    }
}
