//! Validation errors: every rejected value names its field and the reason.

use std::fmt;

/// Why a value was rejected. Each reason has a Chinese and an English message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The field is required but empty or absent.
    Required,
    /// Longer than allowed (in characters).
    TooLong { max: usize },
    /// Shorter than allowed (in characters).
    TooShort { min: usize },
    /// Does not have the expected shape; the code names the shape (catalogue key `format.<code>`).
    Format(&'static str),
    /// The check character does not match the rest of the value.
    CheckDigit,
    /// A date that does not exist or is out of range.
    Date,
    /// Not one of the allowed codes.
    UnknownCode { allowed: String },
    /// A number outside the allowed range.
    Range { min: i64, max: i64 },
    /// A reference to something that does not exist (or is inactive).
    NotFound,
    /// A reason of its own: a catalogue message, rendered by the door in the reader's language.
    Other(crate::message::Message),
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Required => "required",
            Reason::TooLong { .. } => "too_long",
            Reason::TooShort { .. } => "too_short",
            Reason::Format(_) => "format",
            Reason::CheckDigit => "check_digit",
            Reason::Date => "invalid_date",
            Reason::UnknownCode { .. } => "unknown_code",
            Reason::Range { .. } => "out_of_range",
            Reason::NotFound => "not_found",
            Reason::Other(_) => "invalid",
        }
    }

    /// What to tell a person, as a catalogue message the door renders in their language.
    pub fn message(&self) -> crate::message::Message {
        use crate::msg;
        match self {
            Reason::Required => msg!("reason.required"),
            Reason::TooLong { max } => msg!("reason.too_long", max = *max),
            Reason::TooShort { min } => msg!("reason.too_short", min = *min),
            Reason::Format(code) => crate::message::Message::new(&format!("format.{code}")),
            Reason::CheckDigit => msg!("reason.check_digit"),
            Reason::Date => msg!("reason.invalid_date"),
            Reason::UnknownCode { allowed } => msg!("reason.unknown_code", allowed = allowed),
            Reason::Range { min, max } => msg!("reason.out_of_range", min = *min, max = *max),
            Reason::NotFound => msg!("reason.not_found"),
            Reason::Other(m) => m.clone(),
        }
    }

    /// A short English description for logs and serde errors (people see [`Reason::message`]).
    pub fn message_en(&self) -> String {
        match self {
            Reason::Required => "is required".into(),
            Reason::TooLong { max } => format!("must be at most {max} characters"),
            Reason::TooShort { min } => format!("must be at least {min} characters"),
            Reason::Format(code) => format!("has the wrong format ({code})"),
            Reason::CheckDigit => "has a wrong check character".into(),
            Reason::Date => "is not a real date or is out of range".into(),
            Reason::UnknownCode { allowed } => format!("is not a known code; allowed: {allowed}"),
            Reason::Range { min, max } => format!("must be between {min} and {max}"),
            Reason::NotFound => "refers to something that does not exist or is inactive".into(),
            Reason::Other(m) => m.to_string(),
        }
    }
}

/// A value was rejected: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: String,
    pub reason: Reason,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: Reason) -> Self {
        Self {
            field: field.into(),
            reason,
        }
    }

    /// The same error reported under another field name (for example a nested path).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.reason.message_en())
    }
}

impl std::error::Error for ValidationError {}

/// Several rejected fields of one form or request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    pub fn push(&mut self, e: ValidationError) {
        self.0.push(e);
    }

    /// Keep the value when it parsed, record the error otherwise.
    pub fn check<T>(&mut self, r: Result<T, ValidationError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&ValidationError> {
        self.0.first()
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}
