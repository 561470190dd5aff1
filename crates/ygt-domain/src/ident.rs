//! Identifiers and small text values: identity numbers, sex, credit codes,
//! division codes, phone numbers, licence numbers and free text.
//!
//! Every type here is a newtype whose existence means validity: the only ways
//! to obtain one are the parsers (and, for generators, the `from_*`
//! constructors), which check the value and put it into a canonical form.
//! All of them display and serialize as that canonical string and
//! deserialize through the parser.
//!
//! Input is forgiving where people are sloppy: surrounding whitespace is
//! trimmed and full-width characters (`１２３`, `Ｘ`, `－`) are read as their
//! half-width forms.

use crate::code_enum;
use std::fmt;
use std::str::FromStr;

use time::{Date, Month};

use crate::error::{Reason, ValidationError};

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Implements `Display`, `AsRef<str>`, `FromStr` (field name `"value"`),
/// `Serialize` (canonical string), `Deserialize` (through the parser) and
/// `From<T> for String` for a type with `as_str` and `parse(field, s)`.
macro_rules! string_value {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl FromStr for $ty {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse("value", s)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $ty::parse("value", &s).map_err(|e| serde::de::Error::custom(e.reason.message_en()))
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.into_string()
            }
        }
    };
}

/// Reads a full-width form (U+FF01..=U+FF5E, U+3000) as its ASCII counterpart.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Full-width characters made half-width, then surrounding whitespace trimmed.
fn normalize(s: &str) -> String {
    s.chars()
        .map(half_width)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Province-level codes of GB/T 2260 (plus 83 for Taiwan residents' permits
/// and 91 for permanent residence permits of foreigners).
const PROVINCES: &[&str] = &[
    "11", "12", "13", "14", "15", // 华北
    "21", "22", "23", // 东北
    "31", "32", "33", "34", "35", "36", "37", // 华东
    "41", "42", "43", "44", "45", "46", // 中南
    "50", "51", "52", "53", "54", // 西南
    "61", "62", "63", "64", "65", // 西北
    "71", "81", "82", "83", "91", // 台港澳、居住证
];

/// Whether `code` starts with a valid two-digit province code.
fn valid_province(code: &str) -> bool {
    code.get(..2).is_some_and(|p| PROVINCES.contains(&p))
}

fn required(field: &str) -> ValidationError {
    ValidationError::new(field, Reason::Required)
}

fn province_error(field: &str) -> ValidationError {
    ValidationError::new(field, Reason::Format("province_code"))
}

// ---------------------------------------------------------------------------
// Sex (GB/T 2261.1)
// ---------------------------------------------------------------------------

/// Sex, coded per GB/T 2261.1-2003 (人的性别代码).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sex {
    /// 0 — 未知的性别.
    Unknown,
    /// 1 — 男.
    Male,
    /// 2 — 女.
    Female,
    /// 9 — 未说明的性别.
    Unstated,
}

impl Sex {
    /// Every value, in code order.
    pub const ALL: &'static [Sex] = &[Sex::Unknown, Sex::Male, Sex::Female, Sex::Unstated];

    /// The GB/T 2261.1 code: `"0"`, `"1"`, `"2"` or `"9"`.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Unknown => "0",
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::Unstated => "9",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Unknown => "未知的性别",
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Unstated => "未说明的性别",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Sex::Unknown => "Unknown",
            Sex::Male => "Male",
            Sex::Female => "Female",
            Sex::Unstated => "Not stated",
        }
    }

    /// The label in the language given by `english`.
    pub fn label(self, english: bool) -> &'static str {
        if english {
            self.label_en()
        } else {
            self.label_zh()
        }
    }

    /// Parses a code (`0`, `1`, `2`, `9`), a letter (`M`, `F`, any case), a
    /// Chinese word (`男`, `女`, `未知`, `未说明`, or the full labels) or an
    /// English label (any case). Empty input is [`Reason::Required`].
    pub fn parse(field: &str, s: &str) -> Result<Sex, ValidationError> {
        let t = normalize(s);
        if t.is_empty() {
            return Err(required(field));
        }
        let sex = match t.to_ascii_lowercase().as_str() {
            "0" | "未知" | "未知的性别" | "unknown" => Sex::Unknown,
            "1" | "m" | "男" | "male" => Sex::Male,
            "2" | "f" | "女" | "female" => Sex::Female,
            "9" | "未说明" | "未说明的性别" | "not stated" | "unstated" => Sex::Unstated,
            _ => {
                return Err(ValidationError::new(
                    field,
                    Reason::UnknownCode {
                        allowed: "0, 1, 2, 9".into(),
                    },
                ));
            }
        };
        Ok(sex)
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Sex {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sex::parse("value", s)
    }
}

impl serde::Serialize for Sex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Sex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sex::parse("value", &s).map_err(|e| serde::de::Error::custom(e.reason.message_en()))
    }
}

// ---------------------------------------------------------------------------
// IdNumber (GB 11643-1999)
// ---------------------------------------------------------------------------

/// ISO 7064 MOD 11-2 weights (2^(18-i) mod 11) of the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character by weighted sum mod 11.
const ID_CHECK: &[u8; 11] = b"10X98765432";
/// Earliest and latest birth years accepted.
const ID_MIN_YEAR: i32 = 1800;
const ID_MAX_YEAR: i32 = 2100;

/// A Chinese resident identity number (公民身份号码, GB 11643-1999), always
/// held in its 18-character form.
///
/// Layout: 6-digit address code, 8-digit birth date `YYYYMMDD`, 3-digit
/// sequence (odd = male, even = female), check character (`0`-`9` or `X`).
/// Legacy 15-digit numbers are converted on parsing.
///
/// `Debug` shows the masked form so that numbers do not leak into logs;
/// `Display` and serialization give the full canonical number. Equality,
/// ordering and hashing use the canonical number only.
#[derive(Clone)]
pub struct IdNumber {
    value: String,
    birth: Date,
    legacy: bool,
}

impl IdNumber {
    /// Parses an identity number without looking at a clock: the birth year
    /// must be within 1800..=2100.
    ///
    /// Accepts surrounding whitespace, full-width digits, a lowercase or
    /// full-width `x`, and 15-digit legacy numbers (converted to 18 digits).
    pub fn parse(field: &str, s: &str) -> Result<IdNumber, ValidationError> {
        Self::parse_inner(field, s, None)
    }

    /// Like [`IdNumber::parse`], and also rejects birth dates after `today`.
    pub fn parse_at(field: &str, s: &str, today: Date) -> Result<IdNumber, ValidationError> {
        Self::parse_inner(field, s, Some(today))
    }

    fn parse_inner(field: &str, s: &str, today: Option<Date>) -> Result<IdNumber, ValidationError> {
        let t = normalize(s).to_ascii_uppercase();
        if t.is_empty() {
            return Err(required(field));
        }
        let format = || id_format(field);
        let (first17, given_check, legacy) = match t.len() {
            18 => {
                let (first17, check) = t.split_at_checked(17).ok_or_else(format)?;
                if !all_digits(first17) || !(all_digits(check) || check == "X") {
                    return Err(format());
                }
                (first17.to_owned(), check.chars().next(), false)
            }
            15 if all_digits(&t) => {
                let (area, rest) = t.split_at_checked(6).ok_or_else(format)?;
                (format!("{area}19{rest}"), None, true)
            }
            _ => return Err(format()),
        };
        if !valid_province(&first17) {
            return Err(province_error(field));
        }
        let birth = first17
            .get(6..14)
            .and_then(parse_yyyymmdd)
            .filter(|d| (ID_MIN_YEAR..=ID_MAX_YEAR).contains(&d.year()))
            .filter(|d| today.is_none_or(|today| *d <= today))
            .ok_or_else(|| ValidationError::new(field, Reason::Date))?;
        let check = Self::check_char(&first17).ok_or_else(format)?;
        if given_check.is_some_and(|c| c != check) {
            return Err(ValidationError::new(field, Reason::CheckDigit));
        }
        let mut value = first17;
        value.push(check);
        Ok(IdNumber {
            value,
            birth,
            legacy,
        })
    }

    /// Builds a number from its parts, computing the check character; meant
    /// for generators. `area6` must be six digits with a valid province,
    /// `birth` within 1800..=2100 and `seq` at most 999.
    pub fn from_parts(area6: &str, birth: Date, seq: u16) -> Result<IdNumber, ValidationError> {
        let area = normalize(area6);
        if area.len() != 6 || !all_digits(&area) {
            return Err(ValidationError::new(
                "division_code",
                Reason::Format("division_digits"),
            ));
        }
        if !valid_province(&area) {
            return Err(province_error("division_code"));
        }
        if !(ID_MIN_YEAR..=ID_MAX_YEAR).contains(&birth.year()) {
            return Err(ValidationError::new("birth_date", Reason::Date));
        }
        if seq > 999 {
            return Err(ValidationError::new(
                "sequence",
                Reason::Range { min: 0, max: 999 },
            ));
        }
        let first17 = format!(
            "{area}{:04}{:02}{:02}{seq:03}",
            birth.year(),
            u8::from(birth.month()),
            birth.day()
        );
        // Unreachable: `first17` is 17 digits by construction.
        let check = Self::check_char(&first17).ok_or_else(|| id_format("id_number"))?;
        let mut value = first17;
        value.push(check);
        Ok(IdNumber {
            value,
            birth,
            legacy: false,
        })
    }

    /// The check character for the first 17 digits, or `None` when
    /// `first17` is not exactly 17 ASCII digits.
    ///
    /// ```
    /// use ygt_domain::ident::IdNumber;
    /// assert_eq!(IdNumber::check_char("11010519491231002"), Some('X'));
    /// ```
    pub fn check_char(first17: &str) -> Option<char> {
        if first17.len() != 17 || !all_digits(first17) {
            return None;
        }
        let sum: u32 = first17
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        let index = usize::try_from(sum % 11).ok()?;
        ID_CHECK.get(index).copied().map(char::from)
    }

    /// The canonical 18-character number.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn into_string(self) -> String {
        self.value
    }

    /// The date of birth (digits 7 to 14).
    pub fn birth_date(&self) -> Date {
        self.birth
    }

    /// Male when the 17th digit is odd, female when it is even.
    pub fn sex(&self) -> Sex {
        match self.value.as_bytes().get(16) {
            Some(d) if (d - b'0') % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// The 6-digit administrative division code of the place of first
    /// registration (not necessarily the current residence).
    pub fn division_code(&self) -> &str {
        self.value.get(..6).unwrap_or_default()
    }

    /// Whether the number was given in the legacy 15-digit form.
    pub fn was_legacy(&self) -> bool {
        self.legacy
    }

    /// The first 4 and last 4 characters, stars between:
    /// `1101**********002X`.
    pub fn masked(&self) -> String {
        let head = self.value.get(..4).unwrap_or_default();
        let tail = self.value.get(14..).unwrap_or_default();
        format!("{head}**********{tail}")
    }
}

fn id_format(field: &str) -> ValidationError {
    ValidationError::new(field, Reason::Format("id_number"))
}

/// `YYYYMMDD` (8 ASCII digits) as a date, if it is one.
fn parse_yyyymmdd(s: &str) -> Option<Date> {
    let year: i32 = s.get(..4)?.parse().ok()?;
    let month: u8 = s.get(4..6)?.parse().ok()?;
    let day: u8 = s.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

string_value!(IdNumber);

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl PartialEq for IdNumber {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for IdNumber {}

impl std::hash::Hash for IdNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl PartialOrd for IdNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

// ---------------------------------------------------------------------------
// Uscc (GB 32100-2015)
// ---------------------------------------------------------------------------

/// The 31 characters of a unified social credit code (no I, O, S, V, Z).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights 3^i mod 31 of the first 17 characters.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(b: u8) -> Option<u32> {
    USCC_ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|i| u32::try_from(i).ok())
}

fn uscc_format(field: &str) -> ValidationError {
    ValidationError::new(field, Reason::Format("credit_code"))
}

/// A unified social credit code (统一社会信用代码, GB 32100-2015) of an
/// organisation: 18 characters, the last a MOD 31 check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

impl Uscc {
    /// Parses a code: trimmed, full-width made half-width, uppercased.
    pub fn parse(field: &str, s: &str) -> Result<Uscc, ValidationError> {
        let t = normalize(s).to_ascii_uppercase();
        if t.is_empty() {
            return Err(required(field));
        }
        if t.len() != 18 || !t.bytes().all(|b| uscc_value(b).is_some()) {
            return Err(uscc_format(field));
        }
        let (body, given) = t.split_at_checked(17).ok_or_else(|| uscc_format(field))?;
        let check = Self::check_char(body).ok_or_else(|| uscc_format(field))?;
        if !given.starts_with(check) {
            return Err(ValidationError::new(field, Reason::CheckDigit));
        }
        Ok(Uscc(t))
    }

    /// Completes the first 17 characters with their check character; meant
    /// for generators. Errors are reported under the field `"uscc"`.
    pub fn from_body(first17: &str) -> Result<Uscc, ValidationError> {
        let body = normalize(first17).to_ascii_uppercase();
        if body.is_empty() {
            return Err(required("uscc"));
        }
        let check = Self::check_char(&body).ok_or_else(|| uscc_format("uscc"))?;
        let mut value = body;
        value.push(check);
        Ok(Uscc(value))
    }

    /// The check character for 17 characters of the alphabet, or `None`
    /// when `first17` is not that.
    ///
    /// ```
    /// use ygt_domain::ident::Uscc;
    /// assert_eq!(Uscc::check_char("91350100M000100Y4"), Some('3'));
    /// ```
    pub fn check_char(first17: &str) -> Option<char> {
        if first17.len() != 17 {
            return None;
        }
        let mut sum = 0u32;
        for (b, w) in first17.bytes().zip(USCC_WEIGHTS) {
            sum += uscc_value(b)? * w;
        }
        let c = usize::try_from((31 - sum % 31) % 31).ok()?;
        USCC_ALPHABET.get(c).copied().map(char::from)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The administrative division code of the registering authority
    /// (characters 3 to 8).
    pub fn division_code(&self) -> &str {
        self.0.get(2..8).unwrap_or_default()
    }

    /// The 9-character organisation code (characters 9 to 17).
    pub fn organisation_code(&self) -> &str {
        self.0.get(8..17).unwrap_or_default()
    }
}

string_value!(Uscc);

// ---------------------------------------------------------------------------
// DivisionCode (GB/T 2260 and the statistical division codes)
// ---------------------------------------------------------------------------

/// The level of an administrative division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DivisionLevel {
    /// 省级, e.g. `340000`.
    Province,
    /// 地级, e.g. `341800`.
    Prefecture,
    /// 县级, e.g. `341802`.
    County,
    /// 乡级, e.g. `341802001`.
    Township,
    /// 村级, e.g. `341802001001`.
    Village,
}

impl DivisionLevel {
    /// Number of significant leading digits of a code at this level.
    pub fn digits(self) -> usize {
        match self {
            DivisionLevel::Province => 2,
            DivisionLevel::Prefecture => 4,
            DivisionLevel::County => 6,
            DivisionLevel::Township => 9,
            DivisionLevel::Village => 12,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DivisionLevel::Province => "省级",
            DivisionLevel::Prefecture => "地级",
            DivisionLevel::County => "县级",
            DivisionLevel::Township => "乡级",
            DivisionLevel::Village => "村级",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            DivisionLevel::Province => "Province",
            DivisionLevel::Prefecture => "Prefecture",
            DivisionLevel::County => "County",
            DivisionLevel::Township => "Township",
            DivisionLevel::Village => "Village",
        }
    }
}

/// An administrative division code: 6 digits (GB/T 2260, province to
/// county), 9 digits (township) or 12 digits (village, statistical code).
/// The first two digits must be a valid province code.
///
/// The code is kept as given (`340000` and `340000000000` are different
/// values of the same province); compare regions with
/// [`DivisionCode::is_within`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

impl DivisionCode {
    pub fn parse(field: &str, s: &str) -> Result<DivisionCode, ValidationError> {
        let t = normalize(s);
        if t.is_empty() {
            return Err(required(field));
        }
        if !matches!(t.len(), 6 | 9 | 12) || !all_digits(&t) {
            return Err(ValidationError::new(field, Reason::Format("division_code")));
        }
        if !valid_province(&t) {
            return Err(province_error(field));
        }
        Ok(DivisionCode(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The two-digit province code, e.g. `34`.
    pub fn province(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }

    /// The first four digits (province and prefecture), e.g. `3418`.
    pub fn prefecture(&self) -> &str {
        self.0.get(..4).unwrap_or_default()
    }

    /// The first six digits, the GB/T 2260 code, e.g. `341802`. For a
    /// province- or prefecture-level code this is the code itself.
    pub fn county(&self) -> &str {
        self.0.get(..6).unwrap_or_default()
    }

    /// The level, inferred from the length and the trailing zeros: the
    /// finest level whose segment is not all zeros.
    pub fn level(&self) -> DivisionLevel {
        const LEVELS: [DivisionLevel; 5] = [
            DivisionLevel::Province,
            DivisionLevel::Prefecture,
            DivisionLevel::County,
            DivisionLevel::Township,
            DivisionLevel::Village,
        ];
        LEVELS
            .into_iter()
            .find(|l| {
                self.0
                    .get(l.digits()..)
                    .is_none_or(|rest| rest.bytes().all(|b| b == b'0'))
            })
            .unwrap_or(DivisionLevel::Village)
    }

    /// The significant leading digits: the code without the zeros that only
    /// pad it to its length (`34` for `340000`, `341802001` for
    /// `341802001000`).
    pub fn significant(&self) -> &str {
        let n = self.level().digits().min(self.0.len());
        self.0.get(..n).unwrap_or_default()
    }

    /// Whether this division lies within `other` (or is the same region):
    /// `other` is at the same or a coarser level and its significant digits
    /// are a prefix of this code.
    pub fn is_within(&self, other: &DivisionCode) -> bool {
        other.level() <= self.level() && self.0.starts_with(other.significant())
    }
}

string_value!(DivisionCode);

// ---------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------

fn phone_format(field: &str) -> ValidationError {
    ValidationError::new(field, Reason::Format("phone"))
}

/// `1[3-9]` followed by 9 digits.
fn is_mobile_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && all_digits(s)
        && b.first() == Some(&b'1')
        && b.get(1).is_some_and(|d| *d >= b'3')
}

/// Length of the area code that `digits` begins with: 3 for 010 and 02x,
/// 4 for 03xx to 09xx, `None` when it does not begin with one.
fn area_code_len(digits: &str) -> Option<usize> {
    match digits.as_bytes() {
        [b'0', b'1' | b'2', ..] => Some(3),
        [b'0', b'3'..=b'9', ..] => Some(4),
        _ => None,
    }
}

fn is_area_code(s: &str) -> bool {
    all_digits(s) && area_code_len(s) == Some(s.len())
}

/// Splits unseparated digits into area code and local number.
fn split_area(s: &str) -> Option<(&str, &str)> {
    if !all_digits(s) {
        return None;
    }
    s.split_at_checked(area_code_len(s)?)
}

/// A landline `area[-]local[-ext]` in canonical form `area-local[-ext]`.
fn parse_landline(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('-').collect();
    let (area, local, ext) = match parts.as_slice() {
        [one] => {
            let (area, local) = split_area(one)?;
            (area, local, None)
        }
        [area, local] if is_area_code(area) => (*area, *local, None),
        [number, ext] => {
            let (area, local) = split_area(number)?;
            (area, local, Some(*ext))
        }
        [area, local, ext] => (*area, *local, Some(*ext)),
        _ => return None,
    };
    let local_ok = matches!(local.len(), 7 | 8) && all_digits(local) && !local.starts_with('0');
    let ext_ok = ext.is_none_or(|e| e.len() <= 6 && all_digits(e));
    if !is_area_code(area) || !local_ok || !ext_ok {
        return None;
    }
    Some(match ext {
        Some(e) => format!("{area}-{local}-{e}"),
        None => format!("{area}-{local}"),
    })
}

/// A Chinese phone number: a mobile number (`1[3-9]` and 9 more digits) or
/// a landline with area code and an optional extension.
///
/// Canonical forms: `13812345678`, `0551-61234567`, `010-12345678-123`.
///
/// Accepted input: spaces, hyphens and full-width characters; a country code
/// `+86` or `0086` (or a bare `86` before a mobile number); landlines with or
/// without a hyphen after the area code. Area codes follow the numbering
/// plan: `010` and `02x` have three digits, `03xx`–`09xx` four. The local
/// number has 7 or 8 digits and does not start with 0; an extension has 1
/// to 6 digits.
///
/// `Debug` shows the masked form; `Display` and serialization give the
/// canonical number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, s: &str) -> Result<Phone, ValidationError> {
        let t: String = s
            .chars()
            .map(half_width)
            .filter(|c| !c.is_whitespace())
            .collect();
        if t.is_empty() {
            return Err(required(field));
        }
        let (rest, international) = match t.strip_prefix("+86").or_else(|| t.strip_prefix("0086")) {
            Some(r) => (r.trim_start_matches('-'), true),
            None => (t.as_str(), false),
        };
        let digits: String = rest.chars().filter(|&c| c != '-').collect();
        if is_mobile_number(&digits) {
            return Ok(Phone(digits));
        }
        if !international
            && let Some(m) = digits.strip_prefix("86")
            && is_mobile_number(m)
        {
            return Ok(Phone(m.to_owned()));
        }
        let landline = if international && !rest.starts_with('0') {
            parse_landline(&format!("0{rest}"))
        } else {
            parse_landline(rest)
        };
        landline.map(Phone).ok_or_else(|| phone_format(field))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_mobile(&self) -> bool {
        self.0.starts_with('1')
    }

    /// The area code of a landline (`0551`), `None` for a mobile number.
    pub fn area_code(&self) -> Option<&str> {
        if self.is_mobile() {
            None
        } else {
            self.0.split('-').next()
        }
    }

    /// The extension of a landline, if any.
    pub fn extension(&self) -> Option<&str> {
        self.0.split('-').nth(2)
    }

    /// Mobile: first 3 and last 4 digits (`138****5678`). Landline: area code
    /// and the last 2 digits of the local number, without the extension
    /// (`0551-******67`).
    pub fn masked(&self) -> String {
        if self.is_mobile() {
            let head = self.0.get(..3).unwrap_or_default();
            let tail = self.0.get(7..).unwrap_or_default();
            format!("{head}****{tail}")
        } else {
            let mut parts = self.0.split('-');
            let area = parts.next().unwrap_or_default();
            let local = parts.next().unwrap_or_default();
            let keep = local.len().saturating_sub(2);
            let tail = local.get(keep..).unwrap_or_default();
            format!("{area}-{}{tail}", "*".repeat(keep))
        }
    }
}

string_value!(Phone);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Phone").field(&self.masked()).finish()
    }
}

// ---------------------------------------------------------------------------
// LicenceNumber
// ---------------------------------------------------------------------------

const LICENCE_MIN: usize = 6;
const LICENCE_MAX: usize = 30;

/// A practice licence number (医师/护士/乡村医生执业证书编号): 6 to 30 ASCII
/// letters and digits, letters uppercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LicenceNumber(String);

impl LicenceNumber {
    pub fn parse(field: &str, s: &str) -> Result<LicenceNumber, ValidationError> {
        let t = normalize(s).to_ascii_uppercase();
        if t.is_empty() {
            return Err(required(field));
        }
        if !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::new(field, Reason::Format("alnum_6_30")));
        }
        if t.len() < LICENCE_MIN {
            return Err(ValidationError::new(
                field,
                Reason::TooShort { min: LICENCE_MIN },
            ));
        }
        if t.len() > LICENCE_MAX {
            return Err(ValidationError::new(
                field,
                Reason::TooLong { max: LICENCE_MAX },
            ));
        }
        Ok(LicenceNumber(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

string_value!(LicenceNumber);

// ---------------------------------------------------------------------------
// Free text
// ---------------------------------------------------------------------------

/// Invisible characters that are never wanted in names and short texts:
/// control characters, zero-width space, byte order mark and the
/// bidirectional overrides (which can make text display misleadingly).
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// A required single-line text such as a name: trimmed, every run of
/// whitespace (including full-width spaces, tabs and line breaks) made one
/// space. Empty is [`Reason::Required`], other control or invisible
/// formatting characters are [`Reason::Format`], more than `max_chars`
/// characters is [`Reason::TooLong`].
pub fn text(field: &str, s: &str, max_chars: usize) -> Result<String, ValidationError> {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Err(required(field));
    }
    if collapsed.chars().any(is_forbidden_char) {
        return Err(ValidationError::new(field, Reason::Format("plain_text")));
    }
    if collapsed.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            Reason::TooLong { max: max_chars },
        ));
    }
    Ok(collapsed)
}

/// Characters that are invisible or change how the text around them is shown, never part of
/// a person's name: control characters, every format character (Unicode general category
/// Cf: soft hyphen, zero-width space, non-joiner and joiner, directional marks, embeddings,
/// overrides and isolates, word joiner and the invisible operators, byte order mark,
/// interlinear annotation, tags …), the Hangul fillers that display as blank (U+115F, U+1160,
/// U+3164, U+FFA0), the combining grapheme joiner, variation selectors, the Mongolian and
/// Khmer invisible marks and the blank Braille pattern.
pub fn is_invisible_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Format characters (Cf), Unicode 15.1.
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
                // Hangul fillers.
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                // Other invisible marks: combining grapheme joiner, Khmer inherent vowels,
                // Mongolian variation selectors, variation selectors, blank Braille pattern.
                | '\u{034F}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180D}'
                | '\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
                | '\u{2800}'
        )
}

/// A person's name (a resident, a staff member, an account holder): [`text`] (trimmed, runs
/// of whitespace made one space, at most `max_chars`), and no character that is invisible or
/// changes how the name is shown ([`is_invisible_in_name`]), so that two names that look
/// the same are the same name. The refusal names the character (`U+200D`).
pub fn person_name(field: &str, s: &str, max_chars: usize) -> Result<String, ValidationError> {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(c) = collapsed.chars().find(|c| is_invisible_in_name(*c)) {
        let code = u32::from(c);
        return Err(ValidationError::new(
            field,
            Reason::Other(crate::msg!(
                "common.name_invisible",
                code = format!("U+{code:04X}")
            )),
        ));
    }
    text(field, &collapsed, max_chars)
}

/// Like [`text`], but absent, empty or whitespace-only input is `None`.
pub fn optional_text(
    field: &str,
    s: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, ValidationError> {
    match s {
        Some(v) if !v.trim().is_empty() => text(field, v, max_chars).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn reason<T: fmt::Debug>(r: Result<T, ValidationError>) -> Reason {
        r.unwrap_err().reason
    }

    // --- IdNumber ---

    #[test]
    fn id_number_valid_examples() {
        let id = IdNumber::parse("id", "11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.division_code(), "110105");
        assert!(!id.was_legacy());

        let id = IdNumber::parse("id", "440524188001010014").unwrap();
        assert_eq!(id.birth_date(), date!(1880 - 01 - 01));
        assert_eq!(id.sex(), Sex::Male);
    }

    #[test]
    fn id_number_normalises_input() {
        let canonical = "11010519491231002X";
        for input in [
            "11010519491231002x",
            "  11010519491231002X\t",
            "１１０１０５１９４９１２３１００２Ｘ",
            "１１０１０５１９４９１２３１００２ｘ",
            "\u{3000}11010519491231002X\u{3000}",
        ] {
            assert_eq!(
                IdNumber::parse("id", input).unwrap().as_str(),
                canonical,
                "{input:?}"
            );
        }
    }

    #[test]
    fn id_number_converts_legacy_15_digits() {
        let id = IdNumber::parse("id", "110105491231002").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(id.was_legacy());
        assert_eq!(id, IdNumber::parse("id", "11010519491231002X").unwrap());
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
    }

    #[test]
    fn id_number_error_reasons() {
        let format = Reason::Format("id_number");
        assert_eq!(reason(IdNumber::parse("id", "")), Reason::Required);
        assert_eq!(reason(IdNumber::parse("id", "   ")), Reason::Required);
        assert_eq!(reason(IdNumber::parse("id", "1101051949123100")), format);
        assert_eq!(reason(IdNumber::parse("id", "11010519491231002Y")), format);
        assert_eq!(reason(IdNumber::parse("id", "1101051949123100X2")), format);
        assert_eq!(reason(IdNumber::parse("id", "11010549123100X")), format);
        assert_eq!(
            reason(IdNumber::parse("id", "1101051949123100３X")),
            Reason::CheckDigit
        );
        assert!(matches!(
            reason(IdNumber::parse("id", "991051194912310020")),
            Reason::Format(_)
        ));
        assert_ne!(reason(IdNumber::parse("id", "991051194912310020")), format);
        // 1949-02-30 does not exist (check character computed for the digits).
        let bad_date = format!(
            "11010519490230002{}",
            IdNumber::check_char("11010519490230002").unwrap()
        );
        assert_eq!(reason(IdNumber::parse("id", &bad_date)), Reason::Date);
        let too_old = format!(
            "11010517991231002{}",
            IdNumber::check_char("11010517991231002").unwrap()
        );
        assert_eq!(reason(IdNumber::parse("id", &too_old)), Reason::Date);
        assert_eq!(
            reason(IdNumber::parse("id", "110105194912310021")),
            Reason::CheckDigit
        );
        assert_eq!(
            IdNumber::parse("patient.id_number", "x").unwrap_err().field,
            "patient.id_number"
        );
    }

    #[test]
    fn id_number_parse_at_rejects_future_births() {
        let id = IdNumber::from_parts("340102", date!(2030 - 06 - 01), 11).unwrap();
        assert!(IdNumber::parse("id", id.as_str()).is_ok());
        assert_eq!(
            reason(IdNumber::parse_at("id", id.as_str(), date!(2026 - 01 - 01))),
            Reason::Date
        );
        assert!(IdNumber::parse_at("id", id.as_str(), date!(2030 - 06 - 01)).is_ok());
    }

    #[test]
    fn id_number_from_parts_and_mask() {
        let id = IdNumber::from_parts("341102", date!(1990 - 03 - 07), 123).unwrap();
        assert_eq!(&id.as_str()[..17], "34110219900307123");
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.masked(), format!("3411**********{}", &id.as_str()[14..]));
        assert_eq!(
            IdNumber::parse("id", "11010519491231002X")
                .unwrap()
                .masked(),
            "1101**********002X"
        );
        assert_eq!(format!("{id:?}"), format!("IdNumber({:?})", id.masked()));
        assert_eq!(
            IdNumber::from_parts("001102", date!(1990 - 03 - 07), 1)
                .unwrap_err()
                .field,
            "division_code"
        );
        assert_eq!(
            IdNumber::from_parts("34110", date!(1990 - 03 - 07), 1)
                .unwrap_err()
                .field,
            "division_code"
        );
        assert_eq!(
            reason(IdNumber::from_parts("341102", date!(1990 - 03 - 07), 1000)),
            Reason::Range { min: 0, max: 999 }
        );
        assert_eq!(
            reason(IdNumber::from_parts("341102", date!(1700 - 03 - 07), 1)),
            Reason::Date
        );
    }

    #[test]
    fn id_number_check_char() {
        assert_eq!(IdNumber::check_char("11010519491231002"), Some('X'));
        assert_eq!(IdNumber::check_char("44052418800101001"), Some('4'));
        assert_eq!(IdNumber::check_char("4405241880010100"), None);
        assert_eq!(IdNumber::check_char("4405241880010100A"), None);
    }

    #[test]
    fn id_number_serde_and_from_str() {
        let id: IdNumber = "110105491231002".parse().unwrap();
        assert_eq!(id.to_string(), "11010519491231002X");
        assert_eq!(String::from(id.clone()), "11010519491231002X");
        assert_eq!(serde_value(&id), "11010519491231002X");
        assert_eq!("nope".parse::<IdNumber>().unwrap_err().field, "value");
    }

    // --- Sex ---

    #[test]
    fn sex_parse_and_labels() {
        for (input, sex) in [
            ("0", Sex::Unknown),
            ("1", Sex::Male),
            ("2", Sex::Female),
            ("9", Sex::Unstated),
            ("M", Sex::Male),
            ("m", Sex::Male),
            ("F", Sex::Female),
            ("f", Sex::Female),
            ("男", Sex::Male),
            (" 女 ", Sex::Female),
            ("未知", Sex::Unknown),
            ("未说明", Sex::Unstated),
            ("未说明的性别", Sex::Unstated),
            ("１", Sex::Male),
        ] {
            assert_eq!(Sex::parse("sex", input).unwrap(), sex, "{input:?}");
        }
        assert_eq!(reason(Sex::parse("sex", "")), Reason::Required);
        assert_eq!(reason(Sex::parse("sex", "x")).code(), "unknown_code");
        assert_eq!(Sex::Female.code(), "2");
        assert_eq!(Sex::Unknown.label_zh(), "未知的性别");
        assert_eq!(Sex::Unstated.label_zh(), "未说明的性别");
        for s in Sex::ALL {
            assert_eq!(Sex::parse("sex", s.code()).unwrap(), *s);
            assert_eq!(Sex::parse("sex", s.label_zh()).unwrap(), *s);
            assert_eq!(Sex::parse("sex", s.label_en()).unwrap(), *s);
            assert_eq!(serde_value(s), s.code());
        }
    }

    // --- Uscc ---

    #[test]
    fn uscc_known_codes() {
        for code in [
            "91350100M000100Y43",
            "914403001922038216",
            "9144030071526726XG",
            "91110000100000000R",
        ] {
            assert_eq!(Uscc::parse("uscc", code).unwrap().as_str(), code);
        }
        let u = Uscc::parse("uscc", " 91350100m000100y43 ").unwrap();
        assert_eq!(u.as_str(), "91350100M000100Y43");
        assert_eq!(u.division_code(), "350100");
        assert_eq!(u.organisation_code(), "M000100Y4");
        assert_eq!(
            Uscc::from_body("91110000100000000").unwrap().as_str(),
            "91110000100000000R"
        );
    }

    #[test]
    fn uscc_error_reasons() {
        assert_eq!(reason(Uscc::parse("uscc", "")), Reason::Required);
        assert_eq!(
            reason(Uscc::parse("uscc", "91110000100000000X")),
            Reason::CheckDigit
        );
        assert_eq!(
            reason(Uscc::parse("uscc", "91110000100000000")).code(),
            "format"
        );
        // I, O, S, V, Z are not in the alphabet.
        assert_eq!(
            reason(Uscc::parse("uscc", "91350100M0001O0Y43")).code(),
            "format"
        );
        assert_eq!(
            reason(Uscc::from_body("9111000010000000S")).code(),
            "format"
        );
    }

    // --- DivisionCode ---

    #[test]
    fn division_code_levels_and_within() {
        let d = |s| DivisionCode::parse("division_code", s).unwrap();
        assert_eq!(d("340000").level(), DivisionLevel::Province);
        assert_eq!(d("341800").level(), DivisionLevel::Prefecture);
        assert_eq!(d("341802").level(), DivisionLevel::County);
        assert_eq!(d("341802001").level(), DivisionLevel::Township);
        assert_eq!(d("341802001000").level(), DivisionLevel::Township);
        assert_eq!(d("341802001201").level(), DivisionLevel::Village);
        assert_eq!(d("340000000000").level(), DivisionLevel::Province);

        let v = d("341802001201");
        assert_eq!(v.province(), "34");
        assert_eq!(v.prefecture(), "3418");
        assert_eq!(v.county(), "341802");
        assert_eq!(v.significant(), "341802001201");
        assert_eq!(d("341800").significant(), "3418");

        assert!(v.is_within(&d("341802001")));
        assert!(v.is_within(&d("341802")));
        assert!(v.is_within(&d("341800")));
        assert!(v.is_within(&d("340000")));
        assert!(v.is_within(&v));
        assert!(!v.is_within(&d("341803")));
        assert!(!d("341802").is_within(&v));
        assert!(!d("340000").is_within(&d("341800")));
        assert!(d("341802000").is_within(&d("341802")));
        assert!(d("341802").is_within(&d("341802000")));
    }

    #[test]
    fn division_code_errors() {
        assert_eq!(reason(DivisionCode::parse("d", "")), Reason::Required);
        assert_eq!(reason(DivisionCode::parse("d", "34180")).code(), "format");
        assert_eq!(
            reason(DivisionCode::parse("d", "3418020012")).code(),
            "format"
        );
        assert_eq!(reason(DivisionCode::parse("d", "34180a")).code(), "format");
        assert_eq!(reason(DivisionCode::parse("d", "101802")).code(), "format");
        assert_eq!(
            DivisionCode::parse("d", "３４１８０２").unwrap().as_str(),
            "341802"
        );
    }

    // --- Phone ---

    #[test]
    fn phone_forms() {
        let p = |s| Phone::parse("phone", s).map(Phone::into_string);
        assert_eq!(p("13812345678").unwrap(), "13812345678");
        assert_eq!(p("+86 138 1234 5678").unwrap(), "13812345678");
        assert_eq!(p("86-138-1234-5678").unwrap(), "13812345678");
        assert_eq!(p("008613812345678").unwrap(), "13812345678");
        assert_eq!(p("１３８１２３４５６７８").unwrap(), "13812345678");
        assert_eq!(p("0551-61234567").unwrap(), "0551-61234567");
        assert_eq!(p("055161234567").unwrap(), "0551-61234567");
        assert_eq!(p("0551 6123 4567").unwrap(), "0551-61234567");
        assert_eq!(p("010-12345678-123").unwrap(), "010-12345678-123");
        assert_eq!(p("01012345678-123").unwrap(), "010-12345678-123");
        assert_eq!(p("0557-2123456").unwrap(), "0557-2123456");
        assert_eq!(p("+86 10 12345678").unwrap(), "010-12345678");
        assert_eq!(p("+86-551-61234567").unwrap(), "0551-61234567");
    }

    #[test]
    fn phone_errors() {
        assert_eq!(reason(Phone::parse("phone", " ")), Reason::Required);
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "0551-612345",
            "0551-612345678",
            "055-61234567",
            "0551-01234567",
            "010-12345678-1234567",
            "0551--61234567",
            "1-2-3-4",
            "abc",
        ] {
            assert_eq!(
                reason(Phone::parse("phone", bad)).code(),
                "format",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn phone_accessors_and_mask() {
        let m = Phone::parse("phone", "13812345678").unwrap();
        assert!(m.is_mobile());
        assert_eq!(m.masked(), "138****5678");
        assert_eq!(m.area_code(), None);
        assert_eq!(format!("{m:?}"), "Phone(\"138****5678\")");
        let l = Phone::parse("phone", "0551-61234567-88").unwrap();
        assert!(!l.is_mobile());
        assert_eq!(l.area_code(), Some("0551"));
        assert_eq!(l.extension(), Some("88"));
        assert_eq!(l.masked(), "0551-******67");
        assert_eq!(
            Phone::parse("phone", "0557-2123456").unwrap().masked(),
            "0557-*****56"
        );
    }

    // --- LicenceNumber ---

    #[test]
    fn licence_number() {
        assert_eq!(
            LicenceNumber::parse("l", " 110340100000001 ")
                .unwrap()
                .as_str(),
            "110340100000001"
        );
        assert_eq!(
            LicenceNumber::parse("l", "abc123").unwrap().as_str(),
            "ABC123"
        );
        assert_eq!(reason(LicenceNumber::parse("l", "")), Reason::Required);
        assert_eq!(
            reason(LicenceNumber::parse("l", "ab12")),
            Reason::TooShort { min: 6 }
        );
        assert_eq!(
            reason(LicenceNumber::parse("l", &"1".repeat(31))),
            Reason::TooLong { max: 30 }
        );
        assert_eq!(
            reason(LicenceNumber::parse("l", "abc-123")).code(),
            "format"
        );
        assert_eq!(
            reason(LicenceNumber::parse("l", "执业证123456")).code(),
            "format"
        );
    }

    // --- text ---

    #[test]
    fn person_names_refuse_invisible_characters() {
        assert_eq!(person_name("name", " 张  三 ", 10).unwrap(), "张 三");
        assert_eq!(person_name("name", "Li Hua", 10).unwrap(), "Li Hua");
        assert_eq!(
            person_name("name", "阿依古丽·买买提", 20).unwrap(),
            "阿依古丽·买买提"
        );
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2060}',
            '\u{00AD}',
            '\u{FEFF}',
            '\u{3164}',
            '\u{115F}',
            '\u{1160}',
            '\u{FFA0}',
            '\u{202E}',
            '\u{2066}',
            '\u{0007}',
            '\u{007F}',
            '\u{E0041}',
            '\u{FE0F}',
            '\u{034F}',
        ] {
            let e = person_name("name", &format!("张{c}三"), 10).unwrap_err();
            assert_eq!(e.field, "name");
            let zh = e.reason.message().to_string();
            assert_eq!(
                zh,
                format!("common.name_invisible code=U+{:04X}", u32::from(c))
            );
        }
        // A name of nothing but a filler is refused too, not taken as empty.
        assert!(person_name("name", "\u{3164}", 10).is_err());
        assert_eq!(reason(person_name("name", "  ", 10)), Reason::Required);
        assert_eq!(
            reason(person_name("name", "一二三四五六", 5)),
            Reason::TooLong { max: 5 }
        );
    }

    #[test]
    fn text_normalises_whitespace() {
        assert_eq!(
            text("name", "  张\u{3000}\u{3000}三  ", 10).unwrap(),
            "张 三"
        );
        assert_eq!(text("name", "a \t\n b", 10).unwrap(), "a b");
        assert_eq!(reason(text("name", " \u{3000} ", 10)), Reason::Required);
        assert_eq!(reason(text("name", "a\u{0}b", 10)).code(), "format");
        assert_eq!(reason(text("name", "a\u{202E}b", 10)).code(), "format");
        assert_eq!(
            reason(text("name", "一二三四五六", 5)),
            Reason::TooLong { max: 5 }
        );
        assert_eq!(text("name", "一二三四五", 5).unwrap(), "一二三四五");
        assert_eq!(optional_text("d", None, 5).unwrap(), None);
        assert_eq!(optional_text("d", Some("  "), 5).unwrap(), None);
        assert_eq!(
            optional_text("d", Some(" x "), 5).unwrap(),
            Some("x".into())
        );
        assert_eq!(
            reason(optional_text("d", Some("123456"), 5)),
            Reason::TooLong { max: 5 }
        );
    }

    /// What a value serializes to (serde's `fmt::Formatter` serializer
    /// writes strings as they are).
    fn serde_value<T: serde::Serialize>(v: &T) -> String {
        struct Ser<'a, T>(&'a T);
        impl<T: serde::Serialize> fmt::Display for Ser<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.serialize(f)
            }
        }
        Ser(v).to_string()
    }

    /// Deserializes a value from a string.
    fn from_serde<'de, T: serde::Deserialize<'de>>(
        s: &'de str,
    ) -> Result<T, serde::de::value::Error> {
        T::deserialize(serde::de::value::BorrowedStrDeserializer::new(s))
    }

    #[test]
    fn serde_goes_through_the_parsers() {
        assert_eq!(
            from_serde::<IdNumber>("110105491231002").unwrap().as_str(),
            "11010519491231002X"
        );
        assert!(from_serde::<IdNumber>("110105194912310021").is_err());
        assert_eq!(from_serde::<Sex>("女").unwrap(), Sex::Female);
        assert_eq!(
            from_serde::<Uscc>("91350100m000100y43").unwrap().as_str(),
            "91350100M000100Y43"
        );
        assert_eq!(
            from_serde::<DivisionCode>("341802").unwrap().as_str(),
            "341802"
        );
        assert_eq!(
            from_serde::<Phone>("+86 138 1234 5678").unwrap().as_str(),
            "13812345678"
        );
        assert_eq!(
            from_serde::<LicenceNumber>("abc123").unwrap().as_str(),
            "ABC123"
        );
        assert!(from_serde::<Phone>("123").is_err());
        let phone = Phone::parse("p", "0551-61234567").unwrap();
        assert_eq!(serde_value(&phone), "0551-61234567");
        assert_eq!(
            serde_value(&Uscc::parse("u", "914403001922038216").unwrap()),
            "914403001922038216"
        );
    }
}

code_enum! {
    /// Ethnic group, GB/T 3304 (numeric codes).
    pub enum Ethnicity {
        E01 = ("01", "汉族", "Han"),
        E02 = ("02", "蒙古族", "Mongol"),
        E03 = ("03", "回族", "Hui"),
        E04 = ("04", "藏族", "Tibetan"),
        E05 = ("05", "维吾尔族", "Uyghur"),
        E06 = ("06", "苗族", "Miao"),
        E07 = ("07", "彝族", "Yi"),
        E08 = ("08", "壮族", "Zhuang"),
        E09 = ("09", "布依族", "Buyei"),
        E10 = ("10", "朝鲜族", "Korean"),
        E11 = ("11", "满族", "Manchu"),
        E12 = ("12", "侗族", "Dong"),
        E13 = ("13", "瑶族", "Yao"),
        E14 = ("14", "白族", "Bai"),
        E15 = ("15", "土家族", "Tujia"),
        E16 = ("16", "哈尼族", "Hani"),
        E17 = ("17", "哈萨克族", "Kazakh"),
        E18 = ("18", "傣族", "Dai"),
        E19 = ("19", "黎族", "Li"),
        E20 = ("20", "傈僳族", "Lisu"),
        E21 = ("21", "佤族", "Va"),
        E22 = ("22", "畲族", "She"),
        E23 = ("23", "高山族", "Gaoshan"),
        E24 = ("24", "拉祜族", "Lahu"),
        E25 = ("25", "水族", "Sui"),
        E26 = ("26", "东乡族", "Dongxiang"),
        E27 = ("27", "纳西族", "Naxi"),
        E28 = ("28", "景颇族", "Jingpo"),
        E29 = ("29", "柯尔克孜族", "Kyrgyz"),
        E30 = ("30", "土族", "Tu"),
        E31 = ("31", "达斡尔族", "Daur"),
        E32 = ("32", "仫佬族", "Mulao"),
        E33 = ("33", "羌族", "Qiang"),
        E34 = ("34", "布朗族", "Blang"),
        E35 = ("35", "撒拉族", "Salar"),
        E36 = ("36", "毛南族", "Maonan"),
        E37 = ("37", "仡佬族", "Gelao"),
        E38 = ("38", "锡伯族", "Xibe"),
        E39 = ("39", "阿昌族", "Achang"),
        E40 = ("40", "普米族", "Pumi"),
        E41 = ("41", "塔吉克族", "Tajik"),
        E42 = ("42", "怒族", "Nu"),
        E43 = ("43", "乌孜别克族", "Uzbek"),
        E44 = ("44", "俄罗斯族", "Russian"),
        E45 = ("45", "鄂温克族", "Evenki"),
        E46 = ("46", "德昂族", "Deang"),
        E47 = ("47", "保安族", "Bonan"),
        E48 = ("48", "裕固族", "Yugur"),
        E49 = ("49", "京族", "Gin"),
        E50 = ("50", "塔塔尔族", "Tatar"),
        E51 = ("51", "独龙族", "Derung"),
        E52 = ("52", "鄂伦春族", "Oroqen"),
        E53 = ("53", "赫哲族", "Hezhen"),
        E54 = ("54", "门巴族", "Monba"),
        E55 = ("55", "珞巴族", "Lhoba"),
        E56 = ("56", "基诺族", "Jino"),
        E97 = ("97", "其他未识别民族", "Other, unidentified"),
        E98 = ("98", "外国血统中国籍人士", "Chinese citizen of foreign origin"),
    }
}
