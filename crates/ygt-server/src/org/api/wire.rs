//! The wire types of the organisation API: what the JSON answers hold, converted from the
//! store's rows. Codes go out as their stable codes, times as RFC 3339.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::org::CommunityDetail;
use ygt_app::ygt_store::org::{Community, Department, Institution, Staff};
use ygt_domain::ident::Sex;
use ygt_domain::masked::{self, MaskedIdNumber, MaskedPhone};
use ygt_domain::org::{AllianceForm, InstitutionType, ProfessionalTitle, ServiceKind, Tier};

#[derive(Serialize)]
pub struct CommunityOut {
    id: Uuid,
    name: String,
    form: AllianceForm,
    lead_institution_id: Option<Uuid>,
    division_code: Option<String>,
    description: Option<String>,
    active: bool,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    member_count: i64,
}

impl From<&Community> for CommunityOut {
    fn from(c: &Community) -> Self {
        CommunityOut {
            id: c.id,
            name: c.name.clone(),
            form: c.form,
            lead_institution_id: c.lead_institution_id,
            division_code: c.division_code.clone(),
            description: c.description.clone(),
            active: c.active,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
            member_count: c.member_count,
        }
    }
}

/// A community with its lead and member institutions.
#[derive(Serialize)]
pub struct CommunityDetailOut {
    community: CommunityOut,
    lead: Option<InstitutionOut>,
    members: Vec<InstitutionOut>,
}

impl From<&CommunityDetail> for CommunityDetailOut {
    fn from(d: &CommunityDetail) -> Self {
        CommunityDetailOut {
            community: CommunityOut::from(&d.community),
            lead: d.lead.as_ref().map(InstitutionOut::from),
            members: d.members.iter().map(InstitutionOut::from).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct InstitutionOut {
    id: Uuid,
    name: String,
    aliases: Vec<String>,
    kind: InstitutionType,
    tier: Tier,
    parent_id: Option<Uuid>,
    uscc: Option<String>,
    division_code: String,
    address: Option<String>,
    phone: Option<String>,
    services: Vec<ServiceKind>,
    active: bool,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    staff_count: i64,
    children_count: i64,
    beds: i64,
}

impl From<&Institution> for InstitutionOut {
    fn from(i: &Institution) -> Self {
        InstitutionOut {
            id: i.id,
            name: i.name.clone(),
            aliases: i.aliases.clone(),
            kind: i.kind,
            tier: i.tier,
            parent_id: i.parent_id,
            uscc: i.uscc.clone(),
            division_code: i.division_code.clone(),
            address: i.address.clone(),
            phone: i.phone.clone(),
            services: i.services.clone(),
            active: i.active,
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
            staff_count: i.staff_count,
            children_count: i.children_count,
            beds: i.beds,
        }
    }
}

#[derive(Serialize)]
pub struct DepartmentOut {
    id: Uuid,
    institution_id: Uuid,
    name: String,
    code: Option<String>,
    beds: i64,
    phone: Option<String>,
    active: bool,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    staff_count: i64,
}

impl From<&Department> for DepartmentOut {
    fn from(d: &Department) -> Self {
        DepartmentOut {
            id: d.id,
            institution_id: d.institution_id,
            name: d.name.clone(),
            code: d.code.clone(),
            beds: d.beds,
            phone: d.phone.clone(),
            active: d.active,
            version: d.version,
            created_at: d.created_at,
            updated_at: d.updated_at,
            staff_count: d.staff_count,
        }
    }
}

/// A staff member as the API shows it: ID and phone numbers masked.
#[derive(Serialize)]
pub struct StaffOut {
    id: Uuid,
    institution_id: Uuid,
    institution_name: String,
    department_id: Option<Uuid>,
    department_name: Option<String>,
    name: String,
    sex: Sex,
    title: ProfessionalTitle,
    licence_number: Option<String>,
    id_number_masked: Option<MaskedIdNumber>,
    phone_masked: Option<MaskedPhone>,
    active: bool,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Staff> for StaffOut {
    fn from(s: &Staff) -> Self {
        StaffOut {
            id_number_masked: masked::id_number(s.id_number.as_deref()),
            phone_masked: masked::phone(s.phone.as_deref()),
            id: s.id,
            institution_id: s.institution_id,
            institution_name: s.institution_name.clone(),
            department_id: s.department_id,
            department_name: s.department_name.clone(),
            name: s.name.clone(),
            sex: s.sex,
            title: s.title,
            licence_number: s.licence_number.clone(),
            active: s.active,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}
