//! Chinese first, English selectable, chosen per request (query `?lang=`, then the `ygt_lang`
//! cookie, then Chinese). Never global state.
//!
//! Every text people read comes from a catalogue: one per capability (`admin`, `common`, `mpi`,
//! `org`, `record`, `referral`, in this folder), keyed `prefix.name`. Pages look keys up with
//! [`Lang::t`]; errors and notifications arrive as [`Message`]s (a code and arguments, made with
//! `ygt_domain::msg!` by the domain and the use cases) and are rendered here with
//! [`Lang::render`]. The tests fail on a key or code used anywhere without both texts.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;
use ygt_domain::message::{Arg, Message, label_of};

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
        match lookup(key) {
            Some((zh, en)) => self.pick(zh, en),
            None => "?",
        }
    }

    fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// A coded value's label in this language.
    pub fn label<T: Labelled>(self, v: T) -> &'static str {
        v.label(self.is_en())
    }
}

impl Lang {
    /// A catalogue message in this language: its text with each `{name}` replaced by the
    /// argument of that name (a coded value by its label). An unknown code shows as itself (a
    /// test fails on any code used in the sources without both texts).
    pub fn render(self, m: &Message) -> String {
        let text = match lookup(&m.code) {
            Some((zh, en)) => {
                if self.is_en() {
                    en
                } else {
                    zh
                }
            }
            None => return m.code.clone(),
        };
        let mut out = String::with_capacity(text.len() + 16);
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let name = &after[..close];
                    match m.args.get(name) {
                        Some(Arg::Text(s)) => out.push_str(s),
                        Some(Arg::Code { kind, code }) => {
                            out.push_str(label_of(kind, code, self.is_en()).unwrap_or(code))
                        }
                        None => {
                            out.push('{');
                            out.push_str(name);
                            out.push('}');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

impl Lang {
    /// Why a value was refused, in this language: a catalogue message rendered here, the
    /// domain's own reasons (required, too long, …) in its words.
    pub fn reason(self, r: &ygt_domain::Reason) -> String {
        self.render(&r.message())
    }

    /// A message kept as JSON (a notification) in this language; a row written before
    /// notifications kept messages shows the titles it was stored with.
    pub fn stored(self, message: Option<&str>, zh: &str, en: &str) -> String {
        match message.and_then(|m| serde_json::from_str::<Message>(m).ok()) {
            Some(m) => self.render(&m),
            None if self.is_en() => en.to_owned(),
            None => zh.to_owned(),
        }
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
    ygt_domain::referral::EventKind,
    ygt_domain::referral::Status,
    ygt_domain::clinical::ItemStatus
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

mod admin;
mod common;
mod mpi;
mod org;
mod record;
mod referral;

/// One catalogue per capability; a key's prefix (before the first dot) says which.
/// A catalogue: (key, Chinese, English), sorted by key.
type Catalogue = &'static [(&'static str, &'static str, &'static str)];

const CATALOGUES: &[(&str, Catalogue)] = &[
    ("admin", admin::MESSAGES),
    ("common", common::MESSAGES),
    ("mpi", mpi::MESSAGES),
    ("org", org::MESSAGES),
    ("record", record::MESSAGES),
    ("referral", referral::MESSAGES),
];

/// Which catalogue holds the keys of a prefix (a prefix not listed is the door's own).
fn catalogue_of(prefix: &str) -> &'static str {
    match prefix {
        "record" => "record",
        "referral" => "referral",
        "mpi" | "resident" => "mpi",
        "org" | "institution" | "community" | "staff" | "department" => "org",
        "admin" | "audit" | "break_glass" | "history" | "auth" | "account" | "access" => "admin",
        _ => "common",
    }
}

/// The Chinese and English text of a key.
fn lookup(key: &str) -> Option<(&'static str, &'static str)> {
    let want = catalogue_of(key.split('.').next().unwrap_or_default());
    let (_, entries) = CATALOGUES.iter().find(|(name, _)| *name == want)?;
    let i = entries.binary_search_by(|(k, _, _)| (*k).cmp(key)).ok()?;
    entries.get(i).map(|(_, zh, en)| (*zh, *en))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_are_sorted_unique_and_hold_their_own_keys() {
        for (name, entries) in CATALOGUES {
            for w in entries.windows(2) {
                assert!(
                    w[0].0 < w[1].0,
                    "{name}: {} must sort before {}",
                    w[0].0,
                    w[1].0
                );
            }
            for (k, zh, en) in *entries {
                let prefix = k.split('.').next().unwrap_or_default();
                assert_eq!(
                    catalogue_of(prefix),
                    *name,
                    "{k} belongs in another catalogue"
                );
                assert!(!zh.is_empty() && !en.is_empty(), "{k} needs both texts");
            }
        }
    }

    /// Every file under `dir` (recursively) whose name ends with `ext`.
    fn sources(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, ext, out);
            } else if path.to_string_lossy().ends_with(ext) {
                out.push(path);
            }
        }
    }

    /// The literal keys that follow `marker` in the files.
    /// The keys written after `marker` in the files, each with `prefix` put before it.
    fn keys_after(
        files: &[std::path::PathBuf],
        marker: &str,
        prefix: &str,
    ) -> Vec<(String, String)> {
        let mut keys = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(path).unwrap();
            // Comments and documentation show examples, not messages.
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for part in code.split(marker).skip(1) {
                let key = part.split('"').next().map(|k| format!("{prefix}{k}"));
                if let Some(key) = key.filter(|k| {
                    k.contains('.')
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                }) {
                    keys.push((path.display().to_string(), key));
                }
            }
        }
        keys
    }

    #[test]
    fn every_key_used_in_templates_and_pages_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        sources(&root.join("templates"), ".html", &mut files);
        sources(&root.join("src"), ".rs", &mut files);
        let missing: Vec<_> = keys_after(&files, ".t(\"", "")
            .into_iter()
            .filter(|(_, k)| lookup(k).is_none())
            .collect();
        assert!(missing.is_empty(), "missing translations: {missing:?}");
    }

    #[test]
    fn every_message_the_platform_makes_has_both_texts() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for c in ["ygt-domain", "ygt-app", "ygt-server", "ygt", "ygt-synth"] {
            sources(&crates.join(c).join("src"), ".rs", &mut files);
        }
        let mut used = keys_after(&files, "msg!(\"", "");
        let formats = keys_after(&files, "Reason::Format(\"", "format.");
        assert!(
            formats.len() > 20,
            "the scan found only {} formats",
            formats.len()
        );
        used.extend(formats);
        assert!(
            used.len() > 100,
            "the scan found only {} messages",
            used.len()
        );
        let missing: Vec<_> = used
            .into_iter()
            .filter(|(_, k)| lookup(k).is_none())
            .collect();
        assert!(missing.is_empty(), "messages without texts: {missing:?}");
    }

    #[test]
    fn messages_render_their_arguments_in_the_reader_language() {
        use ygt_domain::org::{InstitutionType, Tier};
        let m = ygt_domain::msg!(
            "org.kind_tier",
            kind = InstitutionType::VillageClinic,
            tier = Tier::County
        );
        assert_eq!(Lang::Zh.render(&m), "村卫生室不能是县级");
        assert_eq!(
            Lang::En.render(&m),
            "a Village clinic cannot be of tier County"
        );
        let unknown = Message::new("org.no_such_message");
        assert_eq!(Lang::Zh.render(&unknown), "org.no_such_message");
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
