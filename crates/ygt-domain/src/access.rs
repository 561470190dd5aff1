//! Roles, permissions and data scope.
//!
//! A role is a bundle of permissions; which permissions each role has is configurable by
//! administrators (stored), starting from [`default_permissions`]. Data scope decides which
//! residents' data a user may see; see [`ScopeKind`].

use crate::{ValidationError, code_enum, ident};

code_enum! {
    /// What a user does in the community.
    pub enum Role {
        SystemAdmin = ("system_admin", "系统管理员", "System administrator"),
        CommunityAdmin = ("community_admin", "医共体管理员", "Community administrator"),
        InstitutionAdmin = ("institution_admin", "机构管理员", "Institution administrator"),
        Doctor = ("doctor", "医生", "Doctor"),
        Nurse = ("nurse", "护士", "Nurse"),
        VillageDoctor = ("village_doctor", "乡村医生", "Village doctor"),
        PublicHealth = ("public_health", "公共卫生人员", "Public-health staff"),
        ReferralCoordinator = ("referral_coordinator", "转诊协调员", "Referral coordinator"),
        SharingReader = ("sharing_reader", "共享中心诊断医师", "Sharing-centre reader"),
        Pharmacist = ("pharmacist", "药师 / 库管", "Pharmacist / warehouse"),
        Finance = ("finance", "财务人员", "Finance"),
        Auditor = ("auditor", "审计员", "Auditor"),
        MpiSteward = ("mpi_steward", "主索引管理员", "Patient-index steward"),
    }
}

code_enum! {
    /// One thing a user may do. Use cases check permissions, never roles.
    pub enum Permission {
        RegistryRead = ("registry.read", "查看机构与人员", "Read the organisation registry"),
        RegistryWrite = ("registry.write", "维护本机构及下级机构", "Maintain own and subordinate institutions"),
        RegistryWriteAll = ("registry.write_all", "维护全部机构与医联体", "Maintain every institution and community"),
        AccountManage = ("account.manage", "管理本机构账号", "Manage accounts of own institutions"),
        AccountManageAll = ("account.manage_all", "管理全部账号", "Manage every account"),
        RoleManage = ("role.manage", "配置角色权限", "Configure role permissions"),
        TokenManage = ("token.manage", "管理接口令牌", "Manage API tokens"),
        PatientRead = ("patient.read", "查看居民健康数据", "Read residents' health data"),
        PatientWrite = ("patient.write", "记录居民健康数据", "Record residents' health data"),
        PatientReveal = ("patient.reveal", "查看完整证件号与电话", "See full ID and phone numbers"),
        CommunityWide = ("patient.community_wide", "全医共体居民范围", "Residents of the whole community"),
        BreakGlass = ("patient.break_glass", "紧急授权访问", "Emergency (break-glass) access"),
        AuditRead = ("audit.read", "查看审计日志", "Read the audit log"),
        AuditReview = ("audit.review", "审核紧急访问", "Review break-glass access"),
        ReferralManage = ("referral.manage", "协调转诊", "Coordinate referrals"),
        SharingRead = ("sharing.read", "共享中心阅片与报告", "Read and report in a sharing centre"),
        SupplyManage = ("supply.manage", "药品耗材管理", "Manage drugs and consumables"),
        FinanceRead = ("finance.read", "财务与医保数据", "Finance and insurance data"),
        IndicatorRead = ("indicator.read", "查看监测指标", "Read monitoring indicators"),
        MpiSteward = ("mpi.steward", "居民主索引合并与拆分", "Merge and split residents in the patient index"),
        /// Integration tokens only (never a role): read back the records the token's own
        /// institution sent. Enforced by the record reads of `ygt-app` (resident access).
        RecordReadOwn = ("record.read_own", "读取本机构发送的数据", "Read back what its institution sent"),
    }
}

/// What an integration (a member's lab system or HIS) needs: write registrations and clinical
/// items for its institution, and read back what it wrote. System administrators (any holder
/// of `token.manage`) may give these to an API token without holding them themselves.
pub const INTEGRATION_PERMISSIONS: &[Permission] =
    &[Permission::PatientWrite, Permission::RecordReadOwn];

impl Permission {
    /// Whether the permission belongs to the integration set (grantable to tokens by any
    /// holder of `token.manage`).
    pub fn is_integration(self) -> bool {
        INTEGRATION_PERMISSIONS.contains(&self)
    }

    /// Whether the permission is for API tokens only and can never be given to a role.
    pub fn is_token_only(self) -> bool {
        matches!(self, Permission::RecordReadOwn)
    }

    /// Whether the permission reaches residents' data: reading, writing or revealing it,
    /// widening the scope to the whole community, break-glass, identity decisions, referrals,
    /// reading in a sharing centre, reading back an institution's data. Granting one (a role
    /// that carries one, a permission added to a role, a token) is listed for auditor review.
    pub fn is_patient_data(self) -> bool {
        use Permission::*;
        matches!(
            self,
            PatientRead
                | PatientWrite
                | PatientReveal
                | CommunityWide
                | BreakGlass
                | MpiSteward
                | ReferralManage
                | SharingRead
                | RecordReadOwn
        )
    }

    /// Whether the permission administers who may do what (accounts, roles, API tokens):
    /// the work of a signed-in person, never given to an API token.
    pub fn is_administration(self) -> bool {
        use Permission::*;
        matches!(
            self,
            AccountManage | AccountManageAll | RoleManage | TokenManage
        )
    }
}

/// The smallest number of letters, digits or characters a break-glass reason needs.
pub const BREAK_GLASS_REASON_MIN: usize = crate::justification::Justification::MIN_CHARS;

/// The reason a user gives for emergency (break-glass) access: at least
/// [`BREAK_GLASS_REASON_MIN`] letters, digits or CJK characters (Unicode alphabetic or
/// numeric); spaces, punctuation, symbols and invisible characters do not count. At most 500
/// characters, one line (runs of whitespace become one space), no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassReason(String);

impl BreakGlassReason {
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let text = ident::text(field, s, 500)?;
        let j = crate::justification::Justification::parse(field, &text)?;
        Ok(BreakGlassReason(j.as_str().to_owned()))
    }

    /// The letters, digits and characters that count towards the minimum.
    pub fn counted(s: &str) -> usize {
        crate::justification::Justification::counted(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BreakGlassReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The permissions a role starts with (administrators may change them).
pub fn default_permissions(role: Role) -> &'static [Permission] {
    use Permission::*;
    match role {
        Role::SystemAdmin => &[
            RegistryRead,
            RegistryWrite,
            RegistryWriteAll,
            AccountManage,
            AccountManageAll,
            RoleManage,
            TokenManage,
            IndicatorRead,
        ],
        Role::CommunityAdmin => &[
            RegistryRead,
            RegistryWrite,
            RegistryWriteAll,
            AccountManage,
            AccountManageAll,
            TokenManage,
            CommunityWide,
            IndicatorRead,
            FinanceRead,
        ],
        Role::InstitutionAdmin => &[
            RegistryRead,
            RegistryWrite,
            AccountManage,
            TokenManage,
            IndicatorRead,
        ],
        Role::Doctor => &[
            RegistryRead,
            PatientRead,
            PatientWrite,
            PatientReveal,
            BreakGlass,
        ],
        Role::Nurse => &[RegistryRead, PatientRead, PatientWrite],
        Role::VillageDoctor => &[RegistryRead, PatientRead, PatientWrite, PatientReveal],
        Role::PublicHealth => &[RegistryRead, PatientRead, PatientWrite, IndicatorRead],
        Role::ReferralCoordinator => &[RegistryRead, PatientRead, ReferralManage],
        Role::SharingReader => &[RegistryRead, PatientRead, SharingRead],
        Role::Pharmacist => &[RegistryRead, SupplyManage],
        Role::Finance => &[RegistryRead, FinanceRead, IndicatorRead],
        Role::Auditor => &[RegistryRead, AuditRead, AuditReview],
        // Community level by default: a steward decides possible matches and merges anywhere.
        Role::MpiSteward => &[RegistryRead, PatientRead, MpiSteward, CommunityWide],
    }
}

/// Why a user may see a resident's data (or that they may not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// Registered at or cared for by the user's institution.
    OwnInstitution,
    /// Registered at or cared for by an institution the user's institution manages (a township
    /// centre and its village clinics).
    Subordinate,
    /// Linked to the user or the institution by an open referral, consultation or contract.
    CareLink,
    /// The role covers the whole community.
    CommunityWide,
    /// The resident recorded an authorisation for this user or institution.
    Authorised,
    /// Emergency access the user declared with a reason; flagged for review.
    BreakGlass,
}

impl ScopeKind {
    pub fn code(self) -> &'static str {
        match self {
            ScopeKind::OwnInstitution => "own_institution",
            ScopeKind::Subordinate => "subordinate",
            ScopeKind::CareLink => "care_link",
            ScopeKind::CommunityWide => "community_wide",
            ScopeKind::Authorised => "authorised",
            ScopeKind::BreakGlass => "break_glass",
        }
    }
}

code_enum! {
    /// The ground on which an institution (or one user) holds a resident's record: what a
    /// care link records. Only a proven relationship opens the record ([`Ground::opens`]).
    pub enum Ground {
        Registered = ("registered", "登记（身份证件已核验）", "Registration with a verified ID number"),
        Unverified = ("registered_unverified", "登记（身份未核验）", "Registration without a verified ID number"),
        Care = ("care", "到院诊疗", "Seen in person"),
        Referral = ("referral", "转诊", "Referral"),
        Consultation = ("consultation", "会诊", "Consultation"),
        Contract = ("contract", "家庭医生签约", "Family-doctor contract"),
        Authorisation = ("authorisation", "居民授权", "The resident's authorisation"),
    }
}

impl Ground {
    /// Whether this ground opens the record. A registration whose identity was not proven is
    /// kept (it links the data it brings) but opens nothing.
    pub fn opens(self) -> bool {
        self != Ground::Unverified
    }

    /// The grounds that come from registrations (recomputed whenever a person's registrations
    /// change).
    pub fn from_registration(self) -> bool {
        matches!(self, Ground::Registered | Ground::Unverified)
    }

    /// Codes of the grounds that open a record, for SQL.
    pub fn opening_codes() -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|g| g.opens())
            .map(|g| g.code())
            .collect()
    }
}

/// What the patient index knows of one registration, to decide the ground it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationFacts {
    pub id: uuid::Uuid,
    /// The canonical ID number when the registration carried a valid one.
    pub id_number: Option<String>,
    pub registered_at: time::OffsetDateTime,
}

/// The ground each registration of one person gives its institution.
///
/// A relationship is proven, never inferred from a resemblance. The person's first registration
/// (by time, then id: the one that created the person) is the origin and opens the record for
/// its institution. A later registration opens it only when it carries the valid ID number the
/// origin carried: it was identified by the number, not by name, birth date, phone or address.
/// A registration that links by resemblance alone, or brings a number the person did not
/// have (a person first registered without one has none to match), is kept and links the data
/// it brings, but opens nothing. Registrations of a person arrive in time order, so adding one
/// never changes the grounds of the others; they are recomputed when registrations move
/// (link, merge, split) or change their number.
pub fn registration_grounds(regs: &[RegistrationFacts]) -> Vec<(uuid::Uuid, Ground)> {
    let origin = regs.iter().min_by_key(|r| (r.registered_at, r.id));
    let proven = origin.and_then(|o| o.id_number.as_deref());
    regs.iter()
        .map(|r| {
            let is_origin = origin.is_some_and(|o| o.id == r.id);
            let identified = r.id_number.is_some() && r.id_number.as_deref() == proven;
            let g = if is_origin || identified {
                Ground::Registered
            } else {
                Ground::Unverified
            };
            (r.id, g)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_can_read_the_registry_and_only_admins_manage_roles() {
        for r in Role::ALL {
            assert!(
                default_permissions(*r).contains(&Permission::RegistryRead),
                "{r}"
            );
            assert_eq!(
                default_permissions(*r).contains(&Permission::RoleManage),
                *r == Role::SystemAdmin
            );
        }
    }

    #[test]
    fn administrators_hold_no_patient_data_permission() {
        for r in [Role::SystemAdmin, Role::InstitutionAdmin, Role::Auditor] {
            assert!(
                !default_permissions(r).iter().any(|p| p.is_patient_data()),
                "{r}"
            );
        }
        // Community-wide scope is patient data, but without patient.read it reads nothing.
        assert!(!default_permissions(Role::CommunityAdmin).contains(&Permission::PatientRead));
        for r in [
            Role::Doctor,
            Role::Nurse,
            Role::VillageDoctor,
            Role::MpiSteward,
        ] {
            assert!(
                default_permissions(r).iter().any(|p| p.is_patient_data()),
                "{r}"
            );
        }
        assert!(
            Permission::ALL
                .iter()
                .all(|p| !(p.is_patient_data() && p.is_administration()))
        );
        assert!(INTEGRATION_PERMISSIONS.iter().all(|p| p.is_patient_data()));
    }

    fn facts(n: u128, id: Option<&str>, minute: i64) -> RegistrationFacts {
        RegistrationFacts {
            id: uuid::Uuid::from_u128(n),
            id_number: id.map(str::to_owned),
            registered_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute),
        }
    }

    fn grounds(regs: &[RegistrationFacts]) -> Vec<Ground> {
        let g = registration_grounds(regs);
        regs.iter()
            .map(|r| g.iter().find(|(id, _)| *id == r.id).unwrap().1)
            .collect()
    }

    const A: &str = "11010519491231002X";
    const B: &str = "110105194912310037";

    #[test]
    fn the_origin_opens_and_a_later_registration_needs_the_proven_number() {
        use Ground::*;
        // Created the person: opens, with or without a number.
        assert_eq!(grounds(&[facts(1, None, 0)]), [Registered]);
        // Identified by the number the origin carried.
        assert_eq!(
            grounds(&[facts(1, Some(A), 0), facts(2, Some(A), 5)]),
            [Registered, Registered]
        );
        // Linked by name and birth date alone (no number, another number, a number the
        // person never had): kept, opens nothing.
        assert_eq!(
            grounds(&[
                facts(1, Some(A), 0),
                facts(2, None, 5),
                facts(3, Some(B), 6)
            ]),
            [Registered, Unverified, Unverified]
        );
        // A copy that brings the first number to a person without one proves nothing, nor
        // does a second copy repeating it.
        assert_eq!(
            grounds(&[
                facts(1, None, 0),
                facts(2, Some(B), 5),
                facts(3, Some(B), 7)
            ]),
            [Registered, Unverified, Unverified]
        );
        // A proven number stays proven through a chain of registrations.
        assert_eq!(
            grounds(&[
                facts(1, Some(A), 0),
                facts(2, Some(A), 5),
                facts(3, None, 6),
                facts(4, Some(A), 9)
            ]),
            [Registered, Registered, Unverified, Registered]
        );
    }

    #[test]
    fn after_a_merge_the_earliest_registration_is_the_origin() {
        use Ground::*;
        // The victim registered first; a throwaway registered later is merged in: the
        // throwaway is no longer an origin, and its own number was never proven.
        let victim = facts(1, Some(A), 0);
        let throwaway = facts(2, Some(B), 100);
        assert_eq!(grounds(&[throwaway, victim]), [Unverified, Registered]);
    }

    proptest::proptest! {
        /// Adding a later registration never changes the grounds of the earlier ones, and a
        /// registration without a number opens only as the origin.
        #[test]
        fn grounds_are_stable_and_need_a_number(
            ids in proptest::collection::vec(proptest::option::of(0u8..3), 1..8)
        ) {
            let nums = [A, B, "110105194912310053"];
            let regs: Vec<RegistrationFacts> = ids
                .iter()
                .enumerate()
                .map(|(i, n)| facts(i as u128 + 1, n.map(|k| nums[k as usize]), i as i64))
                .collect();
            let all = grounds(&regs);
            for k in 1..regs.len() {
                proptest::prop_assert_eq!(&grounds(&regs[..k]), &all[..k]);
            }
            for (i, r) in regs.iter().enumerate() {
                if i > 0 && r.id_number.is_none() {
                    proptest::prop_assert_eq!(all[i], Ground::Unverified);
                }
            }
        }
    }

    #[test]
    fn token_only_permissions_belong_to_no_role_and_to_the_integration_set() {
        for p in Permission::ALL.iter().filter(|p| p.is_token_only()) {
            assert!(p.is_integration(), "{p}");
            for r in Role::ALL {
                assert!(!default_permissions(*r).contains(p), "{r} has {p}");
            }
        }
        assert!(Permission::RecordReadOwn.is_token_only());
        assert!(!Permission::PatientWrite.is_token_only());
    }

    #[test]
    fn break_glass_reasons_count_letters_and_characters_only() {
        for bad in [
            "",
            "..........",
            "\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}",
            "\u{200d}".repeat(12).as_str(),
            "\u{2060}".repeat(12).as_str(),
            "！？。，、；：……——",
            "a b c d e f g h i",
            "急诊 。。。。。。。",
            "x\u{200b}xxxxxxxxxx",
        ] {
            assert!(BreakGlassReason::parse("reason", bad).is_err(), "{bad:?}");
        }
        for good in [
            "急诊昏迷患者需查看既往史",
            "patient unconscious",
            "ER 1234567 8",
        ] {
            assert!(BreakGlassReason::parse("reason", good).is_ok(), "{good:?}");
        }
        let e = BreakGlassReason::parse("reason", "..........").unwrap_err();
        assert_eq!(e.field, "reason");
        assert_eq!(
            e.reason.message().to_string(),
            "common.reason_too_short min=10"
        );
    }

    #[test]
    fn codes_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse("p", p.code()).unwrap(), *p);
        }
    }
}
