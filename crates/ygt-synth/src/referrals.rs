//! Two-way referral in the demo county: calendars with reserved quotas at the county hospital,
//! and referrals in every state and both directions, written by the demo doctors through the
//! use cases of `ygt_app::referral`.
//!
//! Who acts: every step is taken by a signed-in demo account of the institution whose side
//! takes it (the village doctor refers up, the county's referral coordinator accepts, the
//! department's doctor sends the outcome back and writes the down-referral with its plan, the
//! family doctor accepts it), so that every rule of the use cases holds: the resident is in the
//! actor's scope, the side may take the step, the state allows it. The generator signs in with
//! the demo password and signs out again at the end; calendars are made by the system actor
//! (as the county itself is).
//!
//! Times: the use cases stamp each step with the current time. So that the demo county has a
//! past (referrals written weeks ago and accepted hours later, some overdue today), each
//! referral is written step by step now and then moved into the past with
//! `Store::retime_generated_referral`, the one write of the generator that does not go through
//! a use case (it exists for synthetic data only; the audit log keeps the real times at which
//! the generator wrote). Appointments are real calendar times and are never moved: referrals
//! that end in the past never hold a slot.
//!
//! Deterministic: the same seed picks the same residents, cases, institutions and states
//! (times are relative to when the generator runs).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::retime::{Retime, retime_generated_referral};
use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};
use uuid::Uuid;
use ygt_app::account::AccountDraft;
use ygt_app::referral::{PlanDraft, ReferralDraft, ReferralOutcome, StepDraft};
use ygt_app::ygt_store::mpi::Registration;
use ygt_app::ygt_store::org::{Institution, InstitutionFilter, Staff};
use ygt_app::ygt_store::referral::ReferralFilter;
use ygt_app::{Actor, App, AppError, Ctx};
use ygt_domain::access::{Ground, RegistrationFacts, Role, registration_grounds};
use ygt_domain::org::{InstitutionType, Tier};
use ygt_domain::referral::{
    Direction, OverdueRules, ResourceKind, SlotAvailability, Status, Urgency,
};

use crate::rng::Rng;
use crate::{
    DEMO_PASSWORD, GenerateError, PHYSICIANS, Progress, Scale, VILLAGE_DOCTORS, demo_staff,
};

/// What [`generate_referrals`] made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralSummary {
    /// Booking resources (calendars) and their slots.
    pub calendars: usize,
    pub slots: u64,
    /// Referrals written, and how many there are per (direction, status).
    pub referrals: usize,
    pub by_state: BTreeMap<(String, String), i64>,
    /// Overdue right after generation.
    pub overdue: i64,
    /// Accounts added for the doctors of the other institutions that refer.
    pub accounts: Vec<String>,
    /// Planned referrals left out because no resident fitted (a county with few residents).
    pub skipped: usize,
}

/// The doctors' accounts of the county hospital's departments that write down-referrals and
/// send outcomes back (besides `doctor`, the cardiologist): user name and department.
pub const HOSPITAL_DOCTORS: &[(&str, &str)] = &[
    ("doctor", "心血管内科"),
    ("doctor.neurology", "神经内科"),
    ("doctor.endocrinology", "内分泌科"),
    ("doctor.orthopedics", "骨科"),
    ("doctor.respiratory", "呼吸内科"),
];

/// Days the calendars cover, from today.
const CALENDAR_DAYS: i64 = 21;

fn beijing() -> UtcOffset {
    UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// A local (Beijing) time of a day.
fn local(day: Date, hour: u8, minute: u8) -> OffsetDateTime {
    day.with_time(Time::from_hms(hour, minute, 0).unwrap_or(Time::MIDNIGHT))
        .assume_offset(beijing())
}

/// About 40 % of a session, rounded.
fn reserved_share(per_day: i64) -> i64 {
    (per_day * 2 + 2) / 5
}

// ---------------------------------------------------------------- calendars

struct CalendarSpec {
    name: &'static str,
    /// Where it is, as the slip prints it.
    location: &'static str,
    kind: ResourceKind,
    department: &'static str,
    /// Whose clinic (a specialist of the department), for specialist clinics.
    specialist: bool,
    minutes: i64,
    release_hours: i64,
    /// (hour, minute, slots) of each daily session, Beijing time.
    sessions: &'static [(u8, u8, i64)],
    weekends: bool,
}

/// Clinic hours 08:00–11:30 and 14:00–17:00 on weekdays; wards admit every day at 10:00.
const CALENDARS: &[CalendarSpec] = &[
    CalendarSpec {
        name: "64排螺旋CT",
        location: "门诊医技楼二楼 CT 室",
        kind: ResourceKind::Ct,
        department: "医学影像科",
        specialist: false,
        minutes: 30,
        release_hours: 24,
        sessions: &[(8, 0, 7), (14, 0, 6)],
        weekends: false,
    },
    CalendarSpec {
        name: "1.5T磁共振",
        location: "门诊医技楼一楼 磁共振室",
        kind: ResourceKind::Mri,
        department: "医学影像科",
        specialist: false,
        minutes: 45,
        release_hours: 24,
        sessions: &[(8, 0, 4), (14, 0, 4)],
        weekends: false,
    },
    CalendarSpec {
        name: "彩色多普勒超声",
        location: "门诊医技楼二楼 超声科 3 诊室",
        kind: ResourceKind::Ultrasound,
        department: "医学影像科",
        specialist: false,
        minutes: 15,
        release_hours: 24,
        sessions: &[(8, 0, 14), (14, 0, 12)],
        weekends: false,
    },
    CalendarSpec {
        name: "心内科专家门诊",
        location: "门诊楼三楼 心内科专家诊室 1",
        kind: ResourceKind::SpecialistClinic,
        department: "心血管内科",
        specialist: true,
        minutes: 15,
        release_hours: 48,
        sessions: &[(8, 0, 14), (14, 0, 12)],
        weekends: false,
    },
    CalendarSpec {
        name: "神经内科专家门诊",
        location: "门诊楼三楼 神经内科专家诊室 2",
        kind: ResourceKind::SpecialistClinic,
        department: "神经内科",
        specialist: true,
        minutes: 15,
        release_hours: 48,
        sessions: &[(8, 0, 14), (14, 0, 12)],
        weekends: false,
    },
    CalendarSpec {
        name: "心血管内科病房",
        location: "内科住院部 5 楼",
        kind: ResourceKind::Bed,
        department: "心血管内科",
        specialist: false,
        minutes: 24 * 60,
        release_hours: 48,
        sessions: &[(10, 0, 4)],
        weekends: true,
    },
    CalendarSpec {
        name: "神经内科病房",
        location: "内科住院部 6 楼",
        kind: ResourceKind::Bed,
        department: "神经内科",
        specialist: false,
        minutes: 24 * 60,
        release_hours: 48,
        sessions: &[(10, 0, 4)],
        weekends: true,
    },
    CalendarSpec {
        name: "骨科病房",
        location: "外科住院部 3 楼",
        kind: ResourceKind::Bed,
        department: "骨科",
        specialist: false,
        minutes: 24 * 60,
        release_hours: 48,
        sessions: &[(10, 0, 3)],
        weekends: true,
    },
];

/// The calendars made: (kind, department, resource).
#[derive(Default)]
struct Calendars {
    made: Vec<(ResourceKind, &'static str, Uuid)>,
}

impl Calendars {
    /// The resource that serves a department's need (one scanner serves every department).
    fn resource(&self, kind: ResourceKind, department: &str) -> Option<Uuid> {
        let scanner = matches!(
            kind,
            ResourceKind::Ct | ResourceKind::Mri | ResourceKind::Ultrasound
        );
        self.made
            .iter()
            .find(|(k, d, _)| *k == kind && (scanner || *d == department))
            .map(|(_, _, id)| *id)
    }
}

// ---------------------------------------------------------------- clinical cases

/// An up-referral: why a primary-level doctor sends the resident to the county hospital, and
/// what comes back.
struct UpCase {
    code: &'static str,
    name: &'static str,
    /// The receiving department at the county hospital.
    department: &'static str,
    needs: Option<ResourceKind>,
    urgency: Urgency,
    criterion: Option<&'static str>,
    min_age: i32,
    reason: &'static str,
    summary: &'static str,
    outcome_code: &'static str,
    outcome_name: &'static str,
    treatment: &'static str,
    outcome: &'static str,
}

const UP_CASES: &[UpCase] = &[
    UpCase {
        code: "I63.900",
        name: "脑梗死",
        department: "神经内科",
        needs: Some(ResourceKind::Mri),
        urgency: Urgency::Urgent,
        criterion: Some("outside_catalogue"),
        min_age: 50,
        reason: "右侧肢体无力伴言语含糊 1 天，村卫生室无影像检查条件，需头颅 MRI 明确诊断",
        summary: "高血压病史 8 年，服药不规律；血压 168/96 mmHg，右侧肢体肌力 4 级，言语欠清，伸舌右偏。",
        outcome_code: "I63.900",
        outcome_name: "脑梗死",
        treatment: "阿司匹林联合氯吡格雷双联抗血小板 21 天，阿托伐他汀强化降脂，控制血压，早期康复训练",
        outcome: "头颅 MRI 示左侧基底节区急性脑梗死。住院 12 天，右侧肢体肌力恢复至 5- 级，言语清晰，病情稳定出院，建议转回基层继续康复及二级预防。",
    },
    UpCase {
        code: "I63.900",
        name: "脑梗死",
        department: "神经内科",
        needs: Some(ResourceKind::Ct),
        urgency: Urgency::Emergency,
        criterion: None,
        min_age: 55,
        reason: "突发左侧肢体无力、口角歪斜 2 小时，发病时间明确，需急诊头颅 CT 评估静脉溶栓",
        summary: "既往心房颤动，未规律抗凝；血压 178/102 mmHg，NIHSS 6 分，已电话联系县医院卒中中心。",
        outcome_code: "I63.900",
        outcome_name: "脑梗死",
        treatment: "急诊头颅 CT 排除脑出血后予阿替普酶静脉溶栓，后续抗凝治疗（利伐沙班）",
        outcome: "溶栓后左侧肢体肌力由 2 级恢复至 4 级。住院 10 天，病情稳定，转基层康复。",
    },
    UpCase {
        code: "I21.900",
        name: "急性心肌梗死",
        department: "心血管内科",
        needs: Some(ResourceKind::Bed),
        urgency: Urgency::Emergency,
        criterion: None,
        min_age: 45,
        reason: "持续性胸骨后压榨样疼痛 2 小时，含服硝酸甘油不缓解",
        summary: "心电图示 V1–V4 导联 ST 段抬高 0.3 mV；已嚼服阿司匹林 300 mg、氯吡格雷 300 mg，120 转运途中。",
        outcome_code: "I21.900",
        outcome_name: "急性心肌梗死",
        treatment: "急诊 PCI，前降支近段植入支架 1 枚；双联抗血小板、他汀、β 受体阻滞剂",
        outcome: "术后无胸痛，心功能良好（EF 55%）。住院 7 天出院，长期双联抗血小板 12 个月，建议基层随访。",
    },
    UpCase {
        code: "I10.x00",
        name: "高血压",
        department: "心血管内科",
        needs: None,
        urgency: Urgency::Emergency,
        criterion: Some("emergency_bp"),
        min_age: 35,
        reason: "血压 192/116 mmHg，伴剧烈头痛、恶心，达急症转诊标准",
        summary: "高血压病史 10 年，近 3 天自行停用苯磺酸氨氯地平；神志清，四肢活动正常。",
        outcome_code: "I10.x00",
        outcome_name: "高血压",
        treatment: "静脉乌拉地尔降压，排除靶器官急性损害；出院改为氨氯地平联合缬沙坦",
        outcome: "血压平稳降至 138/86 mmHg，头痛消失。留观 2 天出院，嘱规律服药，基层随访。",
    },
    UpCase {
        code: "I10.x00",
        name: "高血压",
        department: "心血管内科",
        needs: Some(ResourceKind::SpecialistClinic),
        urgency: Urgency::Urgent,
        criterion: Some("uncontrolled_twice"),
        min_age: 35,
        reason: "连续两次随访血压 ≥160/100 mmHg，联合氨氯地平、缬沙坦仍未达标",
        summary: "高血压病史 12 年，近期头晕；无胸痛，尿常规蛋白（±）。",
        outcome_code: "I10.x00",
        outcome_name: "高血压",
        treatment: "动态血压监测、肾动脉彩超排除继发性高血压；加用氢氯噻嗪 12.5mg 每日一次",
        outcome: "两周后血压 135/85 mmHg，达标。建议基层继续随访，3 个月后心内科门诊复诊。",
    },
    UpCase {
        code: "E11.900",
        name: "2型糖尿病",
        department: "内分泌科",
        needs: None,
        urgency: Urgency::Urgent,
        criterion: Some("uncontrolled_twice"),
        min_age: 40,
        reason: "连续两次随访空腹血糖 ≥11 mmol/L，二甲双胍联合格列美脲效果不佳",
        summary: "糖尿病病史 6 年，近 1 月口干、多饮，体重下降 3 kg；足背动脉搏动可。",
        outcome_code: "E11.900",
        outcome_name: "2型糖尿病",
        treatment: "启动基础胰岛素（甘精胰岛素 12U 每晚一次），糖尿病教育及饮食指导",
        outcome: "空腹血糖降至 7.2 mmol/L，糖化血红蛋白 9.1%。建议基层每周监测血糖并调整胰岛素剂量。",
    },
    UpCase {
        code: "E11.900",
        name: "2型糖尿病",
        department: "内分泌科",
        needs: None,
        urgency: Urgency::Emergency,
        criterion: Some("emergency_glucose"),
        min_age: 30,
        reason: "随机血糖 24.3 mmol/L，伴恶心、呕吐、乏力 1 天，达急症转诊标准",
        summary: "尿酮体（++），口唇干燥，脱水貌；已建立静脉通道补液。",
        outcome_code: "E11.100",
        outcome_name: "2型糖尿病伴有酮症酸中毒",
        treatment: "补液、小剂量胰岛素静脉泵入、纠正电解质紊乱；出院改为预混胰岛素皮下注射",
        outcome: "酮症纠正，血糖平稳。住院 6 天出院，建议基层随访血糖及胰岛素注射技术。",
    },
    UpCase {
        code: "S72.000",
        name: "股骨颈骨折",
        department: "骨科",
        needs: Some(ResourceKind::Bed),
        urgency: Urgency::Urgent,
        criterion: Some("outside_catalogue"),
        min_age: 60,
        reason: "跌倒后右髋部疼痛、不能站立 4 小时，需手术治疗",
        summary: "右下肢短缩、外旋畸形，髋部压痛明显；乡镇卫生院 DR 示右股骨颈骨折（Garden Ⅲ 型）。",
        outcome_code: "S72.000",
        outcome_name: "股骨颈骨折",
        treatment: "右侧人工股骨头置换术；低分子肝素预防深静脉血栓",
        outcome: "术后 10 天切口甲级愈合，可借助助行器行走。病情稳定，转基层康复。",
    },
    UpCase {
        code: "J44.100",
        name: "慢性阻塞性肺疾病急性加重",
        department: "呼吸内科",
        needs: None,
        urgency: Urgency::Urgent,
        criterion: None,
        min_age: 55,
        reason: "咳嗽、咳痰加重伴气促 3 天，指脉氧饱和度 88%，基层治疗效果不佳",
        summary: "慢阻肺病史 10 年，家庭氧疗；口唇发绀，双肺可闻及哮鸣音及湿啰音。",
        outcome_code: "J44.100",
        outcome_name: "慢性阻塞性肺疾病急性加重",
        treatment: "抗感染、雾化支气管扩张剂及糖皮质激素、无创通气 3 天",
        outcome: "症状缓解，静息血氧饱和度 94%。住院 9 天出院，转基层继续稳定期管理及肺康复。",
    },
    UpCase {
        code: "R91.x00",
        name: "肺部阴影待查",
        department: "呼吸内科",
        needs: Some(ResourceKind::Ct),
        urgency: Urgency::Routine,
        criterion: Some("missing_equipment"),
        min_age: 40,
        reason: "胸片示右上肺片状阴影，抗感染治疗 2 周未吸收，需胸部 CT 进一步检查",
        summary: "吸烟 30 年，每日 20 支；无发热，偶有痰中带血丝。",
        outcome_code: "J18.900",
        outcome_name: "肺炎",
        treatment: "胸部增强 CT 及支气管镜检查；继续口服莫西沙星 1 周",
        outcome: "胸部 CT 示右上肺炎症，较前吸收，支气管镜未见新生物。建议 1 个月后复查胸部 CT，劝导戒烟。",
    },
    UpCase {
        code: "I25.100",
        name: "动脉粥样硬化性心脏病",
        department: "心血管内科",
        needs: Some(ResourceKind::SpecialistClinic),
        urgency: Urgency::Routine,
        criterion: None,
        min_age: 45,
        reason: "活动后胸闷、气短 1 个月，休息 3–5 分钟可缓解，需心内科专科评估",
        summary: "心电图示 Ⅱ、Ⅲ、aVF 导联 ST-T 改变；总胆固醇 6.2 mmol/L。",
        outcome_code: "I25.100",
        outcome_name: "动脉粥样硬化性心脏病",
        treatment: "冠脉 CTA 示前降支中段 50% 狭窄；予阿司匹林、阿托伐他汀、单硝酸异山梨酯",
        outcome: "症状明显减轻。建议基层继续冠心病二级预防管理，3 个月后心内科复诊。",
    },
    UpCase {
        code: "G45.900",
        name: "短暂性脑缺血发作",
        department: "神经内科",
        needs: Some(ResourceKind::SpecialistClinic),
        urgency: Urgency::Urgent,
        criterion: Some("outside_catalogue"),
        min_age: 45,
        reason: "反复发作性左手麻木、无力 3 次，每次持续约 10 分钟后自行缓解",
        summary: "血压 156/92 mmHg；发作间期神经系统查体无阳性体征，ABCD² 评分 4 分。",
        outcome_code: "G45.900",
        outcome_name: "短暂性脑缺血发作",
        treatment: "头颅 MRI+MRA：未见急性梗死，右侧大脑中动脉轻度狭窄；阿司匹林、他汀，控制血压",
        outcome: "未再发作。建议基层随访血压、血脂，出现肢体无力持续不缓解立即就诊。",
    },
    UpCase {
        code: "E04.100",
        name: "甲状腺结节",
        department: "普通外科",
        needs: Some(ResourceKind::Ultrasound),
        urgency: Urgency::Routine,
        criterion: Some("missing_equipment"),
        min_age: 25,
        reason: "体检触及右颈前肿物，需甲状腺彩超及专科评估",
        summary: "无声音嘶哑、吞咽困难；甲状腺功能未查。",
        outcome_code: "E04.100",
        outcome_name: "甲状腺结节",
        treatment: "甲状腺彩超：右叶 1.2 cm 囊实性结节，TI-RADS 3 类；甲状腺功能正常",
        outcome: "良性可能大，无需手术。建议 6 个月后复查甲状腺彩超。",
    },
    UpCase {
        code: "K80.200",
        name: "胆囊结石",
        department: "普通外科",
        needs: Some(ResourceKind::Ultrasound),
        urgency: Urgency::Routine,
        criterion: None,
        min_age: 30,
        reason: "反复右上腹痛 3 个月，进食油腻后加重，需腹部彩超及外科评估",
        summary: "墨菲征阴性，无黄疸，无发热。",
        outcome_code: "K80.200",
        outcome_name: "胆囊结石",
        treatment: "腹部彩超示胆囊多发结石（最大 1.5 cm）；择期腹腔镜胆囊切除术",
        outcome: "术后恢复顺利，住院 5 天出院。低脂饮食，1 个月后门诊复查。",
    },
    UpCase {
        code: "M51.202",
        name: "腰椎间盘突出",
        department: "骨科",
        needs: Some(ResourceKind::Mri),
        urgency: Urgency::Routine,
        criterion: Some("missing_equipment"),
        min_age: 30,
        reason: "腰痛伴左下肢放射痛 2 个月，保守治疗效果差，需腰椎 MRI",
        summary: "直腿抬高试验左侧 40° 阳性，左小腿外侧感觉减退。",
        outcome_code: "M51.202",
        outcome_name: "腰椎间盘突出",
        treatment: "腰椎 MRI 示 L4/5 椎间盘左后突出；卧床、甘露醇脱水、甲钴胺，康复理疗",
        outcome: "下肢放射痛明显减轻。建议基层继续康复理疗，症状加重再行手术评估。",
    },
];

/// A down-referral: the county hospital hands a stable resident back with a treatment plan.
struct DownCase {
    code: &'static str,
    name: &'static str,
    /// The sending department at the county hospital.
    department: &'static str,
    criterion: &'static str,
    min_age: i32,
    reason: &'static str,
    discharge_summary: &'static str,
    medications: &'static str,
    follow_ups: &'static str,
    warning_signs: &'static str,
    rehab_goals: &'static str,
    outcome: &'static str,
}

const DOWN_CASES: &[DownCase] = &[
    DownCase {
        code: "I69.300",
        name: "脑梗死后遗症",
        department: "神经内科",
        criterion: "rehabilitation",
        min_age: 50,
        reason: "脑梗死恢复期，病情稳定，转回基层继续康复训练及二级预防",
        discharge_summary: "因“右侧肢体无力 1 天”入院，诊断：脑梗死（左侧基底节区），高血压 3 级（很高危）。予抗血小板、强化降脂、控制血压及早期康复治疗，住院 12 天。出院时右侧肢体肌力 4+ 级，可扶拐行走，言语清晰，血压 132/84 mmHg。",
        medications: "阿司匹林肠溶片 100mg 每日一次\n阿托伐他汀钙片 20mg 每晚一次\n苯磺酸氨氯地平片 5mg 每日一次",
        follow_ups: "+7 血压随访\n+14 康复评估（肢体肌力、步行能力）\n+30 复查血脂、肝功能",
        warning_signs: "出现言语不清、口角歪斜、肢体无力加重或剧烈头痛，立即拨打 120 并上转",
        rehab_goals: "3 个月内独立行走 100 米，日常生活基本自理（Barthel 指数 ≥ 80）",
        outcome: "已接续管理：完成 3 次随访，血压控制在 130/80 mmHg 左右，可独立行走，按时服药。",
    },
    DownCase {
        code: "I25.200",
        name: "陈旧性心肌梗死",
        department: "心血管内科",
        criterion: "chronic_care",
        min_age: 45,
        reason: "急性心肌梗死 PCI 术后，病情稳定，转基层长期管理",
        discharge_summary: "因“持续胸痛 2 小时”急诊入院，诊断：急性前壁 ST 段抬高型心肌梗死。急诊 PCI 于前降支近段植入支架 1 枚，术后无胸痛，心功能 EF 55%，住院 7 天出院。",
        medications: "阿司匹林肠溶片 100mg 每日一次\n替格瑞洛片 90mg 每日两次（12 个月）\n阿托伐他汀钙片 20mg 每晚一次\n琥珀酸美托洛尔缓释片 47.5mg 每日一次",
        follow_ups: "+7 血压、心率随访\n+30 心内科门诊复查\n+90 复查血脂、肝功能、心电图",
        warning_signs: "胸痛持续 15 分钟以上不缓解、黑便、呼吸困难，立即拨打 120",
        rehab_goals: "6 周内逐步恢复日常活动；戒烟；低密度脂蛋白 < 1.4 mmol/L",
        outcome: "已接续管理：无胸痛发作，心率 62 次/分，血压 124/76 mmHg，双联抗血小板规律服用。",
    },
    DownCase {
        code: "E11.900",
        name: "2型糖尿病",
        department: "内分泌科",
        criterion: "chronic_care",
        min_age: 40,
        reason: "2型糖尿病胰岛素方案已调整，血糖平稳，转基层随访管理",
        discharge_summary: "因“血糖控制不佳 1 月”入院，予胰岛素强化治疗后改为甘精胰岛素联合二甲双胍，出院时空腹血糖 6–8 mmol/L，已完成胰岛素注射及低血糖处理教育。",
        medications: "甘精胰岛素注射液 12U 每晚一次\n盐酸二甲双胍片 0.5g 每日三次",
        follow_ups: "+7 血糖随访（空腹及餐后 2 小时）\n+30 血糖随访\n+90 复查糖化血红蛋白",
        warning_signs: "血糖 < 3.9 或 > 16.7 mmol/L、心慌出汗、意识改变，立即就诊",
        rehab_goals: "饮食控制、每日步行 30 分钟；糖化血红蛋白 < 7%",
        outcome: "已接续管理：空腹血糖 6.5–7.5 mmol/L，未发生低血糖，胰岛素剂量维持 12U。",
    },
    DownCase {
        code: "I10.x00",
        name: "高血压",
        department: "心血管内科",
        criterion: "chronic_care",
        min_age: 35,
        reason: "高血压急症处理后血压平稳，转基层长期随访",
        discharge_summary: "因“血压 192/116 mmHg 伴头痛”入院，静脉降压后平稳，排除靶器官急性损害，调整为两药联合口服降压，出院血压 136/84 mmHg。",
        medications: "苯磺酸氨氯地平片 5mg 每日一次\n缬沙坦胶囊 80mg 每日一次",
        follow_ups: "+14 血压随访\n+28 血压随访\n+90 复查肾功能、血钾",
        warning_signs: "血压 ≥ 180/110 mmHg，或伴头痛、胸痛、肢体无力，立即就诊",
        rehab_goals: "低盐饮食（每日 < 5 g）、戒烟限酒；血压 < 140/90 mmHg",
        outcome: "已接续管理：两次随访血压 128/80、132/82 mmHg，达标，按时服药。",
    },
    DownCase {
        code: "S72.000",
        name: "股骨颈骨折（人工股骨头置换术后）",
        department: "骨科",
        criterion: "rehabilitation",
        min_age: 60,
        reason: "股骨颈骨折术后，切口愈合良好，转基层康复",
        discharge_summary: "因“跌倒后右髋部疼痛 4 小时”入院，诊断：右股骨颈骨折（Garden Ⅲ 型）。行右侧人工股骨头置换术，术后切口甲级愈合，可借助助行器行走，住院 10 天。",
        medications: "利伐沙班片 10mg 每日一次（至术后 35 天）\n碳酸钙 D3 片 600mg 每日一次",
        follow_ups: "+14 切口及康复评估\n+42 骨科门诊复查 X 线",
        warning_signs: "患肢肿胀疼痛加重、胸闷气促（警惕深静脉血栓、肺栓塞），立即就诊",
        rehab_goals: "助行器辅助下行走，6 周后逐步负重；居家防跌倒",
        outcome: "已接续管理：切口愈合，6 周后弃用助行器，可独立行走，无跌倒。",
    },
    DownCase {
        code: "J44.900",
        name: "慢性阻塞性肺疾病",
        department: "呼吸内科",
        criterion: "chronic_care",
        min_age: 55,
        reason: "慢阻肺急性加重已控制，转基层稳定期管理及肺康复",
        discharge_summary: "因“咳嗽、咳痰加重伴气促 3 天”入院，诊断：慢性阻塞性肺疾病急性加重。予抗感染、雾化、无创通气治疗，住院 9 天，静息血氧饱和度 94%。",
        medications: "噻托溴铵粉吸入剂 18μg 每日一次\n布地奈德福莫特罗粉吸入剂 160/4.5μg 每日两次",
        follow_ups: "+14 呼吸症状及吸入技术随访\n+90 肺功能复查",
        warning_signs: "气促加重、口唇发绀、发热伴咳脓痰，立即就诊",
        rehab_goals: "缩唇呼吸及腹式呼吸训练，每日步行 20 分钟；戒烟；接种流感疫苗",
        outcome: "已接续管理：未再急性加重，吸入装置使用正确，mMRC 评分 1 分。",
    },
    DownCase {
        code: "K35.800",
        name: "急性阑尾炎（腹腔镜阑尾切除术后）",
        department: "普通外科",
        criterion: "stable",
        min_age: 18,
        reason: "阑尾切除术后恢复顺利，转基层换药拆线及随访",
        discharge_summary: "因“转移性右下腹痛 12 小时”入院，诊断：急性化脓性阑尾炎。急诊行腹腔镜阑尾切除术，术后体温正常，切口无渗出，住院 4 天。",
        medications: "头孢呋辛酯片 0.25g 每日两次（3 天）",
        follow_ups: "+7 切口换药、拆线\n+30 门诊随访",
        warning_signs: "腹痛加重、发热、切口红肿渗液，立即就诊",
        rehab_goals: "术后 2 周内避免重体力劳动，逐步恢复正常饮食",
        outcome: "已接续管理：切口甲级愈合，已拆线，无腹痛发热。",
    },
];

// ---------------------------------------------------------------- the plan

/// Where a referral happens (the referring institution of an up-referral, the receiving one of
/// a down-referral).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The village clinic of the `village` account.
    DemoVillage,
    /// The township centre of the `township.doctor` account.
    DemoTown,
    /// Any other participating village clinic or township centre (more at county scale).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    /// Waiting longer than the overdue rule allows.
    Overdue,
    /// An emergency just submitted.
    Emergency,
    /// A slot booked with the referral (scheduled on acceptance, or returned on cancellation).
    Booked,
    /// Accepted first, then given a slot.
    ScheduleLater,
}

use Direction::{Down, Up};
use Place::{DemoTown, DemoVillage, Other};
use Status as S;
use Variant::{Booked, Emergency, Overdue, Plain, ScheduleLater};

/// (direction, final state, place, variant, how many in the small demo).
const PLAN: &[(Direction, Status, Place, Variant, usize)] = &[
    (Up, S::Draft, DemoVillage, Plain, 2),
    (Up, S::Draft, Other, Plain, 2),
    (Up, S::Submitted, DemoVillage, Plain, 2),
    (Up, S::Submitted, DemoVillage, Overdue, 1),
    (Up, S::Submitted, DemoTown, Plain, 1),
    (Up, S::Submitted, Other, Plain, 2),
    (Up, S::Submitted, Other, Emergency, 1),
    (Up, S::Submitted, Other, Overdue, 1),
    (Up, S::Redirected, DemoVillage, Overdue, 1),
    (Up, S::Redirected, Other, Plain, 2),
    (Up, S::Accepted, DemoVillage, Plain, 1),
    (Up, S::Accepted, Other, Plain, 3),
    (Up, S::Accepted, Other, Overdue, 1),
    (Up, S::Scheduled, DemoVillage, Booked, 2),
    (Up, S::Scheduled, DemoTown, Booked, 1),
    (Up, S::Scheduled, Other, Booked, 4),
    (Up, S::Scheduled, Other, ScheduleLater, 2),
    (Up, S::Arrived, DemoVillage, Plain, 1),
    (Up, S::Arrived, Other, Plain, 3),
    (Up, S::Arrived, Other, Overdue, 1),
    (Up, S::Completed, DemoVillage, Plain, 3),
    (Up, S::Completed, DemoTown, Plain, 2),
    (Up, S::Completed, Other, Plain, 9),
    (Up, S::Rejected, DemoVillage, Plain, 1),
    (Up, S::Rejected, Other, Plain, 4),
    (Up, S::Cancelled, DemoVillage, Booked, 1),
    (Up, S::Cancelled, Other, Plain, 3),
    (Down, S::Draft, Other, Plain, 2),
    (Down, S::Submitted, DemoVillage, Plain, 2),
    (Down, S::Submitted, DemoTown, Plain, 1),
    (Down, S::Submitted, Other, Plain, 1),
    (Down, S::Submitted, Other, Overdue, 1),
    (Down, S::Redirected, Other, Plain, 2),
    (Down, S::Accepted, DemoVillage, Plain, 2),
    (Down, S::Accepted, DemoTown, Plain, 1),
    (Down, S::Accepted, Other, Plain, 2),
    (Down, S::Scheduled, DemoVillage, Plain, 1),
    (Down, S::Scheduled, Other, Plain, 1),
    (Down, S::Arrived, Other, Plain, 2),
    (Down, S::Completed, DemoVillage, Plain, 1),
    (Down, S::Completed, Other, Plain, 5),
    (Down, S::Rejected, Other, Plain, 2),
    (Down, S::Cancelled, DemoVillage, Plain, 1),
    (Down, S::Cancelled, Other, Plain, 2),
];

/// How many of the plan's "other institution" referrals a scale writes (the demo county's own
/// share stays the same).
fn others_factor(scale: Scale) -> usize {
    match scale {
        Scale::Small => 1,
        Scale::County => 3,
    }
}

// ---------------------------------------------------------------- people and places

/// A demo account signed in for the generator.
struct Doctor {
    ctx: Ctx,
    token: String,
}

/// A village clinic or township centre that refers in the demo.
struct Primary {
    institution: Institution,
    /// Its referring doctor's account.
    username: String,
    /// The doctor's department (全科医学科 or 诊室), if any.
    department: Option<Uuid>,
    /// The family doctor down-referrals are addressed to (village clinics).
    family_doctor: Option<Uuid>,
}

/// A resident as the generator picks them.
#[derive(Debug, Clone)]
struct Resident {
    age: i32,
    /// Institutions where they are registered.
    sites: HashSet<Uuid>,
}

struct World<'a> {
    app: &'a App,
    sys: Ctx,
    rng: Rng,
    hospital: Institution,
    tcm: Option<Institution>,
    hospital_departments: HashMap<String, Uuid>,
    calendars: Calendars,
    demo_village: usize,
    demo_town: usize,
    /// Participating primary institutions: demo village, demo town, then the others.
    primaries: Vec<Primary>,
    /// All township centres and village clinics (for redirections).
    institutions: Vec<Institution>,
    /// Residents by person, and who is registered where (sorted for determinism).
    residents: HashMap<Uuid, Resident>,
    registered_at: HashMap<Uuid, Vec<Uuid>>,
    used: HashSet<Uuid>,
    doctors: HashMap<String, Doctor>,
    accounts: Vec<String>,
    admissions: u64,
    rules: OverdueRules,
}

/// Writes the calendars of the county hospital and, when the index has residents, the demo
/// county's two-way referrals (about 90 in the small demo, 200 at county scale). Run after
/// [`crate::generate`] and [`crate::generate_residents`] (and, optionally, the history: then
/// up-referrals carry the resident's latest findings).
pub async fn generate_referrals(
    app: &App,
    seed: u64,
    scale: Scale,
    progress: Progress<'_>,
) -> Result<ReferralSummary, GenerateError> {
    let sys = Ctx::system();
    let (all, _) = app
        .list_institutions(&sys, &InstitutionFilter::default())
        .await?;
    let Some(hospital) = all
        .iter()
        .find(|i| i.kind == InstitutionType::CountyGeneralHospital)
        .cloned()
    else {
        return Ok(ReferralSummary::default());
    };
    let tcm = all
        .iter()
        .find(|i| i.kind == InstitutionType::TcmHospital)
        .cloned();
    let hospital_departments: HashMap<String, Uuid> = app
        .departments(&sys, hospital.id)
        .await?
        .into_iter()
        .map(|d| (d.name, d.id))
        .collect();
    let mut summary = ReferralSummary::default();
    let calendars =
        make_calendars(app, &sys, &hospital, &hospital_departments, &mut summary).await?;
    if app.store().count_persons().await.map_err(AppError::from)? == 0 {
        progress(1, 1);
        return Ok(summary);
    }
    let mut institutions: Vec<Institution> = all
        .iter()
        .filter(|i| matches!(i.tier, Tier::Township | Tier::Village))
        .cloned()
        .collect();
    institutions.sort_by(|a, b| a.division_code.cmp(&b.division_code));
    let mut w = World {
        app,
        sys,
        rng: Rng::new(seed).fork(12),
        hospital,
        tcm,
        hospital_departments,
        calendars,
        demo_village: 0,
        demo_town: 1,
        primaries: Vec::new(),
        institutions,
        residents: HashMap::new(),
        registered_at: HashMap::new(),
        used: HashSet::new(),
        doctors: HashMap::new(),
        accounts: Vec::new(),
        admissions: 0,
        rules: OverdueRules::default(),
    };
    w.rules = rules_of(app).await?;
    w.choose_primaries().await?;
    w.load_residents().await?;

    let factor = others_factor(scale);
    let mut entries = Vec::new();
    for &(dir, status, place, variant, n) in PLAN {
        let n = if place == Other { n * factor } else { n };
        for _ in 0..n {
            entries.push((dir, status, place, variant));
        }
    }
    let total = entries.len() as u64;
    for (k, (dir, status, place, variant)) in entries.into_iter().enumerate() {
        let wrote = match dir {
            Up => w.up(status, place, variant).await?,
            Down => w.down(status, place, variant).await?,
        };
        summary.referrals += usize::from(wrote);
        summary.skipped += usize::from(!wrote);
        progress(k as u64 + 1, total);
    }
    for d in w.doctors.values() {
        app.sign_out(&d.ctx, &d.token).await?;
    }
    summary.accounts = w.accounts.clone();
    for dir in [Up, Down] {
        let counts = app
            .store()
            .referral_counts(&ReferralFilter {
                direction: Some(dir.code().to_owned()),
                ..Default::default()
            })
            .await
            .map_err(AppError::from)?;
        for c in counts {
            summary
                .by_state
                .insert((dir.code().to_owned(), c.status), c.n);
        }
    }
    summary.overdue = app.worklist_counts(&w.sys).await?.overdue;
    Ok(summary)
}

async fn rules_of(app: &App) -> Result<OverdueRules, GenerateError> {
    let mut r = OverdueRules::default();
    for row in app.store().referral_rules().await.map_err(AppError::from)? {
        let rule = ygt_domain::referral::OverdueRule {
            accept_within: Duration::minutes(row.accept_minutes),
            arrive_within: Duration::minutes(row.arrive_minutes),
            appointment_grace: Duration::minutes(row.grace_minutes),
            complete_within: Duration::minutes(row.complete_minutes),
        };
        match row.urgency.as_str() {
            "routine" => r.routine = rule,
            "urgent" => r.urgent = rule,
            "emergency" => r.emergency = rule,
            _ => {}
        }
    }
    Ok(r)
}

async fn make_calendars(
    app: &App,
    sys: &Ctx,
    hospital: &Institution,
    departments: &HashMap<String, Uuid>,
    summary: &mut ReferralSummary,
) -> Result<Calendars, GenerateError> {
    let today = OffsetDateTime::now_utc().to_offset(beijing()).date();
    let mut out = Calendars::default();
    for spec in CALENDARS {
        let department = departments.get(spec.department).copied();
        let staff = if spec.specialist {
            demo_staff(app, sys, hospital.id, &[spec.department], PHYSICIANS)
                .await?
                .map(|s| s.id)
        } else {
            None
        };
        let Some((&(hour, minute, per_day), rest)) = spec.sessions.split_first() else {
            continue;
        };
        let id = app
            .create_calendar(
                sys,
                hospital.id,
                department,
                spec.kind,
                spec.name,
                spec.location,
                staff,
                spec.release_hours,
                local(today, hour, minute),
                spec.minutes,
                per_day,
                reserved_share(per_day),
                CALENDAR_DAYS,
                spec.weekends,
            )
            .await?;
        for &(hour, minute, per_day) in rest {
            app.add_calendar_session(
                sys,
                id,
                local(today, hour, minute),
                spec.minutes,
                per_day,
                reserved_share(per_day),
                CALENDAR_DAYS,
                spec.weekends,
            )
            .await?;
        }
        summary.calendars += 1;
        summary.slots += app
            .store()
            .slots(
                id,
                local(today, 0, 0),
                local(today + Duration::days(CALENDAR_DAYS + 1), 0, 0),
                false,
            )
            .await
            .map_err(AppError::from)?
            .len() as u64;
        out.made.push((spec.kind, spec.department, id));
    }
    Ok(out)
}

/// A random duration in [lo, hi).
fn between(rng: &mut Rng, lo: Duration, hi: Duration) -> Duration {
    lo + (hi - lo) * rng.f64()
}

fn age_on(birth: Option<Date>, today: Date) -> Option<i32> {
    let b = birth?;
    let mut a = today.year() - b.year();
    if (u8::from(today.month()), today.day()) < (u8::from(b.month()), b.day()) {
        a -= 1;
    }
    Some(a)
}

impl World<'_> {
    /// Signs a demo account in (once).
    async fn doctor(&mut self, username: &str) -> Result<Ctx, GenerateError> {
        if let Some(d) = self.doctors.get(username) {
            return Ok(d.ctx.clone());
        }
        let anon = Ctx::anonymous(format!("generator:{username}"), None);
        let signed = self
            .app
            .sign_in(&anon, username, DEMO_PASSWORD, None)
            .await?;
        let info = self
            .app
            .session_principal(&signed.session_token)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let ctx = Ctx {
            actor: Actor::User(Box::new(info.principal)),
            request_id: format!("generator:{username}"),
            client_addr: None,
        };
        self.doctors.insert(
            username.to_owned(),
            Doctor {
                ctx: ctx.clone(),
                token: signed.session_token,
            },
        );
        Ok(ctx)
    }

    fn institution_of(ctx: &Ctx) -> Option<Uuid> {
        ctx.principal().and_then(|p| p.institution_id)
    }

    /// A demo account of an institution for a staff member (made once, with the demo password).
    async fn ensure_account(
        &mut self,
        username: &str,
        institution: Uuid,
        staff: Option<&Staff>,
        role: Role,
        fallback_name: &str,
    ) -> Result<(), GenerateError> {
        if self
            .app
            .store()
            .user_by_username(username)
            .await
            .map_err(AppError::from)?
            .is_some()
        {
            return Ok(());
        }
        self.app
            .create_account(
                &self.sys,
                &AccountDraft {
                    username: username.to_owned(),
                    display_name: staff
                        .map_or_else(|| fallback_name.to_owned(), |s| s.name.clone()),
                    institution_id: Some(institution.to_string()),
                    staff_id: staff.map(|s| s.id.to_string()),
                    roles: vec![role.code().to_owned()],
                    password: Some(DEMO_PASSWORD.to_owned()),
                    must_change_password: Some(false),
                },
            )
            .await?;
        self.accounts.push(username.to_owned());
        Ok(())
    }

    /// The demo village and township (where the `village` and `township.doctor` accounts
    /// work), every other township centre, and one village clinic of each township.
    async fn choose_primaries(&mut self) -> Result<(), GenerateError> {
        let village_ctx = self.doctor("village").await?;
        let town_ctx = self.doctor("township.doctor").await?;
        let (Some(demo_village), Some(demo_town)) = (
            Self::institution_of(&village_ctx),
            Self::institution_of(&town_ctx),
        ) else {
            return Err(AppError::NotFound("demo account institution").into());
        };
        let find = |id: Uuid| self.institutions.iter().find(|i| i.id == id).cloned();
        let (Some(v), Some(t)) = (find(demo_village), find(demo_town)) else {
            return Err(AppError::NotFound("demo institution").into());
        };
        let mut chosen = vec![(v, "village".to_owned()), (t, "township.doctor".to_owned())];
        let towns: Vec<Institution> = self
            .institutions
            .iter()
            .filter(|i| i.tier == Tier::Township)
            .cloned()
            .collect();
        for town in &towns {
            if town.id != demo_town {
                chosen.push((town.clone(), format!("township.{}", town.division_code)));
            }
            if let Some(village) = self
                .institutions
                .iter()
                .find(|i| i.parent_id == Some(town.id) && i.id != demo_village)
            {
                chosen.push((
                    village.clone(),
                    format!("village.{}", village.division_code),
                ));
            }
        }
        for (inst, username) in chosen {
            let village = inst.tier == Tier::Village;
            let staff = if village {
                demo_staff(self.app, &self.sys, inst.id, &[], VILLAGE_DOCTORS).await?
            } else {
                match demo_staff(self.app, &self.sys, inst.id, &["全科医学科"], PHYSICIANS).await?
                {
                    Some(s) => Some(s),
                    None => demo_staff(self.app, &self.sys, inst.id, &[], PHYSICIANS).await?,
                }
            };
            let role = if village {
                Role::VillageDoctor
            } else {
                Role::Doctor
            };
            let fallback = if village {
                "乡村医生"
            } else {
                "全科医生"
            };
            self.ensure_account(&username, inst.id, staff.as_ref(), role, fallback)
                .await?;
            let departments = self.app.departments(&self.sys, inst.id).await?;
            let department = departments
                .iter()
                .find(|d| d.name == "全科医学科" || d.name == "诊室")
                .map(|d| d.id);
            self.primaries.push(Primary {
                family_doctor: if village {
                    staff.as_ref().map(|s| s.id)
                } else {
                    None
                },
                institution: inst,
                username,
                department,
            });
        }
        for (username, department) in HOSPITAL_DOCTORS {
            let staff = demo_staff(
                self.app,
                &self.sys,
                self.hospital.id,
                &[department],
                PHYSICIANS,
            )
            .await?;
            let fallback = format!("{department}医生");
            self.ensure_account(
                username,
                self.hospital.id,
                staff.as_ref(),
                Role::Doctor,
                &fallback,
            )
            .await?;
        }
        Ok(())
    }

    /// Who is registered where, for the participating institutions and the county hospital:
    /// registrations that open the record there (a doctor refers only residents their
    /// institution may see; one linked by resemblance alone does not count).
    async fn load_residents(&mut self) -> Result<(), GenerateError> {
        let wanted: HashSet<Uuid> = self
            .primaries
            .iter()
            .map(|p| p.institution.id)
            .chain([self.hospital.id])
            .collect();
        let today = OffsetDateTime::now_utc().to_offset(beijing()).date();
        let mut by_person: HashMap<Uuid, Vec<Registration>> = HashMap::new();
        let mut tx = self.app.store().begin().await.map_err(AppError::from)?;
        let mut after = None;
        loop {
            let page = tx
                .registrations_page(after, 10_000)
                .await
                .map_err(AppError::from)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for r in page {
                by_person.entry(r.person_id).or_default().push(r);
            }
        }
        tx.rollback().await.map_err(AppError::from)?;
        // (institution, record id, name) → person, for a deterministic order per institution.
        let mut seen: BTreeMap<(Uuid, String, String), Uuid> = BTreeMap::new();
        for regs in by_person.values() {
            let facts: Vec<RegistrationFacts> = regs
                .iter()
                .map(|r| RegistrationFacts {
                    id: r.id,
                    id_number: r.id_number.clone(),
                    registered_at: r.registered_at,
                })
                .collect();
            let grounds = registration_grounds(&facts);
            for r in regs {
                let opens = grounds
                    .iter()
                    .any(|(id, g)| *id == r.id && *g == Ground::Registered);
                if !opens || !wanted.contains(&r.institution_id) {
                    continue;
                }
                let e = self.residents.entry(r.person_id).or_insert(Resident {
                    age: age_on(r.birth_date, today).unwrap_or(-1),
                    sites: HashSet::new(),
                });
                if e.age < 0
                    && let Some(a) = age_on(r.birth_date, today)
                {
                    e.age = a;
                }
                e.sites.insert(r.institution_id);
                seen.insert(
                    (
                        r.institution_id,
                        r.record_id.clone().unwrap_or_default(),
                        r.name.clone(),
                    ),
                    r.person_id,
                );
            }
        }
        for ((inst, _, _), person) in seen {
            let list = self.registered_at.entry(inst).or_default();
            if !list.contains(&person) {
                list.push(person);
            }
        }
        Ok(())
    }

    /// Index of the primary institution of a place.
    fn place(&mut self, place: Place) -> usize {
        match place {
            DemoVillage => self.demo_village,
            DemoTown => self.demo_town,
            Other => {
                let n = self.primaries.len().saturating_sub(2) as u64;
                2 + self.rng.below(n.max(1)) as usize
            }
        }
    }

    /// A resident registered at `inst` (and, when `county`, at the county hospital too, or
    /// admitted there now), of `min_age` or older, not used by another referral.
    async fn resident(
        &mut self,
        inst: Uuid,
        min_age: i32,
        county: bool,
    ) -> Result<Option<Uuid>, GenerateError> {
        let hospital = self.hospital.id;
        let list = self.registered_at.get(&inst).cloned().unwrap_or_default();
        // Residents without a referral first; when every one has one, residents come back (the
        // patient of an up-referral is sent down again later, as in life).
        for reuse in [false, true] {
            let mut pool: Vec<Uuid> = list
                .iter()
                .copied()
                .filter(|p| self.used.contains(p) == reuse)
                .filter(|p| {
                    self.residents
                        .get(p)
                        .is_some_and(|r| r.age >= min_age && r.age <= 95)
                })
                .collect();
            if county {
                let both: Vec<Uuid> = pool
                    .iter()
                    .copied()
                    .filter(|p| {
                        self.residents
                            .get(p)
                            .is_some_and(|r| r.sites.contains(&hospital))
                    })
                    .collect();
                if let Some(p) = self.rng.pick(&both).copied() {
                    self.used.insert(p);
                    return Ok(Some(p));
                }
            }
            // Otherwise the county hospital admits one first (a few tries: the index may take
            // an admission for someone else when the record is thin).
            let mut tries = 0;
            while !pool.is_empty() && tries < 5 {
                let i = self.rng.below(pool.len() as u64) as usize;
                let p = pool.swap_remove(i);
                self.used.insert(p);
                if county {
                    tries += 1;
                    if !self.admit(p).await? {
                        continue;
                    }
                    if let Some(r) = self.residents.get_mut(&p) {
                        r.sites.insert(hospital);
                    }
                }
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Registers a resident at the county hospital (an admission), from their golden record;
    /// false when the index did not link the registration to them.
    async fn admit(&mut self, person: Uuid) -> Result<bool, GenerateError> {
        let Some(p) = self
            .app
            .store()
            .person(person)
            .await
            .map_err(AppError::from)?
        else {
            return Ok(false);
        };
        self.admissions += 1;
        let r = self
            .app
            .register_resident(
                &self.sys,
                &ygt_app::mpi::ResidentDraft {
                    institution_id: self.hospital.id.to_string(),
                    record_id: Some(format!("ZY{:08}", 26_000_000 + self.admissions)),
                    name: p.name.clone(),
                    sex: Some(p.sex.clone()),
                    birth_date: p.birth_date.map(|b| b.to_string()),
                    id_number: p.id_number.clone(),
                    phone: p.phone.clone(),
                    address: p.address.clone(),
                    ..Default::default()
                },
            )
            .await;
        if !matches!(r, Ok(reg) if reg.person_id == person) {
            return Ok(false);
        }
        // Admitted with the ID number the person is known by: the hospital's registration opens
        // the record (a person first registered without a number has none to prove).
        let links = self
            .app
            .store()
            .care_links(person, OffsetDateTime::now_utc())
            .await
            .map_err(AppError::from)?;
        Ok(links.iter().any(|l| {
            l.institution_id == Some(self.hospital.id) && l.kind == Ground::Registered.code()
        }))
    }

    /// The latest findings of the resident's record to attach (when the history was made).
    async fn findings(&self, person: Uuid) -> Result<Vec<String>, GenerateError> {
        let since = OffsetDateTime::now_utc() - Duration::days(730);
        let mut out = Vec::new();
        for kind in ["measurement", "imaging_report", "lab_report"] {
            let items = self
                .app
                .store()
                .items_of_kind(person, kind, Some(since), 1)
                .await
                .map_err(AppError::from)?;
            out.extend(items.into_iter().map(|i| i.id.to_string()));
        }
        Ok(out)
    }

    fn hospital_doctor(department: &str) -> &'static str {
        HOSPITAL_DOCTORS
            .iter()
            .find(|(_, d)| *d == department)
            .map_or("referral", |(u, _)| u)
    }

    /// A free future slot of a resource, reserved ones first, soon for urgent referrals.
    async fn free_slot(
        &mut self,
        ctx: &Ctx,
        resource: Uuid,
        urgency: Urgency,
    ) -> Result<Option<Uuid>, GenerateError> {
        let now = OffsetDateTime::now_utc();
        let (lo, hi) = match urgency {
            Urgency::Emergency => (Duration::hours(2), Duration::days(2)),
            Urgency::Urgent => (Duration::hours(20), Duration::days(5)),
            Urgency::Routine => (Duration::days(2), Duration::days(14)),
        };
        let slots = self.app.free_slots(ctx, resource, CALENDAR_DAYS).await?;
        let window: Vec<_> = slots
            .iter()
            .filter(|(s, _)| s.starts_at >= now + lo && s.starts_at <= now + hi)
            .collect();
        let reserved: Vec<Uuid> = window
            .iter()
            .filter(|(_, a)| *a == SlotAvailability::Reserved)
            .map(|(s, _)| s.id)
            .collect();
        let any: Vec<Uuid> = if reserved.is_empty() {
            slots.iter().map(|(s, _)| s.id).collect()
        } else {
            reserved
        };
        Ok(self.rng.pick(&any).copied())
    }

    /// Moves a referral's steps to the wanted times and marks it read by both sides when it
    /// lies in the past.
    async fn finish(
        &mut self,
        id: Uuid,
        mut anchors: Vec<(OffsetDateTime, OffsetDateTime)>,
        readers: &[Ctx],
    ) -> Result<(), GenerateError> {
        let now = OffsetDateTime::now_utc();
        let last = anchors.last().map_or(now, |(_, w)| *w);
        if now - last > Duration::hours(12) {
            let seen = (last + between(&mut self.rng, Duration::minutes(5), Duration::hours(3)))
                .min(now - Duration::minutes(1));
            anchors.push((OffsetDateTime::now_utc(), seen));
            for r in readers {
                self.app.referral_view(r, id).await?;
            }
        }
        let created = anchors.first().map_or(now, |(_, w)| *w);
        retime_generated_referral(
            self.app.store(),
            id,
            &Retime {
                anchors,
                number_day: Some(created.to_offset(beijing()).date()),
            },
        )
        .await
        .map_err(AppError::from)?;
        Ok(())
    }

    /// Takes a step as `ctx`, anchoring it at `at`.
    async fn step(
        &self,
        ctx: &Ctx,
        id: Uuid,
        d: StepDraft,
        at: OffsetDateTime,
        anchors: &mut Vec<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<(), GenerateError> {
        anchors.push((OffsetDateTime::now_utc(), at));
        self.app.referral_step(ctx, id, &d).await?;
        Ok(())
    }

    fn rule(&self, u: Urgency) -> ygt_domain::referral::OverdueRule {
        *self.rules.rule(u)
    }

    /// One up-referral that ends in `status`; false when no resident fits.
    async fn up(
        &mut self,
        status: Status,
        place: Place,
        variant: Variant,
    ) -> Result<bool, GenerateError> {
        let pi = self.place(place);
        let Some(primary) = self.primaries.get(pi) else {
            return Ok(false);
        };
        let (from, username, from_department, parent) = (
            primary.institution.id,
            primary.username.clone(),
            primary.department,
            primary.institution.parent_id,
        );
        let from_tier = primary.institution.tier;
        // The case: one the calendar can book when a slot is wanted, an emergency when asked.
        let needs_slot = matches!(variant, Booked | ScheduleLater);
        let candidates: Vec<usize> = UP_CASES
            .iter()
            .enumerate()
            .filter(|(_, c)| match variant {
                Emergency => c.urgency == Urgency::Emergency,
                Booked | ScheduleLater => {
                    c.needs
                        .is_some_and(|k| self.calendars.resource(k, c.department).is_some())
                        && c.urgency != Urgency::Emergency
                }
                _ => true,
            })
            .map(|(i, _)| i)
            .collect();
        // The first case, in a random order, for which a resident of the right age is there.
        let mut order = candidates;
        self.rng.shuffle(&mut order);
        let mut found = None;
        for ci in order {
            if let Some(case) = UP_CASES.get(ci)
                && let Some(p) = self.resident(from, case.min_age, false).await?
            {
                found = Some((case, p));
                break;
            }
        }
        let Some((case, person)) = found else {
            return Ok(false);
        };
        let referring = self.doctor(&username).await?;
        let coordinator = self.doctor("referral").await?;
        let specialist = self.doctor(Self::hospital_doctor(case.department)).await?;
        let urgency = case.urgency;
        let rule = self.rule(urgency);
        let now = OffsetDateTime::now_utc();
        let rng = &mut self.rng;
        // How long the receiving side takes to accept, and the patient to come.
        let accept_delay = between(rng, rule.accept_within / 20, rule.accept_within / 2);
        let travel = match urgency {
            Urgency::Emergency => between(rng, Duration::minutes(40), Duration::hours(3)),
            Urgency::Urgent => between(rng, Duration::hours(6), Duration::days(2)),
            Urgency::Routine => between(rng, Duration::days(1), Duration::days(6)),
        };
        let slot = match (needs_slot, case.needs) {
            (true, Some(kind)) => match self.calendars.resource(kind, case.department) {
                Some(res) => self.free_slot(&referring, res, urgency).await?,
                None => None,
            },
            _ => None,
        };
        if needs_slot && slot.is_none() {
            self.used.remove(&person);
            return Ok(false);
        }
        let item_ids = self.findings(person).await?;
        let draft = ReferralDraft {
            direction: Up.code().into(),
            person_id: person.to_string(),
            urgency: urgency.code().into(),
            from_department_id: from_department.map(|d| d.to_string()),
            to_institution_id: self.hospital.id.to_string(),
            to_department_id: self
                .hospital_departments
                .get(case.department)
                .map(Uuid::to_string),
            to_staff_id: None,
            diagnosis_code: Some(case.code.into()),
            diagnosis_name: Some(case.name.into()),
            reason: case.reason.into(),
            criterion: case.criterion.map(str::to_owned),
            summary: Some(case.summary.into()),
            needs: case.needs.map(|k| k.code().to_owned()),
            slot_id: if variant == Booked {
                slot.map(|s| s.to_string())
            } else {
                None
            },
            item_ids,
            plan: None,
            submit: status != S::Draft,
        };
        let rng = &mut self.rng;
        // The wanted times of the steps, from the last one back.
        let times: Vec<OffsetDateTime> = match (status, variant) {
            (S::Draft, _) => vec![now - between(rng, Duration::minutes(10), Duration::days(2))],
            (S::Submitted, Emergency) => {
                vec![now - between(rng, Duration::minutes(3), Duration::minutes(15))]
            }
            (S::Submitted, Overdue) => vec![now - rule.accept_within * (1.5 + 2.0 * rng.f64())],
            (S::Submitted, _) => vec![now - rule.accept_within * (0.05 + 0.5 * rng.f64())],
            (S::Redirected, v) => {
                let redirect = if v == Overdue {
                    now - rule.accept_within * (1.5 + 1.5 * rng.f64())
                } else {
                    now - rule.accept_within * (0.05 + 0.4 * rng.f64())
                };
                vec![redirect - accept_delay, redirect]
            }
            (S::Accepted, v) => {
                let accept = if v == Overdue {
                    now - rule.arrive_within * (1.2 + 0.6 * rng.f64())
                } else {
                    now - rule.arrive_within * (0.05 + 0.4 * rng.f64())
                };
                vec![accept - accept_delay, accept]
            }
            (S::Scheduled, Booked) => {
                let accept = now - between(rng, Duration::minutes(10), Duration::hours(20));
                vec![accept - accept_delay, accept]
            }
            (S::Scheduled, _) => {
                let schedule = now - between(rng, Duration::minutes(10), Duration::hours(20));
                let accept = schedule - between(rng, Duration::minutes(5), Duration::hours(3));
                vec![accept - accept_delay, accept, schedule]
            }
            (S::Arrived, v) => {
                let arrive = if v == Overdue {
                    now - rule.complete_within * (1.1 + 0.5 * rng.f64())
                } else {
                    now - rule.complete_within * (0.03 + 0.3 * rng.f64())
                };
                let accept = arrive - travel;
                vec![accept - accept_delay, accept, arrive]
            }
            (S::Completed, _) => {
                let complete = now - between(rng, Duration::hours(6), Duration::days(80));
                let stay = between(rng, Duration::days(2), Duration::days(12));
                let arrive = complete - stay;
                let accept = arrive - travel;
                vec![accept - accept_delay, accept, arrive, complete]
            }
            (S::Rejected, _) => {
                let reject = now - between(rng, Duration::hours(2), Duration::days(60));
                vec![reject - accept_delay, reject]
            }
            (S::Cancelled, Booked) => {
                let cancel = now - between(rng, Duration::minutes(30), Duration::hours(20));
                vec![
                    cancel - between(rng, Duration::hours(1), Duration::days(2)),
                    cancel,
                ]
            }
            (S::Cancelled, _) => {
                let cancel = now - between(rng, Duration::hours(2), Duration::days(40));
                vec![
                    cancel - between(rng, Duration::minutes(30), Duration::days(1)),
                    cancel,
                ]
            }
        };
        // A village clinic's referral goes on to its township centre; a township centre's to
        // the county TCM hospital.
        let redirect_to = if from_tier == Tier::Village {
            parent
        } else {
            self.tcm.as_ref().map(|i| i.id)
        };
        if status == S::Redirected && redirect_to.is_none() {
            self.used.remove(&person);
            return Ok(false);
        }
        let mut anchors = Vec::new();
        let t = |i: usize| times.get(i).copied().unwrap_or(now);
        anchors.push((OffsetDateTime::now_utc(), t(0)));
        let r = self.app.create_referral(&referring, &draft).await?;
        let id = r.id;
        let reject_reasons = [
            "患者病情稳定，属基层首诊范围，建议在乡镇卫生院继续治疗",
            "转诊资料不全：请补充近 3 个月血压、血糖记录及用药史后重新提交",
            "该病种可在医共体分院处理，建议转乡镇卫生院住院部",
        ];
        let cancel_reasons = [
            "患者家属决定前往市级医院就诊",
            "症状明显缓解，患者本人拒绝转诊",
            "患者因家中事务暂不能前往，待约定后重新转诊",
        ];
        match status {
            S::Draft | S::Submitted => {}
            S::Redirected => {
                let reason = if from_tier == Tier::Village {
                    "病情较轻，可在乡镇卫生院（医共体分院）处理，改派上级卫生院"
                } else {
                    "县人民医院该专科床位已满，改派县中医医院接诊"
                };
                let Some(target) = redirect_to else {
                    return Ok(true);
                };
                self.step(
                    &coordinator,
                    id,
                    redirect(reason, target),
                    t(1),
                    &mut anchors,
                )
                .await?;
            }
            S::Rejected => {
                let reason = self.rng.pick(&reject_reasons).copied().unwrap_or("");
                self.step(
                    &coordinator,
                    id,
                    step_because("reject", reason),
                    t(1),
                    &mut anchors,
                )
                .await?;
            }
            S::Cancelled => {
                let reason = self.rng.pick(&cancel_reasons).copied().unwrap_or("");
                self.step(
                    &referring,
                    id,
                    step_because("cancel", reason),
                    t(1),
                    &mut anchors,
                )
                .await?;
            }
            S::Accepted | S::Scheduled | S::Arrived | S::Completed => {
                let acceptor = if self.rng.chance(0.5) {
                    &coordinator
                } else {
                    &specialist
                };
                self.step(acceptor, id, step("accept"), t(1), &mut anchors)
                    .await?;
                if status == S::Scheduled && variant != Booked {
                    let mut s = step("schedule");
                    s.slot_id = slot.map(|s| s.to_string());
                    self.step(&coordinator, id, s, t(2), &mut anchors).await?;
                }
                if matches!(status, S::Arrived | S::Completed) {
                    self.step(&coordinator, id, step("arrive"), t(2), &mut anchors)
                        .await?;
                }
                if status == S::Completed {
                    let mut s = step("complete");
                    s.outcome = Some(ReferralOutcome {
                        diagnosis_code: Some(case.outcome_code.into()),
                        diagnosis_name: Some(case.outcome_name.into()),
                        treatment: case.treatment.into(),
                        summary: case.outcome.into(),
                    });
                    self.step(&specialist, id, s, t(3), &mut anchors).await?;
                }
            }
        }
        // After a redirection the county hospital is no longer a side of the referral; a
        // draft is the referring doctor's alone.
        let readers = if matches!(status, S::Redirected | S::Draft) {
            vec![referring]
        } else {
            vec![referring, specialist]
        };
        self.finish(id, anchors, &readers).await?;
        Ok(true)
    }

    /// One down-referral that ends in `status`; false when no resident fits.
    async fn down(
        &mut self,
        status: Status,
        place: Place,
        variant: Variant,
    ) -> Result<bool, GenerateError> {
        let pi = self.place(place);
        let Some(primary) = self.primaries.get(pi) else {
            return Ok(false);
        };
        let (to, username, family_doctor, to_tier, parent) = (
            primary.institution.id,
            primary.username.clone(),
            primary.family_doctor,
            primary.institution.tier,
            primary.institution.parent_id,
        );
        let mut order: Vec<&'static DownCase> = DOWN_CASES.iter().collect();
        self.rng.shuffle(&mut order);
        let mut found = None;
        for case in order {
            if let Some(p) = self.resident(to, case.min_age, true).await? {
                found = Some((case, p));
                break;
            }
        }
        let Some((case, person)) = found else {
            return Ok(false);
        };
        let sender = self.doctor(Self::hospital_doctor(case.department)).await?;
        let receiving = self.doctor(&username).await?;
        let rule = self.rule(Urgency::Routine);
        let now = OffsetDateTime::now_utc();
        let rng = &mut self.rng;
        let written = between(rng, Duration::hours(2), Duration::hours(30));
        let times: Vec<OffsetDateTime> = match (status, variant) {
            (S::Draft, _) => vec![now - between(rng, Duration::minutes(10), Duration::days(1))],
            (S::Submitted, Overdue) => {
                vec![now - rule.accept_within * (1.5 + 1.5 * rng.f64())]
            }
            (S::Submitted, _) => vec![now - rule.accept_within * (0.05 + 0.45 * rng.f64())],
            (S::Redirected, _) => {
                let redirect = now - rule.accept_within * (0.05 + 0.4 * rng.f64());
                vec![redirect - written, redirect]
            }
            (S::Accepted, _) => {
                let accept = now - between(rng, Duration::days(1), Duration::days(10));
                vec![accept - written, accept]
            }
            (S::Scheduled, _) => {
                let accept = now - between(rng, Duration::hours(6), Duration::days(3));
                let schedule = accept + between(rng, Duration::minutes(5), Duration::hours(2));
                vec![accept - written, accept, schedule]
            }
            (S::Arrived, _) => {
                let arrive = now - between(rng, Duration::days(1), Duration::days(12));
                let accept = arrive - between(rng, Duration::days(1), Duration::days(4));
                vec![accept - written, accept, arrive]
            }
            (S::Completed, _) => {
                let complete = now - between(rng, Duration::days(5), Duration::days(60));
                let arrive = complete - between(rng, Duration::days(30), Duration::days(45));
                let accept = arrive - between(rng, Duration::days(1), Duration::days(3));
                vec![accept - written, accept, arrive, complete]
            }
            (S::Rejected, _) => {
                let reject = now - between(rng, Duration::hours(3), Duration::days(40));
                vec![reject - written, reject]
            }
            (S::Cancelled, _) => {
                let cancel = now - between(rng, Duration::hours(3), Duration::days(30));
                vec![
                    cancel - between(rng, Duration::hours(1), Duration::hours(20)),
                    cancel,
                ]
            }
        };
        let t = |i: usize| times.get(i).copied().unwrap_or(now);
        let draft = ReferralDraft {
            direction: Down.code().into(),
            person_id: person.to_string(),
            urgency: Urgency::Routine.code().into(),
            from_department_id: self
                .hospital_departments
                .get(case.department)
                .map(Uuid::to_string),
            to_institution_id: to.to_string(),
            to_department_id: None,
            to_staff_id: family_doctor.map(|s| s.to_string()),
            diagnosis_code: Some(case.code.into()),
            diagnosis_name: Some(case.name.into()),
            reason: case.reason.into(),
            criterion: Some(case.criterion.into()),
            summary: None,
            needs: None,
            slot_id: None,
            item_ids: Vec::new(),
            plan: Some(PlanDraft {
                discharge_summary: case.discharge_summary.into(),
                medications: case.medications.into(),
                follow_ups: case.follow_ups.into(),
                warning_signs: case.warning_signs.into(),
                rehab_goals: case.rehab_goals.into(),
            }),
            submit: status != S::Draft,
        };
        // A village clinic hands a referral on to its township centre; a township centre to one
        // of its village clinics.
        let redirect_to = if to_tier == Tier::Village {
            parent
        } else {
            self.institutions
                .iter()
                .find(|i| i.parent_id == Some(to))
                .map(|i| i.id)
        };
        if status == S::Redirected && redirect_to.is_none() {
            self.used.remove(&person);
            return Ok(false);
        }
        let mut anchors = vec![(OffsetDateTime::now_utc(), t(0))];
        let r = self.app.create_referral(&sender, &draft).await?;
        let id = r.id;
        match status {
            S::Draft | S::Submitted => {}
            S::Redirected => {
                let reason = if to_tier == Tier::Village {
                    "患者需每日康复训练，村卫生室无康复条件，改由乡镇卫生院接续管理"
                } else {
                    "患者居住在村里，改由村卫生室家庭医生就近接续管理"
                };
                let Some(target) = redirect_to else {
                    return Ok(true);
                };
                self.step(&receiving, id, redirect(reason, target), t(1), &mut anchors)
                    .await?;
            }
            S::Rejected => {
                let reasons = [
                    "本卫生室无康复治疗条件，建议转至乡镇卫生院康复科",
                    "患者已长期居住在外地，本机构无法接续管理",
                ];
                let reason = self.rng.pick(&reasons).copied().unwrap_or("");
                self.step(
                    &receiving,
                    id,
                    step_because("reject", reason),
                    t(1),
                    &mut anchors,
                )
                .await?;
            }
            S::Cancelled => {
                self.step(
                    &sender,
                    id,
                    step_because("cancel", "患者病情变化，需继续住院治疗"),
                    t(1),
                    &mut anchors,
                )
                .await?;
            }
            S::Accepted | S::Scheduled | S::Arrived | S::Completed => {
                self.step(&receiving, id, step("accept"), t(1), &mut anchors)
                    .await?;
                if status == S::Scheduled {
                    // The first home visit: tomorrow or the day after, in the morning.
                    let day = (OffsetDateTime::now_utc().to_offset(beijing())
                        + Duration::days(1 + self.rng.range(0, 1)))
                    .date();
                    let visit = local(
                        day,
                        u8::try_from(self.rng.range(8, 10)).unwrap_or(9),
                        if self.rng.chance(0.5) { 0 } else { 30 },
                    )
                    .to_offset(beijing());
                    let mut s = step("schedule");
                    s.appointment_at = Some(format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}",
                        visit.year(),
                        u8::from(visit.month()),
                        visit.day(),
                        visit.hour(),
                        visit.minute()
                    ));
                    self.step(&receiving, id, s, t(2), &mut anchors).await?;
                }
                if matches!(status, S::Arrived | S::Completed) {
                    self.step(&receiving, id, step("arrive"), t(2), &mut anchors)
                        .await?;
                }
                if status == S::Completed {
                    // The follow-ups due before the loop closed were done.
                    let accept = t(1);
                    let complete = t(3);
                    let mut tasks: Vec<_> = self
                        .app
                        .store()
                        .care_tasks(&[], true, Some(id), 50)
                        .await
                        .map_err(AppError::from)?;
                    tasks.sort_by_key(|k| k.due_on);
                    let today = OffsetDateTime::now_utc().to_offset(beijing()).date();
                    for task in tasks {
                        let after = task.due_on - today;
                        let done = accept + after + Duration::hours(self.rng.range(1, 30));
                        if done >= complete {
                            continue;
                        }
                        anchors.push((OffsetDateTime::now_utc(), done));
                        self.app
                            .complete_care_task(
                                &receiving,
                                task.id,
                                &ygt_app::referral::TaskDone {
                                    note: Some("已按计划完成随访".into()),
                                    systolic: Some("136".into()),
                                    diastolic: Some("84".into()),
                                    ..Default::default()
                                },
                            )
                            .await?;
                    }
                    let mut s = step("complete");
                    s.outcome = Some(ReferralOutcome {
                        diagnosis_code: Some(case.code.into()),
                        diagnosis_name: Some(case.name.into()),
                        treatment: "按出院医嘱继续药物治疗，家庭医生签约随访".into(),
                        summary: case.outcome.into(),
                    });
                    self.step(&receiving, id, s, complete, &mut anchors).await?;
                }
            }
        }
        // After a redirection the first receiving institution is no longer a side; a draft
        // is the referring doctor's alone.
        let readers = if matches!(status, S::Redirected | S::Draft) {
            vec![sender]
        } else {
            vec![sender, receiving]
        };
        self.finish(id, anchors, &readers).await?;
        Ok(true)
    }
}

fn step(action: &str) -> StepDraft {
    StepDraft {
        action: action.into(),
        ..Default::default()
    }
}

/// A step that says why (reject, cancel).
fn step_because(action: &str, reason: &str) -> StepDraft {
    StepDraft {
        reason: Some(reason.into()),
        ..step(action)
    }
}

/// Sends the referral on to `target`, saying why.
fn redirect(reason: &str, target: Uuid) -> StepDraft {
    StepDraft {
        to_institution_id: Some(target.to_string()),
        ..step_because("redirect", reason)
    }
}
