//! mxr-gluon: MXNet's Gluon API (`mx.gluon`) over mxr's frontends, reached as `mxr::gluon`.
//!
//! - [`Parameter`] / [`ParameterDict`]: named parameters with deferred shapes, gradient
//!   requests, multipliers and initializers by name.
//! - [`Block`], [`HybridBlock`] and [`HybridForward`]: a layer's computation written once over
//!   a [`Tensor`] that is an NDArray (imperative) or a Symbol (traced), with Gluon's names.
//! - [`nn`]: layers; [`model_zoo`]: MXNet's vision networks; [`loss`]: losses; [`autograd`]:
//!   recording and gradients; [`Trainer`]: optimizer steps over the parameters.
//! - Hybridization (a block bound as one graph through the executor), `export`,
//!   `save_parameters` / `load_parameters`, and [`SymbolBlock`] to load an export.
//!
//! ```
//! use mxr::gluon::{Block, Trainer, autograd, loss::{Loss, L2Loss}, nn::{Dense, HybridSequential}};
//! use mxr::nd::NDArray;
//! let mut net = HybridSequential::new();
//! net.name_scope(|net| {
//!     net.add(Dense::new(8).activation("relu"));
//!     net.add(Dense::new(1));
//! });
//! net.initialize("xavier", mxr::engine::Context::cpu(0))?;
//! let mut trainer = Trainer::new(&net.collect_params(), "sgd", &[("learning_rate", 0.1)])?;
//! let (x, y) = (NDArray::ones(&[4, 3])?, NDArray::zeros(&[4, 1])?);
//! let l = {
//!     let _rec = autograd::record();
//!     L2Loss::new().loss(&net.call(&x)?, &y)?
//! };
//! autograd::backward(&[&l])?;
//! trainer.step(4)?;
//! # Ok::<(), mxr::gluon::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod autograd;
mod block;
mod error;
mod export;
mod hybrid;
pub mod loss;
pub mod model_zoo;
pub mod naming;
pub mod nn;
mod parameter;
mod symbol_block;
mod tensor;
mod trainer;

pub use block::{Block, BlockCore, HybridBlock, HybridForward, single};
pub use error::{Error, Result};
pub use parameter::{ParamSpec, Parameter, ParameterDict};
pub use symbol_block::SymbolBlock;
pub use tensor::Tensor;
pub use trainer::Trainer;
