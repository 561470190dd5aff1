//! The OpenAPI 3.1 document of the JSON API, built from the router's own route list: a route
//! without documentation here fails a test.

use serde_json::{Map, Value, json};

mod params;
mod schemas;
use schemas::r;

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
    ("tier", "tier", "county | township | village"),
    ("kind", "institution_type", "institution type code"),
    ("parent_id", "uuid", "only institutions under this one"),
    ("community_id", "uuid", "only members of this community"),
    ("q", "string", "part of the name or an alias"),
    ("include_inactive", "boolean", "also deactivated ones"),
    ("limit", "limit500", "1..500, default 100"),
    ("offset", "offset", "default 0"),
];
const LIST_STAFF: &[(&str, &str, &str)] = &[
    ("institution_id", "uuid", "staff of this institution"),
    ("department_id", "uuid", "staff of this department"),
    ("title", "title", "professional title code"),
    ("q", "string", "part of the name or licence number"),
    ("include_inactive", "boolean", "also deactivated ones"),
    ("limit", "limit500", "1..500, default 100"),
    ("offset", "offset", "default 0"),
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
            ("limit", "limit500", "1..500, default 100"),
            ("offset", "offset", "0.. (total in the answer)"),
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
            ("kind", "item_kinds", "comma-separated item kinds"),
            (
                "from",
                "time",
                "items at or after this time (RFC 3339, or YYYY-MM-DD[ HH:MM] China Standard Time)",
            ),
            ("to", "time", "items before this time"),
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
            ("list", "worklist", "which worklist (default outgoing)"),
            (
                "status",
                "statuses",
                "one state, or several separated by commas",
            ),
            ("direction", "direction", "up | down"),
            ("person_id", "uuid", "one resident"),
            ("from_institution_id", "uuid", "sent by this institution"),
            ("to_institution_id", "uuid", "addressed to this institution"),
            ("booked", "boolean", "only referrals with an appointment"),
            (
                "days",
                "days366",
                "only those whose status changed within this many days",
            ),
            ("limit", "limit200", "page size, 1..200"),
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
            ("from", "month", "first month, YYYY-MM"),
            ("to", "month", "last month, YYYY-MM"),
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
        Some("ReferralSettingsDraft"),
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
            "services",
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
            ("institution_id", "uuid", "one institution"),
            (
                "kind",
                "resource_kind",
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
        &[(
            "days",
            "integer",
            "how many days ahead, 1..60 (others are brought into that range), default 14",
        )],
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
    ("resident_id", "uuid", "events about this resident"),
    ("user_id", "uuid", "events by this account"),
    (
        "institution_id",
        "uuid",
        "events by users of this institution",
    ),
    ("action", "string", "prefix of the action, such as auth."),
    ("outcome", "audit_outcome", "allowed | denied | failed"),
    ("limit", "limit500", "1..500, default 100"),
    ("offset", "offset", "default 0"),
];

/// The operations that create something and answer 201 Created (with the created thing).
const CREATED: &[(&str, &str)] = &[
    ("POST", "/api/v1/communities"),
    ("POST", "/api/v1/institutions"),
    ("POST", "/api/v1/institutions/{id}/departments"),
    ("POST", "/api/v1/staff"),
    ("POST", "/api/v1/residents"),
    ("POST", "/api/v1/residents/{id}/break-glass"),
    ("POST", "/api/v1/referrals"),
    ("POST", "/api/v1/booking-resources"),
];

/// The operations that answer 204 No Content.
const NO_CONTENT: &[(&str, &str)] = &[(
    "POST",
    "/api/v1/residents/{id}/referral-suggestions/dismiss",
)];

/// The updates that take `If-Match` (and answer with an `ETag`).
const IF_MATCH: &[(&str, &str)] = &[
    ("PUT", "/api/v1/communities/{id}"),
    ("PUT", "/api/v1/institutions/{id}"),
    ("PUT", "/api/v1/departments/{id}"),
    ("PUT", "/api/v1/staff/{id}"),
];

/// The parameters of an operation: its path's ids, its query, `If-Match` where it is checked.
fn parameters(method: &str, path: &str, query: &[(&str, &str, &str)]) -> Vec<Value> {
    let mut params: Vec<Value> = Vec::new();
    for seg in path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.push(json!({"name": name, "in": "path", "required": true,
                "schema": {"type": "string", "format": "uuid"}}));
        }
    }
    for (name, kind, desc) in query {
        params.push(json!({"name": name, "in": "query", "required": false,
            "description": desc, "schema": params::schema(kind)}));
    }
    if IF_MATCH.contains(&(method, path)) {
        params.push(params::if_match());
    }
    params
}

/// The answers of an operation: its success and the errors it may give.
fn responses(method: &str, path: &str, resp: &str, has_body: bool) -> Value {
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": r("Error")}}});
    let ok =
        json!({"description": "success", "content": {"application/json": {"schema": r(resp)}}});
    let mut out = Map::new();
    if NO_CONTENT.contains(&(method, path)) {
        out.insert("204".into(), json!({"description": "done"}));
    } else if CREATED.contains(&(method, path)) {
        out.insert("201".into(), ok);
    } else {
        out.insert("200".into(), ok);
    }
    for (code, d) in [
        ("401", "not signed in"),
        ("403", "not allowed"),
        ("404", "not found"),
        (
            "409",
            "conflict: changed since, duplicate, or not possible in this state",
        ),
        ("422", "invalid input; the details name each field"),
    ] {
        out.insert(code.into(), err(d));
    }
    if has_body {
        out.insert("413".into(), err("the body is larger than 2 MiB"));
        out.insert("415".into(), err("the body is not application/json"));
    }
    Value::Object(out)
}

/// The whole document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, tag, summary, req, resp, query) in
        OPERATIONS.iter().chain(REFERRAL_OPERATIONS)
    {
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": format!("{}{}", method.to_lowercase(), path.replace(['/', '{', '}'], "_")),
            "parameters": parameters(method, path, query),
            "responses": responses(method, path, resp, req.is_some()),
        });
        if let (Some(req), Some(obj)) = (req, op.as_object_mut()) {
            obj.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": r(req)}}}),
            );
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
            "schemas": schemas::all(),
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
    fn status_and_header_lists_name_documented_operations() {
        let documented: Vec<(&str, &str)> = OPERATIONS
            .iter()
            .chain(REFERRAL_OPERATIONS)
            .map(|o| (o.0, o.1))
            .collect();
        for op in CREATED.iter().chain(NO_CONTENT).chain(IF_MATCH) {
            assert!(
                documented.contains(op),
                "{op:?} is not a documented operation"
            );
        }
        let doc = document();
        let put = &doc["paths"]["/api/v1/staff/{id}"]["put"];
        assert!(put["parameters"].to_string().contains("If-Match"), "{put}");
        let post = &doc["paths"]["/api/v1/referrals"]["post"]["responses"];
        assert!(
            post.get("201").is_some() && post.get("200").is_none(),
            "{post}"
        );
    }

    #[test]
    fn success_answers_are_closed_objects_with_every_field_required() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                for (status, resp) in op["responses"].as_object().unwrap() {
                    let Some(name) = resp["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .filter(|_| status.starts_with('2'))
                    else {
                        continue;
                    };
                    let name = name.trim_start_matches("#/components/schemas/");
                    let s = &schemas[name];
                    let at = format!("{method} {path}: {name}");
                    assert_eq!(s["additionalProperties"], Value::Bool(false), "{at}");
                    let required = s["required"].as_array().unwrap();
                    for p in s["properties"].as_object().unwrap().keys() {
                        // A search result's scope fields are left out of other answers.
                        let optional =
                            name == "Person" && (p == "in_scope" || p == "registered_at");
                        assert!(
                            optional || required.contains(&json!(p)),
                            "{at}: {p} not required"
                        );
                    }
                }
            }
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
