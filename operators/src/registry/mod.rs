//! The operator registry: one [`OpDef`] per operator, registered with `inventory::submit!` and
//! found by MXNet name or alias ([`lookup`], [`create`], [`ops`]); the [`Operator`] trait every
//! parsed operator implements (names, shape and type inference, kernels, gradient, in-place
//! hints, resources), with [`GpuForward`] for those with a GPU kernel; parameters parsed from
//! MXNet's attribute strings ([`attrs`]).

pub mod attrs;
mod def;
mod gpu;
mod gradient;
mod operator;
mod shape;
mod tensor;

pub use def::{LateRegistration, OpDef, OpFactory, create, lookup, ops, origin, register};
pub use gpu::{
    DeferredCheck, GpuCall, GpuOpContext, GpuTensor, check_sizes, f32_slices, gpu_error,
};
pub use gradient::{Entry, ForwardNode, GradCtx, GraphBuilder, reverse_pass};
pub use operator::{Call, GpuForward, OpContext, OpRef, Operator, Resource, downcast};
pub use shape::{MAX_ELEMENTS, Shape, ShapeCtx, TypeCtx};
pub use tensor::{TensorMut, TensorRef, fill};

#[cfg(test)]
mod tests;
