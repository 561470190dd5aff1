//! Coded values (enums with a stable code, a Chinese and an English label).

/// Defines an enum of coded values: a stable machine code, a Chinese label and an English label.
/// The code is what is stored and what the API speaks; labels are for people.
#[macro_export]
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $zh:literal, $en:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The stable code stored in the database and used by the API.
            pub fn code(self) -> &'static str {
                match self { $( $name::$variant => $code ),+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $( $name::$variant => $zh ),+ }
            }

            pub fn label_en(self) -> &'static str {
                match self { $( $name::$variant => $en ),+ }
            }

            /// The label in the language given by `english`.
            pub fn label(self, english: bool) -> &'static str {
                if english { self.label_en() } else { self.label_zh() }
            }

            /// All codes joined, for error messages.
            pub fn codes() -> String {
                let v: Vec<&str> = Self::ALL.iter().map(|x| x.code()).collect();
                v.join(", ")
            }

            /// Parses a code (or a Chinese label); the error names `field`.
            pub fn parse(field: &str, s: &str) -> Result<Self, $crate::ValidationError> {
                let t = s.trim();
                if t.is_empty() {
                    return Err($crate::ValidationError::new(field, $crate::Reason::Required));
                }
                for v in Self::ALL {
                    if v.code() == t || v.label_zh() == t {
                        return Ok(*v);
                    }
                }
                Err($crate::ValidationError::new(
                    field,
                    $crate::Reason::UnknownCode { allowed: Self::codes() },
                ))
            }
        }

        impl From<$name> for $crate::message::Arg {
            fn from(v: $name) -> Self {
                $crate::message::Arg::Code { kind: stringify!($name).to_owned(), code: v.code().to_owned() }
            }
        }

        impl From<&$name> for $crate::message::Arg {
            fn from(v: &$name) -> Self {
                (*v).into()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse("value", &s).map_err(|e| serde::de::Error::custom(e.reason.message_en()))
            }
        }

        /// Decoding a stored code (a store row's column).
        impl TryFrom<String> for $name {
            type Error = $crate::ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse("value", &s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse("value", s)
            }
        }
    };
}
