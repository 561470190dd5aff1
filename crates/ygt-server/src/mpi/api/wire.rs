//! The wire types of the master patient index API: residents with masked identifiers (the
//! use cases mask them), their registrations, history and review tasks. Dates are
//! `YYYY-MM-DD`, times RFC 3339.

use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ygt_app::mpi::{Registered, TaskDetail};
use ygt_app::view::{Found, PersonView, RegistrationView};
use ygt_app::ygt_store::mpi::HistoryEntry;
use ygt_domain::masked::{MaskedIdNumber, MaskedPhone};

use crate::door::api::ymd;

/// A person as lists show it: identifiers masked (by the use case).
#[derive(Serialize)]
pub struct PersonOut {
    id: Uuid,
    name: String,
    sex: String,
    #[serde(with = "ymd::option")]
    birth_date: Option<Date>,
    id_number_masked: Option<MaskedIdNumber>,
    phone_masked: Option<MaskedPhone>,
    address: Option<String>,
    registrations: i64,
    active: bool,
    merged_into: Option<Uuid>,
    /// In the caller's data scope (search results only; a resident outside it was found by
    /// the exact ID number with the name and cannot be opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    in_scope: Option<bool>,
    /// Institutions where the resident is registered (search results in scope only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registered_at: Vec<String>,
}

impl From<&PersonView> for PersonOut {
    fn from(p: &PersonView) -> Self {
        PersonOut {
            id: p.id,
            name: p.name.clone(),
            sex: p.sex.clone(),
            birth_date: p.birth_date,
            id_number_masked: p.id_number.clone(),
            phone_masked: p.phone.clone(),
            address: p.address.clone(),
            registrations: p.registrations,
            active: p.active,
            merged_into: p.merged_into,
            in_scope: None,
            registered_at: Vec::new(),
        }
    }
}

impl From<&Found> for PersonOut {
    fn from(f: &Found) -> Self {
        PersonOut {
            in_scope: Some(f.in_scope),
            registered_at: f.registered_at.clone(),
            ..PersonOut::from(&f.person)
        }
    }
}

/// A registration as its institution sent it, identifiers masked.
#[derive(Serialize)]
pub struct RegistrationOut {
    id: Uuid,
    person_id: Uuid,
    institution_id: Uuid,
    institution_name: String,
    record_id: Option<String>,
    name: String,
    sex: String,
    #[serde(with = "ymd::option")]
    birth_date: Option<Date>,
    id_number_masked: Option<MaskedIdNumber>,
    id_number_valid: bool,
    phone_masked: Option<MaskedPhone>,
    address: Option<String>,
}

impl From<&RegistrationView> for RegistrationOut {
    fn from(r: &RegistrationView) -> Self {
        RegistrationOut {
            id: r.id,
            person_id: r.person_id,
            institution_id: r.institution_id,
            institution_name: r.institution_name.clone(),
            record_id: r.record_id.clone(),
            name: r.name.clone(),
            sex: r.sex.clone(),
            birth_date: r.birth_date,
            id_number_masked: r.id_number.clone(),
            id_number_valid: r.id_number_valid,
            phone_masked: r.phone.clone(),
            address: r.address.clone(),
        }
    }
}

/// What registering did.
#[derive(Serialize)]
pub struct RegisteredOut {
    person_id: Uuid,
    registration_id: Uuid,
    outcome: &'static str,
    id_number_valid: bool,
    tasks: usize,
}

impl From<&Registered> for RegisteredOut {
    fn from(r: &Registered) -> Self {
        RegisteredOut {
            person_id: r.person_id,
            registration_id: r.registration_id,
            outcome: r.outcome,
            id_number_valid: r.id_number_valid,
            tasks: r.tasks,
        }
    }
}

/// One entry of a person's history (registered, linked, merged, split, …).
#[derive(Serialize)]
pub struct HistoryOut {
    id: Uuid,
    person_id: Uuid,
    registration_id: Option<Uuid>,
    action: String,
    other_person_id: Option<Uuid>,
    detail: Option<String>,
    actor: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

impl From<&HistoryEntry> for HistoryOut {
    fn from(h: &HistoryEntry) -> Self {
        HistoryOut {
            id: h.id,
            person_id: h.person_id,
            registration_id: h.registration_id,
            action: h.action.clone(),
            other_person_id: h.other_person_id,
            detail: h.detail.clone(),
            actor: h.actor.clone(),
            at: h.at,
        }
    }
}

/// A resident with its registrations and history.
#[derive(Serialize)]
pub struct PersonDetailOut {
    pub person: PersonOut,
    pub registrations: Vec<RegistrationOut>,
    pub history: Vec<HistoryOut>,
}

/// A review task: a registration, the person it may be, and why.
#[derive(Serialize)]
pub struct MatchTaskOut {
    id: Uuid,
    weight: f64,
    registration: RegistrationOut,
    candidate: PersonOut,
    explanation: serde_json::Value,
}

impl From<&TaskDetail> for MatchTaskOut {
    fn from(t: &TaskDetail) -> Self {
        MatchTaskOut {
            id: t.task.id,
            weight: t.task.weight,
            registration: RegistrationOut::from(&t.registration),
            candidate: PersonOut::from(&t.candidate),
            explanation: t.explanation.clone(),
        }
    }
}

/// A merge done: the retired person and the one it went into.
#[derive(Serialize)]
pub struct MergedOut {
    pub merged: Uuid,
    pub into: Uuid,
}

/// The person a registration now belongs to.
#[derive(Serialize)]
pub struct PersonIdOut {
    pub person_id: Uuid,
}

/// A review task decided as "not the same person".
#[derive(Serialize)]
pub struct NotSameOut {
    pub status: &'static str,
}
