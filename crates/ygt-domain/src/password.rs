//! Password policy: length, character classes, and no guessable passwords.
//!
//! [`check`] rejects, in this order and with the first reason that applies:
//!
//! 1. an empty password (`Required`);
//! 2. one shorter than [`PasswordPolicy::min_len`] (`TooShort`) — measured in *strength units*:
//!    an ASCII character counts one, any other character (a Chinese character, say) two, since
//!    it is drawn from a far larger alphabet;
//! 3. one longer than [`PasswordPolicy::max_len`] characters (`TooLong`);
//! 4. fewer than [`PasswordPolicy::min_classes`] of the classes ASCII lower-case, ASCII
//!    upper-case, ASCII digit, anything else (symbols, spaces, non-ASCII letters);
//! 5. containing the user name (case-insensitive, names of 3 or more characters);
//! 6. containing the person's name (case-insensitive, with or without its spaces, names of 2
//!    or more characters);
//! 7. a well-known weak password from [`WEAK`] (case-insensitive, ignoring trailing `!`, and
//!    ignoring a trailing run of digits and `!` after a base of 4 or more characters, so that
//!    `Password2026!` counts as `password`);
//! 8. built from its [`Context`]: what is left once every word of the context (the platform's
//!    names 医共体平台 and ygt, the community's and the institutions' names, the parts of
//!    those names and their pinyin and initials, the person's name and its pinyin, the user
//!    name) and every year from ten before the current one to three after it is taken out
//!    must still be [`PasswordPolicy::min_len`] strength units long: those words give a
//!    password no strength, since an attacker tries them first (`Yunxi@2027` in 云溪县,
//!    `医共体平台1a`, `张三张三1a` for 张三);
//! 9. a trivial pattern: repeated characters or blocks, alphabetical or numerical sequences,
//!    keyboard walks (`qwertyuiop`, `1qaz2wsx`, `1q2w3e4r`, `zaq12wsx`), or combinations of a
//!    few of them.
//!
//! Refusals are catalogue messages (`Reason::Other(msg!("account.password_…"))`).

use std::collections::BTreeSet;

use crate::error::{Reason, ValidationError};

/// What a password must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Minimum length in strength units (ASCII 1, other characters 2). Default 10.
    pub min_len: usize,
    /// Maximum length in characters. Default 128.
    pub max_len: usize,
    /// How many of the four character classes must appear. Default 3.
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 10,
            max_len: 128,
            min_classes: 3,
        }
    }
}

/// Fewer unpredictable steps than this make a password trivial (see [`surprises`]); a policy
/// with a `min_len` below 10 asks for `min_len / 2`.
const MIN_SURPRISES: usize = 5;

/// The platform's names: never the base of a password.
pub const PLATFORM_NAMES: &[&str] = &["医共体平台", "ygt"];

/// Latin spellings of the platform's names (pinyin and initials).
const PLATFORM_SPELLINGS: &[&str] = &["yigongti", "yigongtipingtai", "ygtpt", "ygtpingtai"];

/// How many years before the current one count as guessable in a password.
pub const YEARS_BEFORE: i32 = 10;
/// How many years after the current one count as guessable in a password.
pub const YEARS_AFTER: i32 = 3;

/// The shortest Latin word of a name that counts (shorter ones are too common by chance).
const LATIN_MIN: usize = 3;
/// The shortest pinyin spelling of part of a name that counts.
const PINYIN_MIN: usize = 5;
/// The shortest initials of a name that count.
const INITIALS_MIN: usize = 4;
/// The longest part of a Chinese name taken as a word of its own (longer runs count whole).
const PART_MAX: usize = 6;

/// Spells a Chinese text: its pinyin spellings (syllables concatenated) and its initials.
pub type Speller<'a> = &'a dyn Fn(&str) -> (Vec<String>, String);

/// What a password must not be built from (rule 8 of [`check`]): the platform's names, the
/// community's and the institutions' names with their parts, pinyin and initials, the user's
/// name and user name, and the years from [`YEARS_BEFORE`] before the current one to
/// [`YEARS_AFTER`] after it.
#[derive(Debug, Clone)]
pub struct Context {
    username: String,
    full_name: Option<String>,
    year: i32,
    /// Lower-case words that give a password no strength.
    words: BTreeSet<String>,
}

impl Context {
    /// The context of the account `username` of the person `full_name` in `year`: the
    /// platform's names, the user name and the name. Add the pinyin of the name, the
    /// community's and the institutions' names with [`Context::add_name`].
    pub fn new(username: &str, full_name: Option<&str>, year: i32) -> Self {
        let username = username.trim().to_lowercase();
        let full_name = full_name
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty());
        let mut c = Context {
            username: username.clone(),
            full_name: full_name.clone(),
            year,
            words: BTreeSet::new(),
        };
        let none = |_: &str| (Vec::new(), String::new());
        for n in PLATFORM_NAMES {
            c.add_name(n, &none);
        }
        for s in PLATFORM_SPELLINGS {
            c.words.insert((*s).to_owned());
        }
        c.add_name(&username, &none);
        if let Some(n) = &full_name {
            c.add_name(n, &none);
        }
        c
    }

    /// Adds a name (of the community, an institution, an alias, the person): the whole name,
    /// its Latin words of [`LATIN_MIN`] or more letters, every part of two to [`PART_MAX`]
    /// characters of its runs of Chinese characters, and what `spell` gives for those parts:
    /// spellings of [`PINYIN_MIN`] or more letters and initials of [`INITIALS_MIN`] or more.
    pub fn add_name(&mut self, name: &str, spell: Speller<'_>) {
        let lower = name.trim().to_lowercase();
        let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.chars().count() >= 2 && compact.chars().any(is_han)
            || compact.chars().count() >= LATIN_MIN
        {
            self.words.insert(compact);
        }
        for w in lower.split(|c: char| !c.is_ascii_alphanumeric()) {
            if w.len() >= LATIN_MIN && w.chars().any(|c| c.is_ascii_alphabetic()) {
                self.words.insert(w.to_owned());
            }
        }
        let chars: Vec<char> = lower.chars().collect();
        for run in chars.split(|c| !is_han(*c)).filter(|r| r.len() >= 2) {
            let mut parts: Vec<String> = Vec::new();
            for len in 2..=run.len().min(PART_MAX) {
                for w in run.windows(len) {
                    parts.push(w.iter().collect());
                }
            }
            if run.len() > PART_MAX {
                parts.push(run.iter().collect());
            }
            for part in parts {
                let (spellings, initials) = spell(&part);
                for sp in spellings {
                    if sp.chars().count() >= PINYIN_MIN {
                        self.words.insert(sp.to_lowercase());
                    }
                }
                if initials.chars().count() >= INITIALS_MIN {
                    self.words.insert(initials.to_lowercase());
                }
                self.words.insert(part);
            }
        }
    }

    /// Adds several names.
    pub fn with_names<'n>(
        mut self,
        names: impl IntoIterator<Item = &'n str>,
        spell: Speller<'_>,
    ) -> Self {
        for n in names {
            self.add_name(n, spell);
        }
        self
    }

    /// The years that count as guessable.
    pub fn years(&self) -> std::ops::RangeInclusive<i32> {
        self.year - YEARS_BEFORE..=self.year + YEARS_AFTER
    }

    /// Whether `word` (lower case) is a word of the context.
    pub fn has_word(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// How many words the context holds.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the context holds no words (never: the platform's names are always in it).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The strength units (ASCII 1, other characters 2) of `password` left once every word of
    /// the context and every guessable year is taken out (case-insensitive).
    pub fn remaining_units(&self, password: &str) -> usize {
        let p: Vec<char> = password.to_lowercase().chars().collect();
        let mut covered = vec![false; p.len()];
        let present: BTreeSet<char> = p.iter().copied().collect();
        let mut mark = |w: &[char]| {
            if w.is_empty() || w.len() > p.len() {
                return;
            }
            for i in 0..=p.len() - w.len() {
                if p[i..i + w.len()] == *w {
                    for c in covered.iter_mut().skip(i).take(w.len()) {
                        *c = true;
                    }
                }
            }
        };
        for w in &self.words {
            if w.chars().next().is_some_and(|c| present.contains(&c)) {
                let w: Vec<char> = w.chars().collect();
                mark(&w);
            }
        }
        for y in self.years() {
            let w: Vec<char> = y.to_string().chars().collect();
            mark(&w);
        }
        p.iter()
            .zip(&covered)
            .filter(|(_, c)| !**c)
            .map(|(c, _)| if c.is_ascii() { 1 } else { 2 })
            .sum()
    }
}

/// Whether `c` is a Chinese character (CJK unified ideographs and their extensions).
fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{323AF}')
}

/// Checks `password` against the policy and its [`Context`] (the account, the person, the
/// platform, the community, its institutions, the year); the error names `field`.
pub fn check(
    policy: &PasswordPolicy,
    field: &str,
    password: &str,
    context: &Context,
) -> Result<(), ValidationError> {
    let username = context.username.as_str();
    let full_name = context.full_name.as_deref();
    let err = |reason: Reason| Err(ValidationError::new(field, reason));
    let other = |m: crate::message::Message| Err(ValidationError::new(field, Reason::Other(m)));

    if password.is_empty() {
        return err(Reason::Required);
    }
    let units: usize = password
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum();
    if units < policy.min_len {
        return err(Reason::TooShort {
            min: policy.min_len,
        });
    }
    if password.chars().count() > policy.max_len {
        return err(Reason::TooLong {
            max: policy.max_len,
        });
    }

    let classes = classes(password);
    if classes < policy.min_classes {
        let n = policy.min_classes;
        return other(crate::msg!("account.password_classes", n = n));
    }

    let lower = password.to_lowercase();
    let user = username.trim().to_lowercase();
    if user.chars().count() >= 3 && lower.contains(&user) {
        return other(crate::msg!("account.password_has_user_name"));
    }
    if let Some(name) = full_name {
        let name = name.trim().to_lowercase();
        let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        let hit = |n: &str| n.chars().count() >= 2 && lower.contains(n);
        if hit(&name) || hit(&compact) {
            return other(crate::msg!("account.password_has_name"));
        }
    }

    if is_weak(&lower) {
        return other(crate::msg!("account.password_common"));
    }
    if context.remaining_units(password) < policy.min_len {
        return other(crate::msg!("account.password_from_names"));
    }

    if surprises(&lower) < (policy.min_len / 2).clamp(1, MIN_SURPRISES) {
        return other(crate::msg!("account.password_predictable"));
    }
    Ok(())
}

/// How many of: ASCII lower-case, ASCII upper-case, ASCII digit, anything else.
fn classes(p: &str) -> usize {
    let mut seen = [false; 4];
    for c in p.chars() {
        let i = if c.is_ascii_lowercase() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else {
            3
        };
        seen[i] = true;
    }
    seen.iter().filter(|s| **s).count()
}

/// The text without a trailing run of digits and `!`.
fn base(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii_digit() || c == '!')
}

/// Whether the lower-cased password is (a variant of) a listed weak password.
fn is_weak(lower: &str) -> bool {
    let bang = lower.trim_end_matches('!');
    let b = base(lower);
    let b = (b.chars().count() >= 4).then_some(b);
    WEAK.iter()
        .any(|w| *w == lower || *w == bang || b.is_some_and(|b| b == base(w)))
}

/// Keyboard rows (US layout, unshifted) and their horizontal offsets in quarter keys.
const ROWS: [(&str, i32); 4] = [
    ("`1234567890-=", 0),
    ("qwertyuiop[]\\", 6),
    ("asdfghjkl;'", 7),
    ("zxcvbnm,./", 9),
];

/// The unshifted key of a shifted symbol; other characters unchanged.
fn unshift(c: char) -> char {
    const SHIFTED: &str = "~!@#$%^&*()_+{}|:\"<>?";
    const PLAIN: &str = "`1234567890-=[]\\;',./";
    SHIFTED
        .chars()
        .position(|s| s == c)
        .and_then(|i| PLAIN.chars().nth(i))
        .unwrap_or(c)
}

/// Row and horizontal position (in quarter keys) of a key.
fn key_pos(c: char) -> Option<(i32, i32)> {
    ROWS.iter().enumerate().find_map(|(row, (keys, offset))| {
        keys.chars()
            .position(|k| k == c)
            .and_then(|i| i32::try_from(i).ok())
            .and_then(|i| i32::try_from(row).ok().map(|r| (r, offset + 4 * i)))
    })
}

/// Whether `b` follows `a` without surprise: the same character, the next or previous letter
/// or digit, or a neighbouring key (in the same row or the row above or below).
fn predictable(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    let adjacent = |x: char, y: char| {
        (x.is_ascii_lowercase() && y.is_ascii_lowercase()
            || x.is_ascii_digit() && y.is_ascii_digit())
            && (u32::from(x)).abs_diff(u32::from(y)) == 1
    };
    if adjacent(a, b) {
        return true;
    }
    match (key_pos(a), key_pos(b)) {
        (Some((ra, xa)), Some((rb, xb))) => (ra - rb).abs() <= 1 && (xa - xb).abs() <= 4,
        _ => false,
    }
}

/// A rough measure of how much a password surprises: the number of steps that are neither
/// predictable from the previous character nor a repeat (3 or more characters) of an earlier
/// part. Works on the lower-cased, unshifted characters.
fn surprises(lower: &str) -> usize {
    let c: Vec<char> = lower.chars().map(unshift).collect();
    let n = c.len();
    let mut count = 0;
    let mut i = 0;
    while i < n {
        if i > 0 && predictable(c[i - 1], c[i]) {
            i += 1;
            continue;
        }
        let repeat = (0..i)
            .map(|j| (0..n - i).take_while(|&k| c[j + k] == c[i + k]).count())
            .max()
            .unwrap_or(0);
        count += 1;
        i += if repeat >= 3 { repeat } else { 1 };
    }
    count
}

/// Well-known weak passwords, lower-case. Compared after lower-casing (see [`check`]).
pub static WEAK: &[&str] = &[
    // International favourites.
    "password",
    "password1",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "pa55word",
    "pass1234",
    "passwd",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "987654321",
    "0987654321",
    "123123",
    "123321",
    "12341234",
    "112233",
    "11223344",
    "654321",
    "000000",
    "111111",
    "11111111",
    "121212",
    "123qwe",
    "qwe123",
    "qweasd",
    "qweasdzxc",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "qwer1234",
    "asdf1234",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "1qaz2wsx",
    "1qaz2wsx3edc",
    "1qazxsw2",
    "zaq12wsx",
    "qazwsx",
    "qazwsxedc",
    "1q2w3e",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "q1w2e3r4",
    "abc123",
    "abcd1234",
    "abc12345",
    "abcdef",
    "abcdefg",
    "a1b2c3",
    "a1b2c3d4",
    "aa123456",
    "a123456",
    "a12345678",
    "letmein",
    "welcome",
    "welcome1",
    "iloveyou",
    "admin",
    "admin123",
    "admin888",
    "administrator",
    "root",
    "root123",
    "toor",
    "test",
    "test123",
    "guest",
    "user",
    "login",
    "changeme",
    "default",
    "secret",
    "master",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "basketball",
    "soccer",
    "superman",
    "batman",
    "sunshine",
    "princess",
    "shadow",
    "michael",
    "jennifer",
    "jordan",
    "hello",
    "hello123",
    "freedom",
    "whatever",
    "trustno1",
    "starwars",
    "computer",
    "internet",
    "charlie",
    "mustang",
    "access",
    "flower",
    "hunter",
    "killer",
    "lovely",
    "qwertyui",
    "google",
    "samsung",
    "apple",
    "microsoft",
    "windows",
    "linux",
    "system",
    "server",
    "oracle",
    "database",
    "manager",
    "summer",
    "winter",
    "spring",
    "autumn",
    "doctor",
    "nurse",
    "hospital",
    "medical",
    "health",
    "clinic",
    // Chinese favourites: love numbers, lucky numbers, pinyin, brands, institutions.
    "woaini",
    "woaini1314",
    "woaini520",
    "woaini521",
    "woaiwojia",
    "wolaiye",
    "aini1314",
    "5201314",
    "1314520",
    "520520",
    "520521",
    "521521",
    "5211314",
    "13145200",
    "888888",
    "88888888",
    "666666",
    "66666666",
    "168168",
    "518518",
    "789456",
    "456789",
    "147258",
    "147258369",
    "147852",
    "147852369",
    "159357",
    "159753",
    "258369",
    "369258",
    "741852963",
    "qq123456",
    "qq5201314",
    "wang123",
    "wang123456",
    "zhang123",
    "zhang123456",
    "li123456",
    "liu123456",
    "chen123456",
    "yang123456",
    "zhao123456",
    "huang123456",
    "wangwei",
    "zhangwei",
    "lilei",
    "hanmeimei",
    "nihao",
    "nihao123",
    "woshishui",
    "zhongguo",
    "china",
    "china123",
    "beijing",
    "shanghai",
    "huawei",
    "huawei123",
    "xiaomi",
    "baidu",
    "baidu123",
    "taobao",
    "alibaba",
    "tencent",
    "weixin",
    "wechat",
    "zhifubao",
    "jingdong",
    "yiyuan",
    "yiyuan123",
    "yiyuan666",
    "yigongti",
    "yigongti123",
    "yilianti",
    "weishengyuan",
    "weishengshi",
    "weijianwei",
    "zhensuo",
    "yisheng",
    "hushi",
    "renmin",
    "renminyiyuan",
    "zhongyiyuan",
    "xianyiyuan",
    "fuyou",
    "jiankang",
    "pingan",
    "kuaile",
    "xingfu",
    "aaaaaa",
    "aa112233",
    "abc123456",
    "qwe123456",
    "asd123456",
    "zxc123456",
    "a1234567",
    "admin@123",
    "admin1234",
    "root1234",
    "sa123456",
    "test1234",
    "ygt123456",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// [`check`] in 2026 for `user` of the person `name`, with the platform's names only.
    fn chk(
        policy: &PasswordPolicy,
        field: &str,
        p: &str,
        user: &str,
        name: Option<&str>,
    ) -> Result<(), ValidationError> {
        check(policy, field, p, &Context::new(user, name, 2026))
    }

    fn ok(p: &str) -> Result<(), ValidationError> {
        chk(
            &PasswordPolicy::default(),
            "password",
            p,
            "zhangsan",
            Some("张三"),
        )
    }

    fn reason(p: &str) -> Reason {
        ok(p).unwrap_err().reason
    }

    fn en(p: &str) -> String {
        reason(p).message_en()
    }

    #[test]
    fn good_passwords_pass() {
        for p in [
            "Yunxi-2026!clinic",
            "春风十里Abc9",
            "Tq8#mVz2Lp",
            "correct Horse battery staple 7",
            "山水田园Xq7!",
            "My cat eats 3 lemons!",
        ] {
            assert_eq!(ok(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn length() {
        assert_eq!(reason(""), Reason::Required);
        assert_eq!(reason("Ab1!xyz"), Reason::TooShort { min: 10 });
        // A Chinese character counts two: 3 + 3 = 6 units is still short, 4 + 4 = 8 too.
        assert_eq!(reason("春风十Ab9"), Reason::TooShort { min: 10 });
        // Characters, not bytes: 5 Chinese characters are 15 bytes but 10 units.
        assert_eq!(ok("春风十里路Q7"), Ok(()));
        let long = format!("Aa1!{}", "x7Kq".repeat(32));
        assert_eq!(reason(&long), Reason::TooLong { max: 128 });
        let policy = PasswordPolicy {
            min_len: 4,
            max_len: 8,
            min_classes: 2,
        };
        assert!(chk(&policy, "p", "Zq7!", "user", None).is_ok());
        let e = chk(&policy, "p", "Zq7!Zr8@x", "user", None).unwrap_err();
        assert_eq!(e.field, "p");
        assert_eq!(e.reason, Reason::TooLong { max: 8 });
    }

    #[test]
    fn classes_are_required() {
        assert_eq!(en("tqmvzlpkxw"), "account.password_classes n=3");
        assert_eq!(en("tqmvzlpk82"), "account.password_classes n=3");
        assert_eq!(en("TQMVZLPK82"), "account.password_classes n=3");
        assert_eq!(classes("aA1!"), 4);
        assert_eq!(classes("春a"), 2);
        assert_eq!(classes("é"), 1);
        // Three classes suffice.
        assert_eq!(ok("tqmvzlpk82!"), Ok(()));
    }

    #[test]
    fn username_and_name() {
        assert_eq!(en("Zhangsan-2026!"), "account.password_has_user_name");
        assert_eq!(en("xxZHANGSANxx9!"), "account.password_has_user_name");
        // Short user names are not checked.
        assert_eq!(
            chk(&PasswordPolicy::default(), "p", "Tq8#mVz2Lp", "tq", None),
            Ok(())
        );
        assert_eq!(en("我是张三Qx7!vb"), "account.password_has_name");
        let e = chk(
            &PasswordPolicy::default(),
            "p",
            "Li Hua7!mqzv",
            "u001",
            Some("li hua"),
        );
        assert!(e.is_err());
        let e = chk(
            &PasswordPolicy::default(),
            "p",
            "LiHua7!mqzv",
            "u001",
            Some("Li Hua"),
        );
        assert_eq!(
            e.unwrap_err().reason.message().to_string(),
            "account.password_has_name"
        );
        // A one-character name is not checked.
        assert_eq!(
            chk(
                &PasswordPolicy::default(),
                "p",
                "Tq8#mVz2Lp",
                "u001",
                Some("T")
            ),
            Ok(())
        );
    }

    /// A speller for the test county's characters (the real one is `ygt_empi::pinyin_of`).
    pub(super) fn spell(text: &str) -> (Vec<String>, String) {
        const TABLE: &[(char, &str)] = &[
            ('云', "yun"),
            ('溪', "xi"),
            ('县', "xian"),
            ('域', "yu"),
            ('医', "yi"),
            ('共', "gong"),
            ('体', "ti"),
            ('人', "ren"),
            ('民', "min"),
            ('院', "yuan"),
            ('柳', "liu"),
            ('河', "he"),
            ('镇', "zhen"),
            ('卫', "wei"),
            ('生', "sheng"),
            ('张', "zhang"),
            ('三', "san"),
        ];
        let syl: Vec<&str> = text
            .chars()
            .filter_map(|c| TABLE.iter().find(|(k, _)| *k == c).map(|(_, v)| *v))
            .collect();
        if syl.is_empty() {
            return (Vec::new(), String::new());
        }
        let initials = syl.iter().filter_map(|s| s.chars().next()).collect();
        (vec![syl.concat()], initials)
    }

    /// The test county: 云溪县 with its community, hospital and a township centre.
    pub(super) fn county(user: &str, name: Option<&str>) -> Context {
        Context::new(user, name, 2026).with_names(
            [
                "云溪县域医共体",
                "云溪县人民医院",
                "柳河镇卫生院",
                name.unwrap_or(""),
            ],
            &spell,
        )
    }

    fn in_county(p: &str) -> Result<(), ValidationError> {
        check(
            &PasswordPolicy::default(),
            "password",
            p,
            &county("wangwu", Some("王五")),
        )
    }

    const BUILT: &str = "account.password_from_names";

    #[test]
    fn context_words_give_no_strength() {
        let built = |p: &str| {
            let e = in_county(p).unwrap_err();
            assert_eq!(e.field, "password");
            assert_eq!(e.reason.message_en(), BUILT, "{p}");
        };
        // The examples.
        built("Yunxi@2027");
        built("医共体平台1a");
        built("Ygt#2026Yunxi!");
        built("YUNXI@yunxi2020");
        // Parts of names, their pinyin and initials.
        built("柳河Tq8#mVz2");
        built("Liuhe#Tq8mVz2");
        built("Yxxrmyy#2027a");
        built("人民医院Tq8#m");
        built("Yigongti#Tq8mV");
        // 张三张三1a for the user 张三 (by the name rule, before the context is asked).
        let zhang = county("zhangsan", Some("张三"));
        let e = check(&PasswordPolicy::default(), "p", "张三张三1a", &zhang).unwrap_err();
        assert_eq!(e.reason.message_en(), "account.password_has_name");
        // The pinyin of the person's name is a context word too.
        let zs = county("zs001", Some("张三"));
        let e = check(&PasswordPolicy::default(), "p", "ZhangSan#2027x", &zs).unwrap_err();
        assert_eq!(e.reason.message_en(), BUILT);
        assert!(zs.has_word("zhangsan") && zs.has_word("云溪") && zs.has_word("yunxi"));
        assert!(!zs.is_empty() && zs.len() > 20);
    }

    #[test]
    fn context_threshold_is_the_minimum_length() {
        // Ten strength units beside the context words: accepted; nine: refused.
        assert_eq!(in_county("YunxiTq8#mVz2Lp"), Ok(()));
        assert_eq!(in_county("Tq8#mVz2Lp@2027"), Ok(()));
        assert_eq!(in_county("柳河Tq8#mVz2Lp"), Ok(()));
        assert_eq!(
            in_county("YunxiTq8#mVz2L").unwrap_err().reason.message_en(),
            BUILT
        );
        assert_eq!(
            in_county("柳河Tq8#mVz2L").unwrap_err().reason.message_en(),
            BUILT
        );
        // A Chinese character outside the context counts two.
        assert_eq!(in_county("Yunxi春Tq8#mVz2"), Ok(()));
        assert_eq!(
            in_county("Yunxi春Tq8#mVz").unwrap_err().reason.message_en(),
            BUILT
        );
        let c = county("wangwu", None);
        assert_eq!(c.remaining_units("YunxiTq8#mVz2Lp"), 10);
        assert_eq!(c.remaining_units("云溪县Ab"), 2);
        assert_eq!(c.remaining_units(""), 0);
    }

    #[test]
    fn years_near_now_count_as_context() {
        let c = county("wangwu", None);
        assert_eq!(c.years(), 2016..=2029);
        for y in [2016, 2020, 2026, 2029] {
            assert_eq!(c.remaining_units(&format!("Tq8#mVz2{y}")), 8, "{y}");
            assert_eq!(
                in_county(&format!("Tq8#mVz2{y}"))
                    .unwrap_err()
                    .reason
                    .message_en(),
                BUILT
            );
        }
        for y in [2015, 2030, 1999] {
            assert_eq!(c.remaining_units(&format!("Tq8#mVz2{y}")), 12, "{y}");
            assert_eq!(in_county(&format!("Tq8#mVz2{y}")), Ok(()), "{y}");
        }
    }

    #[test]
    fn short_latin_and_pinyin_parts_do_not_count() {
        let mut c = Context::new("u001", None, 2026);
        c.add_name("Ab Cd 云", &spell);
        // Two-letter words and a lone character are not words of the context.
        assert!(!c.has_word("ab") && !c.has_word("云") && !c.has_word("yun"));
        // Initials shorter than four letters do not count either ("lh" of 柳河).
        c.add_name("柳河", &spell);
        assert!(c.has_word("柳河") && c.has_word("liuhe") && !c.has_word("lh"));
    }

    #[test]
    fn weak_passwords() {
        let weak = "account.password_common";
        for p in [
            "Password123!",
            "P@ssw0rd2026",
            "Woaini1314!",
            "Woaini520!!",
            "Yiyuan123!",
            "Weishengyuan2026!",
            "Admin@123",
            "1qaz2wsx!QAZ",
            "Huawei2026!",
        ] {
            let r = ok(p);
            // Some are short or lack classes; those that get that far are weak.
            if let Err(e) = r {
                if !matches!(e.reason, Reason::TooShort { .. })
                    && !en(p).starts_with("account.password_classes")
                {
                    assert!(
                        e.reason.message_en() == weak
                            || e.reason.message_en() == "account.password_predictable",
                        "{p}: {}",
                        e.reason.message_en()
                    );
                }
            } else {
                panic!("{p} accepted");
            }
        }
        assert_eq!(en("Password123!"), weak);
        assert_eq!(en("Woaini1314!"), weak);
        assert_eq!(en("Weishengyuan2026!"), weak);
        assert_eq!(en("P@ssw0rd2026"), weak);
        // The platform's pinyin is both a weak password and a context word: weak comes first.
        assert_eq!(en("Yigongti2026!"), weak);
        assert!(is_weak("5201314!"));
        assert!(is_weak("147258369"));
        // A short base with digits is only weak when listed exactly.
        assert!(is_weak("aa123456"));
        assert!(!is_weak("aa98127634"));
        assert!(WEAK.len() >= 200, "{}", WEAK.len());
        assert!(WEAK.iter().all(|w| *w == w.to_lowercase()));
    }

    #[test]
    fn trivial_patterns() {
        let trivial = "account.password_predictable";
        for p in [
            "Aaaaaaaaaa1!",
            "Abcdefghij1!",
            "Aa1!Aa1!Aa1!",
            "!QAZ2wsx3edc",
            "Mnbvcxz987!",
            "Zaq!2wsXcde3",
            "Xy7!Xy7!Xy7!Xy7!",
            "Qwertzuiop1!",
            "Abc123!Abc123",
        ] {
            assert_eq!(en(p), trivial, "{p}");
        }
        assert_eq!(surprises("1q2w3e4r"), 1);
        assert_eq!(surprises("zaq12wsx"), 1);
        assert_eq!(surprises("qwertyuiop"), 1);
        assert_eq!(surprises("1234567890"), 1);
        assert_eq!(surprises("aaaaaaaaaa"), 1);
        assert!(surprises("yunxi-2026!clinic") >= MIN_SURPRISES);
        assert!(surprises("tq8#mvz2lp") >= MIN_SURPRISES);
    }

    #[test]
    fn keyboard_model() {
        assert!(predictable('q', 'w'));
        assert!(predictable('1', 'q'));
        assert!(predictable('q', 'a'));
        assert!(predictable('a', 'z'));
        assert!(predictable('9', '0'));
        assert!(predictable('c', 'b'));
        assert!(!predictable('q', 'm'));
        assert!(!predictable('1', 'a'));
        assert!(!predictable('春', '风'));
        assert_eq!(unshift('!'), '1');
        assert_eq!(unshift('?'), '/');
        assert_eq!(unshift('a'), 'a');
    }
}
