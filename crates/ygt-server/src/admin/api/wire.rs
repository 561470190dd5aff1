//! The wire types of the identity, audit and access API.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::access::Principal;
use ygt_app::ygt_store::access::BreakGlass;
use ygt_domain::access::{Permission, Role};
use ygt_domain::audit::{AuditRecord, Outcome};

/// Who the caller is.
#[derive(Serialize)]
pub struct MeOut {
    user_id: Option<Uuid>,
    name: String,
    display_name: String,
    institution_id: Option<Uuid>,
    roles: Vec<Role>,
    permissions: Vec<Permission>,
}

impl From<&Principal> for MeOut {
    fn from(p: &Principal) -> Self {
        MeOut {
            user_id: p.user_id,
            name: p.name.clone(),
            display_name: p.display_name.clone(),
            institution_id: p.institution_id,
            roles: p.roles.clone(),
            permissions: p.permissions.iter().copied().collect(),
        }
    }
}

/// One event of the audit log.
#[derive(Serialize)]
pub struct AuditOut {
    seq: i64,
    id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    actor_user_id: Option<Uuid>,
    actor_name: String,
    actor_institution_id: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    resident_id: Option<Uuid>,
    purpose: Option<String>,
    outcome: Outcome,
    client_addr: Option<String>,
    request_id: String,
    detail: Option<String>,
    hash: String,
}

impl From<&AuditRecord> for AuditOut {
    fn from(r: &AuditRecord) -> Self {
        AuditOut {
            seq: r.seq,
            id: r.id,
            at: r.at,
            actor_user_id: r.actor_user_id,
            actor_name: r.actor_name.clone(),
            actor_institution_id: r.actor_institution_id,
            action: r.action.clone(),
            resource_type: r.resource_type.clone(),
            resource_id: r.resource_id.clone(),
            resident_id: r.resident_id,
            purpose: r.purpose.clone(),
            outcome: r.outcome,
            client_addr: r.client_addr.clone(),
            request_id: r.request_id.clone(),
            detail: r.detail.clone(),
            hash: r.hash.clone(),
        }
    }
}

/// Whether the caller may see a resident, and on which ground.
#[derive(Serialize)]
pub struct AccessOut {
    pub resident_id: Uuid,
    pub allowed: bool,
    pub scope: &'static str,
}

/// A break-glass grant.
#[derive(Serialize)]
pub struct BreakGlassOut {
    id: Uuid,
    user_id: Uuid,
    institution_id: Option<Uuid>,
    resident_id: Uuid,
    reason: String,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    reviewed_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    reviewed_at: Option<OffsetDateTime>,
    review_note: Option<String>,
    review_outcome: Option<String>,
}

impl From<&BreakGlass> for BreakGlassOut {
    fn from(g: &BreakGlass) -> Self {
        BreakGlassOut {
            id: g.id,
            user_id: g.user_id,
            institution_id: g.institution_id,
            resident_id: g.resident_id,
            reason: g.reason.clone(),
            started_at: g.started_at,
            expires_at: g.expires_at,
            reviewed_by: g.reviewed_by,
            reviewed_at: g.reviewed_at,
            review_note: g.review_note.clone(),
            review_outcome: g.review_outcome.clone(),
        }
    }
}
