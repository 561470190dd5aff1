//! Synthetic residents of the demo county, each registered several times at different
//! institutions with realistic noise, with the truth kept for tests and benchmarks.
//!
//! [`generate`] makes `people` persons living in households of one to five (single elderly
//! people, couples, parents with children, three generations, about 1 % twins) in the villages
//! and the county seat of the county described by a slice of [`Site`]s, then registers each of
//! them one to four times (mean about 2.2) at the village clinic of their village, their township
//! health centre and the county hospitals. Every registration is a copy of the person's data as
//! a clerk might have typed it: homophone characters, ID number typos, legacy 15-digit and
//! missing ID numbers, a changed phone, a shortened address, and so on, at the rates of the
//! `pub const`s below. [`write_link_csv`] writes the registrations in the input format of
//! `ygt link`; [`write_truth_csv`] writes which registrations belong to one person.
//!
//! The output is pure and deterministic: the same seed, count and sites give the same persons
//! and registrations forever. Each concern (households, names, ID numbers, phones, addresses,
//! sites, noise, order) draws from its own stream forked from the given generator, which is not
//! advanced; a new concern must take a new stream so that the existing output stays unchanged.

use std::collections::HashSet;
use std::io::{self, Write};

use time::macros::date;
use time::{Date, Month};
use ygt_domain::ident::{IdNumber, Sex};

use crate::names;
use crate::rng::Rng;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// The level of an institution where residents register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteTier {
    /// A county hospital (general, TCM, maternal and child health).
    County,
    /// A township health centre (乡镇卫生院) or community health centre.
    Township,
    /// A village clinic (村卫生室).
    Village,
}

/// Where a registration was made (an institution of the generated county).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Institution id or code, written to the `institution` column of the link CSV.
    pub id: String,
    pub name: String,
    pub tier: SiteTier,
    /// Township name, e.g. 柳河镇, for addresses; the county seat 城关镇 for county sites.
    pub township: String,
    /// The village, for village clinics.
    pub village: Option<String>,
}

/// One registration of a person at a site, as typed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticRegistration {
    /// The person ([`Person::truth`]); the same value means the same person.
    pub truth: u64,
    /// Unique, `R` and eight digits (`R00001234`), numbered in output order.
    pub record_id: String,
    /// Index into the sites slice given to [`generate`].
    pub site: usize,
    pub name: String,
    /// Sometimes missing.
    pub sex: Option<Sex>,
    /// Sometimes missing or with a typo.
    pub birth_date: Option<Date>,
    /// Raw text as typed: canonical, typo, transposition, lowercase `x`, 15-digit legacy form,
    /// garbage (`无`, `不详`, `123`), or missing.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// A resident as they really are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// 1, 2, 3, … in household order.
    pub truth: u64,
    pub name: String,
    pub female: bool,
    pub birth: Date,
    /// Canonical 18 characters; `None` for some children and elderly people.
    pub id_number: Option<String>,
    /// The phone a registration records for them: their own mobile or a household member's
    /// (always a parent's or the head's for children under 14); `None` for a few.
    pub phone: Option<String>,
    /// 1, 2, 3, …; members of a household share the address.
    pub household: u64,
    pub township: String,
    pub village: Option<String>,
    /// Full postal address (`安徽省临江市云溪县柳河镇张庄村三组15号`).
    pub address: String,
}

// ---------------------------------------------------------------------------
// Rates
// ---------------------------------------------------------------------------

/// Ages are counted at 1 January of this year; birth dates span 0 to [`MAX_AGE`] years.
pub const REFERENCE_YEAR: i32 = 2026;
/// The oldest residents.
pub const MAX_AGE: i64 = 95;
/// Division code of the demo county (the area code of most ID numbers).
pub const COUNTY_AREA: &str = "341890";
/// Area codes of adults born elsewhere (Hefei, Wuhu, Bengbu, Fuyang, Suzhou (Anhui), Nanjing,
/// Hangzhou, Shanghai, Zhengzhou, Wuhan, Nanchang, Jinan).
pub const OTHER_AREAS: &[&str] = &[
    "340104", "340102", "340202", "340302", "341202", "341302", "320102", "320106", "330106",
    "310104", "410102", "420106", "360102", "370102",
];
/// Share of adults (18+) whose ID number has an area code from elsewhere ([`OTHER_AREAS`]).
pub const BORN_ELSEWHERE: f64 = 0.10;
/// Share of children under 16 without an ID number.
pub const CHILD_WITHOUT_ID: f64 = 0.08;
/// Share of people over 80 without an ID number.
pub const ELDER_WITHOUT_ID: f64 = 0.05;
/// Weights of household sizes 1 to 5 (mean about 2.95).
pub const HOUSEHOLD_SIZE_WEIGHTS: [u32; 5] = [15, 25, 25, 20, 15];
/// Share of households with two or more children whose two eldest are twins (about 1 % of
/// people are twins).
pub const TWIN_HOUSEHOLDS: f64 = 0.065;
/// Share of households living in the county seat (street addresses, no village).
pub const COUNTY_SEAT_HOUSEHOLDS: f64 = 0.15;
/// Share of children who take their mother's surname.
pub const MOTHERS_SURNAME: f64 = 0.08;
/// Share of adults (14 to 80, not the head) who give the head's mobile instead of their own.
pub const SHARED_PHONE_ADULT: f64 = 0.30;
/// Share of people over 80 (not the head) who give the head's mobile.
pub const SHARED_PHONE_ELDER: f64 = 0.60;
/// Weights of 1, 2, 3 and 4 registrations per person (mean 2.2).
pub const REGISTRATION_COUNT_WEIGHTS: [u32; 4] = [25, 40, 25, 10];
/// Chance that a second or later registration is made again at a site already used.
pub const REREGISTRATION: f64 = 0.05;

/// Name: one given-name character replaced by a homophone (when one has a homophone).
pub const NAME_HOMOPHONE: f64 = 0.06;
/// Name: one given-name character missing (when the given name has two or more).
pub const NAME_MISSING_CHAR: f64 = 0.02;
/// ID number missing at county and township sites.
pub const ID_MISSING: f64 = 0.07;
/// ID number missing at village clinics (about 10 % over all sites).
pub const ID_MISSING_VILLAGE: f64 = 0.16;
/// ID number field holding garbage text ([`ID_GARBAGE_TEXT`]).
pub const ID_GARBAGE: f64 = 0.01;
/// The garbage typed into the ID number field.
pub const ID_GARBAGE_TEXT: &[&str] = &["无", "不详", "123"];
/// ID number with one character replaced by another digit (always an invalid number).
pub const ID_TYPO: f64 = 0.03;
/// ID number with two adjacent different digits swapped (always an invalid number).
pub const ID_TRANSPOSITION: f64 = 0.01;
/// ID number in the 15-digit legacy form, for people born before 1980.
pub const ID_LEGACY: f64 = 0.05;
/// Of otherwise exact numbers ending in `X`: typed with a lowercase `x`.
pub const ID_LOWERCASE_X: f64 = 0.30;
/// Birth date missing.
pub const BIRTH_MISSING: f64 = 0.03;
/// Birth date with one digit of year, month or day changed (still a real date).
pub const BIRTH_TYPO: f64 = 0.01;
/// Birth date with month and day swapped (only when that is a different real date).
pub const BIRTH_SWAP: f64 = 0.01;
/// Sex missing.
pub const SEX_MISSING: f64 = 0.02;
/// Phone missing.
pub const PHONE_MISSING: f64 = 0.08;
/// Phone changed to a new number.
pub const PHONE_CHANGED: f64 = 0.10;
/// Address missing.
pub const ADDRESS_MISSING: f64 = 0.05;
/// Address shortened to township and village (`柳河镇张庄村`), or for the county seat to the
/// address without province, prefecture and county.
pub const ADDRESS_SHORT: f64 = 0.25;

/// Homophone groups (same reading, tone included) of characters common in given names.
pub static HOMOPHONES: &[&str] = &[
    "英瑛莹",
    "华桦",
    "明铭",
    "丽莉俪",
    "军君均",
    "伟玮炜",
    "芳方",
    "娟涓",
    "静婧",
    "强蔷",
    "秀绣",
    "兰岚",
    "峰锋丰",
    "杰洁",
    "玲铃苓",
    "燕艳",
    "红虹鸿",
    "建健剑",
    "国帼",
    "平萍",
    "林琳霖",
    "辉晖",
    "涛滔",
    "刚钢",
    "勇永",
    "志智",
    "东冬",
    "新欣馨",
    "梅玫",
    "云芸",
    "婷亭",
    "敏民",
    "斌彬",
    "佳家嘉",
    "宇雨语",
    "浩昊皓",
    "子紫梓",
    "涵寒晗",
    "怡宜仪",
    "轩萱宣",
];

// Streams forked from the caller's generator, one per concern. Never renumber; add new ones.
const STREAM_HOUSEHOLDS: u64 = 1;
const STREAM_NAMES: u64 = 2;
const STREAM_IDS: u64 = 3;
const STREAM_PHONES: u64 = 4;
const STREAM_ADDRESSES: u64 = 5;
const STREAM_SITES: u64 = 6;
const STREAM_NOISE: u64 = 7;
const STREAM_ORDER: u64 = 8;

// Relative weights of the sites where a resident registers.
const WEIGHT_VILLAGE: u32 = 45;
const WEIGHT_TOWNSHIP: u32 = 30;
/// County sites for village residents (the first county site gets 60 %, the others share the rest).
const WEIGHT_COUNTY: u32 = 25;
/// County sites for county-seat residents.
const WEIGHT_COUNTY_SEAT: u32 = 60;

const MOBILE_PREFIXES: &[&str] = &[
    "138", "139", "136", "135", "150", "151", "152", "158", "187", "188", "177", "181", "189",
    "199",
];

// ---------------------------------------------------------------------------
// Places
// ---------------------------------------------------------------------------

/// Where a household can live, and where its members register (site index, weight).
struct Home {
    township: String,
    village: Option<String>,
    candidates: Vec<(usize, u32)>,
}

/// Homes of the county: index 0 is the county seat, the rest are villages (or, for a county
/// without village clinics, townships).
struct Places {
    homes: Vec<Home>,
}

impl Places {
    fn new(sites: &[Site]) -> Places {
        let seat = names::county_seat_town();
        let county: Vec<usize> = sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tier == SiteTier::County)
            .map(|(i, _)| i)
            .collect();
        let county_weights = |total: u32| -> Vec<(usize, u32)> {
            match county.split_first() {
                None => Vec::new(),
                Some((&first, [])) => vec![(first, total)],
                Some((&first, rest)) => {
                    let main = total * 3 / 5;
                    let others = u32::try_from(rest.len()).unwrap_or(u32::MAX);
                    let each = ((total - main) / others).max(1);
                    std::iter::once((first, main))
                        .chain(rest.iter().map(|&i| (i, each)))
                        .collect()
                }
            }
        };
        let township_site = |town: &str| {
            sites
                .iter()
                .position(|s| s.tier == SiteTier::Township && s.township == town)
        };

        let mut seat_candidates = Vec::new();
        if let Some(t) = township_site(seat) {
            seat_candidates.push((t, WEIGHT_TOWNSHIP));
        }
        seat_candidates.extend(county_weights(WEIGHT_COUNTY_SEAT));
        let mut homes = vec![Home {
            township: seat.to_owned(),
            village: None,
            candidates: seat_candidates,
        }];
        for (i, s) in sites.iter().enumerate() {
            if s.tier != SiteTier::Village {
                continue;
            }
            let mut candidates = vec![(i, WEIGHT_VILLAGE)];
            if let Some(t) = township_site(&s.township) {
                candidates.push((t, WEIGHT_TOWNSHIP));
            }
            candidates.extend(county_weights(WEIGHT_COUNTY));
            homes.push(Home {
                township: s.township.clone(),
                village: s.village.clone(),
                candidates,
            });
        }
        if homes.len() == 1 {
            // No village clinics: people live in the townships (street addresses).
            for (i, s) in sites.iter().enumerate() {
                if s.tier != SiteTier::Township || s.township == seat {
                    continue;
                }
                let mut candidates = vec![(i, WEIGHT_TOWNSHIP)];
                candidates.extend(county_weights(WEIGHT_COUNTY));
                homes.push(Home {
                    township: s.township.clone(),
                    village: None,
                    candidates,
                });
            }
        }
        for h in &mut homes {
            if h.candidates.is_empty() {
                h.candidates = (0..sites.len()).map(|i| (i, 1)).collect();
            }
        }
        Places { homes }
    }

    /// Index of a home for a new household.
    fn pick_home(&self, rng: &mut Rng) -> usize {
        let seat = rng.chance(COUNTY_SEAT_HOUSEHOLDS);
        let others = self.homes.len().saturating_sub(1) as u64;
        let village = 1 + rng.below(others) as usize;
        if seat || others == 0 { 0 } else { village }
    }

    /// The sites of one person's registrations (empty only when there are no sites).
    fn choose_sites(&self, rng: &mut Rng, home: usize) -> Vec<usize> {
        let candidates = self
            .homes
            .get(home)
            .map(|h| h.candidates.as_slice())
            .unwrap_or_default();
        let n = 1 + rng.weighted_index(&REGISTRATION_COUNT_WEIGHTS);
        let mut used: Vec<usize> = Vec::with_capacity(n);
        for k in 0..n {
            let again = rng.chance(REREGISTRATION);
            let weights: Vec<u32> = candidates
                .iter()
                .map(|&(s, w)| if used.contains(&s) { 0 } else { w })
                .collect();
            let fresh_left = weights.iter().any(|&w| w > 0);
            let i = rng.weighted_index(&weights);
            let site = if (k > 0 && again) || !fresh_left {
                rng.pick(&used).copied()
            } else {
                candidates.get(i).map(|&(s, _)| s)
            };
            if let Some(s) = site {
                used.push(s);
            }
        }
        used
    }
}

// ---------------------------------------------------------------------------
// Households
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Head,
    Spouse,
    Grandparent,
    Child,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    role: Role,
    female: bool,
    age: i64,
    /// Index of the member this one is a twin of.
    twin_of: Option<usize>,
}

impl Member {
    fn new(role: Role, female: bool, age: i64) -> Member {
        Member {
            role,
            female,
            age: age.clamp(0, MAX_AGE),
            twin_of: None,
        }
    }
}

/// The members of a household of `size` (1 to 5): head first.
fn compose(rng: &mut Rng, size: usize) -> Vec<Member> {
    let mut m = Vec::with_capacity(size);
    match size {
        0 => {}
        1 => {
            let age = if rng.chance(0.55) {
                rng.range(60, MAX_AGE)
            } else {
                rng.range(18, 59)
            };
            let female = rng.chance(if age >= 75 { 0.62 } else { 0.45 });
            m.push(Member::new(Role::Head, female, age));
        }
        2 => match rng.weighted_index(&[45, 30, 25]) {
            0 => {
                let h = rng.range(55, 92);
                let w = (h + rng.range(-6, 2)).clamp(50, MAX_AGE);
                m.push(Member::new(Role::Head, false, h));
                m.push(Member::new(Role::Spouse, true, w));
            }
            1 => {
                let h = rng.range(22, 54);
                let w = (h + rng.range(-5, 2)).max(20);
                m.push(Member::new(Role::Head, false, h));
                m.push(Member::new(Role::Spouse, true, w));
            }
            _ => {
                let female = rng.chance(0.65);
                let p = rng.range(36, 78);
                let c = rng.range((p - 40).max(0), p - 20);
                m.push(Member::new(Role::Head, female, p));
                m.push(Member::new(Role::Child, rng.chance(0.49), c));
            }
        },
        _ => {
            let h = rng.range(24, 56);
            let w = (h + rng.range(-5, 2)).max(21);
            let grandparents = if size >= 4 && rng.chance(0.45) {
                if size >= 5 && rng.chance(0.5) { 2 } else { 1 }
            } else {
                0
            };
            let children = size - 2 - grandparents;
            m.push(Member::new(Role::Head, false, h));
            m.push(Member::new(Role::Spouse, true, w));
            let g = (h.max(w) + rng.range(22, 34)).min(MAX_AGE);
            if grandparents == 2 {
                m.push(Member::new(Role::Grandparent, false, g));
                let g2 = (g + rng.range(-5, 2)).clamp(h.max(w) + 18, MAX_AGE);
                m.push(Member::new(Role::Grandparent, true, g2));
            } else if grandparents == 1 {
                m.push(Member::new(Role::Grandparent, rng.chance(0.62), g));
            }
            let mut ages: Vec<i64> = (0..children)
                .map(|_| rng.range((w - 40).max(0), (w - 20).max(0)))
                .collect();
            ages.sort_unstable_by(|a, b| b.cmp(a));
            let twins = children >= 2 && rng.chance(TWIN_HOUSEHOLDS);
            let first = m.len();
            for (k, age) in ages.into_iter().enumerate() {
                let female = rng.chance(0.48);
                let mut child = Member::new(Role::Child, female, age);
                if twins && k == 1 {
                    child.twin_of = Some(first);
                    child.age = m.get(first).map_or(age, |t| t.age);
                }
                m.push(child);
            }
        }
    }
    m
}

/// A birth date `age` years before 1 January of [`REFERENCE_YEAR`].
fn birth_date(rng: &mut Rng, age: i64) -> Date {
    let year = REFERENCE_YEAR - 1 - i32::try_from(age.clamp(0, MAX_AGE)).unwrap_or(0);
    let days = time::util::days_in_year(year);
    let ordinal = u16::try_from(rng.range(1, i64::from(days))).unwrap_or(1);
    Date::from_ordinal_date(year, ordinal).unwrap_or(date!(1970 - 01 - 01))
}

/// Mobile numbers, unique across everything generated.
struct PhoneBook {
    used: HashSet<u64>,
}

impl PhoneBook {
    fn fresh(&mut self, rng: &mut Rng) -> String {
        let mut last = String::new();
        for _ in 0..64 {
            let prefix = rng.pick(MOBILE_PREFIXES).copied().unwrap_or("138");
            let number = format!("{prefix}{:08}", rng.below(100_000_000));
            if self.used.insert(number.parse().unwrap_or(0)) {
                return number;
            }
            last = number;
        }
        last
    }
}

/// Canonical ID numbers, unique across people.
struct IdBook {
    used: HashSet<String>,
}

impl IdBook {
    /// An ID number for a person (`None` when the draws say they have none).
    fn issue(&mut self, rng: &mut Rng, female: bool, age: i64, birth: Date) -> Option<String> {
        let elsewhere = rng.chance(BORN_ELSEWHERE);
        let other = rng.pick(OTHER_AREAS).copied().unwrap_or(COUNTY_AREA);
        let none = rng.f64();
        let area = if age >= 18 && elsewhere {
            other
        } else {
            COUNTY_AREA
        };
        let without = if age < 16 {
            none < CHILD_WITHOUT_ID
        } else if age > 80 {
            none < ELDER_WITHOUT_ID
        } else {
            false
        };
        if without {
            return None;
        }
        for _ in 0..64 {
            let seq = rng.below(500) * 2 + u64::from(!female);
            let seq = u16::try_from(seq).unwrap_or(1);
            let id = IdNumber::from_parts(area, birth, seq).ok()?;
            if self.used.insert(id.as_str().to_owned()) {
                return Some(id.into_string());
            }
        }
        None
    }
}

/// What [`generate`] needs besides the [`Person`].
struct Extra {
    surname_chars: usize,
    home: usize,
}

struct Streams {
    households: Rng,
    names: Rng,
    ids: Rng,
    phones: Rng,
    addresses: Rng,
    sites: Rng,
    noise: Rng,
    order: Rng,
}

/// Generates `people` persons (households of 1 to 5, with parents and children, elderly people
/// and some twins) and their registrations (1 to 4 each, at the village clinic of their village,
/// their township centre and the county hospitals; mean about 2.2), shuffled and numbered
/// `R00000001`, `R00000002`, ….
///
/// `rng` is only forked, never advanced. Households live in the villages of the village clinics
/// among `sites` (15 % in the county seat, 城关镇); a county without village clinics is peopled
/// from its township sites. With no sites at all, no registrations are made.
pub fn generate(
    rng: &mut Rng,
    people: usize,
    sites: &[Site],
) -> (Vec<Person>, Vec<SyntheticRegistration>) {
    let mut s = Streams {
        households: rng.fork(STREAM_HOUSEHOLDS),
        names: rng.fork(STREAM_NAMES),
        ids: rng.fork(STREAM_IDS),
        phones: rng.fork(STREAM_PHONES),
        addresses: rng.fork(STREAM_ADDRESSES),
        sites: rng.fork(STREAM_SITES),
        noise: rng.fork(STREAM_NOISE),
        order: rng.fork(STREAM_ORDER),
    };
    let places = Places::new(sites);
    let mut ids = IdBook {
        used: HashSet::with_capacity(people),
    };
    let mut phones = PhoneBook {
        used: HashSet::with_capacity(people),
    };
    let mut persons: Vec<Person> = Vec::with_capacity(people);
    let mut extras: Vec<Extra> = Vec::with_capacity(people);
    let mut household = 0_u64;
    while persons.len() < people {
        household += 1;
        let size = 1 + s.households.weighted_index(&HOUSEHOLD_SIZE_WEIGHTS);
        let size = size.min(people - persons.len());
        let home_index = places.pick_home(&mut s.households);
        let members = compose(&mut s.households, size);
        let mut births: Vec<Date> = Vec::with_capacity(members.len());
        for m in &members {
            let own = birth_date(&mut s.households, m.age);
            let twin = m.twin_of.and_then(|t| births.get(t).copied());
            births.push(twin.unwrap_or(own));
        }
        let (township, village) = places
            .homes
            .get(home_index)
            .map(|h| (h.township.clone(), h.village.clone()))
            .unwrap_or_else(|| (names::county_seat_town().to_owned(), None));
        let address = names::address(&mut s.addresses, &township, village.as_deref());

        // Names: the head and spouse have their own surnames; children take the father's (or
        // the single parent's), sometimes the mother's; grandparents are the father's parents.
        let mut full_names: Vec<(String, usize)> = Vec::with_capacity(members.len());
        for (m, birth) in members.iter().zip(&births) {
            let own = names::surname(&mut s.names);
            let fathers = full_names
                .first()
                .map(|(n, c)| n.chars().take(*c).collect::<String>())
                .unwrap_or_else(|| own.to_owned());
            let mothers = match members.first() {
                Some(h) if h.female => fathers.clone(),
                _ => full_names
                    .get(1)
                    .map(|(n, c)| n.chars().take(*c).collect::<String>())
                    .unwrap_or_else(|| fathers.clone()),
            };
            let mothers_name = s.names.chance(MOTHERS_SURNAME);
            let surname = match m.role {
                Role::Head | Role::Spouse => own.to_owned(),
                Role::Grandparent if m.female => own.to_owned(),
                Role::Grandparent => fathers,
                Role::Child if mothers_name => mothers,
                Role::Child => fathers,
            };
            let twin_name = m
                .twin_of
                .and_then(|t| full_names.get(t))
                .map(|(n, _)| n.clone());
            let mut given = names::given_name(&mut s.names, m.female, birth.year());
            for _ in 0..16 {
                let same = twin_name
                    .as_deref()
                    .is_some_and(|t| t.strip_prefix(surname.as_str()) == Some(given.as_str()));
                if !same {
                    break;
                }
                given = names::given_name(&mut s.names, m.female, birth.year());
            }
            let chars = surname.chars().count();
            full_names.push((format!("{surname}{given}"), chars));
        }

        // Phones: the head's mobile is the household contact; children under 14 give a parent's.
        let mut member_phones: Vec<Option<String>> = Vec::with_capacity(members.len());
        let mut head_phone: Option<String> = None;
        for (k, m) in members.iter().enumerate() {
            let share_draw = s.phones.f64();
            let own_draw = s.phones.f64();
            let phone = if k == 0 {
                let has = own_draw < if m.age > 80 { 0.7 } else { 0.95 };
                let p = has.then(|| phones.fresh(&mut s.phones));
                head_phone.clone_from(&p);
                p
            } else if m.age < 14 {
                head_phone
                    .clone()
                    .or_else(|| member_phones.iter().flatten().next().cloned())
            } else if m.age > 80 {
                if share_draw < SHARED_PHONE_ELDER && head_phone.is_some() {
                    head_phone.clone()
                } else if own_draw < 0.6 {
                    Some(phones.fresh(&mut s.phones))
                } else {
                    None
                }
            } else if share_draw < SHARED_PHONE_ADULT && head_phone.is_some() {
                head_phone.clone()
            } else if own_draw < 0.92 {
                Some(phones.fresh(&mut s.phones))
            } else {
                None
            };
            member_phones.push(phone);
        }

        for ((m, birth), ((name, surname_chars), phone)) in members
            .iter()
            .zip(births)
            .zip(full_names.into_iter().zip(member_phones))
        {
            let id_number = ids.issue(&mut s.ids, m.female, m.age, birth);
            persons.push(Person {
                truth: persons.len() as u64 + 1,
                name,
                female: m.female,
                birth,
                id_number,
                phone,
                household,
                township: township.clone(),
                village: village.clone(),
                address: address.clone(),
            });
            extras.push(Extra {
                surname_chars,
                home: home_index,
            });
        }
    }

    let mut regs: Vec<SyntheticRegistration> = Vec::with_capacity(people * 23 / 10);
    for (p, x) in persons.iter().zip(&extras) {
        for site in places.choose_sites(&mut s.sites, x.home) {
            let village = sites.get(site).is_some_and(|s| s.tier == SiteTier::Village);
            regs.push(register(
                &mut s.noise,
                &mut phones,
                p,
                x.surname_chars,
                site,
                village,
            ));
        }
    }
    s.order.shuffle(&mut regs);
    for (i, r) in regs.iter_mut().enumerate() {
        r.record_id = format!("R{:08}", i + 1);
    }
    (persons, regs)
}

// ---------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------

/// One registration of `p` at `site`, with noise.
fn register(
    rng: &mut Rng,
    phones: &mut PhoneBook,
    p: &Person,
    surname_chars: usize,
    site: usize,
    village_clinic: bool,
) -> SyntheticRegistration {
    let name = noisy_name(rng, &p.name, surname_chars);
    let sex_missing = rng.chance(SEX_MISSING);
    let sex = (!sex_missing).then_some(if p.female { Sex::Female } else { Sex::Male });
    let birth_date = noisy_birth(rng, p.birth);
    let id_number = noisy_id(
        rng,
        p.id_number.as_deref(),
        p.birth.year() < 1980,
        village_clinic,
    );
    let u = rng.f64();
    let phone = if u < PHONE_MISSING {
        None
    } else if u < PHONE_MISSING + PHONE_CHANGED {
        Some(phones.fresh(rng))
    } else {
        p.phone.clone()
    };
    let u = rng.f64();
    let address = if u < ADDRESS_MISSING {
        None
    } else if u < ADDRESS_MISSING + ADDRESS_SHORT {
        Some(short_address(p))
    } else {
        Some(p.address.clone())
    };
    SyntheticRegistration {
        truth: p.truth,
        record_id: String::new(),
        site,
        name,
        sex,
        birth_date,
        id_number,
        phone,
        address,
    }
}

/// The homophones of `c` (without `c`), or an empty list.
fn homophones_of(c: char) -> Vec<char> {
    HOMOPHONES
        .iter()
        .find(|g| g.contains(c))
        .map(|g| g.chars().filter(|&h| h != c).collect())
        .unwrap_or_default()
}

fn noisy_name(rng: &mut Rng, name: &str, surname_chars: usize) -> String {
    let homophone = rng.chance(NAME_HOMOPHONE);
    let missing = rng.chance(NAME_MISSING_CHAR);
    let detail = rng.next_u64();
    if !homophone && !missing {
        return name.to_owned();
    }
    let mut chars: Vec<char> = name.chars().collect();
    if homophone {
        let positions: Vec<usize> = (surname_chars..chars.len())
            .filter(|&i| chars.get(i).is_some_and(|&c| !homophones_of(c).is_empty()))
            .collect();
        if !positions.is_empty() {
            let at = positions
                .get((detail % positions.len() as u64) as usize)
                .copied()
                .unwrap_or(surname_chars);
            if let Some(c) = chars.get_mut(at) {
                let options = homophones_of(*c);
                let k = ((detail >> 16) % options.len().max(1) as u64) as usize;
                if let Some(&h) = options.get(k) {
                    *c = h;
                }
            }
        }
    }
    let given = chars.len().saturating_sub(surname_chars);
    if missing && given >= 2 {
        let at = surname_chars + ((detail >> 32) % given as u64) as usize;
        if at < chars.len() {
            chars.remove(at);
        }
    }
    chars.into_iter().collect()
}

fn noisy_birth(rng: &mut Rng, birth: Date) -> Option<Date> {
    let u = rng.f64();
    let detail = rng.next_u64();
    if u < BIRTH_MISSING {
        None
    } else if u < BIRTH_MISSING + BIRTH_TYPO {
        Some(birth_typo(birth, detail))
    } else if u < BIRTH_MISSING + BIRTH_TYPO + BIRTH_SWAP {
        let month = u8::from(birth.month());
        let swapped = (birth.day() <= 12 && birth.day() != month)
            .then(|| Month::try_from(birth.day()).ok())
            .flatten()
            .and_then(|m| Date::from_calendar_date(birth.year(), m, month).ok());
        Some(swapped.unwrap_or(birth))
    } else {
        Some(birth)
    }
}

/// One digit of the year's last two, the month or the day changed, giving another real date
/// not after the reference year (or the date itself when no attempt works).
fn birth_typo(birth: Date, detail: u64) -> Date {
    let mut r = Rng::new(detail);
    let digits = format!(
        "{:04}{:02}{:02}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    for _ in 0..16 {
        let mut b = digits.clone().into_bytes();
        let at = 2 + r.below(6) as usize;
        let Some(d) = b.get_mut(at) else { continue };
        let old = *d - b'0';
        *d = b'0' + (old + 1 + r.below(9) as u8) % 10;
        let text = String::from_utf8(b).unwrap_or_default();
        let year = text.get(0..4).and_then(|t| t.parse::<i32>().ok());
        let month = text
            .get(4..6)
            .and_then(|t| t.parse::<u8>().ok())
            .and_then(|m| Month::try_from(m).ok());
        let day = text.get(6..8).and_then(|t| t.parse::<u8>().ok());
        if let (Some(y), Some(m), Some(d)) = (year, month, day)
            && y < REFERENCE_YEAR
            && let Ok(date) = Date::from_calendar_date(y, m, d)
            && date != birth
        {
            return date;
        }
    }
    birth
}

fn noisy_id(
    rng: &mut Rng,
    id: Option<&str>,
    born_before_1980: bool,
    village_clinic: bool,
) -> Option<String> {
    let u = rng.f64();
    let detail = rng.next_u64();
    let lowercase = rng.chance(ID_LOWERCASE_X);
    let mut t = if village_clinic {
        ID_MISSING_VILLAGE
    } else {
        ID_MISSING
    };
    if u < t {
        return None;
    }
    t += ID_GARBAGE;
    if u < t {
        let i = (detail % ID_GARBAGE_TEXT.len() as u64) as usize;
        return ID_GARBAGE_TEXT.get(i).map(|g| (*g).to_owned());
    }
    let id = id?;
    t += ID_TYPO;
    if u < t {
        return Some(id_typo(id, detail));
    }
    t += ID_TRANSPOSITION;
    if u < t {
        return Some(id_transposition(id, detail));
    }
    if born_before_1980 {
        t += ID_LEGACY;
        if u < t {
            return Some(legacy_15(id));
        }
    }
    if lowercase && id.ends_with('X') {
        return Some(id.replace('X', "x"));
    }
    Some(id.to_owned())
}

/// One of the 18 characters replaced by a different digit (the check no longer matches).
fn id_typo(id: &str, detail: u64) -> String {
    let mut b = id.as_bytes().to_vec();
    let at = (detail % b.len().max(1) as u64) as usize;
    let k = ((detail >> 8) % 9) as u8;
    if let Some(c) = b.get_mut(at) {
        *c = if c.is_ascii_digit() {
            b'0' + (*c - b'0' + 1 + k) % 10
        } else {
            b'0' + k
        };
    }
    String::from_utf8(b).unwrap_or_else(|_| id.to_owned())
}

/// Two adjacent different digits among the first 17 swapped (the check no longer matches).
fn id_transposition(id: &str, detail: u64) -> String {
    let mut b = id.as_bytes().to_vec();
    let pairs: Vec<usize> = (0..16)
        .filter(|&i| matches!((b.get(i), b.get(i + 1)), (Some(x), Some(y)) if x != y))
        .collect();
    if pairs.is_empty() {
        return id_typo(id, detail);
    }
    let i = pairs
        .get((detail % pairs.len() as u64) as usize)
        .copied()
        .unwrap_or(0);
    if i + 1 < b.len() {
        b.swap(i, i + 1);
    }
    String::from_utf8(b).unwrap_or_else(|_| id.to_owned())
}

/// The 15-digit form: area, two-digit year, month, day, sequence (no century, no check).
fn legacy_15(id: &str) -> String {
    match (id.get(0..6), id.get(8..17)) {
        (Some(area), Some(rest)) => format!("{area}{rest}"),
        _ => id.to_owned(),
    }
}

/// `柳河镇张庄村`, or for a street address the address without province, prefecture and county.
fn short_address(p: &Person) -> String {
    match &p.village {
        Some(v) => format!("{}{v}", p.township),
        None => {
            let prefix = format!(
                "{}{}{}",
                names::province_name(),
                names::prefecture_name(),
                names::county_name()
            );
            p.address
                .strip_prefix(prefix.as_str())
                .unwrap_or(&p.address)
                .to_owned()
        }
    }
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// Header of [`write_link_csv`].
pub const LINK_CSV_HEADER: &str =
    "record_id,institution,name,sex,birth_date,id_number,phone,address";
/// Header of [`write_truth_csv`].
pub const TRUTH_CSV_HEADER: &str = "record_id,person";

/// Appends `s` to `line`, quoted per RFC 4180 when it holds a comma, quote or line break.
fn push_field(line: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        line.push('"');
        for c in s.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.push_str(s);
    }
}

fn ymd(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Writes `regs` in the input format of `ygt link`: the header [`LINK_CSV_HEADER`], then one
/// line per registration (`institution` is the site's id; sex `M`, `F` or empty; birth date
/// `YYYY-MM-DD` or empty; other missing values empty). Fields are quoted per RFC 4180 when
/// needed; lines end with `\n`.
pub fn write_link_csv(
    regs: &[SyntheticRegistration],
    sites: &[Site],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    writeln!(w, "{LINK_CSV_HEADER}")?;
    let mut line = String::with_capacity(256);
    for r in regs {
        line.clear();
        push_field(&mut line, &r.record_id);
        line.push(',');
        push_field(&mut line, sites.get(r.site).map_or("", |s| s.id.as_str()));
        line.push(',');
        push_field(&mut line, &r.name);
        line.push(',');
        line.push_str(match r.sex {
            Some(Sex::Male) => "M",
            Some(Sex::Female) => "F",
            _ => "",
        });
        line.push(',');
        if let Some(d) = r.birth_date {
            line.push_str(&ymd(d));
        }
        line.push(',');
        push_field(&mut line, r.id_number.as_deref().unwrap_or(""));
        line.push(',');
        push_field(&mut line, r.phone.as_deref().unwrap_or(""));
        line.push(',');
        push_field(&mut line, r.address.as_deref().unwrap_or(""));
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

/// Writes the truth: the header [`TRUTH_CSV_HEADER`], then `record_id,person` per registration.
pub fn write_truth_csv(regs: &[SyntheticRegistration], out: &mut dyn Write) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    writeln!(w, "{TRUTH_CSV_HEADER}")?;
    let mut line = String::with_capacity(32);
    for r in regs {
        line.clear();
        push_field(&mut line, &r.record_id);
        line.push(',');
        line.push_str(&r.truth.to_string());
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A county like the small demo: three county hospitals, 8 townships of 5 villages.
    fn county(seed: u64) -> Vec<Site> {
        let mut rng = Rng::new(seed);
        let seat = names::county_seat_town().to_owned();
        let mut sites = vec![
            Site {
                id: "C01".into(),
                name: "云溪县人民医院".into(),
                tier: SiteTier::County,
                township: seat.clone(),
                village: None,
            },
            Site {
                id: "C02".into(),
                name: "云溪县中医医院".into(),
                tier: SiteTier::County,
                township: seat.clone(),
                village: None,
            },
            Site {
                id: "C03".into(),
                name: "云溪县妇幼保健院".into(),
                tier: SiteTier::County,
                township: seat,
                village: None,
            },
        ];
        for (t, town) in names::township_names(&mut rng, 8).into_iter().enumerate() {
            sites.push(Site {
                id: format!("T{t:02}"),
                name: format!("{town}卫生院"),
                tier: SiteTier::Township,
                township: town.clone(),
                village: None,
            });
            for (v, village) in names::village_names(&mut rng, 5).into_iter().enumerate() {
                sites.push(Site {
                    id: format!("V{t:02}{v:02}"),
                    name: format!("{town}{village}卫生室"),
                    tier: SiteTier::Village,
                    township: town.clone(),
                    village: Some(village),
                });
            }
        }
        sites
    }

    fn age(p: &Person) -> i32 {
        REFERENCE_YEAR - 1 - p.birth.year()
    }

    fn exact_18(s: &str) -> bool {
        s.len() == 18 && IdNumber::parse("id", s).is_ok_and(|id| id.as_str() == s)
    }

    /// A tiny RFC 4180 reader: rows of fields.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
        if !field.is_empty() || !row.is_empty() {
            row.push(field);
            rows.push(row);
        }
        rows
    }

    fn csv(regs: &[SyntheticRegistration], sites: &[Site]) -> String {
        let mut out = Vec::new();
        write_link_csv(regs, sites, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn deterministic_for_a_seed() {
        let sites = county(1);
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let before = rng.clone();
            let out = generate(&mut rng, 2_000, &sites);
            assert_eq!(rng, before, "generate only forks");
            out
        };
        let (p1, r1) = run(42);
        let (p2, r2) = run(42);
        assert_eq!(p1, p2);
        assert_eq!(r1, r2);
        assert_eq!(csv(&r1, &sites), csv(&r2, &sites));
        let (p3, r3) = run(43);
        assert_ne!(p1, p3);
        assert_ne!(r1, r3);
        // Fewer people: the same households, up to the last one (which may be cut short).
        let (small, _) = generate(&mut Rng::new(42), 500, &sites);
        assert_eq!(small.get(..490), p1.get(..490));
    }

    #[test]
    fn frozen_seed_42() {
        // Pinned output: a change here changes every generated resident file.
        let sites = county(1);
        let (people, regs) = generate(&mut Rng::new(42), 50, &sites);
        let first: Vec<(&str, Option<&str>)> = people
            .iter()
            .take(3)
            .map(|p| (p.name.as_str(), p.id_number.as_deref()))
            .collect();
        let lines: Vec<String> = csv(&regs, &sites)
            .lines()
            .take(3)
            .map(String::from)
            .collect();
        assert_eq!(first, FROZEN_PEOPLE);
        assert_eq!(lines, FROZEN_LINES);
    }

    const FROZEN_PEOPLE: [(&str, Option<&str>); 3] = [
        ("杨航", Some("341890198907054618")),
        ("安梦婷", Some("341890199412167623")),
        ("谭淑华", Some("341890195911133788")),
    ];
    const FROZEN_LINES: [&str; 3] = [
        "record_id,institution,name,sex,birth_date,id_number,phone,address",
        "R00000001,V0003,朱艳,F,1982-03-22,320106198203228625,15017656806,安徽省临江市云溪县牌坊乡李家庄村九组15号",
        "R00000002,T04,王勇才,M,1970-08-16,341890190008168270,17764792417,安徽省临江市云溪县马鞍镇谭店村十一组29号",
    ];

    #[test]
    fn people_households_and_ids() {
        let sites = county(2);
        let (people, regs) = generate(&mut Rng::new(7), 20_000, &sites);
        assert_eq!(people.len(), 20_000);
        assert!(!regs.is_empty());

        let mut ids = HashSet::new();
        let mut households: HashMap<u64, Vec<&Person>> = HashMap::new();
        let (mut children, mut children_without) = (0, 0);
        let (mut elders, mut elders_without) = (0, 0);
        let (mut adults, mut elsewhere) = (0, 0);
        let mut ages = HashSet::new();
        for (i, p) in people.iter().enumerate() {
            assert_eq!(p.truth, i as u64 + 1);
            let n = p.name.chars().count();
            assert!((2..=4).contains(&n), "{}", p.name);
            let a = age(p);
            assert!((0..=95).contains(&a), "{a}");
            ages.insert(a);
            households.entry(p.household).or_default().push(p);
            match &p.village {
                Some(v) => assert!(p.address.contains(&format!("{}{v}", p.township))),
                None => assert!(p.address.contains(&p.township)),
            }
            if a < 16 {
                children += 1;
                children_without += usize::from(p.id_number.is_none());
            }
            if a > 80 {
                elders += 1;
                elders_without += usize::from(p.id_number.is_none());
            }
            let Some(id) = &p.id_number else {
                assert!(!(16..=80).contains(&a), "{p:?}");
                continue;
            };
            assert!(exact_18(id), "{id}");
            assert!(ids.insert(id.clone()), "duplicate {id}");
            let parsed = IdNumber::parse("id", id).unwrap();
            assert_eq!(parsed.birth_date(), p.birth);
            assert_eq!(parsed.sex() == Sex::Female, p.female);
            if a >= 18 {
                adults += 1;
                elsewhere += usize::from(parsed.division_code() != COUNTY_AREA);
            } else {
                assert_eq!(parsed.division_code(), COUNTY_AREA);
            }
        }
        assert_eq!(ages.len(), 96, "every age from 0 to 95");
        let share = |a: usize, b: usize| a as f64 / b as f64;
        let c = share(children_without, children);
        let e = share(elders_without, elders);
        let o = share(elsewhere, adults);
        println!(
            "children {children} without id {c:.3}; over 80 {elders} without {e:.3}; elsewhere {o:.3}"
        );
        assert!((0.05..0.11).contains(&c), "{c}");
        assert!((0.02..0.09).contains(&e), "{e}");
        assert!((0.08..0.12).contains(&o), "{o}");
        assert!(children > 2_000 && elders > 400, "{children} {elders}");

        let mut sizes = [0_usize; 6];
        for members in households.values() {
            let n = members.len();
            assert!((1..=5).contains(&n));
            if let Some(s) = sizes.get_mut(n) {
                *s += 1;
            }
            let first = members.first().unwrap();
            for m in members {
                assert_eq!(m.address, first.address);
                assert_eq!(m.township, first.township);
            }
        }
        println!("household sizes {sizes:?}");
        let mean = people.len() as f64 / households.len() as f64;
        assert!((2.6..3.3).contains(&mean), "{mean}");
        let seat = people
            .iter()
            .filter(|p| p.township == names::county_seat_town())
            .count();
        let seat = share(seat, people.len());
        assert!((0.1..0.2).contains(&seat), "{seat}");
    }

    #[test]
    fn twins_and_shared_phones() {
        let sites = county(3);
        let (people, _) = generate(&mut Rng::new(8), 20_000, &sites);
        let mut households: HashMap<u64, Vec<&Person>> = HashMap::new();
        for p in &people {
            households.entry(p.household).or_default().push(p);
        }
        let mut twins = 0;
        let (mut kids, mut kids_sharing) = (0, 0);
        let mut adults_sharing = 0;
        for members in households.values() {
            for (i, a) in members.iter().enumerate() {
                for b in members.iter().skip(i + 1) {
                    if a.birth == b.birth {
                        twins += 2;
                        assert_ne!(a.name, b.name);
                        if let (Some(x), Some(y)) = (&a.id_number, &b.id_number) {
                            assert_ne!(x, y);
                        }
                    }
                    if age(a) >= 18 && age(b) >= 18 && a.phone.is_some() && a.phone == b.phone {
                        adults_sharing += 1;
                    }
                }
            }
            for k in members.iter().filter(|p| age(p) < 14) {
                kids += 1;
                let parent = members
                    .iter()
                    .any(|p| age(p) >= 18 && p.phone.is_some() && p.phone == k.phone);
                kids_sharing += usize::from(parent);
                assert!(k.phone.is_none() || parent, "{k:?}");
            }
        }
        let twin_share = f64::from(twins) / people.len() as f64;
        println!(
            "twins {twins} ({twin_share:.4}); kids {kids} sharing {kids_sharing}; adult pairs sharing {adults_sharing}"
        );
        assert!((0.005..0.02).contains(&twin_share), "{twin_share}");
        assert!(kids_sharing * 10 > kids * 8, "{kids_sharing} of {kids}");
        assert!(adults_sharing > 500, "{adults_sharing}");
        // Phones of different households never collide.
        let mut owner: HashMap<&str, u64> = HashMap::new();
        for p in &people {
            if let Some(ph) = &p.phone {
                assert_eq!(ph.len(), 11);
                let h = *owner.entry(ph).or_insert(p.household);
                assert_eq!(h, p.household, "{ph}");
            }
        }
    }

    #[test]
    fn registrations_and_noise_rates() {
        let sites = county(4);
        let (people, regs) = generate(&mut Rng::new(9), 20_000, &sites);
        let by_truth: HashMap<u64, &Person> = people.iter().map(|p| (p.truth, p)).collect();

        let mut record_ids = HashSet::new();
        let mut per_person: HashMap<u64, Vec<&SyntheticRegistration>> = HashMap::new();
        for r in &regs {
            assert!(record_ids.insert(r.record_id.as_str()), "{}", r.record_id);
            assert!(r.record_id.starts_with('R') && r.record_id.len() == 9);
            assert!(r.site < sites.len());
            assert!(by_truth.contains_key(&r.truth));
            per_person.entry(r.truth).or_default().push(r);
        }
        assert_eq!(per_person.len(), people.len(), "everyone registered");
        let mean = regs.len() as f64 / people.len() as f64;
        let max = per_person.values().map(Vec::len).max().unwrap();
        assert!((2.0..2.4).contains(&mean), "{mean}");
        assert!(max <= 4);

        // Where: village residents at their own clinic and township; a few re-registrations.
        let (mut repeat, mut later) = (0, 0);
        for (truth, rs) in &per_person {
            let p = by_truth[truth];
            let mut seen = HashSet::new();
            for (k, r) in rs.iter().enumerate() {
                let site = &sites[r.site];
                if site.tier != SiteTier::County {
                    assert_eq!(site.township, p.township);
                }
                if site.tier == SiteTier::Village {
                    assert_eq!(site.village, p.village);
                }
                if k > 0 {
                    later += 1;
                }
                if !seen.insert(r.site) {
                    repeat += 1;
                }
            }
        }
        let n = regs.len() as f64;
        let rate = |count: usize| count as f64 / n;
        let repeat = f64::from(repeat) / f64::from(later);
        assert!((0.03..0.08).contains(&repeat), "re-registration {repeat}");

        let mut c: HashMap<&str, usize> = HashMap::new();
        let (mut village_regs, mut village_missing, mut other_missing) = (0, 0, 0);
        let mut with_phone = 0;
        for r in &regs {
            let p = by_truth[&r.truth];
            let mut count = |k: &'static str| *c.entry(k).or_default() += 1;
            let (truth_len, len) = (p.name.chars().count(), r.name.chars().count());
            if len == truth_len && r.name != p.name {
                count("homophone");
            }
            if len + 1 == truth_len {
                count("missing char");
            }
            if r.sex.is_none() {
                count("sex missing");
            } else {
                assert_eq!(r.sex == Some(Sex::Female), p.female);
            }
            match r.birth_date {
                None => count("birth missing"),
                Some(d) if d != p.birth => {
                    if d.month() as u8 == p.birth.day() && d.day() == p.birth.month() as u8 {
                        count("birth swap");
                    } else {
                        count("birth typo");
                    }
                }
                Some(_) => {}
            }
            let village = sites[r.site].tier == SiteTier::Village;
            village_regs += usize::from(village);
            match (&r.id_number, &p.id_number) {
                (None, _) => {
                    count("id missing");
                    if p.id_number.is_some() {
                        if village {
                            village_missing += 1;
                        } else {
                            other_missing += 1;
                        }
                    }
                }
                (Some(s), _) if ID_GARBAGE_TEXT.contains(&s.as_str()) => count("id garbage"),
                (Some(s), Some(id)) if s == id => {
                    assert!(exact_18(s));
                    count("id exact");
                }
                (Some(s), Some(id)) if s.len() == 15 => {
                    assert_eq!(IdNumber::parse("id", s).unwrap().as_str(), id);
                    assert!(p.birth.year() < 1980);
                    count("id legacy");
                }
                (Some(s), Some(id)) if s.to_ascii_uppercase() == *id => {
                    assert!(s.ends_with('x'));
                    count("id lowercase");
                }
                (Some(s), Some(id)) => {
                    assert_eq!(s.len(), 18);
                    assert!(IdNumber::parse("id", s).is_err(), "{s} for {id}");
                    let diff: Vec<usize> = (0..18)
                        .filter(|&i| s.as_bytes()[i] != id.as_bytes()[i])
                        .collect();
                    match diff.as_slice() {
                        [_] => count("id typo"),
                        [a, b] if *b == a + 1 => count("id transposition"),
                        _ => panic!("{s} vs {id}"),
                    }
                }
                (Some(s), None) => panic!("{s} for a person without ID"),
            }
            if r.id_number.as_deref().is_some_and(exact_18) {
                count("id valid 18");
            }
            if p.phone.is_some() {
                with_phone += 1;
                match &r.phone {
                    None => count("phone missing"),
                    Some(x) if Some(x) != p.phone.as_ref() => count("phone changed"),
                    Some(_) => {}
                }
            }
            match &r.address {
                None => count("address missing"),
                Some(a) if *a != p.address => {
                    assert!(p.address.contains(a.as_str()), "{a}");
                    count("address short");
                }
                Some(_) => {}
            }
        }
        let mut keys: Vec<_> = c.iter().collect();
        keys.sort();
        for (k, v) in &keys {
            println!("{k:>18}: {v:>6} {:.4}", rate(**v));
        }
        let got = |k: &str| rate(c.get(k).copied().unwrap_or(0));
        let within = |k: &str, lo: f64, hi: f64| {
            let r = got(k);
            assert!((lo..=hi).contains(&r), "{k}: {r} not in {lo}..{hi}");
        };
        within("id valid 18", 0.65, 0.85);
        within("homophone", 0.025, 0.07);
        within("missing char", 0.008, 0.025);
        within("sex missing", 0.015, 0.025);
        within("birth missing", 0.025, 0.035);
        within("birth typo", 0.006, 0.014);
        within("birth swap", 0.001, 0.006);
        within("id missing", 0.08, 0.13);
        within("id garbage", 0.007, 0.013);
        within("id typo", 0.024, 0.036);
        within("id transposition", 0.006, 0.014);
        within("id legacy", 0.008, 0.03);
        within("id lowercase", 0.01, 0.04);
        within("address missing", 0.04, 0.06);
        within("address short", 0.22, 0.28);
        let phone = |k: &str| c.get(k).copied().unwrap_or(0) as f64 / with_phone as f64;
        assert!((0.07..0.09).contains(&phone("phone missing")));
        assert!((0.09..0.11).contains(&phone("phone changed")));
        let village_rate = village_missing as f64 / village_regs as f64;
        let other_rate = other_missing as f64 / (regs.len() - village_regs) as f64;
        assert!(
            village_rate > other_rate * 1.7,
            "{village_rate} {other_rate}"
        );
    }

    #[test]
    fn csv_round_trip() {
        let sites = county(5);
        let (_, regs) = generate(&mut Rng::new(10), 3_000, &sites);
        let text = csv(&regs, &sites);
        assert!(
            text.starts_with("record_id,institution,name,sex,birth_date,id_number,phone,address\n")
        );
        assert_eq!(text.lines().count(), regs.len() + 1);
        let rows = parse_csv(&text);
        assert_eq!(rows.len(), regs.len() + 1);
        for (row, r) in rows.iter().skip(1).zip(&regs) {
            let sex = match r.sex {
                Some(Sex::Male) => "M",
                Some(Sex::Female) => "F",
                _ => "",
            };
            let expect = [
                r.record_id.clone(),
                sites[r.site].id.clone(),
                r.name.clone(),
                sex.to_owned(),
                r.birth_date.map(ymd).unwrap_or_default(),
                r.id_number.clone().unwrap_or_default(),
                r.phone.clone().unwrap_or_default(),
                r.address.clone().unwrap_or_default(),
            ];
            assert_eq!(row.as_slice(), expect.as_slice());
        }

        let mut out = Vec::new();
        write_truth_csv(&regs, &mut out).unwrap();
        let truth = String::from_utf8(out).unwrap();
        let rows = parse_csv(&truth);
        assert_eq!(rows.first().unwrap(), &["record_id", "person"]);
        assert_eq!(rows.len(), regs.len() + 1);
        for (row, r) in rows.iter().skip(1).zip(&regs) {
            assert_eq!(row, &[r.record_id.clone(), r.truth.to_string()]);
        }

        // Quoting.
        let odd_sites = vec![Site {
            id: "A,\"B\"".into(),
            name: "x".into(),
            tier: SiteTier::County,
            township: "城关镇".into(),
            village: None,
        }];
        let odd = SyntheticRegistration {
            truth: 1,
            record_id: "R1".into(),
            site: 0,
            name: "王\n伟".into(),
            sex: None,
            birth_date: None,
            id_number: None,
            phone: None,
            address: Some("a,b".into()),
        };
        let text = csv(std::slice::from_ref(&odd), &odd_sites);
        assert_eq!(
            text.lines().nth(1),
            Some("R1,\"A,\"\"B\"\"\",\"王"),
            "{text}"
        );
        let rows = parse_csv(&text);
        assert_eq!(rows[1], ["R1", "A,\"B\"", "王\n伟", "", "", "", "", "a,b"]);
    }

    #[test]
    fn small_and_odd_counties() {
        let mut rng = Rng::new(11);
        let (people, regs) = generate(&mut rng, 0, &county(1));
        assert!(people.is_empty() && regs.is_empty());
        let (people, regs) = generate(&mut rng, 100, &[]);
        assert_eq!(people.len(), 100);
        assert!(regs.is_empty());
        // Township centres only: everyone registers somewhere.
        let sites: Vec<Site> = county(1)
            .into_iter()
            .filter(|s| s.tier == SiteTier::Township)
            .collect();
        let (people, regs) = generate(&mut rng, 1_000, &sites);
        let registered: HashSet<u64> = regs.iter().map(|r| r.truth).collect();
        assert_eq!(registered.len(), people.len());
        assert!(people.iter().all(|p| p.village.is_none()));
    }

    #[test]
    fn homophone_table_is_well_formed() {
        let mut seen = HashSet::new();
        for g in HOMOPHONES {
            assert!(g.chars().count() >= 2, "{g}");
            for c in g.chars() {
                assert!(seen.insert(c), "{c} in two groups");
            }
        }
        assert_eq!(homophones_of('英'), vec!['瑛', '莹']);
        assert!(homophones_of('王').is_empty());
        assert_eq!(legacy_15("34189019850612123X"), "341890850612123");
    }

    #[test]
    fn hundred_thousand_people() {
        let sites = county(6);
        let start = std::time::Instant::now();
        let (people, regs) = generate(&mut Rng::new(12), 100_000, &sites);
        let generated = start.elapsed();
        let mut out = Vec::with_capacity(regs.len() * 120);
        write_link_csv(&regs, &sites, &mut out).unwrap();
        println!(
            "100,000 people, {} registrations: generated in {generated:?}, CSV ({} bytes) in {:?}",
            regs.len(),
            out.len(),
            start.elapsed() - generated
        );
        assert_eq!(people.len(), 100_000);
    }
}
