//! Parameters (MXNet's `gluon.Parameter`) and their dictionaries (`gluon.ParameterDict`).
//!
//! A [`Parameter`] is a shared handle (clones share the value): a full name (`dense0_weight`),
//! a shape where 0 marks a dimension not known yet (deferred initialisation: the shape is
//! inferred at the block's first forward, then the value is made), a dtype, a gradient request,
//! learning-rate and weight-decay multipliers and its own initializer (`"zeros"`, or none: the
//! one given to `initialize`). Its value and gradient are arrays made once: loading and
//! re-initialising assign into them, so executors bound to them stay valid.

use std::sync::Arc;

use mxr_engine::Context;
use mxr_frontend::DType;
use mxr_frontend::exec::GradReq;
use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::Symbol;
use mxr_train::init::{self, Initializer};
use parking_lot::Mutex;

use crate::autograd;
use crate::{Error, Result};

/// How a parameter is declared (Gluon's `Parameter(...)` / `params.get(...)` arguments).
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// The shape; 0 marks a dimension inferred at the first forward.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: DType,
    /// The gradient request (`Null` for auxiliary states such as BatchNorm's running mean).
    pub grad_req: GradReq,
    /// The parameter's own initializer (`"zeros"`, `"ones"`, MXNet JSON); `None`: the one given
    /// to `initialize`.
    pub init: Option<String>,
    /// Multiplier of the learning rate.
    pub lr_mult: f64,
    /// Multiplier of the weight decay.
    pub wd_mult: f64,
}

impl ParamSpec {
    /// A float32 parameter of `shape` with Gluon's defaults (gradient written, multipliers 1).
    pub fn new(shape: &[usize]) -> ParamSpec {
        ParamSpec {
            shape: shape.to_vec(),
            dtype: DType::F32,
            grad_req: GradReq::Write,
            init: None,
            lr_mult: 1.0,
            wd_mult: 1.0,
        }
    }

    /// With its own initializer.
    pub fn init(mut self, init: &str) -> ParamSpec {
        self.init = Some(init.to_owned());
        self
    }

    /// With a gradient request.
    pub fn grad_req(mut self, req: GradReq) -> ParamSpec {
        self.grad_req = req;
        self
    }

    /// With an element type.
    pub fn dtype(mut self, dtype: DType) -> ParamSpec {
        self.dtype = dtype;
        self
    }
}

#[derive(Debug)]
struct State {
    spec: ParamSpec,
    data: Option<NDArray>,
    grad: Option<NDArray>,
    /// Set by `initialize` while the shape is unknown: the initializer and context to finish
    /// with once it is.
    deferred: Option<(Arc<dyn Initializer>, Context)>,
    /// The variable, made once (its `__shape__` is the shape when first traced, as in Gluon).
    var: Option<Symbol>,
}

impl Drop for State {
    fn drop(&mut self) {
        if let (Some(data), Some(_)) = (&self.data, &self.grad) {
            autograd::unmark_variable(data);
        }
    }
}

/// A parameter of a block: a shared handle to its value, gradient and settings.
///
/// ```
/// use mxr::gluon::{Parameter, ParamSpec};
/// let p = Parameter::new("fc_weight", ParamSpec::new(&[2, 0]));
/// assert!(p.data().unwrap_err().to_string().contains("fc_weight"));
/// p.initialize("xavier", mxr::engine::Context::cpu(0), false)?; // deferred: shape unknown
/// p.set_shape(&[2, 3])?;
/// p.finish_deferred_init()?;
/// assert_eq!(p.data()?.shape(), &[2, 3]);
/// # Ok::<(), mxr::gluon::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Parameter {
    name: Arc<str>,
    state: Arc<Mutex<State>>,
}

impl Parameter {
    /// A parameter named `name` (the full name, prefix included).
    pub fn new(name: &str, spec: ParamSpec) -> Parameter {
        Parameter {
            name: name.into(),
            state: Arc::new(Mutex::new(State {
                spec,
                data: None,
                grad: None,
                deferred: None,
                var: None,
            })),
        }
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Parameter {
            param: self.name.to_string(),
            reason: reason.into(),
        }
    }

    /// The full name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shape, 0 where not known yet.
    pub fn shape(&self) -> Vec<usize> {
        self.state.lock().spec.shape.clone()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.state.lock().spec.dtype
    }

    /// The gradient request.
    pub fn grad_req(&self) -> GradReq {
        self.state.lock().spec.grad_req
    }

    /// Sets the gradient request (before initialisation; `ParameterDict::set_grad_req` also
    /// re-marks initialised parameters).
    pub fn set_grad_req(&self, req: GradReq) {
        self.state.lock().spec.grad_req = req;
    }

    /// The learning-rate multiplier.
    pub fn lr_mult(&self) -> f64 {
        self.state.lock().spec.lr_mult
    }

    /// The weight-decay multiplier.
    pub fn wd_mult(&self) -> f64 {
        self.state.lock().spec.wd_mult
    }

    /// Sets the learning-rate multiplier.
    pub fn set_lr_mult(&self, mult: f64) {
        self.state.lock().spec.lr_mult = mult;
    }

    /// Sets the weight-decay multiplier.
    pub fn set_wd_mult(&self, mult: f64) {
        self.state.lock().spec.wd_mult = mult;
    }

    /// Sets the parameter's own initializer (before initialisation).
    pub fn set_init(&self, init: Option<&str>) {
        self.state.lock().spec.init = init.map(str::to_owned);
    }

    /// The parameter's own initializer, if any.
    pub fn init(&self) -> Option<String> {
        self.state.lock().spec.init.clone()
    }

    /// Whether the value exists.
    pub fn is_initialized(&self) -> bool {
        self.state.lock().data.is_some()
    }

    /// Whether `initialize` was called but waits for the shape.
    pub fn is_deferred(&self) -> bool {
        self.state.lock().deferred.is_some()
    }

    /// Fills in unknown (0) dimensions; a known dimension that differs is an error (Gluon's
    /// shape setter).
    pub fn set_shape(&self, shape: &[usize]) -> Result<()> {
        let mut st = self.state.lock();
        let old = &st.spec.shape;
        let fits =
            old.len() == shape.len() && old.iter().zip(shape).all(|(&o, &n)| o == 0 || o == n);
        if !fits && !old.is_empty() {
            return Err(self.error(format!(
                "expected shape {old:?} is incompatible with given shape {shape:?}"
            )));
        }
        st.spec.shape = shape.to_vec();
        Ok(())
    }

    /// Declares the shape anew, before initialisation (a layer option that changes it, such
    /// as a transposed convolution's `groups`).
    pub(crate) fn redeclare_shape(&self, shape: &[usize]) {
        self.state.lock().spec.shape = shape.to_vec();
    }

    /// Makes the value on `context` with the parameter's own initializer, else `default`
    /// (a name such as `"xavier"` or MXNet JSON); deferred until [`Parameter::set_shape`]
    /// completes the shape when a dimension is unknown. Already initialised: nothing, unless
    /// `force_reinit` (then the values are redrawn into the same arrays).
    pub fn initialize(&self, default: &str, context: Context, force_reinit: bool) -> Result<()> {
        let init: Arc<dyn Initializer> = Arc::from(init::create(default)?);
        self.initialize_with(init, context, force_reinit)
    }

    /// [`Parameter::initialize`] with an initializer value.
    pub fn initialize_with(
        &self,
        default: Arc<dyn Initializer>,
        context: Context,
        force_reinit: bool,
    ) -> Result<()> {
        {
            let mut st = self.state.lock();
            if st.data.is_some() && !force_reinit {
                return Ok(());
            }
            st.deferred = Some((default, context));
        }
        if self.shape().contains(&0) || self.shape().is_empty() {
            return Ok(());
        }
        self.finish_deferred_init()
    }

    /// Makes the value of a deferred parameter now that its shape is known; nothing when none
    /// is pending. An unknown dimension left is an error naming the parameter.
    pub fn finish_deferred_init(&self) -> Result<()> {
        let mut st = self.state.lock();
        let Some((default, context)) = st.deferred.take() else {
            return Ok(());
        };
        let shape = st.spec.shape.clone();
        if shape.is_empty() || shape.contains(&0) {
            st.deferred = Some((default, context));
            return Err(self.error(format!(
                "cannot initialize: shape {shape:?} is still unknown after inference \
                 (give in_units/in_channels, or call the block on data first)"
            )));
        }
        let data = match &st.data {
            Some(d) if d.shape() == shape.as_slice() => d.clone(),
            _ => NDArray::new(&shape, st.spec.dtype, context)?,
        };
        match &st.spec.init {
            Some(own) => init::create(own)?.init_weight(&self.name, &data)?,
            None => default.init_weight(&self.name, &data)?,
        }
        if st.spec.grad_req != GradReq::Null {
            let grad = match &st.grad {
                Some(g) if g.shape() == shape.as_slice() => g.clone(),
                _ => NDArray::new(&shape, st.spec.dtype, context)?,
            };
            autograd::mark_variable(&data, &grad, st.spec.grad_req);
            st.grad = Some(grad);
        }
        st.data = Some(data);
        Ok(())
    }

    /// The value. Before initialisation, an error naming the parameter.
    pub fn data(&self) -> Result<NDArray> {
        let st = self.state.lock();
        match (&st.data, &st.deferred) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(_)) => Err(self.error(format!(
                "deferred initialization: shape {:?} is not known until the first forward",
                st.spec.shape
            ))),
            (None, None) => Err(self.error(
                "has not been initialized: call initialize() on the block or its \
                 collect_params() first",
            )),
        }
    }

    /// The gradient array (written by `autograd::backward`). An error when not initialised or
    /// when `grad_req` is null.
    pub fn grad(&self) -> Result<NDArray> {
        self.data()?;
        self.state.lock().grad.clone().ok_or_else(|| {
            self.error("has no gradient: its grad_req is null (an auxiliary state or frozen)")
        })
    }

    /// Copies `value` into the parameter (Gluon's `set_data`); an uninitialised parameter
    /// takes a copy of it as its value. A shape that does not fit is an error.
    pub fn set_data(&self, value: &NDArray) -> Result<()> {
        if let Ok(d) = self.data() {
            if d.shape() != value.shape() {
                return Err(self.error(format!(
                    "shape incompatible: expected {:?}, given {:?}",
                    d.shape(),
                    value.shape()
                )));
            }
            d.assign(value)?;
            return Ok(());
        }
        self.set_shape(value.shape())?;
        let context = value.context();
        let mut st = self.state.lock();
        let data = NDArray::new(value.shape(), st.spec.dtype, context)?;
        data.assign(value)?;
        if st.spec.grad_req != GradReq::Null {
            let grad = NDArray::new(value.shape(), st.spec.dtype, context)?;
            autograd::mark_variable(&data, &grad, st.spec.grad_req);
            st.grad = Some(grad);
        }
        st.deferred = None;
        st.data = Some(data);
        Ok(())
    }

    /// Sets the gradient to zero (Gluon's `zero_grad`).
    pub fn zero_grad(&self) -> Result<()> {
        if let Some(g) = &self.state.lock().grad {
            g.assign_scalar(0.0)?;
        }
        Ok(())
    }

    /// The symbol variable of this parameter with Gluon's hints (`__shape__`, `__dtype__`,
    /// `__lr_mult__`, `__wd_mult__`, `__init__`, `__storage_type__`), made once.
    pub fn var(&self) -> Result<Symbol> {
        let mut st = self.state.lock();
        if let Some(v) = &st.var {
            return Ok(v.clone());
        }
        let spec = &st.spec;
        let mut b = Symbol::var(&self.name)
            .shape(&spec.shape)
            .dtype(spec.dtype)
            .lr_mult(spec.lr_mult)
            .wd_mult(spec.wd_mult)
            .storage_type(0);
        if let Some(init) = &spec.init {
            b = b.init(init);
        }
        let v = b.build()?;
        st.var = Some(v.clone());
        Ok(v)
    }
}

/// An ordered set of parameters under a prefix (Gluon's `ParameterDict`).
///
/// ```
/// use mxr::gluon::{ParameterDict, ParamSpec};
/// let mut d = ParameterDict::new("dense0_");
/// let w = d.get("weight", ParamSpec::new(&[4, 0]));
/// assert_eq!(w.name(), "dense0_weight");
/// assert_eq!(d.select(".*weight").keys(), ["dense0_weight"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParameterDict {
    prefix: String,
    params: Vec<(String, Parameter)>,
}

impl ParameterDict {
    /// An empty dictionary whose `get` names parameters `prefix` + name.
    pub fn new(prefix: &str) -> ParameterDict {
        ParameterDict {
            prefix: prefix.to_owned(),
            params: Vec::new(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The parameter `prefix + name`, made from `spec` when absent (Gluon's `get`).
    pub fn get(&mut self, name: &str, spec: ParamSpec) -> Parameter {
        let full = format!("{}{name}", self.prefix);
        if let Some((_, p)) = self.params.iter().find(|(n, _)| *n == full) {
            return p.clone();
        }
        let p = Parameter::new(&full, spec);
        self.params.push((full, p.clone()));
        p
    }

    /// Adds a parameter under its full name (a second one of that name is ignored, as when
    /// blocks share parameters).
    pub fn insert(&mut self, param: Parameter) {
        if !self.params.iter().any(|(n, _)| n == param.name()) {
            self.params.push((param.name().to_owned(), param));
        }
    }

    /// Removes the parameter `prefix + name` (a layer built without it, e.g. no bias).
    pub(crate) fn remove(&mut self, name: &str) {
        let full = format!("{}{name}", self.prefix);
        self.params.retain(|(n, _)| *n != full);
    }

    /// Adds every parameter of `other`.
    pub fn update(&mut self, other: &ParameterDict) {
        for (_, p) in &other.params {
            self.insert(p.clone());
        }
    }

    /// The parameter with this full name.
    pub fn by_name(&self, name: &str) -> Option<&Parameter> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// The full names, in order.
    pub fn keys(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The parameters, in order.
    pub fn values(&self) -> impl Iterator<Item = &Parameter> {
        self.params.iter().map(|(_, p)| p)
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The parameters whose names match `pattern` from their start (Python's `re.match`), for
    /// the patterns Gluon code uses: alternatives separated by `|`, `.*` for any text, and a
    /// final `$` to anchor the end (`".*weight|.*bias"`, `"dense0_.*"`).
    pub fn select(&self, pattern: &str) -> ParameterDict {
        let mut out = ParameterDict::new(&self.prefix);
        for (name, p) in &self.params {
            if pattern.split('|').any(|alt| pattern_match(alt, name)) {
                out.params.push((name.clone(), p.clone()));
            }
        }
        out
    }

    /// Initialises every parameter (see [`Parameter::initialize`]).
    pub fn initialize(&self, init: &str, context: Context, force_reinit: bool) -> Result<()> {
        let init: Arc<dyn Initializer> = Arc::from(init::create(init)?);
        for p in self.values() {
            p.initialize_with(Arc::clone(&init), context, force_reinit)?;
        }
        Ok(())
    }

    /// Zeroes every gradient.
    pub fn zero_grad(&self) -> Result<()> {
        self.values().try_for_each(Parameter::zero_grad)
    }

    /// Sets the gradient request of every parameter that has one (`Null` freezes them).
    pub fn set_grad_req(&self, req: GradReq) {
        for p in self.values() {
            let mut st = p.state.lock();
            if st.spec.grad_req != GradReq::Null || st.grad.is_some() {
                st.spec.grad_req = req;
                if let (Some(d), Some(g)) = (&st.data, &st.grad) {
                    autograd::mark_variable(d, g, req);
                }
            }
        }
    }
}

/// `re.match(alt, name)` for literal text with `.*` and an optional final `$`.
fn pattern_match(alt: &str, name: &str) -> bool {
    let (alt, anchored) = match alt.strip_suffix('$') {
        Some(a) => (a, true),
        None => (alt, false),
    };
    let pieces: Vec<&str> = alt.split(".*").collect();
    let Some((first, rest)) = pieces.split_first() else {
        return true;
    };
    let Some(mut tail) = name.strip_prefix(first) else {
        return false;
    };
    for (i, piece) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if last && anchored {
            return tail.ends_with(piece);
        }
        match tail.find(piece) {
            Some(at) => tail = &tail[at + piece.len()..],
            None => return false,
        }
    }
    !anchored || tail.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_follows_re_match() {
        assert!(pattern_match(".*weight", "dense0_weight"));
        assert!(!pattern_match("weight", "dense0_weight"));
        assert!(pattern_match("dense0_", "dense0_weight"));
        assert!(!pattern_match("dense0_$", "dense0_weight"));
        assert!(pattern_match(".*_bias$", "dense0_bias"));
        assert!(!pattern_match(".*_bias$", "dense0_bias2"));
        assert!(pattern_match("dense.*_w.*", "dense1_weight"));
    }

    #[test]
    fn shape_mismatch_names_the_parameter() {
        let p = Parameter::new("conv0_weight", ParamSpec::new(&[2, 0, 3, 3]));
        p.set_shape(&[2, 5, 3, 3]).unwrap();
        let err = p.set_shape(&[3, 5, 3, 3]).unwrap_err().to_string();
        assert!(
            err.contains("conv0_weight") && err.contains("incompatible"),
            "{err}"
        );
    }
}
