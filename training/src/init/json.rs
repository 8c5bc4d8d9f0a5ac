//! MXNet's JSON form of initializers (`["xavier", {"magnitude": 3}]`): Python-style number
//! formatting for `dumps` ([`create`](super::create) reads it with serde_json).

use mxr_operators::registry::attrs::python_float;

/// `v` as Python's `json.dumps` writes a float: [`python_float`]'s `repr` digits (`0.07`,
/// `1.0`, `1e-08`, `1e+16`), with JSON's `NaN` and `Infinity` spellings.
pub(crate) fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    python_float(v)
}

/// Like [`py_float`], but integral values as integers (`3`), as Python writes the integer
/// defaults and arguments MXNet's examples use (`Xavier(magnitude=3)`, `Constant(3)`).
pub(crate) fn py_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{}", v as i64)
    } else {
        py_float(v)
    }
}
