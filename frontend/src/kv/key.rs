//! KVStore keys: integers or strings (MXNet's `int` / `str` keys).

use std::fmt;

/// A KVStore key. One store uses one kind of key (MXNet: "Mixed key types are not allowed").
///
/// ```
/// use mxr::kv::Key;
/// assert_eq!(Key::from(3), Key::Int(3));
/// assert_eq!(Key::from("w"), Key::Str("w".into()));
/// assert_eq!(Key::from("w").to_string(), "'w'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A string key (mapped to an integer id in first-`init` order, as MXNet does).
    Str(String),
}

impl Key {
    /// `"int"` or `"str"`, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Key::Int(_) => "int",
            Key::Str(_) => "str",
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(k) => write!(f, "{k}"),
            Key::Str(s) => write!(f, "'{s}'"),
        }
    }
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl From<$t> for Key {
            fn from(k: $t) -> Key {
                Key::Int(i64::from(k))
            }
        }
    )*};
}

int_key!(i8, i16, i32, i64, u8, u16, u32);

impl From<usize> for Key {
    /// An index as a key; indices above `i64::MAX` (impossible for a parameter index) saturate.
    fn from(k: usize) -> Key {
        Key::Int(i64::try_from(k).unwrap_or(i64::MAX))
    }
}

impl From<&str> for Key {
    fn from(k: &str) -> Key {
        Key::Str(k.to_owned())
    }
}

impl From<String> for Key {
    fn from(k: String) -> Key {
        Key::Str(k)
    }
}

impl From<&String> for Key {
    fn from(k: &String) -> Key {
        Key::Str(k.clone())
    }
}

impl From<&Key> for Key {
    fn from(k: &Key) -> Key {
        k.clone()
    }
}
