//! mxr-plugin-abi: the C ABI between mxr and operator plugins, and a safe Rust layer over it.
//!
//! A plugin is a shared library (`cdylib`) that mxr loads at run time
//! (`mxr::plugin::load(path)`, `MXR_PLUGINS=a.so:b.so`, `mxr exec --plugin a.so`). It exports
//! two C functions: [`VERSION_SYMBOL`] returning the [`ABI_VERSION`] it was built for, and
//! [`REGISTER_SYMBOL`], which describes each operator with an [`OpDesc`] through the host's
//! [`HostApi`]. A plugin never links mxr itself (nor a second copy of its operator registry):
//! only the `#[repr(C)]` types of [`ffi`] cross the boundary, so plugins may be written in C too.
//!
//! In Rust, implement [`Op`] for each operator and list them in [`export_plugin!`]; every entry
//! point then catches panics and reports errors as messages the host shows with the operator's
//! name:
//!
//! ```
//! use mxr_plugin_abi::{Backward, CallCtx, Forward, Op, OpInfo, ParamInfo, Params, Result, Shape};
//!
//! /// y = scale · x
//! struct Scale { scale: f32 }
//!
//! impl Op for Scale {
//!     fn info() -> OpInfo {
//!         OpInfo {
//!             name: "doc_scale",
//!             description: "Multiplies by a constant.",
//!             inputs: &["data"],
//!             outputs: &["output"],
//!             aux: &[],
//!             params: vec![ParamInfo::optional("scale", "float", "2.0", "The factor.")],
//!             cuda: None,
//!         }
//!     }
//!     fn create(params: &Params) -> Result<Self> {
//!         Ok(Scale { scale: params.float("scale")? as f32 })
//!     }
//!     fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
//!         outputs[0] = inputs[0].clone();
//!         Ok(())
//!     }
//!     fn forward(&self, _: &CallCtx, t: Forward<'_, '_>) -> Result<()> {
//!         let x = t.inputs[0].as_slice::<f32>()?;
//!         for (y, x) in t.outputs[0].as_mut_slice::<f32>()?.iter_mut().zip(x) {
//!             *y = self.scale * x;
//!         }
//!         Ok(())
//!     }
//!     const HAS_BACKWARD: bool = true;
//!     fn backward(&self, _: &CallCtx, t: Backward<'_, '_>) -> Result<()> {
//!         let g = t.ograds[0].as_slice::<f32>()?;
//!         for (d, g) in t.igrads[0].as_mut_slice::<f32>()?.iter_mut().zip(g) {
//!             *d = self.scale * g;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! mxr_plugin_abi::export_plugin!(Scale);
//!
//! # fn main() {
//! assert_eq!(mxr_plugin_abi_version(), mxr_plugin_abi::ABI_VERSION);
//! let op = Scale::create(&Params::new([("scale", "3")])).unwrap();
//! assert_eq!(op.scale, 3.0);
//! # }
//! ```
//!
//! The full walk-through (building, loading, testing) is plugins/README.md in the repository.

mod export;
pub mod ffi;
mod op;

pub use ffi::{
    ABI_VERSION, HostApi, MAX_NDIM, OpDesc, REGISTER_SYMBOL, STATUS_BAD_CALL, STATUS_ERROR,
    STATUS_OK, STATUS_PANIC, VERSION_SYMBOL,
};
pub use op::{
    Backward, CallCtx, CudaKernel, DType, Element, Error, Forward, Op, OpInfo, ParamInfo, Params,
    Real, Result, Shape, Tensor, TensorMut,
};

/// What [`export_plugin!`] expands to; not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{OpEntry, op_entry, register};
}
