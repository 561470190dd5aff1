//! The catalogue of institutions, communities, departments and staff: key, Chinese, English (sorted by key).

pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("community.add_member", "添加成员单位", "Add a member"),
    ("community.form", "联合体形式", "Form"),
    ("community.lead", "牵头机构", "Lead institution"),
    ("community.members", "成员单位", "Members"),
    ("department.beds", "床位", "Beds"),
    ("department.code", "科室代码", "Code"),
    ("department.name", "科室名称", "Department"),
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
    (
        "org.department_elsewhere",
        "科室不属于所选机构",
        "the department belongs to another institution",
    ),
    (
        "org.department_has_staff",
        "科室仍有 {staff_count} 名在岗人员，请先调整",
        "{staff_count} active staff still work in this department; move them first",
    ),
    (
        "org.has_active_children",
        "仍有 {children_count} 个在用的下级机构，请先调整或停用它们",
        "{children_count} active institutions still report to it; move or deactivate them first",
    ),
    (
        "org.institution_deactivated",
        "机构已停用",
        "the institution is deactivated",
    ),
    (
        "org.kind_tier",
        "{kind}不能是{tier}",
        "a {kind} cannot be of tier {tier}",
    ),
    (
        "org.lead_institution_cannot_leave",
        "牵头机构不能退出，请先更换牵头机构",
        "the lead institution cannot leave; choose another lead first",
    ),
    (
        "org.leads_community",
        "本机构是“{join}”的牵头机构，请先更换牵头机构",
        "it leads {join}; choose another lead first",
    ),
    (
        "org.parent_cycle",
        "上级机构不能是自身或下级机构",
        "the parent cannot be the institution itself or one below it",
    ),
    (
        "org.parent_inactive",
        "上级机构“{name}”已停用，请先启用上级机构或调整隶属关系",
        "its parent {name} is deactivated; reactivate the parent or move it first",
    ),
    (
        "org.parent_tier",
        "{tier}机构的上级不能是{ptier}机构",
        "a {tier}-tier institution cannot report to a {ptier}-tier institution",
    ),
    (
        "org.tier_has_children",
        "仍有 {children_count} 个下级机构隶属于本机构，不能改变层级",
        "{children_count} institutions report to it; its tier cannot change",
    ),
    (
        "org.village_needs_township",
        "村级机构必须隶属于一个乡镇级机构",
        "a village-tier institution must belong to a township-tier institution",
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
