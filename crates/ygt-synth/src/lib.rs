//! ygt-synth: a synthetic county medical community, the same for the same seed forever.
//!
//! The generator writes through the use cases of `ygt-app` (never around them), so that what it
//! makes passes every rule a person's input must pass. Each kind of data draws from its own
//! forked random stream: adding a new kind later leaves the existing ones unchanged.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clinical;
pub mod names;
pub mod referrals;
pub mod residents;
pub mod retime;
pub mod rng;

use std::collections::HashSet;

use time::{Date, Month};
use uuid::Uuid;
use ygt_app::account::AccountDraft;
use ygt_app::{App, AppError, Ctx};
use ygt_domain::access::Role;
use ygt_domain::ident::{IdNumber, Uscc};
use ygt_domain::org::{
    AllianceForm, CommunityDraft, DepartmentDraft, InstitutionDraft, InstitutionType,
    ProfessionalTitle, ServiceKind, StaffDraft,
};

use rng::Rng;

/// How big a county to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The demo: county, TCM and MCH hospitals, 8 township centres, 40 village clinics, ~300 staff.
    Small,
    /// For benchmarks: 20 township centres, 300 village clinics, ~3,000 staff.
    County,
}

impl Scale {
    pub fn parse(s: &str) -> Option<Scale> {
        match s {
            "small" => Some(Scale::Small),
            "county" => Some(Scale::County),
            _ => None,
        }
    }

    fn townships(self) -> usize {
        match self {
            Scale::Small => 8,
            Scale::County => 20,
        }
    }

    fn villages_per_township(self) -> usize {
        match self {
            Scale::Small => 5,
            Scale::County => 15,
        }
    }

    /// Staff of (county hospital, TCM hospital, MCH hospital, each township centre).
    fn staff(self) -> (usize, usize, usize, usize) {
        match self {
            Scale::Small => (110, 30, 25, 12),
            Scale::County => (600, 200, 150, 60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the database already holds institutions; generate writes into an empty database only")]
    NotEmpty,
    #[error(transparent)]
    App(#[from] AppError),
}

/// What was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub communities: usize,
    pub institutions: usize,
    pub departments: usize,
    pub staff: usize,
    /// One demo account per role: (user name, role, institution name).
    pub accounts: Vec<(String, Role, String)>,
}

/// The demo accounts: user name and role (one per role).
pub const DEMO_ACCOUNTS: &[(&str, Role)] = &[
    ("admin", Role::SystemAdmin),
    ("community", Role::CommunityAdmin),
    ("hospital.admin", Role::InstitutionAdmin),
    ("township.admin", Role::InstitutionAdmin),
    ("doctor", Role::Doctor),
    ("township.doctor", Role::Doctor),
    ("nurse", Role::Nurse),
    ("village", Role::VillageDoctor),
    ("publichealth", Role::PublicHealth),
    ("referral", Role::ReferralCoordinator),
    ("reader", Role::SharingReader),
    ("pharmacist", Role::Pharmacist),
    ("finance", Role::Finance),
    ("auditor", Role::Auditor),
    ("steward", Role::MpiSteward),
];

/// The accounts to walk through two-way referral with (printed by `ygt demo`): user name and
/// what their worklists hold as soon as the demo starts.
pub const REFERRAL_WALKTHROUGH: &[(&str, &str)] = &[
    (
        "village",
        "村医：上转草稿、待接收与超时、待交接的下转、随访任务 / village doctor: drafts, open and overdue up-referrals, down-referrals to take over, follow-up tasks",
    ),
    (
        "doctor",
        "县医院心内科医生：待接收的上转、已预约与到诊待反馈、下转与治疗方案 / county cardiologist: incoming up-referrals, scheduled and arrived ones to complete, down-referrals with plans",
    ),
    (
        "referral",
        "县医院转诊中心：接收、拒绝、改派、预约号源、超时 / county referral coordinator: accept, reject, redirect, book slots, overdue",
    ),
    (
        "township.doctor",
        "乡镇卫生院医生：本院及所辖村卫生室的转诊 / township doctor: referrals of the centre and its village clinics",
    ),
];

/// The password of every demo account (printed by `ygt demo`; never use the demo in production).
pub const DEMO_PASSWORD: &str = "Demo-Kite#58";

/// Progress callback: (steps done, steps in all).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// The fictional county: 云溪县, 临江市, 安徽省 (division code 341890).
pub const COUNTY_DIVISION: &str = "341890";

struct Gen<'a> {
    app: &'a App,
    ctx: Ctx,
    rng: Rng,
    ids: HashSet<String>,
    licence_seq: u64,
    summary: Summary,
    done: u64,
    total: u64,
    progress: Progress<'a>,
}

/// Writes a synthetic county into an empty database.
pub async fn generate(
    app: &App,
    seed: u64,
    scale: Scale,
    progress: Progress<'_>,
) -> Result<Summary, GenerateError> {
    let existing = app
        .store()
        .count_institutions(&ygt_app::ygt_store::org::InstitutionFilter {
            include_inactive: true,
            ..Default::default()
        })
        .await
        .map_err(AppError::from)?;
    if existing > 0 {
        return Err(GenerateError::NotEmpty);
    }
    let (c, t, m, per_town) = scale.staff();
    let towns = scale.townships();
    let villages = towns * scale.villages_per_township();
    let total =
        (3 + towns + villages) as u64 + (c + t + m + per_town * towns) as u64 + villages as u64 * 2;
    let mut g = Gen {
        app,
        ctx: Ctx::system(),
        rng: Rng::new(seed),
        ids: HashSet::new(),
        licence_seq: 0,
        summary: Summary::default(),
        done: 0,
        total,
        progress,
    };
    g.run(scale).await?;
    (g.progress)(g.total, g.total);
    Ok(g.summary)
}

fn s(v: &str) -> String {
    v.to_owned()
}

fn services(list: &[ServiceKind]) -> Vec<String> {
    list.iter().map(|x| x.code().to_owned()).collect()
}

impl Gen<'_> {
    fn tick(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(25) {
            (self.progress)(self.done.min(self.total), self.total);
        }
    }

    fn uscc(&mut self, rng: &mut Rng, division: &str) -> Option<String> {
        // 12 = public institution (事业单位), 2 = category; then division code and a 9-char body.
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        let mut body = format!("12{}", division.get(..6).unwrap_or(division));
        for _ in 0..9 {
            let i = rng.below(ALPHABET.len() as u64) as usize;
            body.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
        }
        Uscc::from_body(&body).ok().map(|u| u.as_str().to_owned())
    }

    fn phone(rng: &mut Rng) -> String {
        let prefixes = [
            "138", "139", "136", "150", "151", "152", "158", "187", "188", "177", "181", "199",
        ];
        let p = rng.pick(&prefixes).copied().unwrap_or("138");
        format!("{p}{:08}", rng.below(100_000_000))
    }

    fn landline(rng: &mut Rng) -> String {
        format!("0563-{}", 2_000_000 + rng.below(7_000_000))
    }

    async fn institution(&mut self, d: InstitutionDraft) -> Result<Uuid, GenerateError> {
        let i = self.app.create_institution(&self.ctx, &d).await?;
        self.summary.institutions += 1;
        self.tick();
        Ok(i.id)
    }

    async fn departments(
        &mut self,
        inst: Uuid,
        table: &[names::Department],
    ) -> Result<Vec<Uuid>, GenerateError> {
        let mut out = Vec::new();
        for (name, code, beds) in table {
            let d = self
                .app
                .create_department(
                    &self.ctx,
                    inst,
                    &DepartmentDraft {
                        name: s(name),
                        code: Some(s(code)),
                        beds: Some(i64::from(*beds)),
                        phone: None,
                    },
                )
                .await?;
            self.summary.departments += 1;
            out.push(d.id);
        }
        Ok(out)
    }

    fn title_for(rng: &mut Rng, kind: InstitutionType) -> ProfessionalTitle {
        use ProfessionalTitle::*;
        match kind {
            InstitutionType::VillageClinic => {
                if rng.chance(0.8) {
                    VillageDoctor
                } else {
                    AssistantPhysician
                }
            }
            InstitutionType::TownshipHealthCentre => {
                let w = [2, 10, 22, 8, 0, 8, 4, 22, 4, 6, 4, 10];
                pick_title(rng, &w)
            }
            _ => {
                let w = [6, 10, 18, 14, 2, 0, 2, 5, 12, 15, 3, 13];
                pick_title(rng, &w)
            }
        }
    }

    async fn staff(
        &mut self,
        inst: Uuid,
        kind: InstitutionType,
        departments: &[Uuid],
        n: usize,
        rng: &mut Rng,
    ) -> Result<(), GenerateError> {
        for _ in 0..n {
            let title = Self::title_for(rng, kind);
            let nurse = matches!(
                title,
                ProfessionalTitle::Nurse
                    | ProfessionalTitle::NursePractitioner
                    | ProfessionalTitle::SupervisorNurse
                    | ProfessionalTitle::AssociateChiefNurse
                    | ProfessionalTitle::ChiefNurse
            );
            let female = if nurse {
                rng.chance(0.95)
            } else {
                rng.chance(0.45)
            };
            let age = match title {
                ProfessionalTitle::ChiefPhysician | ProfessionalTitle::ChiefNurse => {
                    rng.range(45, 60)
                }
                ProfessionalTitle::AssociateChiefPhysician
                | ProfessionalTitle::AssociateChiefNurse => rng.range(38, 58),
                ProfessionalTitle::AttendingPhysician | ProfessionalTitle::SupervisorNurse => {
                    rng.range(30, 55)
                }
                ProfessionalTitle::VillageDoctor => rng.range(35, 68),
                _ => rng.range(23, 50),
            };
            let year = 2026 - age;
            let year_i32 = i32::try_from(year).unwrap_or(1980);
            let name = names::person_name(rng, female, year_i32);
            let birth = Date::from_calendar_date(
                year_i32,
                Month::try_from(u8::try_from(rng.range(1, 12)).unwrap_or(1))
                    .unwrap_or(Month::January),
                u8::try_from(rng.range(1, 28)).unwrap_or(1),
            )
            .unwrap_or(Date::MIN);
            let id_number = loop {
                let mut seq = u16::try_from(rng.below(500)).unwrap_or(0) * 2;
                if !female {
                    seq += 1;
                }
                match IdNumber::from_parts(COUNTY_DIVISION, birth, seq) {
                    Ok(id) if self.ids.insert(id.as_str().to_owned()) => break Some(id),
                    Ok(_) => continue,
                    Err(_) => break None,
                }
            };
            self.licence_seq += 1;
            let licence = match title {
                ProfessionalTitle::VillageDoctor => format!("V341890{:08}", self.licence_seq),
                t if nurse || t == ProfessionalTitle::Nurse => {
                    format!("{year}34{:06}", self.licence_seq)
                }
                _ => format!("1{:02}34{year}{:06}", rng.below(100), self.licence_seq),
            };
            let department = if departments.is_empty() {
                None
            } else {
                rng.pick(departments).map(Uuid::to_string)
            };
            self.app
                .create_staff(
                    &self.ctx,
                    &StaffDraft {
                        name,
                        sex: if female { s("2") } else { s("1") },
                        title: title.code().to_owned(),
                        institution_id: inst.to_string(),
                        department_id: department,
                        licence_number: Some(licence),
                        id_number: id_number.map(|i| i.as_str().to_owned()),
                        phone: Some(Self::phone(rng)),
                    },
                )
                .await?;
            self.summary.staff += 1;
            self.tick();
        }
        Ok(())
    }

    async fn run(&mut self, scale: Scale) -> Result<(), GenerateError> {
        use ServiceKind::*;
        let mut places = self.rng.fork(1);
        let mut inst_rng = self.rng.fork(2);
        let mut staff_rng = self.rng.fork(3);
        let county = names::county_name();
        let seat = names::county_seat_town();
        let (n_county, n_tcm, n_mch, n_town) = scale.staff();

        // The county hospital leads; TCM and MCH hospitals are members at county level.
        let uscc = self.uscc(&mut inst_rng, COUNTY_DIVISION);
        let address = names::address(&mut places, seat, None);
        let hospital = self
            .institution(InstitutionDraft {
                name: format!("{county}人民医院"),
                aliases: vec![format!("{county}医共体总医院")],
                kind: s("county_general_hospital"),
                tier: None,
                parent_id: None,
                uscc,
                division_code: s(COUNTY_DIVISION),
                address: Some(address),
                phone: Some(Self::landline(&mut inst_rng)),
                services: services(&[
                    Outpatient,
                    Emergency,
                    Inpatient,
                    Ct,
                    Mri,
                    Dr,
                    Ultrasound,
                    Ecg,
                    Lab,
                    Pathology,
                    Endoscopy,
                    Dialysis,
                    Surgery,
                    Obstetrics,
                    Rehabilitation,
                    Pharmacy,
                    Sterilisation,
                    Telemedicine,
                ]),
            })
            .await?;
        let deps = self
            .departments(hospital, names::HOSPITAL_DEPARTMENTS)
            .await?;
        self.staff(
            hospital,
            InstitutionType::CountyGeneralHospital,
            &deps,
            n_county,
            &mut staff_rng,
        )
        .await?;

        let uscc = self.uscc(&mut inst_rng, COUNTY_DIVISION);
        let address = names::address(&mut places, seat, None);
        let tcm = self
            .institution(InstitutionDraft {
                name: format!("{county}中医医院"),
                aliases: Vec::new(),
                kind: s("tcm_hospital"),
                tier: None,
                parent_id: None,
                uscc,
                division_code: s(COUNTY_DIVISION),
                address: Some(address),
                phone: Some(Self::landline(&mut inst_rng)),
                services: services(&[
                    Outpatient,
                    Emergency,
                    Inpatient,
                    Dr,
                    Ultrasound,
                    Ecg,
                    Lab,
                    Tcm,
                    Rehabilitation,
                    Pharmacy,
                ]),
            })
            .await?;
        let deps = self.departments(tcm, names::TCM_DEPARTMENTS).await?;
        self.staff(
            tcm,
            InstitutionType::TcmHospital,
            &deps,
            n_tcm,
            &mut staff_rng,
        )
        .await?;

        let uscc = self.uscc(&mut inst_rng, COUNTY_DIVISION);
        let address = names::address(&mut places, seat, None);
        let mch = self
            .institution(InstitutionDraft {
                name: format!("{county}妇幼保健院"),
                aliases: Vec::new(),
                kind: s("mch_hospital"),
                tier: None,
                parent_id: None,
                uscc,
                division_code: s(COUNTY_DIVISION),
                address: Some(address),
                phone: Some(Self::landline(&mut inst_rng)),
                services: services(&[
                    Outpatient,
                    Inpatient,
                    Ultrasound,
                    Lab,
                    Obstetrics,
                    Vaccination,
                    PublicHealth,
                    Pharmacy,
                ]),
            })
            .await?;
        let deps = self.departments(mch, names::MCH_DEPARTMENTS).await?;
        self.staff(
            mch,
            InstitutionType::MchHospital,
            &deps,
            n_mch,
            &mut staff_rng,
        )
        .await?;

        let mut members = vec![hospital, tcm, mch];
        let mut first_town: Option<(Uuid, String)> = None;
        let mut first_village: Option<(Uuid, String)> = None;
        let towns = names::township_names(&mut places, scale.townships());
        for (ti, town) in towns.iter().enumerate() {
            let tdiv = format!("{COUNTY_DIVISION}{:03}", 100 + ti);
            let short = town.trim_end_matches(['镇', '乡']);
            let mut svc = vec![
                Outpatient,
                Inpatient,
                Dr,
                Ultrasound,
                Ecg,
                Lab,
                Tcm,
                Vaccination,
                PublicHealth,
                FamilyDoctor,
                Pharmacy,
                Telemedicine,
            ];
            if inst_rng.chance(0.25) {
                svc.push(Ct);
            }
            let uscc = self.uscc(&mut inst_rng, COUNTY_DIVISION);
            let address = names::address(&mut places, town, None);
            let centre = self
                .institution(InstitutionDraft {
                    name: format!("{town}卫生院"),
                    aliases: vec![format!("{county}人民医院{short}分院")],
                    kind: s("township_health_centre"),
                    tier: None,
                    parent_id: Some(hospital.to_string()),
                    uscc,
                    division_code: tdiv.clone(),
                    address: Some(address),
                    phone: Some(Self::landline(&mut inst_rng)),
                    services: services(&svc),
                })
                .await?;
            members.push(centre);
            if first_town.is_none() {
                first_town = Some((centre, format!("{town}卫生院")));
            }
            let deps = self
                .departments(centre, names::TOWNSHIP_DEPARTMENTS)
                .await?;
            self.staff(
                centre,
                InstitutionType::TownshipHealthCentre,
                &deps,
                n_town,
                &mut staff_rng,
            )
            .await?;
            let villages = names::village_names(&mut places, scale.villages_per_township());
            for (vi, village) in villages.iter().enumerate() {
                let vdiv = format!("{tdiv}{:03}", 200 + vi);
                let mut svc = vec![Outpatient, PublicHealth, FamilyDoctor, Pharmacy];
                if inst_rng.chance(0.6) {
                    svc.push(Ecg);
                }
                if inst_rng.chance(0.3) {
                    svc.push(Tcm);
                }
                let address = names::address(&mut places, town, Some(village));
                let clinic = self
                    .institution(InstitutionDraft {
                        name: format!("{town}{village}卫生室"),
                        aliases: Vec::new(),
                        kind: s("village_clinic"),
                        tier: None,
                        parent_id: Some(centre.to_string()),
                        uscc: None,
                        division_code: vdiv,
                        address: Some(address),
                        phone: Some(Self::phone(&mut inst_rng)),
                        services: services(&svc),
                    })
                    .await?;
                members.push(clinic);
                if first_village.is_none() {
                    first_village = Some((clinic, format!("{town}{village}卫生室")));
                }
                let deps = self.departments(clinic, names::VILLAGE_DEPARTMENTS).await?;
                let n = match scale {
                    Scale::Small => 1 + usize::from(staff_rng.chance(0.2)),
                    Scale::County => 2 + usize::from(staff_rng.chance(0.5)),
                };
                self.staff(
                    clinic,
                    InstitutionType::VillageClinic,
                    &deps,
                    n,
                    &mut staff_rng,
                )
                .await?;
            }
        }

        let community = self
            .app
            .create_community(
                &self.ctx,
                &CommunityDraft {
                    name: format!("{county}县域医共体"),
                    form: AllianceForm::CountyCommunity.code().to_owned(),
                    lead_institution_id: Some(hospital.to_string()),
                    division_code: Some(s(COUNTY_DIVISION)),
                    description: Some(format!(
                        "以{county}人民医院为龙头、乡镇卫生院为枢纽、村卫生室为网底的紧密型县域医共体。"
                    )),
                },
            )
            .await?;
        for m in members {
            self.app
                .add_community_member(&self.ctx, community.id, m)
                .await?;
        }
        self.summary.communities += 1;

        let county_name = format!("{county}人民医院");
        let h = (hospital, county_name);
        let t = first_town.unwrap_or_else(|| h.clone());
        let v = first_village.unwrap_or_else(|| t.clone());
        let plan: [(&str, &str, Role, &(Uuid, String)); 15] = [
            ("admin", "系统管理员", Role::SystemAdmin, &h),
            ("community", "医共体管理办公室", Role::CommunityAdmin, &h),
            ("hospital.admin", "县医院信息科", Role::InstitutionAdmin, &h),
            ("township.admin", "卫生院管理员", Role::InstitutionAdmin, &t),
            ("doctor", "", Role::Doctor, &h),
            ("township.doctor", "", Role::Doctor, &t),
            ("nurse", "", Role::Nurse, &h),
            ("village", "", Role::VillageDoctor, &v),
            ("publichealth", "", Role::PublicHealth, &t),
            ("referral", "", Role::ReferralCoordinator, &h),
            ("reader", "", Role::SharingReader, &h),
            ("pharmacist", "", Role::Pharmacist, &h),
            ("finance", "", Role::Finance, &h),
            ("auditor", "", Role::Auditor, &h),
            ("steward", "主索引管理员", Role::MpiSteward, &h),
        ];
        // The doctors of the referral walk-through stand for staff members: the village
        // doctor of the first village clinic (the family doctor down-referrals are addressed
        // to), a general practitioner of the first township centre, and the senior
        // cardiologist of the county hospital (who holds the cardiology specialist clinic).
        let ctx = self.ctx.clone();
        let linked = [
            (
                "village",
                demo_staff(self.app, &ctx, v.0, &[], VILLAGE_DOCTORS).await?,
            ),
            (
                "township.doctor",
                match demo_staff(self.app, &ctx, t.0, &["全科医学科"], PHYSICIANS).await? {
                    Some(s) => Some(s),
                    None => demo_staff(self.app, &ctx, t.0, &[], PHYSICIANS).await?,
                },
            ),
            (
                "doctor",
                demo_staff(self.app, &ctx, h.0, &["心血管内科"], PHYSICIANS).await?,
            ),
        ];
        let mut people = self.rng.fork(4);
        for (username, label, role, (inst, inst_name)) in plan {
            let staff = linked
                .iter()
                .find(|(u, _)| *u == username)
                .and_then(|(_, s)| s.as_ref());
            let display = if label.is_empty() {
                let female = people.chance(0.5);
                let drawn = names::person_name(&mut people, female, 1980);
                staff.map_or(drawn, |s| s.name.clone())
            } else {
                label.to_owned()
            };
            self.app
                .create_account(
                    &self.ctx,
                    &AccountDraft {
                        username: username.to_owned(),
                        display_name: display,
                        institution_id: Some(inst.to_string()),
                        staff_id: staff.map(|s| s.id.to_string()),
                        roles: vec![role.code().to_owned()],
                        password: Some(DEMO_PASSWORD.to_owned()),
                        must_change_password: Some(false),
                    },
                )
                .await?;
            self.summary
                .accounts
                .push((username.to_owned(), role, inst_name.clone()));
        }
        Ok(())
    }
}

/// Physicians' titles, most senior first.
pub(crate) const PHYSICIANS: &[ProfessionalTitle] = &[
    ProfessionalTitle::ChiefPhysician,
    ProfessionalTitle::AssociateChiefPhysician,
    ProfessionalTitle::AttendingPhysician,
    ProfessionalTitle::Physician,
    ProfessionalTitle::AssistantPhysician,
];

/// Who practises at a village clinic, in the order a demo account prefers them.
pub(crate) const VILLAGE_DOCTORS: &[ProfessionalTitle] = &[
    ProfessionalTitle::VillageDoctor,
    ProfessionalTitle::AssistantPhysician,
    ProfessionalTitle::Physician,
];

/// The staff member a demo account or a calendar stands for: at `institution`, in one of
/// `departments` (any department when empty), holding the first of `titles` anyone there
/// holds; the first by name (the same member for the same seed).
pub(crate) async fn demo_staff(
    app: &App,
    ctx: &Ctx,
    institution: Uuid,
    departments: &[&str],
    titles: &[ProfessionalTitle],
) -> Result<Option<ygt_app::ygt_store::org::Staff>, GenerateError> {
    let (staff, _) = app
        .list_staff(
            ctx,
            &ygt_app::ygt_store::org::StaffFilter {
                institution_id: Some(institution),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .await?;
    let in_department = |s: &&ygt_app::ygt_store::org::Staff| {
        departments.is_empty()
            || s.department_name
                .as_deref()
                .is_some_and(|d| departments.contains(&d))
    };
    for title in titles {
        let mut found: Vec<&ygt_app::ygt_store::org::Staff> = staff
            .iter()
            .filter(in_department)
            .filter(|s| s.title == *title)
            .collect();
        found.sort_by(|a, b| {
            (a.name.as_str(), a.licence_number.as_deref())
                .cmp(&(b.name.as_str(), b.licence_number.as_deref()))
        });
        if let Some(s) = found.first() {
            return Ok(Some((*s).clone()));
        }
    }
    Ok(None)
}

fn pick_title(rng: &mut Rng, w: &[u32; 12]) -> ProfessionalTitle {
    use ProfessionalTitle::*;
    const ORDER: [ProfessionalTitle; 12] = [
        ChiefPhysician,
        AssociateChiefPhysician,
        AttendingPhysician,
        Physician,
        AssistantPhysician,
        PublicHealthPhysician,
        SupervisorNurse,
        Nurse,
        NursePractitioner,
        Pharmacist,
        Technician,
        NursePractitioner,
    ];
    ORDER
        .get(rng.weighted_index(w))
        .copied()
        .unwrap_or(Physician)
}

/// The institutions of a generated county as registration sites (county hospitals, township
/// centres with their township, village clinics with their village).
pub async fn sites(app: &App) -> Result<Vec<residents::Site>, GenerateError> {
    use ygt_domain::org::Tier;
    let ctx = Ctx::system();
    let (all, _) = app
        .list_institutions(&ctx, &ygt_app::ygt_store::org::InstitutionFilter::default())
        .await?;
    let town_of = |name: &str| name.trim_end_matches("卫生院").to_owned();
    let mut out = Vec::new();
    for i in &all {
        let (tier, township, village) = match i.tier {
            Tier::County => (
                residents::SiteTier::County,
                names::county_seat_town().to_owned(),
                None,
            ),
            Tier::Township => (residents::SiteTier::Township, town_of(&i.name), None),
            Tier::Village => {
                let parent = all.iter().find(|p| Some(p.id) == i.parent_id);
                let town = parent.map(|p| town_of(&p.name)).unwrap_or_default();
                let village = i
                    .name
                    .trim_start_matches(town.as_str())
                    .trim_end_matches("卫生室")
                    .to_owned();
                (residents::SiteTier::Village, town, Some(village))
            }
        };
        out.push(residents::Site {
            id: i.id.to_string(),
            name: i.name.clone(),
            tier,
            township,
            village,
        });
    }
    Ok(out)
}

/// Registers `people` synthetic residents (about 2.2 registrations each) through the use case,
/// so that every registration is matched by the master patient index as in real life.
/// Returns (persons made, registrations).
/// Generates five years of clinical history for every person in the index (see
/// [`clinical::history`]) and records it through the bulk path, in batches. Returns the number
/// of items recorded.
pub async fn generate_history(
    app: &App,
    seed: u64,
    progress: Progress<'_>,
) -> Result<usize, GenerateError> {
    let ctx = Ctx::system();
    let mut recorded = 0usize;
    history_batches(app, seed, 20_000, progress, &mut async |batch: Vec<
        ygt_app::record::ParsedItem,
    >| {
        recorded += app.bulk_record(&ctx, &batch, "generator").await?.created;
        Ok(())
    })
    .await?;
    Ok(recorded)
}

/// The parsed items of every person's five-year history, handed over in batches of about
/// `batch` items (generation apart from recording, for benchmarks).
pub async fn history_batches(
    app: &App,
    seed: u64,
    batch_size: usize,
    progress: Progress<'_>,
    sink: &mut impl AsyncFnMut(Vec<ygt_app::record::ParsedItem>) -> Result<(), GenerateError>,
) -> Result<(), GenerateError> {
    use ygt_domain::org::Tier;
    let ctx = Ctx::system();
    let (all, _) = app
        .list_institutions(&ctx, &ygt_app::ygt_store::org::InstitutionFilter::default())
        .await?;
    let Some(county) = all.iter().find(|i| i.tier == Tier::County).map(|i| i.id) else {
        return Ok(());
    };
    let tier_of: std::collections::HashMap<uuid::Uuid, Tier> =
        all.iter().map(|i| (i.id, i.tier)).collect();
    // Every registration, grouped by person (in id order, so the result is deterministic).
    let mut regs = Vec::new();
    {
        let mut tx = app.store().begin().await.map_err(AppError::from)?;
        let mut after = None;
        loop {
            let page = tx
                .registrations_page(after, 10_000)
                .await
                .map_err(AppError::from)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            regs.extend(page);
        }
    }
    let mut by_person: std::collections::BTreeMap<uuid::Uuid, Vec<_>> = Default::default();
    for r in regs {
        by_person.entry(r.person_id).or_default().push(r);
    }
    let now = time::OffsetDateTime::now_utc();
    let today = now.date();
    let mut rng = Rng::new(seed).fork(11);
    let total = by_person.len() as u64;
    let mut batch = Vec::new();
    for (n, (person, rs)) in by_person.iter().enumerate() {
        let primary = rs
            .iter()
            .find(|r| {
                matches!(
                    tier_of.get(&r.institution_id),
                    Some(Tier::Village | Tier::Township)
                )
            })
            .or(rs.first());
        let Some(primary) = primary else { continue };
        let birth = rs.iter().find_map(|r| r.birth_date);
        let age = birth.map_or(45, |b| i64::from(today.year() - b.year()));
        let p = clinical::Patient {
            person: *person,
            age,
            female: rs.iter().any(|r| r.sex == "2"),
            primary: primary.institution_id,
            record_id: primary.record_id.clone(),
        };
        for d in clinical::history(&mut rng, &p, county, now) {
            match d.parse(now) {
                Ok(item) => batch.push(item),
                Err(e) => {
                    return Err(GenerateError::App(AppError::Invalid(e)));
                }
            }
        }
        if batch.len() >= batch_size {
            sink(std::mem::take(&mut batch)).await?;
            progress(n as u64, total);
        }
    }
    if !batch.is_empty() {
        sink(batch).await?;
    }
    progress(total, total);
    Ok(())
}

/// From this many registrations on, an empty index is filled through the bulk path.
const BULK_FROM: usize = 50_000;

pub async fn generate_residents(
    app: &App,
    seed: u64,
    people: usize,
    progress: Progress<'_>,
) -> Result<(i64, usize), GenerateError> {
    let sites = sites(app).await?;
    let mut rng = Rng::new(seed).fork(5);
    let (persons, regs) = residents::generate(&mut rng, people, &sites);
    let household: std::collections::HashMap<u64, u64> =
        persons.iter().map(|p| (p.truth, p.household)).collect();
    let ctx = Ctx::system();
    let total = regs.len() as u64;
    let draft = |r: &residents::SyntheticRegistration| {
        sites.get(r.site).map(|site| ygt_app::mpi::ResidentDraft {
            institution_id: site.id.clone(),
            record_id: Some(r.record_id.clone()),
            name: r.name.clone(),
            sex: r.sex.map(|s| s.code().to_owned()),
            birth_date: r.birth_date.map(|b| b.to_string()),
            id_number: r.id_number.clone(),
            phone: r.phone.clone(),
            address: r.address.clone(),
            // Primary care keeps the household (户号) of the public-health record.
            household_number: match site.tier {
                residents::SiteTier::County => None,
                _ => household.get(&r.truth).map(|h| format!("34189{h:07}")),
            },
            ..Default::default()
        })
    };
    // A clerk would leave out what the form refuses (an impossible date, say).
    let clerk_fix = |d: &mut ygt_app::mpi::ResidentDraft| {
        d.birth_date = None;
        d.phone = None;
    };
    let empty = app.store().count_persons().await.map_err(AppError::from)? == 0;
    if empty && regs.len() >= BULK_FROM {
        // A county-scale index: loaded through the batch engine in one transaction (the path
        // of `ygt import residents`), then the refused drafts registered one by one.
        let drafts: Vec<ygt_app::mpi::ResidentDraft> = regs.iter().filter_map(draft).collect();
        let report = app.bulk_load_residents(&ctx, &drafts, progress).await?;
        for (i, _) in report.skipped {
            if let Some(mut d) = drafts.get(i).cloned() {
                clerk_fix(&mut d);
                app.register_resident(&ctx, &d).await?;
            }
        }
    } else {
        for (n, r) in regs.iter().enumerate() {
            let Some(mut d) = draft(r) else {
                continue;
            };
            if let Err(AppError::Invalid(_)) = app.register_resident(&ctx, &d).await {
                clerk_fix(&mut d);
                app.register_resident(&ctx, &d).await?;
            }
            if n % 50 == 0 {
                progress(n as u64, total);
            }
        }
    }
    progress(total, total);
    let persons = app.store().count_persons().await.map_err(AppError::from)?;
    Ok((persons, regs.len()))
}
