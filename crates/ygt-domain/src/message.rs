//! Messages for people: a code from a capability's catalogue and its arguments.
//!
//! The domain and the use cases say *what* happened (`msg!("org.lead_cannot_leave", names =
//! …)`); the door renders it in the reader's language from the catalogue of the capability the
//! code's prefix names (ygt-server, one catalogue per capability). No Chinese or English text
//! is written where a message is made, a stored notification keeps its code and arguments, and
//! a test of the server fails on a code used anywhere without both texts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A message: a catalogue code (`capability.name`) and named arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub code: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Arg>,
}

/// An argument of a message: text shown as it is (a name, a number, a date), or a coded value
/// shown by its label in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arg {
    Text(String),
    /// A value of a coded enum: its type's name (`Tier`) and its code (`village`).
    Code {
        kind: String,
        code: String,
    },
}

impl Message {
    pub fn new(code: &str) -> Message {
        Message {
            code: code.to_owned(),
            args: BTreeMap::new(),
        }
    }

    /// The message with one more argument.
    pub fn with(mut self, name: &str, value: impl Into<Arg>) -> Message {
        self.args.insert(name.to_owned(), value.into());
        self
    }

    /// The capability whose catalogue holds the code (its prefix before the first dot).
    pub fn capability(&self) -> &str {
        self.code.split('.').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Message {
    /// The code and the arguments, for logs (people read the rendered text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code)?;
        for (k, v) in &self.args {
            let v = match v {
                Arg::Text(s) | Arg::Code { code: s, .. } => s,
            };
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_owned())
    }
}

impl From<crate::ident::Sex> for Arg {
    fn from(v: crate::ident::Sex) -> Arg {
        Arg::Code {
            kind: "Sex".into(),
            code: v.code().to_owned(),
        }
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

macro_rules! arg_from_display {
    ($($t:ty),*) => { $( impl From<$t> for Arg { fn from(v: $t) -> Arg { Arg::Text(v.to_string()) } } )* };
}
arg_from_display!(i32, i64, u32, u64, usize, time::Date);

/// The label of a coded value named in an [`Arg::Code`], in Chinese or English (`None` for a
/// kind or code this version does not know).
pub fn label_of(kind: &str, code: &str, english: bool) -> Option<&'static str> {
    macro_rules! kinds {
        ($($t:ty),*) => {
            match kind {
                $( k if k == stringify!($t) => <$t>::parse("", code).ok().map(|v| v.label(english)), )*
                _ => None,
            }
        };
    }
    use crate::access::{Permission, Role};
    use crate::clinical::{ItemKind, Modality};
    use crate::ident::Sex;
    use crate::org::{InstitutionType, ProfessionalTitle, ServiceKind, Tier};
    use crate::referral::{Action, Direction, EventKind, ResourceKind, Status, Urgency};
    kinds!(
        Permission,
        Role,
        Sex,
        ItemKind,
        Modality,
        InstitutionType,
        ProfessionalTitle,
        ServiceKind,
        Tier,
        Action,
        Direction,
        EventKind,
        ResourceKind,
        Status,
        Urgency
    )
}

/// A [`Message`]: `msg!("code")` or `msg!("code", name = value, …)`. The code must be a literal
/// (the catalogue test finds every code by reading the sources).
#[macro_export]
macro_rules! msg {
    ($code:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::message::Message::new($code)$(.with(stringify!($name), $value))*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_kept_by_name_and_kind() {
        use crate::access::Role;
        let m = msg!(
            "org.staff_left",
            count = 3_i64,
            role = Role::Doctor,
            name = "内科"
        );
        assert_eq!(m.capability(), "org");
        assert_eq!(m.args.get("count"), Some(&Arg::Text("3".into())));
        let role = Arg::Code {
            kind: "Role".into(),
            code: "doctor".into(),
        };
        assert_eq!(m.args.get("role"), Some(&role));
        assert_eq!(label_of("Role", "doctor", false), Some("医生"));
        assert_eq!(label_of("Role", "doctor", true), Some("Doctor"));
        assert_eq!(label_of("Nothing", "doctor", true), None);
        let json = serde_json::to_string(&m).unwrap_or_default();
        let back: Message = serde_json::from_str(&json).unwrap_or_else(|_| Message::new("x"));
        assert_eq!(back, m);
    }
}
