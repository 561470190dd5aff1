//! What the audit log's codes mean to people: every action the platform writes, the kinds of
//! resource it names, and the groups an auditor filters by, each with a Chinese and an English
//! label. The log stores the codes; pages show the labels (an unknown code shows as itself).
//!
//! Every action code the use cases write must be listed in [`AuditAction`]: a test of
//! `ygt-app` reads its sources and those of the server and fails on a code missing here.

use crate::code_enum;

code_enum! {
    /// An audited action (`audit_events.action`).
    pub enum AuditAction {
        AccessGrant = ("access.grant", "建立访问关系", "Access relationship granted"),
        AccountCreate = ("account.create", "创建账号", "Create account"),
        AccountGrantPatientRole = ("account.grant_patient_role", "授予账号患者数据角色", "Give an account a patient-data role"),
        AccountList = ("account.list", "查看账号列表", "List accounts"),
        AccountPasswordChange = ("account.password_change", "修改密码", "Change password"),
        AccountPasswordReset = ("account.password_reset", "重置密码", "Reset password"),
        AccountRead = ("account.read", "查看账号", "View account"),
        AccountUpdate = ("account.update", "修改账号", "Update account"),
        AuditBreakGlassQueue = ("audit.break_glass_queue", "查看紧急授权审核队列", "View break-glass review queue"),
        AuditBreakGlassReview = ("audit.break_glass_review", "审核紧急授权", "Review break-glass access"),
        AuditGrants = ("audit.grants", "查看权限授予记录", "Review privilege grants"),
        AuditResidentHistory = ("audit.resident_history", "查看居民访问记录", "View a resident's access history"),
        AuditResidentLookup = ("audit.resident_lookup", "审计时查找居民", "Look up a resident for an audit"),
        AuditSearch = ("audit.search", "查询审计日志", "Search the audit log"),
        AuthSignIn = ("auth.sign_in", "登录", "Sign in"),
        AuthSignOut = ("auth.sign_out", "退出登录", "Sign out"),
        AuthSignOutEverywhere = ("auth.sign_out_everywhere", "退出所有设备", "Sign out everywhere"),
        CalendarAddSession = ("calendar.add_session", "添加号源时段", "Add calendar sessions"),
        CalendarCreate = ("calendar.create", "创建预约日历", "Create calendar"),
        MpiLink = ("mpi.link", "确认为同一人", "Link as the same person"),
        MpiMerge = ("mpi.merge", "合并居民", "Merge residents"),
        MpiMergeForm = ("mpi.merge_form", "打开合并页面", "Open the merge form"),
        MpiNotSame = ("mpi.not_same", "确认非同一人", "Mark as not the same person"),
        MpiReviewQueue = ("mpi.review_queue", "查看主索引待审队列", "View the identity review queue"),
        MpiUnmerge = ("mpi.unmerge", "拆分居民", "Split a resident"),
        MpiUnmergeForm = ("mpi.unmerge_form", "打开拆分页面", "Open the split form"),
        RecordAssign = ("record.assign", "认领待匹配数据", "Assign an unmatched item"),
        RecordBulkImport = ("record.bulk_import", "批量导入健康数据", "Bulk import of record items"),
        RecordRead = ("record.read", "调阅健康档案", "Read the health record"),
        RecordReadDocument = ("record.read_document", "查看文档文件", "Read a document file"),
        RecordReadItem = ("record.read_item", "查看健康档案条目", "Read a record item"),
        RecordRecognisedResults = ("record.recognised_results", "查看互认结果", "Read recognised results"),
        RecordRecognition = ("record.recognition", "修改互认项目", "Change the recognition catalogue"),
        RecordSearch = ("record.search", "检索健康档案", "Search the health record"),
        RecordUnmatched = ("record.unmatched", "查看待匹配数据", "View unmatched items"),
        RecordWrite = ("record.write", "上传健康数据", "Write record items"),
        ReferralAccept = ("referral.accept", "接收转诊", "Accept a referral"),
        ReferralArrive = ("referral.arrive", "确认转诊到诊", "Confirm referral arrival"),
        ReferralCancel = ("referral.cancel", "取消转诊", "Cancel a referral"),
        ReferralComplete = ("referral.complete", "完成转诊并反馈", "Complete a referral"),
        ReferralCreate = ("referral.create", "创建转诊单", "Create a referral"),
        ReferralList = ("referral.list", "查看转诊列表", "List referrals"),
        ReferralRead = ("referral.read", "查看转诊单", "Read a referral"),
        ReferralRedirect = ("referral.redirect", "改派转诊", "Redirect a referral"),
        ReferralReject = ("referral.reject", "拒绝转诊", "Reject a referral"),
        ReferralSchedule = ("referral.schedule", "预约转诊", "Schedule a referral"),
        ReferralSettings = ("referral.settings", "查看转诊设置", "View referral settings"),
        ReferralSettingsUpdate = ("referral.settings_update", "修改转诊设置", "Change referral settings"),
        ReferralStats = ("referral.stats", "查看转诊统计", "View referral statistics"),
        ReferralSubmit = ("referral.submit", "提交转诊", "Submit a referral"),
        ReferralSuggest = ("referral.suggest", "查看转诊建议", "Referral suggestions"),
        ReferralSuggestionDismissed = ("referral.suggestion_dismissed", "忽略转诊建议", "Dismiss a referral suggestion"),
        RegistryCommunityActivate = ("registry.community.activate", "启用医共体", "Reactivate a community"),
        RegistryCommunityAddMember = ("registry.community.add_member", "添加医共体成员", "Add a community member"),
        RegistryCommunityCreate = ("registry.community.create", "新建医共体", "Create a community"),
        RegistryCommunityDeactivate = ("registry.community.deactivate", "停用医共体", "Deactivate a community"),
        RegistryCommunityRemoveMember = ("registry.community.remove_member", "移除医共体成员", "Remove a community member"),
        RegistryCommunityUpdate = ("registry.community.update", "修改医共体", "Update a community"),
        RegistryDepartmentActivate = ("registry.department.activate", "启用科室", "Reactivate a department"),
        RegistryDepartmentCreate = ("registry.department.create", "新增科室", "Create a department"),
        RegistryDepartmentDeactivate = ("registry.department.deactivate", "停用科室", "Deactivate a department"),
        RegistryDepartmentUpdate = ("registry.department.update", "修改科室", "Update a department"),
        RegistryInstitutionActivate = ("registry.institution.activate", "启用机构", "Reactivate an institution"),
        RegistryInstitutionCreate = ("registry.institution.create", "新增机构", "Create an institution"),
        RegistryInstitutionDeactivate = ("registry.institution.deactivate", "停用机构", "Deactivate an institution"),
        RegistryInstitutionUpdate = ("registry.institution.update", "修改机构", "Update an institution"),
        RegistryRead = ("registry.read", "查看机构人员目录", "Read the registry"),
        RegistryStaffActivate = ("registry.staff.activate", "启用人员", "Reactivate a staff member"),
        RegistryStaffCreate = ("registry.staff.create", "新增人员", "Create a staff member"),
        RegistryStaffDeactivate = ("registry.staff.deactivate", "停用人员", "Deactivate a staff member"),
        RegistryStaffReveal = ("registry.staff.reveal", "显示人员完整号码", "Show a staff member's full numbers"),
        RegistryStaffUpdate = ("registry.staff.update", "修改人员", "Update a staff member"),
        ResidentAccessCheck = ("resident.access_check", "查询访问依据", "Check the access ground"),
        ResidentBreakGlass = ("resident.break_glass", "紧急授权", "Break the glass"),
        ResidentBulkLoad = ("resident.bulk_load", "批量载入居民", "Bulk load of residents"),
        ResidentLink = ("resident.link", "手工建立居民关系", "Link a resident by hand"),
        ResidentRead = ("resident.read", "调阅居民信息", "Read a resident"),
        ResidentRegister = ("resident.register", "登记居民", "Register a resident"),
        ResidentRegisterForm = ("resident.register_form", "打开居民登记页面", "Open the registration form"),
        ResidentReveal = ("resident.reveal", "显示居民完整号码", "Show a resident's full numbers"),
        ResidentSearch = ("resident.search", "查找居民", "Find residents"),
        ResidentUpdate = ("resident.update", "修改居民信息", "Update a resident"),
        RoleGrantPatientPermission = ("role.grant_patient_permission", "为角色增加患者数据权限", "Add patient-data permissions to a role"),
        RoleRead = ("role.read", "查看角色权限", "View roles"),
        RoleUpdate = ("role.update", "修改角色权限", "Change a role"),
        SlotBook = ("slot.book", "预约号源", "Book a slot"),
        SlotRelease = ("slot.release", "释放号源", "Release a slot"),
        TaskComplete = ("task.complete", "完成随访任务", "Complete a care task"),
        TaskList = ("task.list", "查看随访任务", "List care tasks"),
        TokenCreate = ("token.create", "创建接口令牌", "Create an API token"),
        TokenGrantPatientPermission = ("token.grant_patient_permission", "创建含患者数据权限的令牌", "Create a token with patient-data permissions"),
        TokenList = ("token.list", "查看接口令牌", "List API tokens"),
        TokenRevoke = ("token.revoke", "吊销接口令牌", "Revoke an API token"),
    }
}

code_enum! {
    /// A group of actions an auditor filters by: its code is the prefix of the actions' codes
    /// (`auth.` finds every sign-in and sign-out).
    pub enum ActionGroup {
        Access = ("access.", "访问关系", "Access relationships"),
        Resident = ("resident.", "居民信息", "Residents"),
        Record = ("record.", "健康档案", "Health record"),
        Mpi = ("mpi.", "主索引", "Patient index"),
        Referral = ("referral.", "双向转诊", "Referrals"),
        Booking = ("slot.", "号源预约", "Slots"),
        Calendar = ("calendar.", "预约日历", "Calendars"),
        Task = ("task.", "随访任务", "Care tasks"),
        Auth = ("auth.", "登录与退出", "Sign-in"),
        Account = ("account.", "账号", "Accounts"),
        Role = ("role.", "角色权限", "Roles"),
        Token = ("token.", "接口令牌", "API tokens"),
        Registry = ("registry.", "机构人员目录", "Registry"),
        Audit = ("audit.", "审计", "Audit"),
    }
}

impl ActionGroup {
    /// The actions of this group, in the order of [`AuditAction::ALL`].
    pub fn actions(self) -> impl Iterator<Item = AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .filter(move |a| a.code().starts_with(self.code()))
    }
}

code_enum! {
    /// What an audit event names (`audit_events.resource_type`); clinical items name their
    /// kind ([`crate::clinical::ItemKind`]).
    pub enum AuditResource {
        Account = ("account", "账号", "Account"),
        Audit = ("audit", "审计日志", "Audit log"),
        BookingResource = ("booking_resource", "预约日历", "Calendar"),
        BreakGlass = ("break_glass", "紧急授权", "Break-glass access"),
        CareTask = ("care_task", "随访任务", "Care task"),
        Catalogue = ("catalogue", "互认目录", "Recognition catalogue"),
        Community = ("community", "医共体", "Community"),
        Department = ("department", "科室", "Department"),
        Institution = ("institution", "机构", "Institution"),
        MatchTask = ("match_task", "主索引待审任务", "Identity review task"),
        Queue = ("queue", "待匹配队列", "Unmatched queue"),
        Referral = ("referral", "转诊单", "Referral"),
        ReferralSettings = ("referral_settings", "转诊设置", "Referral settings"),
        Registration = ("registration", "登记记录", "Registration"),
        Registry = ("registry", "机构人员目录", "Registry"),
        Resident = ("resident", "居民", "Resident"),
        Role = ("role", "角色", "Role"),
        Session = ("session", "会话", "Session"),
        Slot = ("slot", "号源", "Slot"),
        Staff = ("staff", "人员", "Staff member"),
        Token = ("token", "接口令牌", "API token"),
        User = ("user", "用户", "User"),
    }
}

/// The label of an action code in the language given by `english`; an unknown code (an
/// action of an older or newer version) is shown as itself.
pub fn action_label(code: &str, english: bool) -> String {
    AuditAction::ALL
        .iter()
        .find(|a| a.code() == code)
        .map_or_else(|| code.to_owned(), |a| a.label(english).to_owned())
}

/// The label of a resource type: an [`AuditResource`] or a clinical item kind; an unknown
/// type is shown as itself.
pub fn resource_label(code: &str, english: bool) -> String {
    if let Some(r) = AuditResource::ALL.iter().find(|r| r.code() == code) {
        return r.label(english).to_owned();
    }
    crate::clinical::ItemKind::ALL
        .iter()
        .find(|k| k.code() == code)
        .map_or_else(|| code.to_owned(), |k| k.label(english).to_owned())
}

/// The keys the use cases write into an event's detail (`key=value`), with their labels.
const DETAIL_KEYS: &[(&str, &str, &str)] = &[
    ("action", "操作", "action"),
    ("actions", "操作", "actions"),
    ("active", "在用", "active"),
    ("by", "查找方式", "by"),
    ("channel", "渠道", "channel"),
    ("criterion", "依据标准", "criterion"),
    ("direction", "方向", "direction"),
    ("from", "自", "from"),
    ("ground", "依据", "ground"),
    ("id_number_valid", "身份证号有效", "valid ID number"),
    ("in_scope", "在服务范围内", "in scope"),
    ("institution", "机构", "institution"),
    ("into", "并入", "into"),
    ("item", "条目", "item"),
    ("items", "条目数", "items"),
    ("kind", "类型", "kind"),
    ("list", "列表", "list"),
    ("minutes", "时长（分钟）", "minutes"),
    ("n", "数量", "count"),
    ("name", "名称", "name"),
    ("new_person", "新居民", "new resident"),
    ("offset", "起始行", "offset"),
    ("outcome", "结果", "outcome"),
    ("permissions", "权限", "permissions"),
    ("person", "居民", "resident"),
    ("reason", "理由", "reason"),
    ("referral", "转诊单", "referral"),
    ("registration", "登记记录", "registration"),
    ("registrations", "登记记录数", "registrations"),
    ("requested", "申请对象", "requested"),
    ("resident", "居民", "resident"),
    ("result", "第几个结果", "result"),
    ("results", "结果数", "results"),
    ("role", "角色", "role"),
    ("roles", "角色", "roles"),
    ("rules", "规则", "rules"),
    ("scope", "依据", "ground"),
    ("side", "一方", "side"),
    ("slots", "号源数", "slots"),
    ("source", "来源", "source"),
    ("status", "状态", "status"),
    ("to", "至", "to"),
    ("township", "卫生院", "township centre"),
    ("user", "用户", "user"),
    ("username", "用户名", "user name"),
    ("valid_days", "有效天数", "valid days"),
    ("village", "村卫生室", "village clinic"),
];

/// Values of details that are codes, with their labels (scopes of access, search kinds,
/// review outcomes, yes and no).
const DETAIL_VALUES: &[(&str, &str, &str)] = &[
    ("own_institution", "本机构", "own institution"),
    ("subordinate", "下级机构", "subordinate institution"),
    ("care_link", "诊疗关系", "care relationship"),
    ("community_wide", "全医共体", "community-wide"),
    ("authorised", "居民授权", "resident's authorisation"),
    ("break_glass", "紧急授权", "break-glass"),
    ("name", "姓名", "name"),
    ("id_number", "身份证号", "ID number"),
    ("phone", "电话", "phone"),
    ("insurance_number", "医保号", "insurance number"),
    ("pinyin", "拼音", "pinyin"),
    ("justified", "合理", "justified"),
    ("new", "新建", "new"),
    ("created", "已新建", "created"),
    ("linked", "关联已有居民", "linked"),
    ("review", "待人工审核", "to review"),
    ("updated", "已更新", "updated"),
    ("unchanged", "未变化", "unchanged"),
    ("unjustified", "不合理", "unjustified"),
    ("true", "是", "yes"),
    ("false", "否", "no"),
];

/// The sides of a referral, the worklists and the channels clinical items come through, as
/// the use cases write them.
const REFERRAL_WORDS: &[(&str, &str, &str)] = &[
    ("referring", "转出方", "referring side"),
    ("receiving", "接收方", "receiving side"),
    ("community", "医共体", "community"),
    ("outgoing", "转出", "outgoing"),
    ("incoming", "转入", "incoming"),
    ("overdue", "超时", "overdue"),
    ("handover", "待交接", "handover"),
    ("all", "全部", "all"),
    ("api", "接口", "API"),
    ("fhir", "FHIR 接口", "FHIR"),
    ("hl7", "HL7 接口", "HL7"),
    ("referral", "转诊", "referral"),
    ("care_task", "随访任务", "care task"),
    ("csv", "CSV 导入", "CSV import"),
    ("generator", "演示数据生成", "demo data generator"),
];

/// An event's detail in words: the keys the app writes and the codes in their values
/// labelled, the ids `name_of` knows replaced by names; anything else is kept as written.
pub fn describe_detail(
    detail: &str,
    english: bool,
    name_of: &dyn Fn(uuid::Uuid) -> Option<String>,
) -> String {
    if let Some(p) = phrase(detail, english) {
        return p;
    }
    let mut parts: Vec<(Option<&str>, String)> = Vec::new();
    for token in detail.split_whitespace() {
        match token.split_once('=') {
            Some((k, v))
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                parts.push((Some(k), v.to_owned()));
            }
            _ => match parts.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(token);
                }
                _ => parts.push((None, token.to_owned())),
            },
        }
    }
    let (colon, sep) = if english {
        (": ", ", ")
    } else {
        ("：", "；")
    };
    let words: Vec<String> = parts
        .into_iter()
        .map(|(k, v)| {
            let value = detail_value(k.unwrap_or(""), &v, english, name_of);
            match k {
                Some(k) => format!("{}{colon}{value}", detail_key(k, english)),
                None => value,
            }
        })
        .collect();
    words.join(sep)
}

/// Details the app writes as English words (sign-in, accounts), in Chinese.
const PHRASES: &[(&str, &str)] = &[
    ("a role the actor holds", "不能修改自己持有的角色"),
    ("account deactivated", "账号已停用"),
    ("id_number, phone", "身份证号、电话"),
    ("known device", "已登录过的设备"),
    ("new device", "新设备"),
    ("own roles or institution", "不能修改自己的角色或机构"),
    ("unknown user name", "用户名不存在"),
    ("wrong current password", "当前密码错误"),
    ("wrong password", "密码错误"),
];

fn phrase(detail: &str, english: bool) -> Option<String> {
    if english {
        return None;
    }
    if let Some((_, zh)) = PHRASES.iter().find(|(en, _)| *en == detail) {
        return Some((*zh).to_owned());
    }
    if let Some(why) = detail.strip_prefix("throttled: ") {
        let why = why.replace(" (attempt under way)", "（另一次尝试进行中）");
        return Some(format!("尝试过多，需等待：{why}"));
    }
    if let Some(code) = detail.strip_prefix("permission not held: ") {
        let label = crate::access::Permission::parse("p", code).map_or(code, |p| p.label_zh());
        return Some(format!("未持有的权限：{label}"));
    }
    let n = detail.strip_suffix(" sessions ended")?;
    Some(format!("结束 {n} 个会话"))
}

fn detail_key(k: &str, english: bool) -> &str {
    DETAIL_KEYS
        .iter()
        .find(|(c, _, _)| *c == k)
        .map_or(k, |(_, zh, en)| if english { en } else { zh })
}

fn detail_value(
    key: &str,
    v: &str,
    english: bool,
    name_of: &dyn Fn(uuid::Uuid) -> Option<String>,
) -> String {
    if let Some(name) = uuid::Uuid::parse_str(v).ok().and_then(name_of) {
        return name;
    }
    if let Some((_, zh, en)) = DETAIL_VALUES.iter().find(|(c, _, _)| *c == v) {
        return (if english { en } else { zh }).to_string();
    }
    let list = |f: &dyn Fn(&str) -> Option<String>| -> Option<String> {
        let labels: Option<Vec<String>> = v.split(',').map(f).collect();
        labels.map(|l| l.join(if english { ", " } else { "、" }))
    };
    let labelled = match key {
        "action" | "actions" => list(&|c| {
            AuditAction::parse("a", c)
                .ok()
                .map(|a| a.label(english).to_owned())
        }),
        "ground" => list(&|c| {
            crate::access::Ground::parse("g", c)
                .ok()
                .map(|g| g.label(english).to_owned())
        }),
        "outcome" => list(&|c| {
            crate::audit::Outcome::parse("o", c)
                .ok()
                .map(|o| o.label(english).to_owned())
        }),
        "role" => list(&|c| {
            crate::access::Role::parse("r", c)
                .ok()
                .map(|r| r.label(english).to_owned())
        }),
        "permissions" => list(&|c| {
            crate::access::Permission::parse("p", c)
                .ok()
                .map(|p| p.label(english).to_owned())
        }),
        "direction" => list(&|c| {
            crate::referral::Direction::parse("d", c)
                .ok()
                .map(|d| d.label(english).to_owned())
        }),
        "status" => list(&|c| {
            crate::referral::Status::parse("s", c)
                .ok()
                .map(|s| s.label(english).to_owned())
        }),
        "criterion" => list(&|c| {
            crate::referral::Criterion::parse("c", c)
                .ok()
                .map(|c| c.label(english).to_owned())
        }),
        "side" | "list" | "channel" => list(&|c| {
            REFERRAL_WORDS
                .iter()
                .find(|(code, _, _)| *code == c)
                .map(|(_, zh, en)| (if english { en } else { zh }).to_string())
        }),
        "result" => Some(v.replace(" of ", " / ")),
        "source" => v.split_once(':').map(|(kind, id)| {
            let short: String = id.chars().take(8).collect();
            format!("{} {short}", resource_label(kind, english))
        }),
        _ => None,
    };
    labelled.unwrap_or_else(|| steps(v, english).unwrap_or_else(|| v.to_owned()))
}

/// A referral's step as its detail records it (`submitted→accepted`), in words.
fn steps(v: &str, english: bool) -> Option<String> {
    if !v.contains('→') {
        return None;
    }
    let labels: Option<Vec<&str>> = v
        .split('→')
        .map(|s| {
            crate::referral::Status::parse("s", s)
                .ok()
                .map(|x| x.label(english))
        })
        .collect();
    labels.map(|l| l.join("→"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_labelled_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.code()), "{} twice", a.code());
            assert!(!a.label_zh().is_empty() && !a.label_en().is_empty());
            assert!(
                !a.label_zh().chars().any(|c| c.is_ascii_alphabetic()),
                "{}: the Chinese label has no English",
                a.code()
            );
        }
    }

    #[test]
    fn every_action_has_a_group_and_every_referral_step_an_action() {
        for a in AuditAction::ALL {
            assert!(
                ActionGroup::ALL
                    .iter()
                    .any(|g| g.actions().any(|x| x == *a)),
                "{} belongs to no group",
                a.code()
            );
        }
        for step in crate::referral::Action::ALL {
            let code = format!("referral.{}", step.code());
            assert!(AuditAction::parse("a", &code).is_ok(), "{code}");
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_the_code() {
        assert_eq!(action_label("resident.read", false), "调阅居民信息");
        assert_eq!(action_label("resident.read", true), "Read a resident");
        assert_eq!(action_label("future.thing", false), "future.thing");
        assert_eq!(resource_label("lab_report", false), "检验报告");
        assert_eq!(resource_label("x", false), "x");
    }

    #[test]
    fn details_in_words() {
        let id = uuid::Uuid::now_v7();
        let names = |u: uuid::Uuid| (u == id).then(|| "柳河镇卫生院".to_owned());
        let d = format!("ground=care institution={id} source=referral:1");
        assert_eq!(
            describe_detail(&d, false, &names),
            "依据：到院诊疗；机构：柳河镇卫生院；来源：转诊单 1"
        );
        assert_eq!(
            describe_detail("by=name result=1 of 3 in_scope=true", false, &names),
            "查找方式：姓名；第几个结果：1 / 3；在服务范围内：是"
        );
        assert_eq!(
            describe_detail("source=registration:0193abcd-ef", false, &names),
            "来源：登记记录 0193abcd"
        );
        assert_eq!(
            describe_detail("scope=own_institution", true, &names),
            "ground: own institution"
        );
        assert_eq!(
            describe_detail("submitted→accepted", false, &names),
            "已提交→已接收"
        );
        assert_eq!(
            describe_detail("direction=down to=x status=submitted", false, &names),
            "方向：下转；至：x；状态：已提交"
        );
        assert_eq!(
            describe_detail("referral=x side=receiving", false, &names),
            "转诊单：x；一方：接收方"
        );
        assert_eq!(
            describe_detail("list=incoming n=3", false, &names),
            "列表：转入；数量：3"
        );
        assert_eq!(
            describe_detail("outcome=created channel=care_task", false, &names),
            "结果：已新建；渠道：随访任务"
        );
        assert_eq!(describe_detail("free text", false, &names), "free text");
        assert_eq!(
            describe_detail("outcome=new id_number_valid=true", false, &names),
            "结果：新建；身份证号有效：是"
        );
        assert_eq!(describe_detail("new device", false, &names), "新设备");
        assert_eq!(describe_detail("new device", true, &names), "new device");
        assert_eq!(
            describe_detail("3 sessions ended", false, &names),
            "结束 3 个会话"
        );
    }
}
