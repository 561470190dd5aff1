//! Roles, permissions and data scope.
//!
//! A role is a bundle of permissions; which permissions each role has is configurable by
//! administrators (stored), starting from [`default_permissions`]. Data scope decides which
//! residents' data a user may see; see [`ScopeKind`].

use crate::code_enum;

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
    fn codes_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse("p", p.code()).unwrap(), *p);
        }
    }
}
