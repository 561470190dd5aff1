//! Chinese first, English selectable, chosen per request (query `?lang=`, then the `ygt_lang`
//! cookie, then Chinese). Never global state.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn is_en(self) -> bool {
        self == Lang::En
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" | "cn" => Some(Lang::Zh),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// From the request: `?lang=`, then the cookie, then Chinese.
    pub fn from_parts(parts: &Parts) -> Lang {
        if let Some(q) = parts.uri.query() {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                if k == "lang"
                    && let Some(l) = Lang::parse(&v)
                {
                    return l;
                }
            }
        }
        if let Some(v) = cookie(parts, LANG_COOKIE).and_then(|c| Lang::parse(&c)) {
            return v;
        }
        Lang::Zh
    }

    /// The translated text of `key`; the key itself when it is unknown (a test forbids that).
    pub fn t(self, key: &str) -> &'static str {
        match MESSAGES.binary_search_by(|(k, _, _)| (*k).cmp(key)) {
            Ok(i) => match MESSAGES.get(i) {
                Some((_, zh, en)) => match self {
                    Lang::Zh => zh,
                    Lang::En => en,
                },
                None => "?",
            },
            Err(_) => "?",
        }
    }

    /// A coded value's label in this language.
    pub fn label<T: Labelled>(self, v: T) -> &'static str {
        v.label(self.is_en())
    }
}

/// Coded values with bilingual labels (every `code_enum!`).
pub trait Labelled: Copy {
    fn label(self, english: bool) -> &'static str;
}

macro_rules! labelled {
    ($($t:ty),*) => { $( impl Labelled for $t { fn label(self, e: bool) -> &'static str { <$t>::label(self, e) } } )* };
}
use ygt_domain::access::{Permission, Role};
use ygt_domain::audit::Outcome;
use ygt_domain::ident::Sex;
use ygt_domain::org::{AllianceForm, InstitutionType, ProfessionalTitle, ServiceKind, Tier};
labelled!(
    AllianceForm,
    Outcome,
    InstitutionType,
    ProfessionalTitle,
    ServiceKind,
    Tier,
    Role,
    Permission,
    ygt_domain::referral::Criterion,
    ygt_domain::referral::Urgency,
    ygt_domain::referral::ResourceKind,
    ygt_domain::referral::Direction,
    ygt_domain::referral::Status
);

impl Labelled for Sex {
    fn label(self, english: bool) -> &'static str {
        if english {
            self.label_en()
        } else {
            self.label_zh()
        }
    }
}

impl<T: Labelled> Labelled for &T {
    fn label(self, english: bool) -> &'static str {
        (*self).label(english)
    }
}

pub const LANG_COOKIE: &str = "ygt_lang";

/// Reads one cookie of the request.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    for v in parts.headers.get_all(axum::http::header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == name
            {
                return Some(val.to_owned());
            }
        }
    }
    None
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_parts(parts))
    }
}

/// (key, Chinese, English), sorted by key (a test checks the order and that every key used
/// in a template exists).
pub static MESSAGES: &[(&str, &str, &str)] = &[
    ("action.activate", "启用", "Reactivate"),
    ("action.add", "添加", "Add"),
    ("action.cancel", "取消", "Cancel"),
    ("action.deactivate", "停用", "Deactivate"),
    ("action.edit", "编辑", "Edit"),
    ("action.filter", "筛选", "Filter"),
    ("action.new_community", "新建医联体", "New community"),
    ("action.new_department", "新增科室", "New department"),
    ("action.new_institution", "新增机构", "New institution"),
    ("action.new_staff", "新增人员", "New staff member"),
    ("action.remove", "移除", "Remove"),
    ("action.reveal", "显示完整号码", "Show full numbers"),
    ("action.save", "保存", "Save"),
    ("action.search", "搜索", "Search"),
    (
        "app.name",
        "医共体平台",
        "County Medical Community Platform",
    ),
    (
        "app.tagline",
        "县域医共体信息平台",
        "Information platform of the county medical community",
    ),
    ("audit.action", "操作", "Action"),
    ("audit.actor_anonymous", "未登录用户", "Not signed in"),
    ("audit.actor_system", "系统", "System"),
    ("audit.actor_token", "接口令牌：", "API token: "),
    (
        "audit.break_glass_queue",
        "紧急访问审核",
        "Break-glass review",
    ),
    ("audit.detail", "详情", "Detail"),
    ("audit.from", "开始日期", "From"),
    (
        "audit.grant_account_role",
        "授予账号含患者数据权限的角色",
        "Role with patient-data permissions given to an account",
    ),
    ("audit.grant_kind", "授予类型", "Grant"),
    (
        "audit.grant_role_permission",
        "为角色增加患者数据权限",
        "Patient-data permissions added to a role",
    ),
    ("audit.grant_target", "授予对象", "Given to"),
    (
        "audit.grant_token",
        "创建含患者数据权限的接口令牌",
        "API token with patient-data permissions",
    ),
    ("audit.granted_by", "授予人", "Granted by"),
    (
        "audit.grants",
        "新建立的调阅关系",
        "New relationships to residents",
    ),
    (
        "audit.history_hint",
        "谁查找、调阅、显示完整号码或修改过该居民，依据什么",
        "Who found, opened, revealed or changed this resident, and on what ground",
    ),
    (
        "audit.history_title",
        "居民访问记录",
        "A resident's access history",
    ),
    (
        "audit.institution_hint",
        "机构名称或 ID",
        "Institution name or id",
    ),
    ("audit.justified", "合理", "Justified"),
    ("audit.no_events", "没有符合条件的记录", "No events match"),
    ("audit.no_grants", "暂无授予记录", "No grants yet"),
    ("audit.note", "审核意见", "Review note"),
    ("audit.outcome", "结果", "Outcome"),
    (
        "audit.patient_permissions",
        "患者数据权限",
        "Patient-data permissions",
    ),
    (
        "audit.privilege_grants",
        "患者数据权限授予审核",
        "Grants of patient-data rights",
    ),
    (
        "audit.privilege_grants_hint",
        "每一次把含患者数据权限的角色授予账号、为角色增加患者数据权限或创建含此类权限的接口令牌，都在此列出，供审计员核查；授予人不能给自己授予。",
        "Every role with patient-data permissions given to an account, every patient-data permission added to a role and every API token made with one is listed here for auditors; nobody grants to themselves.",
    ),
    (
        "audit.queue_empty",
        "没有待审核的紧急访问",
        "Nothing to review",
    ),
    ("audit.reason", "理由", "Reason"),
    ("audit.resident", "居民", "Resident"),
    (
        "audit.resident_hint",
        "姓名、身份证号或 ID",
        "Name, ID number or id",
    ),
    ("audit.resource", "对象", "Resource"),
    ("audit.time", "时间", "Time"),
    ("audit.to", "结束日期", "To"),
    ("audit.unjustified", "不合理", "Unjustified"),
    ("audit.unreviewed", "待审核", "Unreviewed"),
    ("audit.user", "操作人", "User"),
    (
        "audit.user_hint",
        "姓名、用户名或 ID",
        "Name, user name or id",
    ),
    ("auth.account_created", "已创建账号", "Account created"),
    (
        "auth.bad_credentials",
        "用户名或密码错误",
        "Wrong user name or password",
    ),
    ("auth.change_password", "修改密码", "Change password"),
    ("auth.current_password", "当前密码", "Current password"),
    ("auth.expires", "到期时间", "Expires"),
    (
        "auth.form_expired",
        "登录页面已过期，请重新登录",
        "The sign-in page expired; please try again",
    ),
    ("auth.last_used", "最近使用", "Last used"),
    (
        "auth.must_change",
        "首次登录请先修改初始密码",
        "Please change your initial password first",
    ),
    ("auth.my_account", "我的账号", "My account"),
    ("auth.new_account", "新建账号", "New account"),
    ("auth.new_password", "新密码", "New password"),
    (
        "auth.new_password_again",
        "再次输入新密码",
        "New password again",
    ),
    ("auth.new_token", "新建令牌", "New token"),
    ("auth.password", "密码", "Password"),
    (
        "auth.password_changed",
        "密码已修改",
        "Your password was changed",
    ),
    (
        "auth.password_rules",
        "至少10位，包含大写、小写、数字、符号中的三类，不能含用户名或常见弱口令",
        "At least 10 characters of three kinds; not your user name nor a common password",
    ),
    ("auth.permissions", "权限", "Permissions"),
    ("auth.reset_password", "重置密码", "Reset password"),
    ("auth.revoke", "吊销", "Revoke"),
    ("auth.revoked", "已吊销", "Revoked"),
    ("auth.roles", "角色", "Roles"),
    ("auth.sign_in", "登录", "Sign in"),
    ("auth.sign_out", "退出", "Sign out"),
    (
        "auth.sign_out_everywhere",
        "退出所有设备",
        "Sign out everywhere",
    ),
    (
        "auth.signed_out_everywhere",
        "已退出所有设备",
        "Signed out everywhere",
    ),
    (
        "auth.temporary_password",
        "临时密码（仅显示一次）：",
        "Temporary password (shown once):",
    ),
    (
        "auth.token_once",
        "令牌只显示这一次，请立即复制保存：",
        "This token is shown only once; copy it now:",
    ),
    ("auth.username", "用户名", "User name"),
    ("auth.valid_days", "有效天数", "Valid for (days)"),
    (
        "auth.valid_days_hint",
        "默认 90 天，最长 365 天",
        "90 unless given, at most 365",
    ),
    (
        "break_glass.explain",
        "抢救等紧急情况下，可写明理由后在限定时间内调阅该居民的健康数据；本次访问将记入审计日志，并由审计员逐条复核。",
        "In an emergency you may see this resident's data for a limited time after stating why; the access is recorded in the audit log and reviewed by an auditor.",
    ),
    ("break_glass.minutes", "访问时长", "Duration"),
    (
        "break_glass.out_of_scope",
        "该居民不在您的服务范围内；紧急情况下可申请紧急授权访问",
        "This resident is outside your scope; in an emergency use break-glass access",
    ),
    ("break_glass.reason", "紧急访问理由", "Reason"),
    (
        "break_glass.reason_hint",
        "至少 10 个汉字、字母或数字",
        "at least 10 letters, digits or characters",
    ),
    ("break_glass.resident", "居民", "Resident"),
    (
        "break_glass.title",
        "紧急授权访问",
        "Emergency (break-glass) access",
    ),
    ("common.active", "在用", "Active"),
    ("common.all", "全部", "All"),
    ("common.inactive", "已停用", "Deactivated"),
    ("common.none", "无", "None"),
    ("common.total", "共", "Total"),
    ("community.add_member", "添加成员单位", "Add a member"),
    ("community.form", "联合体形式", "Form"),
    ("community.lead", "牵头机构", "Lead institution"),
    ("community.members", "成员单位", "Members"),
    ("department.beds", "床位", "Beds"),
    ("department.code", "科室代码", "Code"),
    ("department.name", "科室名称", "Department"),
    ("error.back", "返回", "Go back"),
    (
        "error.fix_fields",
        "请修改以下内容后再提交：",
        "Please correct the following and submit again:",
    ),
    (
        "error.not_found",
        "未找到该页面或记录",
        "The page or record was not found",
    ),
    (
        "error.stale",
        "该记录已被他人修改，请刷新后重试",
        "The record was changed by someone else; reload and try again",
    ),
    ("error.title", "出错了", "Something went wrong"),
    ("field.address", "地址", "Address"),
    ("field.aliases", "别名", "Aliases"),
    (
        "field.aliases_hint",
        "每行一个，如“县人民医院某某分院”",
        "One per line, such as the branch plaque name",
    ),
    ("field.description", "说明", "Description"),
    ("field.diastolic", "舒张压（mmHg）", "Diastolic (mmHg)"),
    ("field.division_code", "行政区划代码", "Division code"),
    (
        "field.glucose",
        "空腹血糖（mmol/L）",
        "Fasting glucose (mmol/L)",
    ),
    ("field.id_number", "身份证号", "ID number"),
    ("field.kind", "机构类型", "Type"),
    ("field.licence_number", "执业证书编号", "Licence number"),
    ("field.name", "名称", "Name"),
    ("field.note", "备注", "Note"),
    ("field.parent", "上级机构", "Parent institution"),
    ("field.person_name", "姓名", "Name"),
    ("field.phone", "电话", "Phone"),
    ("field.services", "服务项目", "Services"),
    ("field.sex", "性别", "Sex"),
    ("field.systolic", "收缩压（mmHg）", "Systolic (mmHg)"),
    ("field.tier", "层级", "Tier"),
    ("field.title", "职称", "Title"),
    (
        "field.uscc",
        "统一社会信用代码",
        "Unified social credit code",
    ),
    ("history.changed", "变更", "Changed"),
    (
        "history.created",
        "首次登记，建立主索引",
        "First registration: the resident entered the index",
    ),
    (
        "history.linked",
        "新的登记记录关联到此居民",
        "A registration was linked to this resident",
    ),
    (
        "history.merged",
        "合并：另一份主索引并入此居民",
        "Merged: another index entry joined this resident",
    ),
    (
        "history.moved_out",
        "登记记录移至另一居民",
        "A registration moved to another resident",
    ),
    ("history.other_person", "另一居民", "the other resident"),
    (
        "history.system",
        "主索引自动匹配",
        "the index, automatically",
    ),
    (
        "history.unmerged",
        "拆分：登记记录分出为独立居民",
        "Split: a registration became a resident of its own",
    ),
    (
        "history.updated",
        "登记信息由来源机构更新",
        "The sending institution updated a registration",
    ),
    ("home.beds", "开放床位", "Beds"),
    ("home.communities", "医联体", "Communities"),
    ("home.county", "县级机构", "County institutions"),
    ("home.staff", "在岗人员", "Staff"),
    (
        "home.township",
        "乡镇卫生院 / 社区中心",
        "Township & community centres",
    ),
    (
        "home.village",
        "村卫生室 / 社区站",
        "Village clinics & stations",
    ),
    (
        "home.welcome",
        "欢迎使用医共体平台",
        "Welcome to the community platform",
    ),
    ("institution.children", "下级机构", "Institutions below"),
    ("institution.communities", "所属医联体", "Communities"),
    ("institution.departments", "科室", "Departments"),
    ("institution.staff", "人员", "Staff"),
    ("institution.staff_count", "人员数", "Staff"),
    ("institution.tree", "机构树", "Institution tree"),
    (
        "institution.tree_hint",
        "县级医院为龙头，乡镇卫生院为枢纽，村卫生室为网底。",
        "The county hospital leads, township centres are the hub, village clinics the base.",
    ),
    ("lang.switch", "English", "中文"),
    ("mpi.candidate", "疑似同一人", "Possible match"),
    (
        "mpi.confirm_merge",
        "我已核对两份档案，确认是同一人",
        "I checked both records and confirm they are the same person",
    ),
    (
        "mpi.confirm_split",
        "我已核对，确认这条登记不是该居民",
        "I checked and confirm this registration is not this resident",
    ),
    ("mpi.field", "项目", "Field"),
    ("mpi.level", "比对结果", "Comparison"),
    (
        "mpi.merge",
        "合并到另一居民档案",
        "Merge into another resident",
    ),
    (
        "mpi.merge_explain",
        "该居民的全部登记、就诊记录、转诊和随访任务将归入目标居民，本档案停用。各机构能否调阅，按合并后的身份证件核验结果重新判定。",
        "Every registration, record item, referral and follow-up task of this resident moves to the target resident, and this record is retired. Which institutions may open the record is decided again from the verified ID numbers.",
    ),
    ("mpi.merge_into", "目标居民编号", "Target resident id"),
    ("mpi.new_registration", "新登记", "New registration"),
    ("mpi.not_same", "不是同一人", "Not the same person"),
    ("mpi.queue_empty", "没有待核对的记录", "Nothing to review"),
    ("mpi.reason", "原因", "Reason"),
    (
        "mpi.review",
        "待核对的疑似同一人",
        "Possible matches to review",
    ),
    ("mpi.same", "是同一人", "Same person"),
    ("mpi.split_from", "拆分自", "Split from"),
    (
        "mpi.steward_hint",
        "合并与拆分由主索引管理员执行，须写明原因并确认。",
        "Merges and splits are done by patient-index stewards, with a reason and a confirmation.",
    ),
    ("mpi.total", "合计", "Total"),
    ("mpi.unmerge", "拆分", "Split off"),
    (
        "mpi.unmerge_explain",
        "这条登记将拆分为一位新居民，并记录为“不是同一人”。新居民只带走这条登记及其机构发送的记录。",
        "This registration becomes a new resident of its own, remembered as not the same person. The new resident takes only this registration and the records sent under it.",
    ),
    ("mpi.weight", "权重", "Weight"),
    ("nav.accounts", "账号", "Accounts"),
    ("nav.api", "接口文档", "API"),
    ("nav.audit", "审计", "Audit"),
    ("nav.communities", "医联体", "Communities"),
    ("nav.home", "首页", "Home"),
    ("nav.inbox", "消息", "Inbox"),
    ("nav.institutions", "机构", "Institutions"),
    ("nav.more", "更多", "More"),
    ("nav.referrals", "转诊", "Referrals"),
    ("nav.residents", "居民", "Residents"),
    ("nav.roles", "角色权限", "Roles"),
    ("nav.search", "搜索", "Search"),
    ("nav.staff", "人员", "Staff"),
    ("nav.tasks", "随访任务", "Care tasks"),
    ("nav.tokens", "接口令牌", "API tokens"),
    ("record.abnormal", "异常", "Abnormal"),
    ("record.acute", "急性及其他问题", "Acute and other problems"),
    ("record.allergies", "过敏史", "Allergies"),
    ("record.assign", "归档到居民", "Assign"),
    ("record.back", "返回健康档案", "Back to the record"),
    ("record.chronic", "慢性病", "Chronic conditions"),
    ("record.code", "编码", "Code"),
    ("record.conclusion", "结论", "Conclusion"),
    ("record.corrected", "已更正", "Corrected"),
    ("record.cost", "费用", "Cost"),
    ("record.days", "天", "days"),
    ("record.empty", "没有符合条件的记录", "Nothing matches"),
    ("record.end", "已显示全部记录", "That is everything"),
    (
        "record.episode_all",
        "这段时间的全部记录",
        "Everything recorded during the stay",
    ),
    ("record.episode_arrived", "到院", "Arrived"),
    ("record.episode_completed", "完成", "Completed"),
    ("record.episode_down", "下转", "Referred down"),
    (
        "record.episode_items",
        "本次就诊产生的记录",
        "Recorded during the visit",
    ),
    (
        "record.episode_no_items",
        "接收机构尚未上传本次就诊的记录",
        "Nothing recorded by the receiving institution yet",
    ),
    ("record.episode_outcome", "诊疗结果", "Outcome"),
    ("record.episode_plan", "治疗方案", "Treatment plan"),
    (
        "record.episode_plan_item",
        "方案用药处方",
        "Prescription of the plan",
    ),
    ("record.episode_tasks", "随访任务", "Follow-up tasks"),
    ("record.episode_tasks_done", "已完成", "done"),
    ("record.episode_up", "上转", "Referred up"),
    ("record.episodes", "转诊经过", "Referral episodes"),
    (
        "record.episodes_hint",
        "每段转诊：上转、到院就诊、诊疗结果、下转与康复方案依次相连",
        "Each episode links the up-referral, the visit, the outcome, the down-referral and the plan",
    ),
    ("record.findings", "所见", "Findings"),
    ("record.from", "从", "From"),
    (
        "record.identity",
        "身份与登记",
        "Identity and registrations",
    ),
    ("record.item", "项目", "Item"),
    ("record.kind", "类别", "Type"),
    (
        "record.medications",
        "近 90 天用药",
        "Medication, last 90 days",
    ),
    ("record.modality", "检查类型", "Modality"),
    ("record.more", "加载更多", "Load more"),
    ("record.none", "无", "None"),
    ("record.none_known", "未记录过敏", "No known allergies"),
    ("record.open", "健康档案", "Health record"),
    ("record.pdf", "PDF 原件", "PDF document"),
    ("record.pdf_open", "打开 PDF", "Open the PDF"),
    ("record.performed", "检查日期", "Done on"),
    ("record.person_id", "居民主索引编号", "Person id"),
    (
        "record.person_id_hint",
        "请填写居民主索引编号（居民页面地址中的编号）",
        "Enter the person id (the id in the resident page's address)",
    ),
    (
        "record.problems",
        "诊断与慢病",
        "Problems and chronic conditions",
    ),
    ("record.received", "接收", "Received"),
    (
        "record.recognised",
        "可互认的检查检验结果",
        "Results recognised across the community",
    ),
    (
        "record.recognised_hint",
        "以下结果仍在互认有效期内，可不必重复检查",
        "These results are still valid under mutual recognition: no need to repeat them",
    ),
    ("record.refer_down", "下转", "Refer down"),
    ("record.refer_up", "上转", "Refer up"),
    ("record.reference", "参考范围", "Reference range"),
    ("record.referrals", "转诊记录", "Referrals"),
    ("record.replaced", "被替换", "Replaced"),
    ("record.result", "结果", "Result"),
    ("record.sent_as", "来源标识", "Sent as"),
    ("record.source", "来源", "Source"),
    ("record.timeline", "就诊与报告时间线", "Timeline"),
    ("record.title", "健康档案", "Health record"),
    ("record.to", "至", "To"),
    ("record.unit", "单位", "Unit"),
    ("record.unmatched", "待匹配条目", "Unmatched items"),
    (
        "record.unmatched_empty",
        "没有待匹配的条目",
        "No unmatched items",
    ),
    (
        "record.unmatched_hint",
        "来源系统发送的这些条目无法确定属于哪位居民；请核对后归档，不会丢弃任何条目",
        "The index could not tell whom these items are about; check and assign them. Nothing is dropped.",
    ),
    ("record.valid_until", "有效期至", "Valid until"),
    ("record.versions", "历史版本", "Earlier versions"),
    ("record.when", "时间", "When"),
    (
        "resident.access_history",
        "谁查找、调阅、修改过此居民",
        "Who found, opened or changed this resident",
    ),
    (
        "resident.access_history_hint",
        "审计日志中与此居民有关的全部记录",
        "Every audit record about this resident",
    ),
    (
        "resident.as_typed",
        "按原样保存（已核对，证件上即如此）",
        "Keep as typed (checked: the card says so)",
    ),
    ("resident.birth_date", "出生日期", "Date of birth"),
    ("resident.division_code", "行政区划代码", "Division code"),
    ("resident.ethnicity", "民族", "Ethnicity"),
    ("resident.history", "变更记录", "History"),
    ("resident.household_number", "户号", "Household number"),
    (
        "resident.id_hint",
        "可填18位或15位；无效号码会保留但不作为身份标识",
        "18 or 15 digits; an invalid number is kept but never used as an identifier",
    ),
    ("resident.institution", "登记机构", "Registered at"),
    ("resident.insurance_number", "医保号", "Insurance number"),
    ("resident.invalid_id", "号码无效", "invalid number"),
    ("resident.merged", "已合并", "Merged"),
    (
        "resident.outcome_linked",
        "已识别为已有居民，登记已并入该居民档案",
        "Recognised as an existing resident; the registration was linked",
    ),
    (
        "resident.outcome_new",
        "已建立新的居民档案",
        "A new resident record was created",
    ),
    (
        "resident.outcome_review",
        "已建立新档案；发现可能的同一人，已提交人工核对",
        "New record created; possible matches were sent for review",
    ),
    (
        "resident.outcome_updated",
        "本机构已有该病案号的登记，已按新信息更新",
        "This institution already had the patient number; its registration was updated",
    ),
    (
        "resident.outside_scope",
        "不在服务范围",
        "Outside your scope",
    ),
    (
        "resident.record_id",
        "本机构病案号/门诊号",
        "Patient number at this institution",
    ),
    ("resident.register", "登记居民", "Register a resident"),
    ("resident.registrations", "登记记录", "Registrations"),
    (
        "resident.scope_hint",
        "只显示与本机构有关系的居民（已核验身份证件的登记、转诊、签约等）。其他居民须输入完整身份证号和姓名才能查到，且不能调阅。",
        "Only residents related to your institution are listed (a registration with a verified ID number, a referral, a contract). Others are found only by their full ID number with their name, and cannot be opened.",
    ),
    (
        "resident.search_hint",
        "姓名、拼音或首字母、身份证号、电话或医保号",
        "Name, pinyin or its initials, ID number, phone or insurance number",
    ),
    ("resident.village", "乡镇、村（社区）", "Township, village"),
    ("resident.village_group", "组", "Group (组)"),
    ("search.no_results", "没有找到匹配的结果", "Nothing matched"),
    (
        "search.placeholder",
        "机构名称、别名、人员姓名或执业证号",
        "Institution, alias, staff name or licence number",
    ),
    ("staff.department", "科室", "Department"),
    ("staff.institution", "所在机构", "Institution"),
    ("staff.list", "人员名录", "Staff directory"),
    (
        "staff.reveal_hint",
        "查看将记入审计日志",
        "Viewing is recorded in the audit log",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sorted_and_unique() {
        for w in MESSAGES.windows(2) {
            assert!(w[0].0 < w[1].0, "{} must sort before {}", w[0].0, w[1].0);
        }
    }

    #[test]
    fn every_key_used_in_templates_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("t(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                if MESSAGES
                    .binary_search_by(|(k, _, _)| (*k).cmp(key))
                    .is_err()
                {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "missing translations: {missing:?}");
    }

    #[test]
    fn language_from_query_then_cookie() {
        let req = axum::http::Request::builder()
            .uri("/x?lang=en")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(Lang::from_parts(&parts), Lang::En);
        let req = axum::http::Request::builder()
            .uri("/x")
            .header("cookie", "a=b; ygt_lang=en")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(Lang::from_parts(&parts), Lang::En);
        let req = axum::http::Request::builder().uri("/x").body(()).unwrap();
        let (parts, _) = req.into_parts();
        assert_eq!(Lang::from_parts(&parts), Lang::Zh);
    }
}
