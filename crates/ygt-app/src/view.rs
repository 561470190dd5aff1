//! Residents as the use cases hand them to every door: ID, phone, insurance and health-card
//! numbers are masked types, decided here once. Only the audited reveal
//! ([`crate::App::reveal_person`]) returns full numbers.

use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ygt_domain::masked::{self, MaskedIdNumber, MaskedNumber, MaskedPhone};
use ygt_store::mpi::{Person, Registration};

/// A person (golden record) with masked identifiers.
#[derive(Debug, Clone)]
pub struct PersonView {
    pub id: Uuid,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<Date>,
    pub id_number: Option<MaskedIdNumber>,
    pub phone: Option<MaskedPhone>,
    pub address: Option<String>,
    pub division_code: Option<String>,
    pub village_group: Option<String>,
    pub household_number: Option<String>,
    pub ethnicity: Option<String>,
    pub nationality: Option<String>,
    pub registrations: i64,
    pub merged_into: Option<Uuid>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl From<&Person> for PersonView {
    fn from(p: &Person) -> Self {
        PersonView {
            id: p.id,
            name: p.name.clone(),
            sex: p.sex.clone(),
            birth_date: p.birth_date,
            id_number: masked::id_number(p.id_number.as_deref()),
            phone: masked::phone(p.phone.as_deref()),
            address: p.address.clone(),
            division_code: p.division_code.clone(),
            village_group: p.village_group.clone(),
            household_number: p.household_number.clone(),
            ethnicity: p.ethnicity.clone(),
            nationality: p.nationality.clone(),
            registrations: p.registrations,
            merged_into: p.merged_into,
            active: p.active,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl PersonView {
    /// The person as one registration of it shows it: for a writer who may not open the
    /// person, only what it sent itself.
    pub fn of_registration(p: &Person, r: &Registration) -> Self {
        PersonView {
            name: r.name.clone(),
            sex: r.sex.clone(),
            birth_date: r.birth_date,
            id_number: masked::id_number(r.id_number.as_deref().or(r.id_number_raw.as_deref())),
            phone: masked::phone(r.phone.as_deref()),
            address: r.address.clone(),
            division_code: r.division_code.clone(),
            village_group: r.village_group.clone(),
            household_number: r.household_number.clone(),
            ethnicity: r.ethnicity.clone(),
            nationality: r.nationality.clone(),
            registrations: 1,
            ..PersonView::from(p)
        }
    }
}

/// A registration as its institution sent it, identifiers masked (an invalid ID number as
/// typed too).
#[derive(Debug, Clone)]
pub struct RegistrationView {
    pub id: Uuid,
    pub person_id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub record_id: Option<String>,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<Date>,
    pub id_number: Option<MaskedIdNumber>,
    pub id_number_valid: bool,
    pub phone: Option<MaskedPhone>,
    pub address: Option<String>,
    pub insurance_number: Option<MaskedNumber>,
    pub health_card_number: Option<MaskedNumber>,
    pub division_code: Option<String>,
    pub village_group: Option<String>,
    pub household_number: Option<String>,
    pub ethnicity: Option<String>,
    pub nationality: Option<String>,
    pub registered_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl From<&Registration> for RegistrationView {
    fn from(r: &Registration) -> Self {
        RegistrationView {
            id: r.id,
            person_id: r.person_id,
            institution_id: r.institution_id,
            institution_name: r.institution_name.clone(),
            record_id: r.record_id.clone(),
            name: r.name.clone(),
            sex: r.sex.clone(),
            birth_date: r.birth_date,
            id_number: masked::id_number(r.id_number.as_deref().or(r.id_number_raw.as_deref())),
            id_number_valid: r.id_number.is_some(),
            phone: masked::phone(r.phone.as_deref()),
            address: r.address.clone(),
            insurance_number: masked::number(r.insurance_number.as_deref()),
            health_card_number: masked::number(r.health_card_number.as_deref()),
            division_code: r.division_code.clone(),
            village_group: r.village_group.clone(),
            household_number: r.household_number.clone(),
            ethnicity: r.ethnicity.clone(),
            nationality: r.nationality.clone(),
            registered_at: r.registered_at,
            updated_at: r.updated_at,
        }
    }
}

/// Full identifiers of a person and its registrations: what the audited reveal returns.
#[derive(Debug, Clone, Serialize)]
pub struct Revealed {
    pub person_id: Uuid,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    /// (registration, ID number as typed, phone)
    pub registrations: Vec<RevealedRegistration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevealedRegistration {
    pub id: Uuid,
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

impl Revealed {
    pub(crate) fn of(p: &Person, regs: &[Registration]) -> Self {
        Revealed {
            person_id: p.id,
            id_number: p.id_number.clone(),
            phone: p.phone.clone(),
            registrations: regs
                .iter()
                .map(|r| RevealedRegistration {
                    id: r.id,
                    id_number: r.id_number.clone().or_else(|| r.id_number_raw.clone()),
                    phone: r.phone.clone(),
                })
                .collect(),
        }
    }
}

/// A resident found by search.
#[derive(Debug, Clone)]
pub struct Found {
    pub person: PersonView,
    /// In the searcher's data scope. A resident outside it is found only by the exact ID
    /// number with the name, and opens nothing.
    pub in_scope: bool,
    /// The institutions where the resident is registered (in scope only), to tell two
    /// residents of one name apart.
    pub registered_at: Vec<String>,
}

impl Found {
    pub fn in_scope(person: PersonView) -> Self {
        Found {
            person,
            in_scope: true,
            registered_at: Vec::new(),
        }
    }

    /// A resident outside the searcher's scope: what the searcher typed (name, ID number,
    /// masked) and what the number implies (sex, birth date), nothing more.
    pub fn outside(p: &Person) -> Self {
        let full = PersonView::from(p);
        Found {
            person: PersonView {
                phone: None,
                address: None,
                division_code: None,
                village_group: None,
                household_number: None,
                ethnicity: None,
                nationality: None,
                registrations: 0,
                ..full
            },
            in_scope: false,
            registered_at: Vec::new(),
        }
    }
}
