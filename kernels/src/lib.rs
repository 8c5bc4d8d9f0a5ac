//! mxr-kernels: the compute bodies of mxr's operators — `cpu/` in Rust, `cuda/` as CUDA C
//! sources compiled by NVRTC. Kernels know nothing about graphs or the registry; they may use only
//! the engine's device and buffer types.
//!
//! - [`cpu`]: the CPU kernels, vectorised per instruction set ([`cpu::isa`]: AVX-512, AVX2 or
//!   portable Rust, chosen at run time; `MXR_CPU_ISA` caps it): matrix products ([`cpu::gemm`]),
//!   convolutions forward and backward ([`cpu::conv`]: direct, Winograd, depthwise, implicit
//!   GEMM, im2col), pooling, BatchNorm, softmax, reductions, broadcasting, transposes and the
//!   element-wise families. Kernels that split their work run on the team of
//!   [`cpu::parallel`] (`MXR_NUM_THREADS` threads), statically, so that a result depends on the
//!   thread count only where a kernel's docs say so.
//! - [`cuda`]: the CUDA C sources of `kernels/cuda/`, compiled by NVRTC at run time, and one
//!   module of safe, typed launchers per source ([`cuda::DeviceSlice`] arguments, sizes checked);
//!   without a GPU, the engine's emulator runs them compiled as host C++.
//! - the element types ([`DType`], [`Element`]).
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod cpu;
pub mod cuda;
mod element;

pub use element::{DType, Element};
pub use half::f16;
