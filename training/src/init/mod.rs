//! Initializers (MXNet's `mx.init`): [`Uniform`], [`Normal`], [`Xavier`], [`MsraPrelu`],
//! [`Constant`], [`Zero`], [`One`], [`Bilinear`], [`LstmBias`], and MXNet's rules by argument
//! name.
//!
//! An [`Initializer`] supplies the rule for weights; MXNet's fixed rules cover the rest by the
//! argument's name: biases, betas, moving means 0, gammas and moving variances 1
//! ([`Initializer::initialize`] for descriptors with attributes,
//! [`Initializer::initialize_by_name`] for MXNet's legacy name-only call). Random draws come
//! from mxr's seeded generators ([`nd::random::seed`](crate::nd::random::seed)): they follow the
//! same distributions as MXNet's, not the same numbers.
//!
//! ```
//! use mxr::init::{InitDesc, Initializer, Xavier};
//! use mxr::nd::NDArray;
//! let init = Xavier::default();
//! let (w, b, var) = (NDArray::zeros(&[4, 3])?, NDArray::ones(&[4])?, NDArray::zeros(&[4])?);
//! init.initialize(&InitDesc::new("fc1_weight"), &w)?;
//! init.initialize(&InitDesc::new("fc1_bias"), &b)?;
//! // BatchNorm marks its moving variance with `__init__`: ones whatever the initializer.
//! init.initialize(&InitDesc::new("bn_moving_var").attr("__init__", r#"["one", {}]"#), &var)?;
//! assert_eq!(b.to_vec::<f32>()?, vec![0.0; 4]);
//! assert_eq!(var.to_vec::<f32>()?, vec![1.0; 4]);
//! let bound = (3.0f32 / 3.5).sqrt();
//! assert!(w.to_vec::<f32>()?.iter().all(|v| v.abs() <= bound));
//! # Ok::<(), mxr::Error>(())
//! ```

mod bilinear;
mod constant;
mod initializer;
mod json;
mod numpy;
mod random;
mod xavier;

pub use bilinear::{Bilinear, LstmBias};
pub use constant::{Constant, One, Zero};
pub use initializer::{InitDesc, Initializer};
pub use numpy::NumpyRandomState;
pub use random::{Normal, Uniform};
pub use xavier::{FactorType, MsraPrelu, RndType, Xavier};

use serde_json::{Map, Value};

use crate::{Error, Result};

/// An initializer from MXNet's JSON (`["xavier", {"magnitude": 2}]`, what
/// [`Initializer::dumps`] writes and `__init__` attributes hold) or registered name
/// (case-insensitive: `zero`/`zeros`, `one`/`ones`, `constant`, `uniform`, `normal`, `xavier`,
/// `msraprelu`, `bilinear`, `lstmbias`), with MXNet's defaults for arguments not given (MXNet's
/// `mx.init.create`).
///
/// ```
/// use mxr::init::{self, Initializer};
/// let xavier = init::create(r#"["xavier", {"factor_type": "in", "magnitude": 2.34}]"#)?;
/// assert_eq!(
///     xavier.dumps(),
///     r#"["xavier", {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.34}]"#
/// );
/// assert_eq!(init::create("Zeros")?.dumps(), r#"["zero", {}]"#);
/// assert!(init::create(r#"["xavier", {"magnitud": 2}]"#).is_err());
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn create(spec: &str) -> Result<Box<dyn Initializer>> {
    let spec = spec.trim();
    if !spec.starts_with('[') {
        return create_with(spec, &Map::new());
    }
    let bad = |reason: String| Error::InvalidArgument {
        call: "init::create",
        reason,
    };
    // Python's `json.loads`, which MXNet uses, also takes `NaN` and `Infinity`; serde_json
    // does not (an error naming the column): no initializer argument is meant to be either.
    let value: Value =
        serde_json::from_str(spec).map_err(|e| bad(format!("invalid JSON {spec:?}: {e}")))?;
    match value.as_array().map(Vec::as_slice) {
        Some([Value::String(name), Value::Object(kwargs)]) => create_with(name, kwargs),
        Some([Value::String(name)]) => create_with(name, &Map::new()),
        _ => Err(bad(format!("{spec}: expected [\"name\", {{arguments}}]"))),
    }
}

/// Reads the keyword arguments of initializer `name`.
struct Kwargs<'a> {
    name: &'a str,
    given: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Kwargs<'a> {
    fn error(&self, reason: String) -> Error {
        Error::InvalidArgument {
            call: "init::create",
            reason: format!("initializer {}: {reason}", self.name),
        }
    }

    /// Argument `key`; of repeated keys the last (serde_json's map, like Python's dict).
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.given.get(key)
    }

    fn num(&mut self, key: &'static str, default: Option<f64>) -> Result<f64> {
        match (self.get(key), default) {
            (Some(v), _) => v
                .as_f64()
                .ok_or_else(|| self.error(format!("{key} must be a number, got {v}"))),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(self.error(format!("missing argument {key}"))),
        }
    }

    fn text(&mut self, key: &'static str, default: &'static str) -> Result<&'a str> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.error(format!("{key} must be a string, got {other}"))),
            None => Ok(default),
        }
    }

    fn finish(self) -> Result<()> {
        match self
            .given
            .iter()
            .find(|(k, _)| !self.known.contains(&k.as_str()))
        {
            Some((k, _)) => Err(self.error(format!(
                "unexpected argument {k} (expected: {})",
                if self.known.is_empty() {
                    "none".to_string()
                } else {
                    self.known.join(", ")
                }
            ))),
            None => Ok(()),
        }
    }
}

fn create_with(name: &str, kwargs: &Map<String, Value>) -> Result<Box<dyn Initializer>> {
    let lower = name.to_ascii_lowercase();
    let mut args = Kwargs {
        name,
        given: kwargs,
        known: Vec::new(),
    };
    let init: Box<dyn Initializer> = match lower.as_str() {
        "zero" | "zeros" => Box::new(Zero),
        "one" | "ones" => Box::new(One),
        "constant" => Box::new(Constant::new(args.num("value", None)?)),
        "uniform" => Box::new(Uniform::new(args.num("scale", Some(0.07))?)),
        "normal" => Box::new(Normal::new(args.num("sigma", Some(0.01))?)),
        "xavier" => {
            let rnd_type = RndType::parse(args.text("rnd_type", "uniform")?)?;
            let factor_type = FactorType::parse(args.text("factor_type", "avg")?)?;
            Box::new(Xavier::new(
                rnd_type,
                factor_type,
                args.num("magnitude", Some(3.0))?,
            ))
        }
        "msraprelu" => {
            let factor_type = FactorType::parse(args.text("factor_type", "avg")?)?;
            Box::new(MsraPrelu::new(factor_type, args.num("slope", Some(0.25))?))
        }
        "bilinear" => Box::new(Bilinear),
        "lstmbias" => Box::new(LstmBias::new(args.num("forget_bias", Some(1.0))?)),
        _ => {
            return Err(Error::InvalidArgument {
                call: "init::create",
                reason: format!(
                    "unknown initializer {name:?} (known: zero, one, constant, uniform, normal, \
                     xavier, msraprelu, bilinear, lstmbias)"
                ),
            });
        }
    };
    args.finish()?;
    Ok(init)
}

#[cfg(test)]
mod tests;
