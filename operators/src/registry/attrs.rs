//! Typed operator parameters, parsed from MXNet's attribute strings.
//!
//! MXNet keeps an operator's parameters as a string dictionary — the same strings symbol JSON
//! carries (`"num_hidden": "128"`, `"kernel": "(3, 3)"`, `"no_bias": "True"`) — and parses it into
//! a typed struct (dmlc::Parameter). Here an operator declares that struct once with
//! [`params!`](crate::params); the macro generates the parser (with MXNet's rules: §1.1 of
//! shared/spec/operators.md), the listing of parameters with types, defaults and docs, and the
//! conversion back to MXNet's strings.
//!
//! ```
//! use mxr_operators::{attr_enum, params};
//!
//! attr_enum! {
//!     /// The activation function.
//!     pub enum ActType { Relu = "relu", Sigmoid = "sigmoid", Tanh = "tanh" }
//! }
//! params! {
//!     /// Parameters of a made-up layer.
//!     pub struct LayerParam for "Layer" {
//!         /// Output width (required).
//!         num_hidden: usize,
//!         /// Disable the bias.
//!         no_bias: bool = false,
//!         /// Kernel size.
//!         kernel: Vec<i64> = vec![],
//!         /// Activation.
//!         act_type: ActType = ActType::Relu,
//!         /// An optional axis.
//!         axis: Option<i64> = None,
//!     }
//! }
//! let p = LayerParam::parse([("num_hidden", "128"), ("no_bias", "True"), ("kernel", "(3, 3)")])?;
//! assert_eq!((p.num_hidden, p.no_bias, p.kernel.clone()), (128, true, vec![3, 3]));
//! assert_eq!((p.act_type, p.axis), (ActType::Relu, None));
//! // Back to MXNet's strings: the values that differ from their defaults, plus required ones.
//! assert_eq!(
//!     p.to_attrs(),
//!     vec![
//!         ("num_hidden".to_string(), "128".to_string()),
//!         ("no_bias".to_string(), "True".to_string()),
//!         ("kernel".to_string(), "(3, 3)".to_string()),
//!     ]
//! );
//! let err = LayerParam::parse([("num_hidden", "3.5")]).unwrap_err();
//! assert!(err.to_string().contains("num_hidden"));
//! # Ok::<(), mxr_operators::Error>(())
//! ```

use crate::{Error, Result};

/// The largest count parameter (`num_args`, `num_outputs`) an operator accepts: a count
/// allocates names and shape slots per input or output, so a count from a file
/// (`"num_args": "1000000000000"`) must be an error, not an allocation of terabytes. MXNet has
/// no such limit, but no real graph comes near it.
pub const MAX_COUNT: usize = 1 << 16;

/// A parameter type: how MXNet writes it, documents it and parses it.
pub trait AttrValue: Sized {
    /// The type as MXNet's documentation names it (`int`, `float`, `boolean`, `Shape(tuple)`,
    /// `{'relu', 'sigmoid'}`).
    fn type_name() -> String;

    /// Parses MXNet's string form; the error is a hint for the message (may be empty).
    fn parse_attr(s: &str) -> Result<Self, String>;

    /// The string MXNet's Python frontend writes for the value (`True`, `(3, 3)`, `None`).
    fn to_attr(&self) -> String;
}

macro_rules! integer_attr {
    ($($t:ty),*) => {$(
        impl AttrValue for $t {
            fn type_name() -> String {
                if <$t>::MIN == 0 { "int (non-negative)".into() } else { "int".into() }
            }
            fn parse_attr(s: &str) -> Result<Self, String> {
                let s = s.trim();
                s.parse::<$t>().map_err(|_| match s.parse::<f64>() {
                    Ok(_) if s.parse::<i128>().is_err() => "; not an integer".to_string(),
                    _ if s.starts_with('-') && <$t>::MIN == 0 => "; must not be negative".to_string(),
                    _ => String::new(),
                })
            }
            fn to_attr(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

integer_attr!(i32, i64, u32, usize);

macro_rules! float_attr {
    ($($t:ty),*) => {$(
        impl AttrValue for $t {
            fn type_name() -> String {
                "float".into()
            }
            fn parse_attr(s: &str) -> Result<Self, String> {
                s.trim().parse::<$t>().map_err(|_| String::new())
            }
            fn to_attr(&self) -> String {
                python_float(*self)
            }
        }
    )*};
}

float_attr!(f32, f64);

/// `x` as Python's `repr(float)` (and `str`) writes it, the form MXNet's Python frontend gives
/// float parameters in symbol JSON and initializer descriptions: the shortest digits that read
/// back (of `f32` for an `f32`), positional with a `.0` for decimal exponents in `[-4, 16)`,
/// else scientific with a signed two-digit exponent; `nan`, `inf`, `-inf`.
///
/// ```
/// use mxr_operators::registry::attrs::python_float;
/// assert_eq!(python_float(1e-7), "1e-07");
/// assert_eq!(python_float(0.1f32), "0.1");
/// assert_eq!(python_float(3.0), "3.0");
/// assert_eq!(python_float(1e20), "1e+20");
/// ```
pub fn python_float<T: PyFloat>(x: T) -> String {
    python_float_digits(x.value(), &x.shortest())
}

/// A float type [`python_float`] renders: `f32` or `f64`. Sealed.
pub trait PyFloat: Copy + sealed::Sealed {
    /// The value.
    fn value(self) -> f64;
    /// The type's shortest round-trip digits, as `format!("{:e}")` writes them.
    fn shortest(self) -> String;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl PyFloat for f64 {
    fn value(self) -> f64 {
        self
    }
    fn shortest(self) -> String {
        format!("{self:e}")
    }
}

impl PyFloat for f32 {
    fn value(self) -> f64 {
        f64::from(self)
    }
    fn shortest(self) -> String {
        format!("{self:e}")
    }
}

/// [`python_float`] from `x` and its shortest digits (`sci` = `format!("{x:e}")` of the value's
/// own type, so that an `f32` keeps its short digits).
fn python_float_digits(x: f64, sci: &str) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let (sign, body) = match sci.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", sci),
    };
    let (mantissa, exp) = body.split_once('e').unwrap_or((body, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    // Value = 0.d1d2..dn × 10^decpt.
    let decpt = exp + 1;
    let n = digits.len() as i64;
    let text = if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{esign}{:02}", exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt < n {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    } else {
        format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
    };
    format!("{sign}{text}")
}

impl AttrValue for bool {
    fn type_name() -> String {
        "boolean".into()
    }

    fn parse_attr(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("; expected True, False, 1 or 0".into()),
        }
    }

    fn to_attr(&self) -> String {
        if *self { "True".into() } else { "False".into() }
    }
}

impl AttrValue for String {
    fn type_name() -> String {
        "string".into()
    }

    fn parse_attr(s: &str) -> Result<Self, String> {
        Ok(s.to_owned())
    }

    fn to_attr(&self) -> String {
        self.clone()
    }
}

/// `"None"` is absent; anything else is the inner type.
impl<T: AttrValue> AttrValue for Option<T> {
    fn type_name() -> String {
        format!("{} or None", T::type_name())
    }

    fn parse_attr(s: &str) -> Result<Self, String> {
        if s.trim() == "None" {
            Ok(None)
        } else {
            T::parse_attr(s).map(Some)
        }
    }

    fn to_attr(&self) -> String {
        self.as_ref()
            .map_or_else(|| "None".into(), AttrValue::to_attr)
    }
}

/// Tuples: `(3, 3)`, `[3,3]`, `(3,)`, `()`, or a bare `3` (a 1-tuple).
impl<T: AttrValue> AttrValue for Vec<T> {
    fn type_name() -> String {
        format!("Shape(tuple of {})", T::type_name())
    }

    fn parse_attr(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let inner = match (s.chars().next(), s.chars().last()) {
            (Some('('), Some(')')) | (Some('['), Some(']')) => &s[1..s.len() - 1],
            _ if s.is_empty() => return Err("; expected a tuple such as (3, 3)".into()),
            _ => s,
        };
        let mut items: Vec<&str> = inner.split(',').map(str::trim).collect();
        if items.last() == Some(&"") {
            items.pop(); // "(3,)" and "()"
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                T::parse_attr(item)
                    .map_err(|hint| format!("; element {i} ({item:?}) is invalid{hint}"))
            })
            .collect()
    }

    fn to_attr(&self) -> String {
        match self.as_slice() {
            [one] => format!("({},)", one.to_attr()),
            items => {
                let items: Vec<String> = items.iter().map(AttrValue::to_attr).collect();
                format!("({})", items.join(", "))
            }
        }
    }
}

/// One parameter of an operator, for listings and documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Its name.
    pub name: &'static str,
    /// Its type, as MXNet documents it.
    pub type_name: String,
    /// The default in MXNet's string form; `None` when the parameter is required.
    pub default: Option<String>,
    /// Its documentation (the doc comment's lines, trimmed).
    pub doc: String,
}

/// Parses an attribute dictionary parameter by parameter; [`AttrParser::finish`] rejects keys
/// no parameter asked for. Used by the code [`params!`](crate::params) generates.
#[derive(Debug)]
pub struct AttrParser<'a> {
    op: &'static str,
    given: Vec<(&'a str, &'a str, bool)>,
    known: Vec<&'static str>,
}

impl<'a> AttrParser<'a> {
    /// Starts parsing `dict` for operator `op`. For a key given twice, the last value counts.
    pub fn new(op: &'static str, dict: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        AttrParser {
            op,
            given: dict.into_iter().map(|(k, v)| (k, v, false)).collect(),
            known: Vec::new(),
        }
    }

    fn take(&mut self, name: &'static str) -> Option<&'a str> {
        self.known.push(name);
        let mut found = None;
        for (key, value, used) in &mut self.given {
            if *key == name {
                *used = true;
                found = Some(*value);
            }
        }
        found
    }

    fn parse<T: AttrValue>(&self, name: &str, value: &str) -> Result<T> {
        T::parse_attr(value).map_err(|hint| Error::BadParam {
            op: self.op.to_owned(),
            name: name.to_owned(),
            value: value.to_owned(),
            type_name: T::type_name(),
            hint,
        })
    }

    /// A required parameter.
    pub fn required<T: AttrValue>(&mut self, name: &'static str) -> Result<T> {
        match self.take(name) {
            Some(value) => self.parse(name, value),
            None => Err(Error::MissingParam {
                op: self.op.to_owned(),
                name: name.to_owned(),
                type_name: T::type_name(),
            }),
        }
    }

    /// A parameter with a default.
    pub fn or_default<T: AttrValue>(&mut self, name: &'static str, default: T) -> Result<T> {
        match self.take(name) {
            Some(value) => self.parse(name, value),
            None => Ok(default),
        }
    }

    /// Fails on a key no parameter asked for, listing the valid ones. Keys of the form
    /// `__name__` are user attributes and always allowed.
    pub fn finish(self) -> Result<()> {
        let is_user_attr =
            |key: &str| key.len() > 4 && key.starts_with("__") && key.ends_with("__");
        let unknown = self
            .given
            .iter()
            .find(|(key, _, used)| !used && !is_user_attr(key));
        match unknown {
            Some((key, _, _)) => Err(Error::UnknownParam {
                op: self.op.to_owned(),
                name: (*key).to_owned(),
                valid: if self.known.is_empty() {
                    "none".into()
                } else {
                    self.known.join(", ")
                },
            }),
            None => Ok(()),
        }
    }
}

/// Declares an enum parameter type whose variants are spelled as given (case-sensitive, as in
/// MXNet: `"ReLU"` is not `"relu"`).
#[macro_export]
macro_rules! attr_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant),+
        }

        impl $name {
            /// Every accepted spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
        }

        impl $crate::registry::attrs::AttrValue for $name {
            fn type_name() -> String {
                let names: Vec<String> = Self::NAMES.iter().map(|n| format!("'{n}'")).collect();
                format!("{{{}}}", names.join(", "))
            }

            fn parse_attr(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(String::new()),
                }
            }

            fn to_attr(&self) -> String {
                match self {
                    $($name::$variant => $text.to_string(),)+
                }
            }
        }
    };
}

/// Declares an operator's parameter struct: fields without `= default` are required. Generates
/// `parse` (from an attribute dictionary; `parse_as` for a `_backward_*` operator sharing the
/// parameters, whose errors name it), `specs` (the listing) and `to_attrs` (back to MXNet's
/// strings: required values and those that differ from their defaults, in declaration order).
/// See the [module docs](crate::registry::attrs) for an example.
#[macro_export]
macro_rules! params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident for $op:literal {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl $name {
            /// The operator these parameters belong to.
            pub const OP: &'static str = $op;

            /// Parses MXNet's attribute strings; errors name the operator these parameters
            /// belong to.
            pub fn parse<'a>(
                dict: impl IntoIterator<Item = (&'a str, &'a str)>,
            ) -> $crate::Result<Self> {
                Self::parse_as($op, dict)
            }

            /// [`parse`](Self::parse) for operator `op`, which shares these parameters (a
            /// `_backward_*` operator): errors name `op`.
            pub fn parse_as<'a>(
                op: &'static str,
                dict: impl IntoIterator<Item = (&'a str, &'a str)>,
            ) -> $crate::Result<Self> {
                let mut parser = $crate::registry::attrs::AttrParser::new(op, dict);
                let parsed = $name {
                    $($field: $crate::__param_get!(parser, $field, $ty $(, $default)?),)*
                };
                parser.finish()?;
                Ok(parsed)
            }

            /// The parameters, with MXNet's type names, defaults and docs.
            pub fn specs() -> Vec<$crate::registry::attrs::ParamSpec> {
                vec![$(
                    $crate::registry::attrs::ParamSpec {
                        name: stringify!($field),
                        type_name: <$ty as $crate::registry::attrs::AttrValue>::type_name(),
                        default: $crate::__param_default!($ty $(, $default)?),
                        doc: {
                            let lines: &[&str] = &[$($doc),*];
                            lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n")
                        },
                    },
                )*]
            }

            /// The values in MXNet's string form: required ones and those differing from their
            /// defaults.
            pub fn to_attrs(&self) -> Vec<(String, String)> {
                let mut out = Vec::new();
                $(
                    if $crate::__param_differs!(self.$field, $ty $(, $default)?) {
                        out.push((
                            stringify!($field).to_string(),
                            $crate::registry::attrs::AttrValue::to_attr(&self.$field),
                        ));
                    }
                )*
                out
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __param_get {
    ($parser:ident, $field:ident, $ty:ty) => {
        $parser.required::<$ty>(stringify!($field))?
    };
    ($parser:ident, $field:ident, $ty:ty, $default:expr) => {
        $parser.or_default::<$ty>(stringify!($field), $default)?
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __param_default {
    ($ty:ty) => {
        None
    };
    ($ty:ty, $default:expr) => {{
        let default: $ty = $default;
        Some($crate::registry::attrs::AttrValue::to_attr(&default))
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __param_differs {
    ($value:expr, $ty:ty) => {
        true
    };
    ($value:expr, $ty:ty, $default:expr) => {{
        let default: $ty = $default;
        $value != default
    }};
}

#[cfg(test)]
mod tests;
