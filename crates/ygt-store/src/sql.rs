//! A tiny query builder: one SQL text with `?` placeholders and typed arguments, rendered for
//! SQLite (`?`) or PostgreSQL (`$1, $2, …`). All SQL of ygt is written once, in the portable
//! subset both backends understand.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// One bound argument. Every variant carries an `Option` so that a NULL keeps its SQL type
/// (PostgreSQL needs it).
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Uuid(Option<Uuid>),
    Ts(Option<OffsetDateTime>),
    Date(Option<Date>),
    Bytes(Option<Vec<u8>>),
}

macro_rules! arg_from {
    ($t:ty, $v:ident) => {
        impl From<$t> for Arg {
            fn from(x: $t) -> Self {
                Arg::$v(Some(x))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(x: Option<$t>) -> Self {
                Arg::$v(x)
            }
        }
    };
}
arg_from!(String, Text);
arg_from!(i64, I64);
arg_from!(f64, F64);
arg_from!(bool, Bool);
arg_from!(Uuid, Uuid);
arg_from!(OffsetDateTime, Ts);
arg_from!(Date, Date);
arg_from!(Vec<u8>, Bytes);

impl From<&str> for Arg {
    fn from(x: &str) -> Self {
        Arg::Text(Some(x.to_owned()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(x: Option<&str>) -> Self {
        Arg::Text(x.map(str::to_owned))
    }
}
impl From<&String> for Arg {
    fn from(x: &String) -> Self {
        Arg::Text(Some(x.clone()))
    }
}
impl From<Option<&String>> for Arg {
    fn from(x: Option<&String>) -> Self {
        Arg::Text(x.cloned())
    }
}
impl From<&Uuid> for Arg {
    fn from(x: &Uuid) -> Self {
        Arg::Uuid(Some(*x))
    }
}
impl From<i32> for Arg {
    fn from(x: i32) -> Self {
        Arg::I64(Some(i64::from(x)))
    }
}

/// SQL text with `?` placeholders and its arguments.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends raw SQL text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder and binds its value.
    pub fn bind(&mut self, a: impl Into<Arg>) -> &mut Self {
        self.text.push('?');
        self.args.push(a.into());
        self
    }

    /// Binds a value for a `?` already written in the text.
    pub fn arg(mut self, a: impl Into<Arg>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Appends `(?, ?, …)` for a list of values; `(NULL)` for an empty list so the SQL stays valid.
    pub fn bind_list<T: Into<Arg>>(&mut self, items: impl IntoIterator<Item = T>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for it in items {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(it);
        }
        if first {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn into_parts(self) -> (String, Vec<Arg>) {
        (self.text, self.args)
    }
}

/// Rewrites `?` placeholders to PostgreSQL's `$n`, leaving string literals, quoted identifiers
/// and comments untouched.
pub(crate) fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A nullable coded column, decoded with `#[sqlx(try_from = "crate::sql::NullableCode")]` into an
/// `Option` of a `code_enum!` type (a non-null coded column uses `try_from = "String"`): NULL
/// is `None`, a known code its value, anything else a [`crate::StoreError::Corrupt`] naming
/// the column.
pub struct NullableCode(Option<String>);

impl<DB: sqlx::Database> sqlx::Type<DB> for NullableCode
where
    Option<String>: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <Option<String> as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <Option<String> as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for NullableCode
where
    Option<String>: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
        <Option<String> as sqlx::Decode<'r, DB>>::decode(value).map(NullableCode)
    }
}

impl<T> TryFrom<NullableCode> for Option<T>
where
    T: TryFrom<String, Error = ygt_domain::ValidationError>,
{
    type Error = ygt_domain::ValidationError;

    fn try_from(c: NullableCode) -> std::result::Result<Self, Self::Error> {
        c.0.map(T::try_from).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            to_postgres("SELECT '?' || ? FROM t WHERE a = ? -- why?\nAND b = ?"),
            "SELECT '?' || $1 FROM t WHERE a = $2 -- why?\nAND b = $3"
        );
    }

    #[test]
    fn empty_list_stays_valid() {
        let mut q = Sql::new("SELECT 1 WHERE x IN ");
        q.bind_list(Vec::<i64>::new());
        assert_eq!(q.text(), "SELECT 1 WHERE x IN (NULL)");
        let mut q = Sql::new("x IN ");
        q.bind_list([1i64, 2]);
        assert_eq!(q.text(), "x IN (?, ?)");
    }
}
