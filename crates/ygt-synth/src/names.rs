//! Realistic Chinese personal names, place names and medical-department
//! tables for the fictional demo county (云溪县, 临江市, 安徽省).
//!
//! Every random function takes a [`Rng`] so output is fully determined by the
//! seed. The tables below are part of that output: reordering or editing them
//! changes generated data, so append-only edits are preferred.

use std::collections::HashSet;

use crate::rng::Rng;

// ---------------------------------------------------------------------------
// Surnames
// ---------------------------------------------------------------------------

/// Common Chinese surnames with approximate frequency weights (roughly the
/// share of the population in units of 0.01 %, after national household
/// registration statistics). Includes a few compound surnames (欧阳, 司马,
/// 诸葛, 上官) and surnames with unusual readings (单 Shàn, 解 Xiè, 仇 Qiú,
/// 区 Ōu, 朴 Piáo, 查 Zhā, 翟 Zhái) with small weights, to exercise search,
/// sorting and pinyin handling.
pub static SURNAMES: &[(&str, u32)] = &[
    ("王", 710),
    ("李", 700),
    ("张", 670),
    ("刘", 540),
    ("陈", 460),
    ("杨", 310),
    ("黄", 230),
    ("赵", 210),
    ("吴", 200),
    ("周", 190),
    ("徐", 130),
    ("孙", 130),
    ("马", 110),
    ("朱", 110),
    ("胡", 100),
    ("郭", 100),
    ("何", 95),
    ("高", 90),
    ("林", 90),
    ("罗", 87),
    ("郑", 80),
    ("梁", 70),
    ("谢", 60),
    ("宋", 55),
    ("唐", 55),
    ("许", 50),
    ("韩", 50),
    ("冯", 50),
    ("邓", 50),
    ("曹", 50),
    ("彭", 45),
    ("曾", 45),
    ("肖", 43),
    ("田", 42),
    ("董", 42),
    ("袁", 40),
    ("潘", 38),
    ("于", 37),
    ("蒋", 37),
    ("蔡", 37),
    ("余", 36),
    ("杜", 35),
    ("叶", 35),
    ("程", 34),
    ("苏", 33),
    ("魏", 33),
    ("吕", 32),
    ("丁", 31),
    ("任", 30),
    ("沈", 29),
    ("姚", 28),
    ("卢", 28),
    ("姜", 27),
    ("崔", 27),
    ("钟", 26),
    ("谭", 25),
    ("陆", 25),
    ("汪", 25),
    ("范", 24),
    ("金", 23),
    ("石", 23),
    ("廖", 23),
    ("贾", 22),
    ("夏", 22),
    ("韦", 21),
    ("付", 21),
    ("方", 20),
    ("白", 20),
    ("邹", 20),
    ("孟", 19),
    ("熊", 19),
    ("秦", 18),
    ("邱", 18),
    ("江", 18),
    ("尹", 17),
    ("薛", 16),
    ("闫", 16),
    ("段", 15),
    ("雷", 15),
    ("侯", 15),
    ("龙", 14),
    ("史", 14),
    ("陶", 13),
    ("黎", 13),
    ("贺", 13),
    ("顾", 12),
    ("毛", 12),
    ("郝", 12),
    ("龚", 12),
    ("邵", 11),
    ("万", 11),
    ("钱", 11),
    ("严", 10),
    ("覃", 10),
    ("武", 10),
    ("戴", 10),
    ("莫", 9),
    ("孔", 9),
    ("向", 9),
    ("汤", 9),
    ("常", 8),
    ("温", 8),
    ("康", 8),
    ("施", 8),
    ("文", 8),
    ("牛", 8),
    ("樊", 7),
    ("葛", 7),
    ("邢", 7),
    ("安", 7),
    ("齐", 7),
    ("易", 7),
    ("乔", 7),
    ("伍", 7),
    ("庞", 6),
    ("颜", 6),
    ("倪", 6),
    ("章", 6),
    ("鲁", 6),
    ("岳", 6),
    ("殷", 5),
    ("储", 5),
    ("柏", 4),
    // Compound surnames.
    ("欧阳", 6),
    ("司马", 1),
    ("诸葛", 1),
    ("上官", 1),
    // Surnames with unusual readings.
    ("单", 4),
    ("解", 3),
    ("仇", 2),
    ("区", 1),
    ("朴", 1),
    ("查", 2),
    ("翟", 4),
];

/// Picks a surname according to the [`SURNAMES`] weights.
pub fn surname(rng: &mut Rng) -> &'static str {
    weighted_pick(rng, SURNAMES, "王")
}

/// Picks a common single-character surname (the top 100 of [`SURNAMES`],
/// weighted), as used in village names such as 张庄村.
fn common_surname(rng: &mut Rng) -> &'static str {
    weighted_pick(rng, SURNAMES.get(..100).unwrap_or(SURNAMES), "王")
}

/// Picks `items[i].0` with probability proportional to `items[i].1`;
/// `default` if the slice is empty or all weights are zero.
fn weighted_pick<T: Copy>(rng: &mut Rng, items: &[(T, u32)], default: T) -> T {
    let total: u64 = items.iter().map(|&(_, w)| u64::from(w)).sum();
    if total == 0 {
        return default;
    }
    let mut r = rng.below(total);
    for &(item, w) in items {
        let w = u64::from(w);
        if r < w {
            return item;
        }
        r -= w;
    }
    default
}

/// Picks a uniformly random entry of a non-empty static table.
fn pick_str(rng: &mut Rng, items: &[&'static str], default: &'static str) -> &'static str {
    rng.pick(items).copied().unwrap_or(default)
}

// ---------------------------------------------------------------------------
// Given names
// ---------------------------------------------------------------------------

/// Naming era, by birth year. Fashions in Chinese given names changed
/// markedly: revolutionary and rustic names before 1970, 伟/丽/燕 in the
/// 1970s–80s, 婷/浩/鑫 in the 1990s, 梓轩/子涵/一诺 after 2005.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// Born before 1970.
    Elder,
    /// Born 1970–1989.
    Middle,
    /// Born 1990–2004.
    Young,
    /// Born 2005 or later.
    Recent,
}

impl Era {
    /// The era of a birth year.
    #[must_use]
    pub const fn of(birth_year: i32) -> Era {
        if birth_year < 1970 {
            Era::Elder
        } else if birth_year < 1990 {
            Era::Middle
        } else if birth_year < 2005 {
            Era::Young
        } else {
            Era::Recent
        }
    }

    /// Probability that someone of this era has a one-character given name
    /// (a two-character full name such as 王伟).
    #[must_use]
    pub const fn single_char_share(self) -> f64 {
        match self {
            Era::Elder => 0.25,
            Era::Middle => 0.30,
            Era::Young => 0.18,
            Era::Recent => 0.08,
        }
    }
}

/// Given-name material for one sex and era.
#[derive(Debug, Clone, Copy)]
pub struct GivenNamePool {
    /// Single characters, used alone (王伟) or paired (王伟明).
    pub single: &'static [&'static str],
    /// Common two-character given names, used whole.
    pub double: &'static [&'static str],
}

/// Male given names, born before 1970.
pub static MALE_ELDER: GivenNamePool = GivenNamePool {
    single: &[
        "军", "国", "华", "明", "强", "林", "平", "刚", "勇", "德", "福", "忠", "海", "山", "文",
        "志", "春", "生", "荣", "贵", "祥", "成", "富", "义", "兵", "友", "全", "金", "宝", "才",
        "发", "胜", "清", "良",
    ],
    double: &[
        "建国", "国强", "建华", "国庆", "志强", "建军", "卫东", "卫国", "红军", "德明", "福生",
        "永福", "长青", "援朝", "解放", "跃进", "东升", "振华", "国华", "建平", "立新", "向东",
        "保国", "金山", "永强", "德胜", "春生", "长林", "玉林", "树林", "宝山", "和平", "建设",
        "学文", "文华", "国栋", "家宝", "德华", "永生", "有才", "福林", "金贵", "志成", "国良",
        "光明", "大海", "新民", "守仁", "庆丰", "满仓",
    ],
};

/// Female given names, born before 1970.
pub static FEMALE_ELDER: GivenNamePool = GivenNamePool {
    single: &[
        "英", "兰", "芳", "华", "珍", "秀", "凤", "玉", "梅", "琴", "霞", "云", "萍", "敏", "红",
        "莲", "桂", "娥", "芝", "菊", "香", "翠",
    ],
    double: &[
        "秀英", "桂兰", "淑珍", "玉兰", "秀兰", "桂英", "凤英", "玉梅", "桂芳", "秀珍", "淑英",
        "玉珍", "凤兰", "秀芳", "春梅", "桂香", "翠花", "冬梅", "红梅", "美华", "丽华", "淑华",
        "素珍", "金凤", "玉芳", "秀云", "彩霞", "爱华", "红英", "秀梅", "玉英", "桂珍", "兰英",
        "月英", "素英", "金兰", "玉华", "淑兰", "凤琴", "翠兰", "春兰", "美兰", "秀琴", "桂花",
        "爱兰", "巧云", "招娣", "秀荣",
    ],
};

/// Male given names, born 1970–1989.
pub static MALE_MIDDLE: GivenNamePool = GivenNamePool {
    single: &[
        "伟", "磊", "勇", "涛", "斌", "鹏", "超", "杰", "强", "军", "辉", "刚", "健", "波", "龙",
        "峰", "俊", "亮", "平", "明", "东", "飞", "林", "兵", "宇", "浩",
    ],
    double: &[
        "建伟", "志刚", "海涛", "晓东", "文斌", "俊杰", "鹏飞", "海波", "志伟", "晓明", "宏伟",
        "建平", "永刚", "志勇", "小军", "红兵", "海军", "建新", "卫华", "晓军", "立军", "文杰",
        "云飞", "东亮", "德伟", "晓峰", "学军", "明辉", "建辉", "海峰", "永辉", "志军", "金龙",
        "春雷", "国伟", "红伟", "小龙", "振宇", "大伟", "新华",
    ],
};

/// Female given names, born 1970–1989.
pub static FEMALE_MIDDLE: GivenNamePool = GivenNamePool {
    single: &[
        "丽", "静", "敏", "燕", "艳", "娟", "霞", "芳", "红", "娜", "梅", "玲", "萍", "琳", "慧",
        "洁", "颖", "莉", "华", "英",
    ],
    double: &[
        "丽娟", "晓燕", "雪梅", "海燕", "丽萍", "晓红", "艳红", "春燕", "丽娜", "小燕", "晓丽",
        "慧敏", "红霞", "海霞", "丽华", "晓梅", "美玲", "玉梅", "晓霞", "丽丽", "芳芳", "小红",
        "小芳", "晓琴", "春霞", "秋菊", "翠萍", "凤霞", "亚男", "胜男", "艳玲", "金花", "彩云",
        "丽君", "秀娟", "燕妮",
    ],
};

/// Male given names, born 1990–2004.
pub static MALE_YOUNG: GivenNamePool = GivenNamePool {
    single: &[
        "杰", "浩", "鹏", "磊", "帅", "博", "宇", "鑫", "晨", "阳", "凯", "旭", "超", "龙", "威",
        "航", "坤", "豪", "楠", "健", "昊",
    ],
    double: &[
        "浩然", "宇航", "子豪", "俊杰", "家豪", "佳豪", "浩宇", "文博", "宇轩", "晨阳", "志豪",
        "天宇", "博文", "嘉诚", "鹏程", "子健", "文杰", "明轩", "俊豪", "晓龙", "家乐", "昊天",
        "一鸣", "思远", "振宇", "子龙", "金鑫", "宇豪", "晨曦", "泽宇",
    ],
};

/// Female given names, born 1990–2004.
pub static FEMALE_YOUNG: GivenNamePool = GivenNamePool {
    single: &[
        "婷", "雪", "倩", "琳", "颖", "佳", "欣", "怡", "璐", "瑶", "萱", "涵", "琪", "悦", "雯",
        "静", "丹", "蕾", "晶", "月",
    ],
    double: &[
        "婷婷", "思雨", "雨欣", "佳琪", "欣怡", "梦婷", "晓雪", "雨婷", "佳慧", "梦瑶", "雨涵",
        "佳怡", "欣然", "心怡", "嘉欣", "慧敏", "丹丹", "倩倩", "雪莹", "思琪", "文静", "梦洁",
        "晓雯", "诗雨", "佳佳", "璐璐", "晶晶", "梦琪", "雅琪", "紫薇",
    ],
};

/// Male given names, born 2005 or later.
pub static MALE_RECENT: GivenNamePool = GivenNamePool {
    single: &[
        "宇", "轩", "睿", "晨", "杰", "博", "泽", "然", "浩", "铭", "航", "昊", "鑫", "哲", "瑞",
        "霖", "皓", "辰",
    ],
    double: &[
        "浩然", "梓轩", "子涵", "宇轩", "浩宇", "子轩", "一诺", "雨泽", "俊熙", "皓轩", "沐宸",
        "梓睿", "奕辰", "子墨", "宇航", "铭泽", "博文", "浩轩", "梓豪", "睿泽", "承泽", "思远",
        "天佑", "一鸣", "锦程", "明哲", "宇泽", "梓航", "子骞", "煜祺", "沐阳", "逸飞", "瑞霖",
        "梓涵", "子睿", "嘉懿",
    ],
};

/// Female given names, born 2005 or later.
pub static FEMALE_RECENT: GivenNamePool = GivenNamePool {
    single: &[
        "涵", "萱", "瑶", "琪", "欣", "怡", "诺", "悦", "彤", "妍", "馨", "雪", "冉", "菲", "琳",
        "桐", "晴",
    ],
    double: &[
        "子涵", "欣怡", "一诺", "诗涵", "梓萱", "雨桐", "可馨", "欣妍", "语桐", "若汐", "梓涵",
        "佳怡", "依诺", "紫涵", "梦瑶", "雨萱", "思涵", "语嫣", "诗琪", "梓琪", "欣悦", "雨涵",
        "可欣", "艺涵", "沐瑶", "一涵", "芷若", "子萱", "佳琪", "悦彤", "梓涵", "安琪",
    ],
};

/// The given-name pool for a sex and era.
#[must_use]
pub fn given_name_pool(female: bool, era: Era) -> &'static GivenNamePool {
    match (female, era) {
        (false, Era::Elder) => &MALE_ELDER,
        (false, Era::Middle) => &MALE_MIDDLE,
        (false, Era::Young) => &MALE_YOUNG,
        (false, Era::Recent) => &MALE_RECENT,
        (true, Era::Elder) => &FEMALE_ELDER,
        (true, Era::Middle) => &FEMALE_MIDDLE,
        (true, Era::Young) => &FEMALE_YOUNG,
        (true, Era::Recent) => &FEMALE_RECENT,
    }
}

/// A one- or two-character given name fitting the sex and birth year.
///
/// The era boundary is blurred by a few years so that cohorts mix naturally.
/// Two-character names are mostly common whole names (建国, 欣怡); the rest
/// recombine them position-wise, the first character of one with the second
/// character of another (建国 + 卫东 → 建东), which keeps names plausible.
pub fn given_name(rng: &mut Rng, female: bool, birth_year: i32) -> String {
    let jitter = rng.range(-4, 4) as i32;
    let era = Era::of(birth_year.saturating_add(jitter));
    let pool = given_name_pool(female, era);
    let fallback = if female { "芳" } else { "伟" };
    if rng.chance(era.single_char_share()) {
        return pick_str(rng, pool.single, fallback).to_owned();
    }
    let whole = pick_str(rng, pool.double, fallback);
    if rng.chance(0.75) {
        return whole.to_owned();
    }
    let other = pick_str(rng, pool.double, fallback);
    match (whole.chars().next(), other.chars().nth(1)) {
        (Some(first), Some(second)) if first != second => [first, second].iter().collect(),
        _ => whole.to_owned(),
    }
}

/// A full name (surname + given name) fitting the sex and birth year:
/// 2 or 3 characters, or 3–4 with a compound surname (欧阳).
pub fn person_name(rng: &mut Rng, female: bool, birth_year: i32) -> String {
    let mut name = surname(rng).to_owned();
    name.push_str(&given_name(rng, female, birth_year));
    name
}

// ---------------------------------------------------------------------------
// Places
// ---------------------------------------------------------------------------

/// The fictional demo county.
#[must_use]
pub const fn county_name() -> &'static str {
    "云溪县"
}

/// The (fictional) prefecture-level city the county belongs to.
#[must_use]
pub const fn prefecture_name() -> &'static str {
    "临江市"
}

/// The province of the demo county.
#[must_use]
pub const fn province_name() -> &'static str {
    "安徽省"
}

/// The county-seat town, conventionally 城关镇; [`township_names`] never
/// produces it, so callers can add it themselves.
#[must_use]
pub const fn county_seat_town() -> &'static str {
    "城关镇"
}

/// Two-character stems of township names (suffixed with 镇 or 乡).
pub static TOWNSHIP_STEMS: &[&str] = &[
    "青石", "柳河", "白沙", "杨庄", "马集", "新集", "双桥", "龙潭", "石桥", "桃源", "梅林", "东岗",
    "西河", "南湖", "北塘", "高店", "黄岗", "三河", "古城", "凤凰", "枫林", "竹溪", "清水", "长岭",
    "官塘", "孙集", "李集", "王店", "朱巷", "丰乐", "永安", "太平", "长安", "兴隆", "福山", "金牛",
    "银屏", "莲花", "荷塘", "杏山", "大塘", "小河", "桥头", "渡口", "江口", "河口", "溪口", "新桥",
    "石门", "龙山", "虎山", "鹤山", "马鞍", "云岭", "岭南", "东山", "西山", "南山", "北山", "回龙",
    "卧龙", "盘龙", "九井", "七里", "十里", "八里", "五河", "双河", "汤池", "温泉", "黄泥", "红庙",
    "白果", "柏林", "松林", "槐林", "柘塘", "蒋集", "严桥", "余塘", "高河", "仙踪", "牌坊", "沙湾",
];

/// Share of townships that are towns (镇) rather than townships (乡).
const TOWN_SHARE: f64 = 0.7;

/// `n` distinct township names such as 柳河镇 or 石桥乡 (about 70 % 镇).
///
/// No two names share a stem (never both 柳河镇 and 柳河乡), so at most
/// `TOWNSHIP_STEMS.len()` names are returned.
pub fn township_names(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut stems: Vec<&str> = TOWNSHIP_STEMS.to_vec();
    rng.shuffle(&mut stems);
    stems
        .into_iter()
        .take(n)
        .map(|stem| {
            let suffix = if rng.chance(TOWN_SHARE) { "镇" } else { "乡" };
            format!("{stem}{suffix}")
        })
        .collect()
}

/// Settlement suffixes after a surname: 张庄, 王郢 (郢/圩/畈 are typical of
/// Anhui), 李寨, 刘湾.
static VILLAGE_SURNAME_SUFFIXES: &[&str] = &[
    "庄", "寨", "营", "湾", "洼", "圩", "郢", "岗", "店", "集", "楼", "桥", "塘", "台",
];

/// Suffixes after surname + 家: 王家洼, 李家湾.
static VILLAGE_JIA_SUFFIXES: &[&str] = &[
    "庄", "洼", "湾", "岗", "圩", "坝", "沟", "桥", "店", "院", "畈", "嘴",
];

/// Stand-alone village stems from nature, position or collective-era names.
static VILLAGE_NATURE_STEMS: &[&str] = &[
    "桃园", "杏花", "东湖", "西岗", "南塘", "北山", "三里", "五里", "八里", "十里", "梨园", "枣林",
    "柳林", "荷花", "莲塘", "月塘", "新河", "沙河", "清泉", "龙泉", "凤鸣", "金桥", "石岭", "松岗",
    "竹园", "杨树", "槐树", "红星", "光明", "先锋", "东风", "胜利", "团结", "新华", "建设", "幸福",
    "和平", "永乐", "长塘", "大塘", "双塘", "前进", "桥东", "河西", "岗头", "湾里", "埠头", "洪山",
    "新庄", "大岭", "青山", "白果", "双井", "古井", "油坊", "梅岭", "花园", "新民", "联合", "东升",
];

/// Position prefixes before a surname: 前李, 后张, 大王, 小刘.
static VILLAGE_POSITION_PREFIXES: &[&str] =
    &["东", "西", "南", "北", "前", "后", "大", "小", "上", "下"];

/// One village name (may repeat across calls; see [`village_names`]).
fn village_name(rng: &mut Rng) -> String {
    let pattern = rng.weighted_index(&[40, 20, 30, 10]);
    match pattern {
        0 => {
            let s = common_surname(rng);
            let suffix = pick_str(rng, VILLAGE_SURNAME_SUFFIXES, "庄");
            format!("{s}{suffix}村")
        }
        1 => {
            let s = common_surname(rng);
            let suffix = pick_str(rng, VILLAGE_JIA_SUFFIXES, "庄");
            format!("{s}家{suffix}村")
        }
        2 => {
            let stem = pick_str(rng, VILLAGE_NATURE_STEMS, "桃园");
            format!("{stem}村")
        }
        _ => {
            let prefix = pick_str(rng, VILLAGE_POSITION_PREFIXES, "前");
            let s = common_surname(rng);
            let suffix = pick_str(rng, &["庄", "营", ""], "");
            format!("{prefix}{s}{suffix}村")
        }
    }
}

/// `n` distinct administrative-village names such as 张庄村, 王家洼村,
/// 东湖村, 前李村.
///
/// Names are unique within one call only (real counties do repeat village
/// names across townships). Returns fewer than `n` names only if `n` is
/// beyond the few thousand combinations available.
pub fn village_names(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    let max_attempts = n.saturating_mul(20).saturating_add(200);
    for _ in 0..max_attempts {
        if out.len() >= n {
            break;
        }
        let name = village_name(rng);
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Chinese numeral for `n` (零, 一, …, 十, 十一, …, 九十九); numbers of 100
/// or more are written with Arabic digits.
#[must_use]
pub fn chinese_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let digit = |d: u32| DIGITS.get(d as usize).copied().unwrap_or("零");
    match n {
        0..=9 => digit(n).to_owned(),
        10..=99 => {
            let (tens, ones) = (n / 10, n % 10);
            let mut s = String::new();
            if tens > 1 {
                s.push_str(digit(tens));
            }
            s.push('十');
            if ones > 0 {
                s.push_str(digit(ones));
            }
            s
        }
        _ => n.to_string(),
    }
}

/// A villagers' group (村民小组), 一组 to 十二组.
pub fn group_name(rng: &mut Rng) -> String {
    let n = rng.range(1, 12) as u32;
    format!("{}组", chinese_number(n))
}

/// Street names found in a county town.
pub static STREET_NAMES: &[&str] = &[
    "人民路",
    "建设路",
    "解放街",
    "文化路",
    "中山路",
    "胜利路",
    "新华路",
    "和平路",
    "长江路",
    "淮河路",
    "东风路",
    "工业路",
    "健康路",
    "迎宾大道",
    "滨河路",
    "学府路",
    "光明路",
    "幸福路",
    "育才路",
    "振兴路",
    "府前街",
    "南大街",
    "北大街",
    "东大街",
    "西大街",
    "青年路",
    "团结路",
    "朝阳路",
    "商贸街",
    "云溪大道",
    "溪山路",
    "环城路",
    "站前路",
    "政通路",
    "民主路",
];

/// Residential compounds (小区) used in town addresses.
static COMPOUND_NAMES: &[&str] = &[
    "阳光花园",
    "锦绣家园",
    "翰林苑",
    "滨河小区",
    "幸福里",
    "金色家园",
    "书香苑",
    "东方名城",
    "御景湾",
    "世纪花园",
    "文昌小区",
    "桂花园",
];

/// A street name such as 人民路 or 解放街.
pub fn street_name(rng: &mut Rng) -> &'static str {
    pick_str(rng, STREET_NAMES, "人民路")
}

/// A full postal address in the demo county.
///
/// With a village: `安徽省临江市云溪县柳河镇张庄村三组15号`. Without one, a
/// town street address: `安徽省临江市云溪县城关镇人民路128号`, sometimes with
/// a residential compound, building, unit and flat
/// (`…人民路128号阳光花园3栋2单元502室`).
pub fn address(rng: &mut Rng, township: &str, village: Option<&str>) -> String {
    let prefix = format!(
        "{}{}{}{township}",
        province_name(),
        prefecture_name(),
        county_name()
    );
    match village {
        Some(village) => {
            let group = group_name(rng);
            let number = rng.range(1, 88);
            format!("{prefix}{village}{group}{number}号")
        }
        None => {
            let street = street_name(rng);
            let number = rng.range(1, 399);
            if rng.chance(0.35) {
                let compound = pick_str(rng, COMPOUND_NAMES, "阳光花园");
                let building = rng.range(1, 20);
                let unit = rng.range(1, 3);
                let floor = rng.range(1, 18);
                let flat = rng.range(1, 4);
                format!(
                    "{prefix}{street}{number}号{compound}{building}栋{unit}单元{floor}{flat:02}室"
                )
            } else {
                format!("{prefix}{street}{number}号")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Medical departments
// ---------------------------------------------------------------------------

/// A department: (Chinese name, stable ASCII code, typical number of
/// inpatient beds; 0 for outpatient-only, technical or administrative
/// departments).
pub type Department = (&'static str, &'static str, u32);

/// Departments of a county general hospital (县人民医院, roughly 700 beds).
pub static HOSPITAL_DEPARTMENTS: &[Department] = &[
    ("急诊科", "emergency", 10),
    ("心血管内科", "cardiology", 60),
    ("呼吸内科", "respiratory", 50),
    ("消化内科", "gastroenterology", 45),
    ("神经内科", "neurology", 55),
    ("内分泌科", "endocrinology", 35),
    ("肾内科", "nephrology", 30),
    ("普通外科", "general_surgery", 60),
    ("骨科", "orthopedics", 60),
    ("神经外科", "neurosurgery", 40),
    ("泌尿外科", "urology", 35),
    ("妇产科", "obstetrics_gynecology", 50),
    ("儿科", "pediatrics", 45),
    ("眼科", "ophthalmology", 15),
    ("耳鼻喉科", "otolaryngology", 15),
    ("口腔科", "stomatology", 0),
    ("皮肤科", "dermatology", 0),
    ("感染科", "infectious_diseases", 30),
    ("重症医学科", "critical_care", 16),
    ("康复医学科", "rehabilitation", 30),
    ("中医科", "tcm", 25),
    ("医学影像科", "medical_imaging", 0),
    ("检验科", "laboratory", 0),
    ("病理科", "pathology", 0),
    ("心电诊断科", "electrocardiography", 0),
    ("药剂科", "pharmacy", 0),
    ("麻醉科", "anesthesiology", 0),
    ("护理部", "nursing", 0),
    ("医务科", "medical_affairs", 0),
    ("公共卫生科", "public_health", 0),
];

/// Departments of a county hospital of traditional Chinese medicine
/// (县中医院, roughly 450 beds).
pub static TCM_DEPARTMENTS: &[Department] = &[
    ("急诊科", "emergency", 10),
    ("心病科", "tcm_cardiology", 40),
    ("脑病科", "tcm_neurology", 40),
    ("肺病科", "tcm_pulmonology", 35),
    ("脾胃病科", "tcm_gastroenterology", 35),
    ("肾病科", "tcm_nephrology", 25),
    ("内分泌科", "endocrinology", 25),
    ("中医外科", "tcm_surgery", 30),
    ("骨伤科", "tcm_orthopedics", 60),
    ("肛肠科", "anorectal", 25),
    ("中医妇科", "tcm_gynecology", 20),
    ("中医儿科", "tcm_pediatrics", 15),
    ("针灸推拿科", "acupuncture_tuina", 30),
    ("康复科", "rehabilitation", 40),
    ("治未病科", "preventive_tcm", 0),
    ("中药房", "tcm_pharmacy", 0),
    ("医学影像科", "medical_imaging", 0),
    ("检验科", "laboratory", 0),
    ("麻醉科", "anesthesiology", 0),
    ("护理部", "nursing", 0),
    ("医务科", "medical_affairs", 0),
];

/// Departments of a county maternal and child health hospital
/// (县妇幼保健院).
pub static MCH_DEPARTMENTS: &[Department] = &[
    ("妇科", "gynecology", 30),
    ("产科", "obstetrics", 50),
    ("儿科", "pediatrics", 30),
    ("儿童保健科", "child_health", 0),
    ("妇女保健科", "women_health", 0),
    ("新生儿科", "neonatology", 20),
    ("检验科", "laboratory", 0),
    ("超声科", "ultrasound", 0),
    ("药剂科", "pharmacy", 0),
];

/// Departments of a township health centre (乡镇卫生院); only the
/// inpatient ward (住院部) has beds, typically 20–40.
pub static TOWNSHIP_DEPARTMENTS: &[Department] = &[
    ("全科医学科", "general_practice", 0),
    ("中医科", "tcm", 0),
    ("公共卫生科", "public_health", 0),
    ("预防接种门诊", "immunization", 0),
    ("检验科", "laboratory", 0),
    ("放射科", "radiology", 0),
    ("超声心电科", "ultrasound_ecg", 0),
    ("药房", "pharmacy", 0),
    ("住院部", "inpatient", 30),
    ("护理部", "nursing", 0),
];

/// Departments of a village clinic (村卫生室): a single consulting room.
pub static VILLAGE_DEPARTMENTS: &[Department] = &[("诊室", "clinic", 0)];

#[cfg(test)]
mod tests {
    use super::*;

    fn is_cjk(c: char) -> bool {
        ('\u{4E00}'..='\u{9FFF}').contains(&c)
    }

    fn char_count(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn deterministic_for_a_seed() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let names: Vec<String> = (0..50)
                .map(|i| person_name(&mut rng, i % 2 == 0, 1940 + i))
                .collect();
            let towns = township_names(&mut rng, 15);
            let villages = village_names(&mut rng, 40);
            let addr = address(&mut rng, "柳河镇", Some("张庄村"));
            let street = address(&mut rng, "城关镇", None);
            (names, towns, villages, addr, street)
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn frozen_seed_42() {
        // Pinned output: a change here changes every generated county.
        let mut rng = Rng::new(42);
        let names: Vec<String> = (0..6)
            .map(|i| person_name(&mut rng, i % 2 == 1, 1950 + 12 * i))
            .collect();
        assert_eq!(names, FROZEN_NAMES);
        let mut rng = Rng::new(42);
        assert_eq!(township_names(&mut rng, 4), FROZEN_TOWNSHIPS);
        let mut rng = Rng::new(42);
        assert_eq!(village_names(&mut rng, 4), FROZEN_VILLAGES);
    }

    const FROZEN_NAMES: [&str; 6] = ["王新生", "谢红英", "刘建伟", "吕海燕", "杨鹏程", "田紫涵"];
    const FROZEN_TOWNSHIPS: [&str; 4] = ["七里镇", "九井镇", "温泉镇", "官塘镇"];
    const FROZEN_VILLAGES: [&str; 4] = ["陈集村", "下冯村", "湾里村", "高家岗村"];

    #[test]
    fn person_names_are_2_to_4_cjk_chars() {
        let mut rng = Rng::new(1);
        let mut lengths = [0_u32; 5];
        for i in 0..20_000 {
            let year = 1930 + (i % 95);
            let name = person_name(&mut rng, i % 2 == 0, year);
            let n = char_count(&name);
            assert!((2..=4).contains(&n), "{name}");
            assert!(name.chars().all(is_cjk), "{name}");
            if let Some(c) = lengths.get_mut(n) {
                *c += 1;
            }
        }
        // Mostly three-character names, a fair share of two-character ones.
        let (two, three) = (lengths.get(2).copied(), lengths.get(3).copied());
        assert!(matches!(two, Some(2_000..=6_000)), "{lengths:?}");
        assert!(matches!(three, Some(14_000..=18_000)), "{lengths:?}");
    }

    #[test]
    fn names_follow_era_and_sex() {
        let mut rng = Rng::new(2);
        let older: Vec<String> = (0..2000)
            .map(|_| given_name(&mut rng, true, 1945))
            .collect();
        let younger: Vec<String> = (0..2000)
            .map(|_| given_name(&mut rng, true, 2015))
            .collect();
        assert!(older.iter().any(|n| n == "秀英"));
        assert!(!older.iter().any(|n| n == "梓萱"));
        assert!(younger.iter().any(|n| n == "梓萱"));
        assert!(!younger.iter().any(|n| n == "秀英"));
        let one_char = |v: &[String]| v.iter().filter(|n| char_count(n) == 1).count();
        assert!(one_char(&older) > 2 * one_char(&younger));
    }

    #[test]
    fn tables_are_well_formed() {
        let all_cjk = |s: &str| !s.is_empty() && s.chars().all(is_cjk);
        let mut seen = HashSet::new();
        for &(s, w) in SURNAMES {
            assert!(
                all_cjk(s) && (1..=2).contains(&char_count(s)) && w > 0,
                "{s}"
            );
            assert!(seen.insert(s), "duplicate surname {s}");
        }
        assert!(SURNAMES.len() >= 120);
        assert!(SURNAMES.iter().take(100).all(|&(s, _)| char_count(s) == 1));
        for era in [Era::Elder, Era::Middle, Era::Young, Era::Recent] {
            for female in [false, true] {
                let pool = given_name_pool(female, era);
                assert!(!pool.single.is_empty() && !pool.double.is_empty());
                assert!(pool.single.iter().all(|s| all_cjk(s) && char_count(s) == 1));
                assert!(pool.double.iter().all(|s| all_cjk(s) && char_count(s) == 2));
            }
        }
        let stems: HashSet<_> = TOWNSHIP_STEMS.iter().collect();
        assert_eq!(stems.len(), TOWNSHIP_STEMS.len(), "duplicate township stem");
        assert!(TOWNSHIP_STEMS.len() >= 80);
        assert!(
            TOWNSHIP_STEMS
                .iter()
                .all(|s| all_cjk(s) && char_count(s) == 2)
        );
        assert!(!TOWNSHIP_STEMS.contains(&"城关"));
        let streets: HashSet<_> = STREET_NAMES.iter().collect();
        assert_eq!(streets.len(), STREET_NAMES.len());
        for table in [
            HOSPITAL_DEPARTMENTS,
            TCM_DEPARTMENTS,
            MCH_DEPARTMENTS,
            TOWNSHIP_DEPARTMENTS,
            VILLAGE_DEPARTMENTS,
        ] {
            let names: HashSet<_> = table.iter().map(|d| d.0).collect();
            let codes: HashSet<_> = table.iter().map(|d| d.1).collect();
            assert_eq!(names.len(), table.len());
            assert_eq!(codes.len(), table.len());
            for &(name, code, _) in table {
                assert!(all_cjk(name), "{name}");
                assert!(
                    code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{code}"
                );
            }
        }
        let beds: u32 = HOSPITAL_DEPARTMENTS.iter().map(|d| d.2).sum();
        assert!((400..=1000).contains(&beds), "{beds}");
        let ward = TOWNSHIP_DEPARTMENTS.iter().find(|d| d.1 == "inpatient");
        assert!(matches!(ward, Some(&(_, _, 20..=40))));
    }

    #[test]
    fn township_names_unique() {
        let mut rng = Rng::new(3);
        let names = township_names(&mut rng, 20);
        assert_eq!(names.len(), 20);
        let stems: HashSet<String> = names.iter().map(|n| n.chars().take(2).collect()).collect();
        assert_eq!(stems.len(), 20);
        for n in &names {
            assert!(n.ends_with('镇') || n.ends_with('乡'), "{n}");
            assert_eq!(char_count(n), 3);
        }
        let all = township_names(&mut rng, 1000);
        assert_eq!(all.len(), TOWNSHIP_STEMS.len());
        let towns = all.iter().filter(|n| n.ends_with('镇')).count();
        assert!((45..=75).contains(&towns), "{towns}");
        assert!(township_names(&mut rng, 0).is_empty());
    }

    #[test]
    fn village_names_unique() {
        let mut rng = Rng::new(4);
        let names = village_names(&mut rng, 500);
        assert_eq!(names.len(), 500);
        let set: HashSet<_> = names.iter().collect();
        assert_eq!(set.len(), 500);
        for n in &names {
            assert!(n.ends_with('村'), "{n}");
            assert!((3..=4).contains(&char_count(n)), "{n}");
            assert!(n.chars().all(is_cjk), "{n}");
        }
    }

    #[test]
    fn numerals_and_groups() {
        let expect = [
            (0, "零"),
            (1, "一"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (99, "九十九"),
        ];
        for (n, s) in expect {
            assert_eq!(chinese_number(n), s);
        }
        assert_eq!(chinese_number(128), "128");
        let mut rng = Rng::new(5);
        let groups: HashSet<String> = (0..2000).map(|_| group_name(&mut rng)).collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.contains("一组") && groups.contains("十二组"));
    }

    #[test]
    fn address_contains_township() {
        let mut rng = Rng::new(6);
        for _ in 0..200 {
            let a = address(&mut rng, "柳河镇", Some("张庄村"));
            assert!(a.starts_with("安徽省临江市云溪县柳河镇张庄村"), "{a}");
            assert!(a.contains("组") && a.ends_with('号'), "{a}");
            let b = address(&mut rng, county_seat_town(), None);
            assert!(b.starts_with("安徽省临江市云溪县城关镇"), "{b}");
            assert!(b.ends_with('号') || b.ends_with('室'), "{b}");
            assert!(STREET_NAMES.iter().any(|s| b.contains(s)), "{b}");
        }
    }
}
