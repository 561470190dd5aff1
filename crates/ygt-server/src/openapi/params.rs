//! The schemas of query parameters and headers: the rules the handlers and use cases apply
//! (limits of paging, codes, formats), named by a short kind in the table of operations.

use serde_json::{Value, json};
use ygt_domain::audit::Outcome;
use ygt_domain::clinical::ItemKind;
use ygt_domain::org::{InstitutionType, ProfessionalTitle, ServiceKind, Tier};
use ygt_domain::referral::{Direction, ResourceKind, Status};

fn one_of(codes: &[&str]) -> Value {
    json!({"type": "string", "enum": codes})
}

/// One or more codes separated by commas.
fn list_of(codes: &[&str]) -> Value {
    let one = codes.join("|");
    json!({"type": "string", "pattern": format!("^({one})(,({one}))*$")})
}

macro_rules! codes {
    ($t:ty) => {
        <$t>::ALL.iter().map(|x| x.code()).collect::<Vec<_>>()
    };
}

/// The schema of a query parameter of this kind.
pub(super) fn schema(kind: &str) -> Value {
    match kind {
        "uuid" => json!({"type": "string", "format": "uuid"}),
        "boolean" => json!({"type": "boolean"}),
        "integer" => json!({"type": "integer"}),
        "limit500" => json!({"type": "integer", "minimum": 1, "maximum": 500}),
        "limit200" => json!({"type": "integer", "minimum": 1, "maximum": 200}),
        "offset" => json!({"type": "integer", "minimum": 0}),
        "days366" => json!({"type": "integer", "minimum": 1, "maximum": 366}),
        "time" => json!({"type": "string", "format": "date-time"}),
        "month" => json!({"type": "string", "pattern": "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"}),
        "tier" => one_of(&codes!(Tier)),
        "institution_type" => one_of(&codes!(InstitutionType)),
        "title" => one_of(&codes!(ProfessionalTitle)),
        "audit_outcome" => one_of(&codes!(Outcome)),
        "direction" => one_of(&codes!(Direction)),
        "resource_kind" => one_of(&codes!(ResourceKind)),
        "worklist" => one_of(&["outgoing", "incoming", "overdue", "handover", "all"]),
        "statuses" => list_of(&codes!(Status)),
        "item_kinds" => list_of(&codes!(ItemKind)),
        "services" => list_of(&codes!(ServiceKind)),
        _ => json!({"type": "string"}),
    }
}

/// `If-Match` of the updates that check a version.
pub(super) fn if_match() -> Value {
    json!({"name": "If-Match", "in": "header", "required": false,
        "description": "the version from the ETag of a GET, such as \"3\"; refused with 409 when the record changed since",
        "schema": {"type": "string", "pattern": "^(\\*|(W/)?\"[0-9]{1,18}\")$"}})
}
