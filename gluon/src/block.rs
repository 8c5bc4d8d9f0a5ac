//! Blocks (MXNet's `gluon.Block` and `gluon.HybridBlock`).
//!
//! A layer implements [`HybridForward`]: its [`BlockCore`] (prefix, own parameters), its
//! children, and one `hybrid_forward` generic over the [`Tensor`] it computes on. That makes
//! it a [`Block`] (called on NDArrays: imperatively, or through its bound graph once
//! hybridized) and a [`HybridBlock`] (traced into a [`Symbol`]). Blocks that only run
//! imperatively implement [`Block`] themselves.
//!
//! ```
//! use mxr::gluon::{Block, nn::{Dense, HybridSequential}};
//! use mxr::nd::NDArray;
//! let mut net = HybridSequential::new();
//! net.name_scope(|net| {
//!     net.add(Dense::new(4).activation("relu"));
//!     net.add(Dense::new(2));
//! });
//! net.initialize("xavier", mxr::engine::Context::cpu(0))?;
//! let y = net.call(&NDArray::ones(&[3, 5])?)?;
//! assert_eq!(y.shape(), &[3, 2]);
//! assert_eq!(
//!     net.collect_params().keys(),
//!     ["hybridsequential0_dense0_weight", "hybridsequential0_dense0_bias",
//!      "hybridsequential0_dense1_weight", "hybridsequential0_dense1_bias"]
//! );
//! # Ok::<(), mxr::gluon::Error>(())
//! ```

//!
//! A block of one's own (how the model zoo's networks are written): a [`BlockCore`] made
//! first, children made in its [`name_scope`](naming::name_scope), and one `hybrid_forward`.
//!
//! ```
//! use mxr::gluon::{Block, BlockCore, HybridForward, Result, Tensor, naming, single};
//! use mxr::gluon::nn::{Dense, HybridSequential};
//!
//! #[derive(Debug)]
//! struct Residual {
//!     core: BlockCore,
//!     body: HybridSequential,
//! }
//!
//! impl Residual {
//!     fn new(units: usize) -> Residual {
//!         let core = BlockCore::new("residual", None);
//!         let body = naming::name_scope(core.prefix(), || {
//!             let mut body = HybridSequential::with_prefix(Some("body_"));
//!             body.name_scope(|b| b.add(Dense::new(units).activation("relu")));
//!             body
//!         });
//!         Residual { core, body }
//!     }
//! }
//!
//! impl HybridForward for Residual {
//!     fn core(&self) -> &BlockCore {
//!         &self.core
//!     }
//!     fn children(&self) -> Vec<(String, &dyn Block)> {
//!         vec![("body".into(), &self.body as &dyn Block)]
//!     }
//!     fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
//!         let x = single(&self.core, inputs)?;
//!         let y = F::call_block(&self.body, std::slice::from_ref(x))?;
//!         Ok(vec![y[0].binary("elemwise_add", x)?])
//!     }
//! }
//!
//! let net = Residual::new(3);
//! assert_eq!(net.collect_params().keys()[0], "residual0_body_dense0_weight");
//! assert_eq!(net.structural_params()[0].0, "body.0.weight");
//! net.initialize("xavier", mxr::engine::Context::cpu(0))?;
//! let x = mxr::nd::NDArray::ones(&[2, 3])?;
//! let imperative = net.call(&x)?.to_vec::<f32>()?;
//! net.hybridize(true);
//! let hybrid = net.call(&x)?.to_vec::<f32>()?;
//! assert!(hybrid.iter().zip(&imperative).all(|(a, b)| (a - b).abs() <= 1e-6 * b.abs().max(1.0)));
//! # Ok::<(), mxr::gluon::Error>(())
//! ```

use std::path::Path;

use mxr_engine::Context;
use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::{NameManager, Symbol};

use crate::hybrid::{self, CachedGraphs};
use crate::naming::{self, block_prefix};
use crate::parameter::{ParamSpec, Parameter, ParameterDict};
use crate::tensor::Tensor;
use crate::{Error, Result, export};

/// What every block holds: its prefix, its own parameters and, once hybridized, its bound
/// graphs.
#[derive(Debug)]
pub struct BlockCore {
    prefix: String,
    /// Made with the prefix `""`: traced in the enclosing block's name scope (Gluon's
    /// `_empty_prefix`), so its automatic operator names continue the parent's counters.
    empty_prefix: bool,
    params: ParameterDict,
    pub(crate) cache: CachedGraphs,
}

impl BlockCore {
    /// The core of a new block of class `hint` (`dense`), named as Gluon names it (see
    /// [`naming`]); `prefix` overrides the automatic one.
    pub fn new(hint: &str, prefix: Option<&str>) -> BlockCore {
        let empty_prefix = prefix == Some("");
        let prefix = block_prefix(prefix, hint);
        BlockCore {
            params: ParameterDict::new(&prefix),
            prefix,
            empty_prefix,
            cache: CachedGraphs::default(),
        }
    }

    /// Declares the parameter `prefix + name` (Gluon's `self.params.get(name, ...)`).
    pub fn param(&mut self, name: &str, spec: ParamSpec) -> Parameter {
        self.params.get(name, spec)
    }

    /// Removes the parameter `prefix + name` declared earlier (a layer built without it).
    pub fn remove_param(&mut self, name: &str) {
        self.params.remove(name);
    }

    /// The prefix (`dense0_`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The block's own parameters.
    pub fn params(&self) -> &ParameterDict {
        &self.params
    }

    /// An error naming this block.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Block {
            block: self.prefix.clone(),
            reason: reason.into(),
        }
    }
}

/// A block: parameters, children, and a forward on NDArrays.
pub trait Block: std::fmt::Debug {
    /// The block's core.
    fn core(&self) -> &BlockCore;

    /// The children with their structural names (`"0"`, `"features"`), in order.
    fn children(&self) -> Vec<(String, &dyn Block)>;

    /// Runs the block on `inputs` (Gluon's `block(*inputs)`).
    fn forward(&self, inputs: &[NDArray]) -> Result<Vec<NDArray>>;

    /// The prefix (`dense0_`).
    fn prefix(&self) -> &str {
        self.core().prefix()
    }

    /// The block's own parameters.
    fn params(&self) -> &ParameterDict {
        self.core().params()
    }

    /// Runs the block on one input with one output.
    fn call(&self, x: &NDArray) -> Result<NDArray> {
        let mut out = self.forward(std::slice::from_ref(x))?;
        match out.len() {
            1 => Ok(out.swap_remove(0)),
            n => Err(self
                .core()
                .error(format!("call: expected one output, got {n}"))),
        }
    }

    /// Every parameter of the block and its descendants by full name (Gluon's
    /// `collect_params()`).
    fn collect_params(&self) -> ParameterDict {
        let mut all = ParameterDict::new(self.prefix());
        all.update(self.params());
        for (_, child) in self.children() {
            all.update(&child.collect_params());
        }
        all
    }

    /// The parameters by structural name (`0.weight`, `features.1.gamma`), as
    /// `save_parameters` writes them (Gluon's `_collect_params_with_prefix`).
    fn structural_params(&self) -> Vec<(String, Parameter)> {
        let mut out: Vec<(String, Parameter)> = self
            .params()
            .values()
            .map(|p| {
                let short = p.name().strip_prefix(self.prefix()).unwrap_or(p.name());
                (short.to_owned(), p.clone())
            })
            .collect();
        for (name, child) in self.children() {
            for (k, p) in child.structural_params() {
                out.push((format!("{name}.{k}"), p));
            }
        }
        out
    }

    /// Initialises every parameter with `init` (`"xavier"`, `"uniform"`, MXNet JSON) where the
    /// parameter has no initializer of its own; parameters with an unknown dimension wait for
    /// the first forward.
    fn initialize(&self, init: &str, context: Context) -> Result<()> {
        self.collect_params().initialize(init, context, false)
    }

    /// Turns hybridization on or off for this block and its descendants: a hybridized block
    /// called on NDArrays runs its bound graph (see [`HybridBlock`]).
    fn hybridize(&self, active: bool) {
        self.core().cache.set_active(active);
        for (_, child) in self.children() {
            child.hybridize(active);
        }
    }

    /// Runs `f` with blocks created in it named as this block's children (Gluon's
    /// `with self.name_scope():`).
    fn name_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T
    where
        Self: Sized,
    {
        let prefix = self.prefix().to_owned();
        naming::name_scope(&prefix, || f(self))
    }

    /// Saves the parameters by structural name (Gluon's `save_parameters`).
    fn save_parameters(&self, path: &Path) -> Result<()> {
        export::save_parameters(self, path)
    }

    /// Loads parameters saved by [`Block::save_parameters`] (structural names) or by full
    /// name (`collect_params().save`, `export`); a name missing from the file, one the block
    /// lacks or a shape that differs is an error naming it.
    fn load_parameters(&self, path: &Path, context: Context) -> Result<()> {
        export::load_parameters(self, path, context)
    }
}

/// A block that can also be traced into a [`Symbol`], hybridized and exported.
pub trait HybridBlock: Block {
    /// Traces the block on symbolic inputs.
    fn forward_symbol(&self, inputs: &[Symbol]) -> Result<Vec<Symbol>>;

    /// The block's graph on inputs named `data` (one input) or `data0`, `data1`, ...: the
    /// symbol that hybridization binds and `export` writes.
    /// Traced once per input count and kept (Gluon's `_cached_graph`): every trace composes
    /// the parameters' variables again, which MXNet counts in the JSON's entry versions.
    fn trace(&self, num_inputs: usize) -> Result<Symbol> {
        self.core()
            .cache
            .traced(num_inputs, || self.trace_uncached(num_inputs))
    }

    /// A fresh trace (see [`HybridBlock::trace`]).
    fn trace_uncached(&self, num_inputs: usize) -> Result<Symbol> {
        let vars: Vec<Symbol> = hybrid::input_names(num_inputs)
            .iter()
            .map(|n| Symbol::variable(n))
            .collect();
        let outs = self.forward_symbol(&vars)?;
        Ok(match outs.len() {
            1 => outs.into_iter().next().expect("one output, checked"),
            _ => Symbol::group(outs),
        })
    }

    /// Writes `prefix-symbol.json` and `prefix-NNNN.params` as Gluon's `export` does.
    fn export(&self, prefix: &str, epoch: u32) -> Result<()>
    where
        Self: Sized,
    {
        export::export(self, prefix, epoch)
    }
}

/// A layer written once for NDArrays and Symbols (Gluon's `hybrid_forward`).
pub trait HybridForward: std::fmt::Debug {
    /// The layer's core.
    fn core(&self) -> &BlockCore;

    /// Children with structural names (none for a plain layer).
    fn children(&self) -> Vec<(String, &dyn Block)> {
        Vec::new()
    }

    /// The layer's computation on `inputs`, for either kind of value.
    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>>;
}

impl<T: HybridForward> Block for T {
    fn core(&self) -> &BlockCore {
        HybridForward::core(self)
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        HybridForward::children(self)
    }

    fn forward(&self, inputs: &[NDArray]) -> Result<Vec<NDArray>> {
        if let Some(out) = hybrid::call_cached(self, inputs)? {
            return Ok(out);
        }
        hybrid::finish_deferred(self, inputs, true)?;
        self.hybrid_forward(inputs)
    }
}

impl<T: HybridForward> HybridBlock for T {
    fn forward_symbol(&self, inputs: &[Symbol]) -> Result<Vec<Symbol>> {
        // A block given the prefix "" opens no name scope of its own (Gluon's `_empty_prefix`).
        let _names =
            (!HybridForward::core(self).empty_prefix).then(|| NameManager::prefix(self.prefix()));
        self.hybrid_forward(inputs)
    }
}

/// The one input a layer takes, or an error naming the block.
pub fn single<'a, F>(core: &BlockCore, inputs: &'a [F]) -> Result<&'a F> {
    match inputs {
        [x] => Ok(x),
        _ => Err(core.error(format!("expected one input, got {}", inputs.len()))),
    }
}
