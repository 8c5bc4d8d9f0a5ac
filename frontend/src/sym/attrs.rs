//! Attributes: the attribute scope (MXNet's `mx.AttrScope`), the hidden keys (`lr_mult` is
//! stored as `__lr_mult__`), and parameter values written the way MXNet's Python frontend
//! writes them (`str(value)`: `True`, `(3, 3)`, `0.5`, `1e-07`).
//!
//! ```
//! use mxr::sym::{AttrScope, Symbol};
//! let _stage = AttrScope::new(&[("ctx_group", "stage1"), ("lr_mult", "0.1")])?;
//! let w = Symbol::variable("w");
//! assert_eq!(w.attr("__ctx_group__").as_deref(), Some("stage1"));
//! assert_eq!(w.attr("lr_mult").as_deref(), Some("0.1")); // found under __lr_mult__
//! # Ok::<(), mxr::Error>(())
//! ```

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use mxr_kernels::DType;
use mxr_operators::registry::attrs::python_float;

use crate::{Error, Result};

/// Attribute keys MXNet stores with double underscores (`lr_mult` → `__lr_mult__`) when given
/// as operator keywords, through an attribute scope or `set_attr`.
pub(crate) const HIDDEN_KEYS: [&str; 5] = [
    "ctx_group",
    "lr_mult",
    "wd_mult",
    "force_mirroring",
    "mirror_stage",
];

fn deprecated(call: &'static str, key: &str, hidden: &str) -> Error {
    let input = &key[..key.len() - hidden.len()].trim_end_matches('_');
    Error::InvalidArgument {
        call,
        reason: format!(
            "setting variable attributes with `{key}` is deprecated; create the input as \
             Symbol::var(..).{hidden}(..) and pass it as `{input}`"
        ),
    }
}

/// The key an operator's keyword is stored under (MXNet's `MXSymbolCreateAtomicSymbol`): a key
/// starting with a hidden key becomes `__key__`; one merely ending in a hidden key
/// (`weight_lr_mult`) is rejected.
pub(crate) fn op_key(key: &str) -> Result<String> {
    for hidden in HIDDEN_KEYS {
        match key.rfind(hidden) {
            Some(0) => return Ok(format!("__{key}__")),
            Some(pos) if pos + hidden.len() == key.len() => {
                return Err(deprecated("Symbol::op", key, hidden));
            }
            _ => {}
        }
    }
    Ok(key.to_owned())
}

/// The key an attribute is set under (MXNet's `MXSymbolSetAttr`): a hidden key becomes
/// `__key__`; a key ending in a hidden key (`weight_lr_mult`) is rejected.
pub(crate) fn attr_key(key: &str) -> Result<String> {
    for hidden in HIDDEN_KEYS {
        match key.rfind(hidden) {
            Some(0) if key.len() == hidden.len() => return Ok(format!("__{key}__")),
            Some(pos) if pos > 0 && pos + hidden.len() == key.len() => {
                return Err(deprecated("Symbol::set_attr", key, hidden));
            }
            _ => {}
        }
    }
    Ok(key.to_owned())
}

/// For `__ctx_group__` and the other stored hidden keys, the plain key (`ctx_group`).
pub(crate) fn plain_hidden_key(key: &str) -> Option<&'static str> {
    let inner = key.strip_prefix("__")?.strip_suffix("__")?;
    HIDDEN_KEYS.into_iter().find(|h| *h == inner)
}

/// Whether `key` is a free-form user attribute (`__name__`).
pub(crate) fn is_user_attr(key: &str) -> bool {
    key.len() > 4 && key.starts_with("__") && key.ends_with("__")
}

thread_local! {
    static SCOPE: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// An attribute scope: while the guard lives, every operator and variable this thread creates
/// gets these attributes (merged over the enclosing scope's, inner values winning; operators
/// pass them on to the input variables they create). Hidden keys are stored with double
/// underscores (`ctx_group` → `__ctx_group__`). MXNet's `with mx.AttrScope(**attrs):`.
#[derive(Debug)]
#[must_use = "the scope ends when the guard is dropped; bind it with `let _scope = ...`"]
pub struct AttrScope {
    previous: Option<Vec<(String, String)>>,
    _not_send: PhantomData<*const ()>,
}

impl AttrScope {
    /// Opens a scope with `attrs` on top of the current one. A key that only ends in a hidden
    /// key (`weight_lr_mult`) is an error, as MXNet rejects it when the first symbol is made.
    pub fn new(attrs: &[(&str, &str)]) -> Result<AttrScope> {
        for (key, _) in attrs {
            attr_key(key)?;
        }
        let mut merged = AttrScope::current();
        merge(&mut merged, attrs.iter().map(|(k, v)| (*k, *v)));
        let previous = SCOPE.with(|s| s.replace(merged));
        Ok(AttrScope {
            previous: Some(previous),
            _not_send: PhantomData,
        })
    }

    /// The attributes of this thread's current scope, in the order they were given.
    pub fn current() -> Vec<(String, String)> {
        SCOPE.with(|s| s.borrow().clone())
    }
}

impl Drop for AttrScope {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            SCOPE.with(|s| *s.borrow_mut() = previous);
        }
    }
}

/// Python's `dict.update`: existing keys keep their position and take the new value.
pub(crate) fn merge<'a>(
    into: &mut Vec<(String, String)>,
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (k, v) in items {
        match into.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_owned(),
            None => into.push((k.to_owned(), v.to_owned())),
        }
    }
}

/// A value as MXNet's Python frontend writes it into an attribute (`str(value)`): `True`,
/// `128`, `0.5`, `1e-07`, tuples as `(3, 3)` / `(3,)`, dtypes by name.
///
/// ```
/// use mxr::sym::ParamValue;
/// assert_eq!(true.to_param(), "True");
/// assert_eq!([3, 3].to_param(), "(3, 3)");
/// assert_eq!([5usize].to_param(), "(5,)");
/// assert_eq!(0.1.to_param(), "0.1");
/// assert_eq!(2.0.to_param(), "2.0");
/// assert_eq!(1e-7.to_param(), "1e-07");
/// assert_eq!("relu".to_param(), "relu");
/// ```
pub trait ParamValue {
    /// The attribute string.
    fn to_param(&self) -> String;
}

impl ParamValue for bool {
    fn to_param(&self) -> String {
        if *self { "True".into() } else { "False".into() }
    }
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn to_param(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

int_param!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl ParamValue for f64 {
    fn to_param(&self) -> String {
        python_float(*self)
    }
}

impl ParamValue for f32 {
    fn to_param(&self) -> String {
        // The f32's own shortest digits, as numpy's float32 prints.
        python_float(*self)
    }
}

impl ParamValue for str {
    fn to_param(&self) -> String {
        self.to_owned()
    }
}

impl ParamValue for String {
    fn to_param(&self) -> String {
        self.clone()
    }
}

impl ParamValue for DType {
    fn to_param(&self) -> String {
        self.name().to_owned()
    }
}

impl<T: ParamValue + ?Sized> ParamValue for &T {
    fn to_param(&self) -> String {
        (**self).to_param()
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    fn to_param(&self) -> String {
        self.as_ref()
            .map_or_else(|| "None".into(), ParamValue::to_param)
    }
}

/// A Python tuple: `(3, 3)`, `(3,)`, `()`.
impl<T: ParamValue> ParamValue for [T] {
    fn to_param(&self) -> String {
        match self {
            [one] => format!("({},)", one.to_param()),
            items => {
                let items: Vec<String> = items.iter().map(ParamValue::to_param).collect();
                format!("({})", items.join(", "))
            }
        }
    }
}

impl<T: ParamValue, const N: usize> ParamValue for [T; N] {
    fn to_param(&self) -> String {
        self.as_slice().to_param()
    }
}

impl<T: ParamValue> ParamValue for Vec<T> {
    fn to_param(&self) -> String {
        self.as_slice().to_param()
    }
}

/// A Python number: an `int` or a `float`, which MXNet writes differently (`2` vs `2.0`).
/// Rust integer literals become `Int`, float literals `Float`.
///
/// ```
/// use mxr::sym::Scalar;
/// assert_eq!(Scalar::from(5).to_string(), "5");
/// assert_eq!(Scalar::from(-1.0).to_string(), "-1.0");
/// assert_eq!(Scalar::from(2.5e16).to_string(), "2.5e+16");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A Python `int`.
    Int(i64),
    /// A Python `float`.
    Float(f64),
}

impl From<i32> for Scalar {
    fn from(v: i32) -> Scalar {
        Scalar::Int(v.into())
    }
}

impl From<i64> for Scalar {
    fn from(v: i64) -> Scalar {
        Scalar::Int(v)
    }
}

impl From<u32> for Scalar {
    fn from(v: u32) -> Scalar {
        Scalar::Int(v.into())
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Scalar {
        Scalar::Float(v)
    }
}

impl From<f32> for Scalar {
    fn from(v: f32) -> Scalar {
        // Through the f32's shortest digits, so 0.1f32 stays 0.1.
        Scalar::Float(format!("{v:e}").parse().unwrap_or(f64::from(v)))
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Float(v) => f.write_str(&v.to_param()),
        }
    }
}

impl ParamValue for Scalar {
    fn to_param(&self) -> String {
        self.to_string()
    }
}

/// Parses a shape attribute (`__shape__`: `(2, 3)`, `[2,3]`, `(3,)`, `()`) in MXNet's legacy
/// form: `None` per unknown (0 or negative) dimension; `None` overall for an unknown shape.
pub(crate) fn parse_shape_attr(text: &str) -> Option<Option<Vec<Option<usize>>>> {
    let t = text.trim();
    let inner = t
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .or_else(|| t.strip_prefix('[').and_then(|s| s.strip_suffix(']')))?;
    let mut dims = Vec::new();
    for item in inner.split(',') {
        let item = item.trim().trim_end_matches(['L', 'l']);
        if item.is_empty() {
            continue;
        }
        let v: i64 = item.parse().ok()?;
        dims.push(usize::try_from(v).ok().filter(|&d| d > 0));
    }
    Some((!dims.is_empty()).then_some(dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (2.5e16, "2.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-7, "1e-07"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
        ];
        for (x, want) in cases {
            assert_eq!(x.to_param(), want, "{x:e}");
        }
        assert_eq!(0.1f32.to_param(), "0.1");
    }

    #[test]
    fn keys_follow_mxnet() {
        assert_eq!(op_key("lr_mult").unwrap(), "__lr_mult__");
        assert_eq!(op_key("lr_mult_x").unwrap(), "__lr_mult_x__");
        assert_eq!(op_key("num_hidden").unwrap(), "num_hidden");
        assert!(op_key("weight_lr_mult").is_err());
        assert_eq!(attr_key("ctx_group").unwrap(), "__ctx_group__");
        assert_eq!(attr_key("__lr_mult__").unwrap(), "__lr_mult__");
        assert_eq!(attr_key("lr_mult_x").unwrap(), "lr_mult_x");
        assert!(attr_key("data_wd_mult").is_err());
        assert_eq!(plain_hidden_key("__wd_mult__"), Some("wd_mult"));
        assert_eq!(plain_hidden_key("__init__"), None);
    }

    #[test]
    fn shape_attrs_parse() {
        assert_eq!(
            parse_shape_attr("(2, 3)"),
            Some(Some(vec![Some(2), Some(3)]))
        );
        assert_eq!(parse_shape_attr("[0,3]"), Some(Some(vec![None, Some(3)])));
        assert_eq!(parse_shape_attr("(5,)"), Some(Some(vec![Some(5)])));
        assert_eq!(parse_shape_attr("()"), Some(None));
        assert_eq!(parse_shape_attr("2, 3"), None);
        assert_eq!(parse_shape_attr("(a, 3)"), None);
    }
}
