//! The organisation registry: communities, institutions, departments and staff.

use crate::code_enum;
use crate::error::{Reason, ValidationError, ValidationErrors};
use crate::ident::{self, DivisionCode, IdNumber, LicenceNumber, Phone, Sex, Uscc};
use uuid::Uuid;

code_enum! {
    /// The four forms of medical alliance (医联体).
    pub enum AllianceForm {
        CountyCommunity = ("county_community", "县域医共体", "County medical community"),
        UrbanGroup = ("urban_group", "城市医疗集团", "Urban medical group"),
        SpecialistAlliance = ("specialist_alliance", "专科联盟", "Specialist alliance"),
        TelemedicineNetwork = ("telemedicine_network", "远程医疗协作网", "Telemedicine network"),
    }
}

code_enum! {
    /// Level of an institution in the community: county (head), township (hub), village (base).
    pub enum Tier {
        County = ("county", "县级", "County"),
        Township = ("township", "乡镇级", "Township"),
        Village = ("village", "村级", "Village"),
    }
}

code_enum! {
    /// Kind of institution.
    pub enum InstitutionType {
        CountyGeneralHospital = ("county_general_hospital", "县级综合医院", "County general hospital"),
        TcmHospital = ("tcm_hospital", "中医医院", "TCM hospital"),
        MchHospital = ("mch_hospital", "妇幼保健院", "Maternal and child health hospital"),
        TownshipHealthCentre = ("township_health_centre", "乡镇卫生院", "Township health centre"),
        CommunityHealthCentre = ("community_health_centre", "社区卫生服务中心", "Community health centre"),
        CommunityHealthStation = ("community_health_station", "社区卫生服务站", "Community health station"),
        VillageClinic = ("village_clinic", "村卫生室", "Village clinic"),
        Cdc = ("cdc", "疾病预防控制中心", "Centre for disease control"),
        PrivateHospital = ("private_hospital", "民营医院", "Private hospital"),
        NursingHome = ("nursing_home", "养老机构", "Nursing home"),
        Rehabilitation = ("rehabilitation", "康复机构", "Rehabilitation institution"),
        Other = ("other", "其他", "Other"),
    }
}

impl InstitutionType {
    /// The tiers an institution of this type may have.
    pub fn allowed_tiers(self) -> &'static [Tier] {
        use InstitutionType::*;
        match self {
            CountyGeneralHospital | TcmHospital | MchHospital | Cdc => &[Tier::County],
            TownshipHealthCentre | CommunityHealthCentre => &[Tier::Township],
            VillageClinic | CommunityHealthStation => &[Tier::Village],
            PrivateHospital | NursingHome | Rehabilitation | Other => {
                &[Tier::County, Tier::Township, Tier::Village]
            }
        }
    }

    /// The usual tier of this type.
    pub fn default_tier(self) -> Tier {
        self.allowed_tiers()
            .first()
            .copied()
            .unwrap_or(Tier::County)
    }
}

impl Tier {
    /// The tier an institution of this tier reports to (its parent's tier), if any.
    pub fn parent_tier(self) -> Option<Tier> {
        match self {
            Tier::County => None,
            Tier::Township => Some(Tier::County),
            Tier::Village => Some(Tier::Township),
        }
    }
}

code_enum! {
    /// Services an institution offers, used for referral and sharing-centre routing.
    pub enum ServiceKind {
        Outpatient = ("outpatient", "门诊", "Outpatient"),
        Emergency = ("emergency", "急诊", "Emergency"),
        Inpatient = ("inpatient", "住院", "Inpatient"),
        Ct = ("ct", "CT", "CT"),
        Mri = ("mri", "磁共振", "MRI"),
        Dr = ("dr", "DR 放射", "X-ray (DR)"),
        Ultrasound = ("ultrasound", "超声", "Ultrasound"),
        Ecg = ("ecg", "心电图", "ECG"),
        Lab = ("lab", "检验", "Laboratory"),
        Pathology = ("pathology", "病理", "Pathology"),
        Endoscopy = ("endoscopy", "内镜", "Endoscopy"),
        Dialysis = ("dialysis", "血液透析", "Dialysis"),
        Surgery = ("surgery", "手术", "Surgery"),
        Obstetrics = ("obstetrics", "产科分娩", "Obstetrics"),
        Tcm = ("tcm", "中医药", "TCM"),
        Rehabilitation = ("rehabilitation", "康复", "Rehabilitation"),
        Vaccination = ("vaccination", "预防接种", "Vaccination"),
        PublicHealth = ("public_health", "基本公共卫生", "Basic public health"),
        FamilyDoctor = ("family_doctor", "家庭医生签约", "Family doctor"),
        Pharmacy = ("pharmacy", "药房", "Pharmacy"),
        Sterilisation = ("sterilisation", "消毒供应", "Sterilisation supply"),
        Telemedicine = ("telemedicine", "远程医疗", "Telemedicine"),
    }
}

code_enum! {
    /// Professional title of a staff member.
    pub enum ProfessionalTitle {
        ChiefPhysician = ("chief_physician", "主任医师", "Chief physician"),
        AssociateChiefPhysician = ("associate_chief_physician", "副主任医师", "Associate chief physician"),
        AttendingPhysician = ("attending_physician", "主治医师", "Attending physician"),
        Physician = ("physician", "医师", "Physician"),
        AssistantPhysician = ("assistant_physician", "执业助理医师", "Assistant physician"),
        VillageDoctor = ("village_doctor", "乡村医生", "Village doctor"),
        ChiefNurse = ("chief_nurse", "主任护师", "Chief nurse"),
        AssociateChiefNurse = ("associate_chief_nurse", "副主任护师", "Associate chief nurse"),
        SupervisorNurse = ("supervisor_nurse", "主管护师", "Supervisor nurse"),
        NursePractitioner = ("nurse_practitioner", "护师", "Nurse practitioner"),
        Nurse = ("nurse", "护士", "Nurse"),
        Pharmacist = ("pharmacist", "药师", "Pharmacist"),
        SeniorPharmacist = ("senior_pharmacist", "主管药师", "Senior pharmacist"),
        Technician = ("technician", "技师", "Technician"),
        SeniorTechnician = ("senior_technician", "主管技师", "Senior technician"),
        PublicHealthPhysician = ("public_health_physician", "公卫医师", "Public-health physician"),
        Administrator = ("administrator", "管理人员", "Administrator"),
        Other = ("other", "其他", "Other"),
    }
}

impl ProfessionalTitle {
    /// Doctors who see patients of their own (physicians of every grade, assistant physicians,
    /// village doctors): who a down-referral can name as the resident's doctor.
    pub fn is_doctor(self) -> bool {
        matches!(
            self,
            ProfessionalTitle::ChiefPhysician
                | ProfessionalTitle::AssociateChiefPhysician
                | ProfessionalTitle::AttendingPhysician
                | ProfessionalTitle::Physician
                | ProfessionalTitle::AssistantPhysician
                | ProfessionalTitle::VillageDoctor
                | ProfessionalTitle::PublicHealthPhysician
        )
    }

    /// Titles of mid level or higher (中级及以上) for physicians, used by the posting indicator.
    pub fn is_mid_or_senior_physician(self) -> bool {
        matches!(
            self,
            ProfessionalTitle::ChiefPhysician
                | ProfessionalTitle::AssociateChiefPhysician
                | ProfessionalTitle::AttendingPhysician
        )
    }
}

/// Longest name of an institution, department or person we accept.
pub const NAME_MAX: usize = 100;
pub const ADDRESS_MAX: usize = 200;

fn uuid_field(field: &str, s: &str) -> Result<Uuid, ValidationError> {
    Uuid::parse_str(s.trim()).map_err(|_| ValidationError::new(field, Reason::Format("uuid")))
}

fn optional_uuid(field: &str, s: Option<&str>) -> Result<Option<Uuid>, ValidationError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => uuid_field(field, v).map(Some),
    }
}

fn optional<T>(
    s: Option<&str>,
    f: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ValidationError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => f(v).map(Some),
    }
}

/// A community as submitted by a form or the API, not yet checked.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunityDraft {
    pub name: String,
    pub form: String,
    pub lead_institution_id: Option<String>,
    pub division_code: Option<String>,
    pub description: Option<String>,
}

/// A checked community.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityData {
    pub name: String,
    pub form: AllianceForm,
    pub lead_institution_id: Option<Uuid>,
    pub division_code: Option<DivisionCode>,
    pub description: Option<String>,
}

impl CommunityDraft {
    pub fn parse(&self) -> Result<CommunityData, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let name = errs.check(ident::text("name", &self.name, NAME_MAX));
        let form = errs.check(AllianceForm::parse("form", &self.form));
        let lead = errs.check(optional_uuid(
            "lead_institution_id",
            self.lead_institution_id.as_deref(),
        ));
        let division = errs.check(optional(self.division_code.as_deref(), |v| {
            DivisionCode::parse("division_code", v)
        }));
        let description = errs.check(ident::optional_text(
            "description",
            self.description.as_deref(),
            2000,
        ));
        match (name, form, lead, division, description) {
            (Some(name), Some(form), Some(lead), Some(division), Some(description)) => {
                Ok(CommunityData {
                    name,
                    form,
                    lead_institution_id: lead,
                    division_code: division,
                    description,
                })
            }
            _ => Err(errs),
        }
    }
}

/// An institution as submitted by a form or the API, not yet checked.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionDraft {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub kind: String,
    /// Empty means the usual tier of the kind.
    pub tier: Option<String>,
    pub parent_id: Option<String>,
    pub uscc: Option<String>,
    pub division_code: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub services: Vec<String>,
}

/// A checked institution.
#[derive(Debug, Clone, PartialEq)]
pub struct InstitutionData {
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: InstitutionType,
    pub tier: Tier,
    pub parent_id: Option<Uuid>,
    pub uscc: Option<Uscc>,
    pub division_code: DivisionCode,
    pub address: Option<String>,
    pub phone: Option<Phone>,
    pub services: Vec<ServiceKind>,
}

impl InstitutionDraft {
    pub fn parse(&self) -> Result<InstitutionData, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let name = errs.check(ident::text("name", &self.name, NAME_MAX));
        let mut aliases = Vec::new();
        for (i, a) in self.aliases.iter().enumerate() {
            if a.trim().is_empty() {
                continue;
            }
            if let Some(a) = errs.check(ident::text(&format!("aliases[{i}]"), a, NAME_MAX))
                && !aliases.contains(&a)
                && Some(&a) != name.as_ref()
            {
                aliases.push(a);
            }
        }
        let kind = errs.check(InstitutionType::parse("kind", &self.kind));
        let tier = match (kind, self.tier.as_deref().map(str::trim)) {
            (Some(k), None | Some("")) => Some(k.default_tier()),
            (kind, Some(t)) => errs.check(Tier::parse("tier", t)).and_then(|t| match kind {
                Some(k) if !k.allowed_tiers().contains(&t) => {
                    errs.push(ValidationError::new(
                        "tier",
                        Reason::Other(crate::msg!("org.kind_tier", kind = k, tier = t)),
                    ));
                    None
                }
                _ => Some(t),
            }),
            (None, None) => None,
        };
        let parent_id = errs.check(optional_uuid("parent_id", self.parent_id.as_deref()));
        if tier == Some(Tier::Village) && parent_id == Some(None) {
            errs.push(ValidationError::new(
                "parent_id",
                Reason::Other(crate::msg!("org.village_needs_township")),
            ));
        }
        let uscc = errs.check(optional(self.uscc.as_deref(), |v| Uscc::parse("uscc", v)));
        let division = errs.check(DivisionCode::parse("division_code", &self.division_code));
        let address = errs.check(ident::optional_text(
            "address",
            self.address.as_deref(),
            ADDRESS_MAX,
        ));
        let phone = errs.check(optional(self.phone.as_deref(), |v| {
            Phone::parse("phone", v)
        }));
        let mut services = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            if let Some(s) = errs.check(ServiceKind::parse(&format!("services[{i}]"), s))
                && !services.contains(&s)
            {
                services.push(s);
            }
        }
        services.sort();
        if !errs.is_empty() {
            return Err(errs);
        }
        match (name, kind, tier, parent_id, uscc, division, address, phone) {
            (
                Some(name),
                Some(kind),
                Some(tier),
                Some(parent_id),
                Some(uscc),
                Some(division_code),
                Some(address),
                Some(phone),
            ) => Ok(InstitutionData {
                name,
                aliases,
                kind,
                tier,
                parent_id,
                uscc,
                division_code,
                address,
                phone,
                services,
            }),
            _ => Err(errs),
        }
    }
}

/// Names of departments that do not see patients of their own: medical technology (检验, 影像,
/// 放射, 病理, 心电, 超声, 药剂, 麻醉) and administration (医务, 护理部, 信息, 财务, 办公室,
/// 后勤, 公共卫生, 预防接种). A referral is addressed to a clinical department (《医疗机构诊疗科目
/// 名录》 lists these as 医技科室 or they are no 诊疗科目 at all); tests and imaging are booked as
/// resources of the referral instead.
const NOT_CLINICAL: &[&str] = &[
    "检验",
    "影像",
    "放射",
    "病理",
    "心电",
    "超声",
    "药剂",
    "药房",
    "药库",
    "中药房",
    "麻醉",
    "医务",
    "护理部",
    "信息",
    "财务",
    "办公室",
    "院办",
    "后勤",
    "总务",
    "公共卫生",
    "预防接种",
    "设备",
    "质控",
    "医保",
];

/// Whether a department, by its name, sees patients (a referral can be addressed to it).
pub fn is_clinical_department(name: &str) -> bool {
    !NOT_CLINICAL.iter().any(|k| name.contains(k))
}

/// A department as submitted, not yet checked.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDraft {
    pub name: String,
    pub code: Option<String>,
    /// Staffed inpatient beds; 0 or empty for outpatient-only departments.
    pub beds: Option<i64>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentData {
    pub name: String,
    pub code: Option<String>,
    pub beds: i64,
    pub phone: Option<Phone>,
}

pub const BEDS_MAX: i64 = 5000;

impl DepartmentDraft {
    pub fn parse(&self) -> Result<DepartmentData, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let name = errs.check(ident::text("name", &self.name, NAME_MAX));
        let code = errs.check(optional(self.code.as_deref(), |v| {
            if v.len() <= 40
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                Ok(v.to_ascii_lowercase())
            } else {
                Err(ValidationError::new("code", Reason::Format("local_code")))
            }
        }));
        let beds = match self.beds {
            None => Some(0),
            Some(b) if (0..=BEDS_MAX).contains(&b) => Some(b),
            Some(_) => {
                errs.push(ValidationError::new(
                    "beds",
                    Reason::Range {
                        min: 0,
                        max: BEDS_MAX,
                    },
                ));
                None
            }
        };
        let phone = errs.check(optional(self.phone.as_deref(), |v| {
            Phone::parse("phone", v)
        }));
        match (name, code, beds, phone) {
            (Some(name), Some(code), Some(beds), Some(phone)) if errs.is_empty() => {
                Ok(DepartmentData {
                    name,
                    code,
                    beds,
                    phone,
                })
            }
            _ => Err(errs),
        }
    }
}

/// A staff member as submitted, not yet checked.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffDraft {
    pub name: String,
    pub sex: String,
    pub title: String,
    pub institution_id: String,
    pub department_id: Option<String>,
    pub licence_number: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffData {
    pub name: String,
    pub sex: Sex,
    pub title: ProfessionalTitle,
    pub institution_id: Uuid,
    pub department_id: Option<Uuid>,
    pub licence_number: Option<LicenceNumber>,
    pub id_number: Option<IdNumber>,
    pub phone: Option<Phone>,
}

impl StaffDraft {
    pub fn parse(&self) -> Result<StaffData, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let name = errs.check(ident::person_name("name", &self.name, NAME_MAX));
        let sex = errs.check(Sex::parse("sex", &self.sex));
        let title = errs.check(ProfessionalTitle::parse("title", &self.title));
        let institution_id = errs.check(if self.institution_id.trim().is_empty() {
            Err(ValidationError::new("institution_id", Reason::Required))
        } else {
            uuid_field("institution_id", &self.institution_id)
        });
        let department_id = errs.check(optional_uuid(
            "department_id",
            self.department_id.as_deref(),
        ));
        let licence = errs.check(optional(self.licence_number.as_deref(), |v| {
            LicenceNumber::parse("licence_number", v)
        }));
        let id_number = errs.check(optional(self.id_number.as_deref(), |v| {
            IdNumber::parse("id_number", v)
        }));
        let phone = errs.check(optional(self.phone.as_deref(), |v| {
            Phone::parse("phone", v)
        }));
        if let (Some(Some(id)), Some(sex)) = (&id_number, sex)
            && matches!(sex, Sex::Male | Sex::Female)
            && id.sex() != sex
        {
            errs.push(ValidationError::new(
                "sex",
                Reason::Other(crate::msg!("common.sex_differs_from_id")),
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        match (
            name,
            sex,
            title,
            institution_id,
            department_id,
            licence,
            id_number,
            phone,
        ) {
            (
                Some(name),
                Some(sex),
                Some(title),
                Some(institution_id),
                Some(department_id),
                Some(licence_number),
                Some(id_number),
                Some(phone),
            ) => Ok(StaffData {
                name,
                sex,
                title,
                institution_id,
                department_id,
                licence_number,
                id_number,
                phone,
            }),
            _ => Err(errs),
        }
    }
}

#[cfg(test)]
mod clinical_department_tests {
    use super::is_clinical_department;

    #[test]
    fn clinical_departments_by_name() {
        for name in [
            "心血管内科",
            "神经内科",
            "急诊科",
            "骨科",
            "儿科",
            "全科医学科",
            "中医科",
            "住院部",
            "康复医学科",
            "妇产科",
            "感染科",
            "针灸推拿科",
            "儿童保健科",
        ] {
            assert!(is_clinical_department(name), "{name} sees patients");
        }
        for name in [
            "检验科",
            "医学影像科",
            "放射科",
            "病理科",
            "心电诊断科",
            "超声心电科",
            "药剂科",
            "药房",
            "中药房",
            "麻醉科",
            "护理部",
            "医务科",
            "县医院信息科",
            "公共卫生科",
            "预防接种门诊",
        ] {
            assert!(
                !is_clinical_department(name),
                "{name} is no referral's department"
            );
        }
    }
}
