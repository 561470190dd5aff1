//! A deterministic generator of noisy Chinese registrations with the truth,
//! shared by the integration tests and the `bench_link` example.
//!
//! A fictitious county (安徽省临江市云溪县) of households: a head, a spouse,
//! children (sometimes twins), sometimes an elderly parent. Every person has
//! one to five registrations at village clinics, township centres and the
//! county hospitals, each with realistic noise: homophone characters typed
//! through a pinyin input method, a missing character, traditional forms,
//! ID numbers with a typo, transposed digits, in 15 digits, lowercase x or
//! missing (more often for children and the elderly), birth dates missing or
//! mistyped, old or household phone numbers, shortened addresses.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};

use time::{Date, Month};
use ygt_domain::ident::{IdNumber, Sex};
use ygt_empi::Registration;

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn range(&mut self, lo: i32, hi_inclusive: i32) -> i32 {
        lo + self.below((hi_inclusive - lo + 1).max(1) as usize) as i32
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Surnames with rough frequencies (per mille), common first; then rare
/// surnames with their own readings.
const SURNAMES: &[(&str, u32)] = &[
    ("王", 71),
    ("李", 70),
    ("张", 67),
    ("刘", 54),
    ("陈", 45),
    ("杨", 31),
    ("黄", 22),
    ("赵", 20),
    ("吴", 20),
    ("周", 19),
    ("徐", 13),
    ("孙", 12),
    ("马", 11),
    ("朱", 11),
    ("胡", 10),
    ("郭", 10),
    ("何", 9),
    ("高", 9),
    ("林", 9),
    ("罗", 8),
    ("郑", 8),
    ("梁", 7),
    ("谢", 6),
    ("宋", 6),
    ("唐", 6),
    ("许", 5),
    ("韩", 5),
    ("冯", 5),
    ("邓", 5),
    ("曹", 5),
    ("彭", 5),
    ("曾", 5),
    ("肖", 5),
    ("田", 4),
    ("董", 4),
    ("袁", 4),
    ("潘", 4),
    ("于", 4),
    ("蒋", 4),
    ("蔡", 4),
    ("余", 4),
    ("杜", 4),
    ("叶", 4),
    ("程", 4),
    ("苏", 3),
    ("魏", 3),
    ("吕", 3),
    ("丁", 3),
    ("任", 3),
    ("沈", 3),
    ("姚", 3),
    ("卢", 3),
    ("姜", 3),
    ("崔", 3),
    ("钟", 3),
    ("谭", 3),
    ("陆", 3),
    ("汪", 3),
    ("范", 3),
    ("金", 3),
    ("石", 3),
    ("廖", 3),
    ("贾", 3),
    ("夏", 3),
    ("韦", 2),
    ("付", 2),
    ("方", 2),
    ("白", 2),
    ("邹", 2),
    ("孟", 2),
    ("熊", 2),
    ("秦", 2),
    ("邱", 2),
    ("江", 2),
    ("尹", 2),
    ("薛", 2),
    ("闫", 2),
    ("段", 2),
    ("雷", 2),
    ("侯", 2),
    ("龙", 2),
    ("史", 2),
    ("陶", 2),
    ("黎", 2),
    ("贺", 2),
    ("顾", 2),
    ("毛", 2),
    ("郝", 2),
    ("龚", 2),
    ("邵", 2),
    ("万", 2),
    ("钱", 2),
    ("严", 2),
    ("单", 1),
    ("解", 1),
    ("仇", 1),
    ("区", 1),
    ("朴", 1),
    ("查", 1),
    ("翟", 1),
    ("盖", 1),
    ("缪", 1),
    ("尉迟", 1),
    ("覃", 1),
    ("欧阳", 1),
    ("诸葛", 1),
];

/// Traditional forms of some surnames, as typed at some institutions.
const TRADITIONAL: &[(&str, &str)] = &[
    ("陈", "陳"),
    ("张", "張"),
    ("刘", "劉"),
    ("黄", "黃"),
    ("赵", "趙"),
    ("吴", "吳"),
    ("郑", "鄭"),
    ("杨", "楊"),
    ("孙", "孫"),
    ("马", "馬"),
    ("钟", "鍾"),
    ("钱", "錢"),
];

/// Given-name characters grouped by identical toneless pinyin: a pinyin
/// input method offers the others for the same syllable.
const HOMOPHONES: &[&str] = &[
    "伟玮炜纬",
    "强蔷",
    "磊垒",
    "军君均钧俊峻骏",
    "勇永咏泳",
    "杰洁捷婕",
    "涛韬滔",
    "斌彬宾滨",
    "明鸣铭",
    "刚钢纲",
    "平萍苹坪",
    "辉晖慧惠蕙",
    "鹏朋",
    "华桦骅",
    "飞菲霏",
    "鑫欣新馨",
    "波博",
    "宇雨语玉羽",
    "浩昊皓",
    "凯恺楷",
    "健建剑",
    "帆凡",
    "旭序",
    "宁凝",
    "龙隆",
    "林琳霖麟",
    "阳杨洋扬",
    "国帼",
    "峰锋丰枫",
    "亮靓良梁",
    "成诚承",
    "东冬",
    "文雯",
    "兵冰",
    "志智芝",
    "春纯",
    "福富芙",
    "生升胜",
    "庆青清",
    "祥翔湘",
    "芳方",
    "敏民珉",
    "静婧靖晶菁",
    "丽莉俐利",
    "艳燕雁",
    "娟鹃",
    "霞侠",
    "秀琇",
    "英瑛莹颖樱",
    "玲铃苓",
    "桂贵",
    "兰岚蓝",
    "红宏洪虹鸿",
    "梅玫媚",
    "婷亭庭",
    "琴勤芹",
    "倩茜",
    "云芸",
    "珍贞",
    "瑶遥",
    "佳家嘉",
    "怡宜仪",
    "月悦",
];

const MALE_CHARS: &str = "伟强磊军勇杰涛斌明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国峰亮成东文海兵志春德良福生庆祥超毅";
const FEMALE_CHARS: &str =
    "芳娜敏静丽艳娟霞秀英玲桂兰红梅琳燕萍洁婷雪慧莉颖琴晶倩华玉凤云珍春丹瑶佳欣怡月";

const TOWNS: &[&str] = &[
    "柳河镇",
    "石桥镇",
    "青山镇",
    "杨集镇",
    "白沙乡",
    "龙泉镇",
    "双河镇",
    "高庙乡",
    "新河镇",
    "桃源乡",
    "马店镇",
    "黄湾乡",
    "长岭镇",
    "东湖镇",
    "西坝乡",
    "南塘镇",
    "北岗乡",
    "城关镇",
];
const VILLAGE_PREFIX: &str = "张王李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗";
const VILLAGE_SUFFIX: &[&str] = &[
    "庄村", "湾村", "集村", "店村", "岗村", "营村", "楼村", "桥村", "圩村", "塘村",
];
const CN_NUM: &[&str] = &[
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
];
const HOME_AREA: &str = "341822";
const OTHER_AREAS: &[&str] = &[
    "341821", "341823", "340104", "320321", "410522", "510125", "420117",
];

#[derive(Clone)]
struct Person {
    surname: String,
    given: Vec<char>,
    sex: Sex,
    birth: Date,
    id: String,
    phones: Vec<String>,
    household_phone: String,
    town: usize,
    village: String,
    group: usize,
    house: u32,
    insurance: String,
    health_card: String,
}

/// Generated registrations with the truth.
pub struct Synthetic {
    pub regs: Vec<Registration>,
    /// Person index of every registration.
    pub person: Vec<usize>,
    pub persons: usize,
    /// Pairs of person indices that are twins.
    pub twins: Vec<(usize, usize)>,
    /// Pairs of person indices (parent, child) sharing a household.
    pub parent_child: Vec<(usize, usize)>,
}

/// The persons of a household, its (parent, child) pairs and its twins, as
/// indices into the persons.
type Household = (Vec<Person>, Vec<(usize, usize)>, Vec<(usize, usize)>);

struct Gen {
    rng: Rng,
    surname_table: Vec<&'static str>,
    ids: HashSet<String>,
    numbers: HashSet<String>,
    homophone_of: HashMap<char, Vec<char>>,
    villages: Vec<Vec<String>>,
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, Month::try_from(m).unwrap_or(Month::January), d)
        .unwrap_or(Date::MIN)
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut surname_table = Vec::new();
        for (s, w) in SURNAMES {
            for _ in 0..*w {
                surname_table.push(*s);
            }
        }
        let mut homophone_of = HashMap::new();
        for g in HOMOPHONES {
            let chars: Vec<char> = g.chars().collect();
            for &c in &chars {
                homophone_of.insert(c, chars.iter().copied().filter(|&x| x != c).collect());
            }
        }
        let mut rng = Rng::new(seed);
        let prefixes: Vec<char> = VILLAGE_PREFIX.chars().collect();
        let villages = TOWNS
            .iter()
            .map(|_| {
                (0..15)
                    .map(|_| format!("{}{}", rng.pick(&prefixes), rng.pick(VILLAGE_SUFFIX)))
                    .collect()
            })
            .collect();
        Gen {
            rng,
            surname_table,
            ids: HashSet::new(),
            numbers: HashSet::new(),
            homophone_of,
            villages,
        }
    }

    fn surname(&mut self) -> String {
        (*self.rng.pick(&self.surname_table)).to_owned()
    }

    fn given(&mut self, sex: Sex) -> Vec<char> {
        let pool: Vec<char> = if sex == Sex::Male {
            MALE_CHARS.chars().collect()
        } else {
            FEMALE_CHARS.chars().collect()
        };
        let len = if self.rng.chance(0.3) { 1 } else { 2 };
        (0..len).map(|_| *self.rng.pick(&pool)).collect()
    }

    fn birth(&mut self, lo: i32, hi: i32) -> Date {
        let y = self.rng.range(lo, hi);
        let m = self.rng.range(1, 12) as u8;
        let d = self.rng.range(1, 28) as u8;
        date(y, m, d)
    }

    fn id_for(&mut self, birth: Date, sex: Sex) -> String {
        let area = if self.rng.chance(0.85) {
            HOME_AREA
        } else {
            *self.rng.pick(OTHER_AREAS)
        };
        loop {
            let mut seq = self.rng.below(1000) as u16;
            if (seq % 2 == 1) != (sex == Sex::Male) {
                seq = (seq + 1) % 1000;
            }
            if let Ok(id) = IdNumber::from_parts(area, birth, seq) {
                let s = id.into_string();
                if self.ids.insert(s.clone()) {
                    return s;
                }
            }
        }
    }

    fn number(&mut self, prefix: &str, digits: usize) -> String {
        loop {
            let mut s = prefix.to_owned();
            for _ in 0..digits {
                s.push(char::from(b'0' + self.rng.below(10) as u8));
            }
            if self.numbers.insert(s.clone()) {
                return s;
            }
        }
    }

    fn mobile(&mut self) -> String {
        let prefix = *self.rng.pick(&[
            "138", "139", "135", "136", "150", "151", "152", "157", "158", "159", "187", "188",
            "133", "153", "180", "189", "130", "131", "132", "155", "156", "185", "186", "177",
            "199",
        ]);
        self.number(prefix, 8)
    }

    fn landline(&mut self) -> String {
        self.number("05576", 6)
    }

    fn person(&mut self, surname: String, sex: Sex, birth: Date, home: &Person) -> Person {
        let given = self.given(sex);
        let id = self.id_for(birth, sex);
        let mut phones = Vec::new();
        let age = 2024 - birth.year();
        if age >= 16 && self.rng.chance(0.9) {
            phones.push(self.mobile());
            if self.rng.chance(0.35) {
                phones.push(self.mobile());
            }
        }
        let insurance = self.number("34182", 11);
        let health_card = self.number("HC", 12);
        Person {
            surname,
            given,
            sex,
            birth,
            id,
            phones,
            household_phone: home.household_phone.clone(),
            town: home.town,
            village: home.village.clone(),
            group: home.group,
            house: home.house,
            insurance,
            health_card,
        }
    }

    fn home(&mut self) -> Person {
        let town = self.rng.below(TOWNS.len());
        let village = self.rng.pick(&self.villages[town]).clone();
        let household_phone = if self.rng.chance(0.3) {
            self.landline()
        } else {
            self.mobile()
        };
        Person {
            surname: String::new(),
            given: Vec::new(),
            sex: Sex::Male,
            birth: Date::MIN,
            id: String::new(),
            phones: Vec::new(),
            household_phone,
            town,
            village,
            group: self.rng.below(CN_NUM.len()),
            house: self.rng.range(1, 60) as u32,
            insurance: String::new(),
            health_card: String::new(),
        }
    }

    /// A household: the persons and (parent, child) and twin pairs as
    /// indices into the returned list.
    fn household(&mut self, force_twins: bool) -> Household {
        let home = self.home();
        let mut people = Vec::new();
        let mut parent_child = Vec::new();
        let mut twins = Vec::new();
        let head_birth = self.birth(1944, 1998);
        let surname = self.surname();
        let head = self.person(surname.clone(), Sex::Male, head_birth, &home);
        people.push(head);
        let mut mother = None;
        if force_twins || self.rng.chance(0.85) {
            let y = (head_birth.year() + self.rng.range(-3, 5)).min(2000);
            let b = self.birth(y, y);
            let s = self.surname();
            people.push(self.person(s, Sex::Female, b, &home));
            mother = Some(1);
        }
        if self.rng.chance(0.15) {
            let y = head_birth.year() - self.rng.range(22, 32);
            if y >= 1925 {
                let b = self.birth(y, y);
                let sex = if self.rng.chance(0.5) {
                    Sex::Male
                } else {
                    Sex::Female
                };
                let s = if sex == Sex::Male {
                    surname.clone()
                } else {
                    self.surname()
                };
                let elder = self.person(s, sex, b, &home);
                people.push(elder);
                parent_child.push((people.len() - 1, 0));
            }
        }
        let kids = if force_twins {
            1
        } else {
            *self.rng.pick(&[0, 1, 1, 2, 2, 2, 3])
        };
        for k in 0..kids {
            let y = head_birth.year() + self.rng.range(21, 36);
            if y > 2023 {
                break;
            }
            let b = self.birth(y, y);
            let twin = force_twins && k == 0 || self.rng.chance(0.03);
            let sex = if self.rng.chance(0.5) {
                Sex::Male
            } else {
                Sex::Female
            };
            let first = self.person(surname.clone(), sex, b, &home);
            let fi = people.len();
            people.push(first.clone());
            parent_child.push((0, fi));
            if let Some(m) = mother {
                parent_child.push((m, fi));
            }
            if twin {
                let sex2 = if self.rng.chance(0.6) {
                    sex
                } else if sex == Sex::Male {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let mut second = self.person(surname.clone(), sex2, b, &home);
                // Twins' given names often share a character: 秀英 / 秀兰.
                if first.given.len() == 2 && self.rng.chance(0.6) {
                    let pool: Vec<char> = if sex2 == Sex::Male {
                        MALE_CHARS.chars().collect()
                    } else {
                        FEMALE_CHARS.chars().collect()
                    };
                    let mut c = *self.rng.pick(&pool);
                    while c == first.given[1] {
                        c = *self.rng.pick(&pool);
                    }
                    second.given = vec![first.given[0], c];
                }
                if second.given == first.given {
                    second.given.push('二');
                }
                let si = people.len();
                people.push(second);
                twins.push((fi, si));
                parent_child.push((0, si));
                if let Some(m) = mother {
                    parent_child.push((m, si));
                }
            }
        }
        (people, parent_child, twins)
    }

    fn name_text(&mut self, p: &Person) -> String {
        let mut surname = p.surname.clone();
        let mut given = p.given.clone();
        if self.rng.chance(0.10) && !given.is_empty() {
            let at = self.rng.below(given.len());
            if let Some(alts) = self.homophone_of.get(&given[at]) {
                given[at] = *self.rng.pick(alts);
            }
        }
        if given.len() == 2 && self.rng.chance(0.02) {
            given.remove(self.rng.below(2));
        }
        if self.rng.chance(0.03)
            && let Some((_, t)) = TRADITIONAL.iter().find(|(s, _)| *s == surname)
        {
            surname = (*t).to_owned();
        }
        let given: String = given.into_iter().collect();
        if self.rng.chance(0.02) {
            format!("{surname} {given}")
        } else if self.rng.chance(0.01) {
            format!("{surname}{given}　")
        } else {
            format!("{surname}{given}")
        }
    }

    fn id_text(&mut self, p: &Person) -> Option<String> {
        let age = 2024 - p.birth.year();
        let missing = if age < 16 {
            0.4
        } else if age > 70 {
            0.25
        } else {
            0.08
        };
        if self.rng.chance(missing) {
            return None;
        }
        if self.rng.chance(0.01) {
            return Some((*self.rng.pick(&["不详", "无", "123456", "0"])).to_owned());
        }
        let mut id: Vec<u8> = p.id.clone().into_bytes();
        if p.birth.year() < 1985 && self.rng.chance(0.06) {
            // Legacy 15 digits: no century, no check character.
            let mut legacy = id[..6].to_vec();
            legacy.extend_from_slice(&id[8..17]);
            return Some(String::from_utf8(legacy).unwrap_or_default());
        }
        if self.rng.chance(0.04) {
            let at = self.rng.below(17);
            let old = id[at];
            let mut new = old;
            while new == old {
                new = b'0' + self.rng.below(10) as u8;
            }
            id[at] = new;
        } else if self.rng.chance(0.02) {
            let at = self.rng.below(16);
            id.swap(at, at + 1);
        }
        let mut s = String::from_utf8(id).unwrap_or_default();
        if s.ends_with('X') && self.rng.chance(0.5) {
            s = s.to_lowercase();
        }
        if self.rng.chance(0.01) {
            s = s
                .chars()
                .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c))
                .collect();
        }
        Some(s)
    }

    fn birth_value(&mut self, p: &Person) -> Option<Date> {
        if self.rng.chance(0.10) {
            return None;
        }
        let (y, m, d) = (p.birth.year(), u8::from(p.birth.month()), p.birth.day());
        if self.rng.chance(0.02) {
            // One digit of YYYYMMDD mistyped (kept only if still a date).
            let s = format!("{y:04}{m:02}{d:02}");
            let mut b = s.into_bytes();
            let at = self.rng.range(2, 7) as usize;
            b[at] = b'0' + self.rng.below(10) as u8;
            let t = String::from_utf8(b).unwrap_or_default();
            let yy: i32 = t[..4].parse().unwrap_or(y);
            let mm: u8 = t[4..6].parse().unwrap_or(m);
            let dd: u8 = t[6..8].parse().unwrap_or(d);
            if let Ok(month) = Month::try_from(mm)
                && let Ok(x) = Date::from_calendar_date(yy, month, dd)
            {
                return Some(x);
            }
        } else if self.rng.chance(0.01) && d <= 12 {
            return Some(date(y, d, m));
        }
        Some(p.birth)
    }

    fn phone_value(&mut self, p: &Person) -> Option<String> {
        let x = self.rng.below(100);
        if x < 10 {
            return None;
        }
        if p.phones.is_empty() || x < 22 {
            return Some(p.household_phone.clone());
        }
        // The current number mostly, an old one sometimes.
        if p.phones.len() > 1 && x < 40 {
            return Some(p.phones[1].clone());
        }
        Some(p.phones[0].clone())
    }

    fn address_value(&mut self, p: &Person) -> Option<String> {
        let town = TOWNS[p.town];
        let group = CN_NUM[p.group];
        let x = self.rng.below(100);
        Some(match x {
            0..=39 => format!(
                "安徽省临江市云溪县{town}{}{group}组{}号",
                p.village, p.house
            ),
            40..=59 => format!("云溪县{town}{}{group}组{}号", p.village, p.house),
            60..=84 => format!("{town}{}", p.village),
            85..=89 => format!("{town}{}{}组{}号", p.village, p.group + 1, p.house),
            _ => return None,
        })
    }

    fn registration(&mut self, p: &Person) -> Registration {
        let town = TOWNS[p.town];
        let institution = match self.rng.below(10) {
            0..=3 => format!("{}卫生室", p.village),
            4..=6 => format!("{town}卫生院"),
            7..=8 => "云溪县人民医院".to_owned(),
            _ => "云溪县中医院".to_owned(),
        };
        let mut other_ids = Vec::new();
        if self.rng.chance(0.4) {
            other_ids.push(p.insurance.clone());
        }
        if self.rng.chance(0.15) {
            other_ids.push(p.health_card.clone());
        }
        let sex = if self.rng.chance(0.05) {
            None
        } else if self.rng.chance(0.003) {
            Some(if p.sex == Sex::Male {
                Sex::Female
            } else {
                Sex::Male
            })
        } else {
            Some(p.sex)
        };
        Registration {
            record_id: String::new(),
            institution,
            name: self.name_text(p),
            sex,
            birth_date: self.birth_value(p),
            id_number: self.id_text(p),
            phone: self.phone_value(p),
            address: self.address_value(p),
            other_ids,
        }
    }
}

/// About `n` registrations (exactly `n`) of people in households, shuffled,
/// with the truth. The first household always has twins.
pub fn generate(n: usize, seed: u64) -> Synthetic {
    let mut g = Gen::new(seed);
    let mut regs: Vec<(Registration, usize)> = Vec::with_capacity(n + 8);
    let mut twins = Vec::new();
    let mut parent_child = Vec::new();
    let mut persons = 0;
    let mut first = true;
    while regs.len() < n {
        let (people, pc, tw) = g.household(first);
        first = false;
        let base = persons;
        for p in &people {
            let k = *g
                .rng
                .pick(&[1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5]);
            for _ in 0..k {
                let r = g.registration(p);
                regs.push((r, persons));
            }
            persons += 1;
        }
        twins.extend(tw.iter().map(|(a, b)| (base + a, base + b)));
        parent_child.extend(pc.iter().map(|(a, b)| (base + a, base + b)));
    }
    regs.truncate(n);
    // Shuffle (Fisher–Yates) so that one person's registrations are apart.
    for i in (1..regs.len()).rev() {
        let j = g.rng.below(i + 1);
        regs.swap(i, j);
    }
    let mut person = Vec::with_capacity(regs.len());
    let mut out = Vec::with_capacity(regs.len());
    for (i, (mut r, p)) in regs.into_iter().enumerate() {
        r.record_id = format!("R{i:07}");
        out.push(r);
        person.push(p);
    }
    let present: HashSet<usize> = person.iter().copied().collect();
    twins.retain(|(a, b)| present.contains(a) && present.contains(b));
    parent_child.retain(|(a, b)| present.contains(a) && present.contains(b));
    Synthetic {
        regs: out,
        person,
        persons: present.len(),
        twins,
        parent_child,
    }
}

/// Pairwise precision, recall and F1 of a clustering against the truth,
/// and (true positives, predicted pairs, true pairs).
pub fn pairwise(pred: &[usize], truth: &[usize]) -> (f64, f64, f64, u64, u64, u64) {
    fn pairs_of(counts: impl Iterator<Item = u64>) -> u64 {
        counts.map(|c| c * (c.saturating_sub(1)) / 2).sum()
    }
    let mut by_pred: HashMap<usize, u64> = HashMap::new();
    let mut by_truth: HashMap<usize, u64> = HashMap::new();
    let mut by_both: HashMap<(usize, usize), u64> = HashMap::new();
    for (&p, &t) in pred.iter().zip(truth) {
        *by_pred.entry(p).or_default() += 1;
        *by_truth.entry(t).or_default() += 1;
        *by_both.entry((p, t)).or_default() += 1;
    }
    let tp = pairs_of(by_both.into_values());
    let predicted = pairs_of(by_pred.into_values());
    let actual = pairs_of(by_truth.into_values());
    let precision = if predicted == 0 {
        1.0
    } else {
        tp as f64 / predicted as f64
    };
    let recall = if actual == 0 {
        1.0
    } else {
        tp as f64 / actual as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1, tp, predicted, actual)
}

/// How much of each kind of noise a data set has, counted against each
/// person's first registration's truth where needed.
#[derive(Debug, Default)]
pub struct Noise {
    pub homophones: usize,
    pub missing_char: usize,
    pub variants: usize,
    pub legacy_ids: usize,
    pub missing_ids: usize,
    pub invalid_ids: usize,
    pub phone_changes: usize,
    pub short_addresses: usize,
}

pub fn noise(data: &Synthetic) -> Noise {
    let mut n = Noise::default();
    let mut names: HashMap<usize, Vec<String>> = HashMap::new();
    let mut phones: HashMap<usize, HashSet<String>> = HashMap::new();
    for (r, &p) in data.regs.iter().zip(&data.person) {
        let name: String = r.name.chars().filter(|c| !c.is_whitespace()).collect();
        names.entry(p).or_default().push(name);
        if let Some(ph) = &r.phone {
            phones.entry(p).or_default().insert(ph.clone());
        }
        match r.id_number.as_deref() {
            None => n.missing_ids += 1,
            Some(s) if s.len() == 15 => n.legacy_ids += 1,
            Some(s) if IdNumber::parse("id", s).is_err() => n.invalid_ids += 1,
            _ => {}
        }
        if r.address.as_deref().is_some_and(|a| !a.contains('号')) {
            n.short_addresses += 1;
        }
    }
    for list in names.values() {
        for (k, a) in list.iter().enumerate() {
            for b in &list[k + 1..] {
                let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                if ca.len() == cb.len() && ca != cb {
                    if TRADITIONAL.iter().any(|(s, t)| {
                        a.contains(t) || b.contains(t) || a.contains(s) && b.contains(t)
                    }) {
                        n.variants += 1;
                    } else {
                        n.homophones += 1;
                    }
                } else if ca.len().abs_diff(cb.len()) == 1 {
                    n.missing_char += 1;
                }
            }
        }
    }
    n.phone_changes = phones.values().filter(|s| s.len() > 1).count();
    n
}
