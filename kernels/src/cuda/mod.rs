//! GPU kernels: the CUDA C sources of `kernels/cuda/`, compiled once per process, and launched on
//! a [`GpuDevice`].
//!
//! On a CUDA device a source is compiled by NVRTC (loaded at run time; PyPI's
//! `nvidia-cuda-nvrtc-cu12` provides it where the toolkit is absent) to a CUBIN for the
//! device's own architecture (PTX only for a GPU newer than every CUBIN target of this NVRTC:
//! [`Target::for_device`]), once per process, and loaded once per device. On the emulator
//! ([`mxr_engine::gpu`]) all sources are compiled once as host C++ into a shared library (cached
//! in the temporary directory, keyed by the sources' hash) and their functions called directly.
//! Every kernel follows the rules at the top of `kernels/cuda/prelude.cuh`: grid-stride loops
//! over independent items, which is what lets both run them.
//!
//! ```no_run
//! use mxr_engine::gpu::GpuDevice;
//! use mxr_kernels::cuda::{self, DeviceSlice, activation::ActCode};
//! let dev = GpuDevice::get(0)?;
//! let (x, y) = (dev.alloc(4 * 1024)?, dev.alloc(4 * 1024)?);
//! // y = relu(x), 1024 floats
//! let (x, y) = (DeviceSlice::<f32>::of_buffer(&x), DeviceSlice::<f32>::of_buffer(&y));
//! cuda::activation::forward(&dev, ActCode::Relu, y, x, 1024)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each source `kernels/cuda/NAME.cu` has its launchers in the module `NAME` here: one safe
//! function per kernel, taking [`DeviceSlice`]s and sizes, checking that every slice holds what
//! the kernel touches, and stating beside its one `unsafe` launch why the packed arguments match
//! the kernel's C signature. Codes shared with the C side (activation kinds, binary ops) are
//! defined once in Rust and handed to the sources as a generated header ([`codes`]).

pub mod activation;
mod args;
pub mod batch_norm;
pub mod blas;
pub mod broadcast;
pub mod codes;
pub mod concat;
pub mod convolution;
pub mod dropout;
pub mod elemwise;
pub mod embedding;
mod emulator;
pub mod fully_connected;
pub mod init;
pub mod kvstore;
pub mod leaky_relu;
pub mod loss;
pub mod memory;
mod nvrtc;
pub mod one_hot;
pub mod optimizer;
pub mod pick;
pub mod pooling;
pub mod reduce;
pub mod scalar;
mod slice;
pub mod softmax;
pub mod transpose;
pub mod unary;

use std::sync::Arc;

use mxr_engine::Context;
use mxr_engine::gpu::{Backend, GpuDevice};

pub use args::{KernelArg, KernelArgs};
pub use nvrtc::{Image, Target, compile, nvrtc_available, supported_archs};
pub use slice::{AnySlice, DeviceSlice};
pub(crate) use slice::{all_at_least, at_least, by_width};

include!(concat!(env!("OUT_DIR"), "/cuda_sources.rs"));

/// The prelude included before every source.
pub const PRELUDE: &str = include_str!("../../cuda/prelude.cuh");

/// The header that lets the sources compile as host C++ for the emulator.
pub const EMULATOR_HEADER: &str = include_str!("../../cuda/emu.h");

/// Every kernel source: `(name, CUDA C text)`, the name being the file stem in `kernels/cuda/`.
pub fn sources() -> &'static [(&'static str, &'static str)] {
    SOURCES
}

/// The text of source `name`.
pub fn source(name: &str) -> Result<&'static str, GpuError> {
    SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(|| GpuError::UnknownSource {
            source_name: name.to_string(),
        })
}

/// Threads per block of grid-stride launches.
pub const BLOCK: u32 = 256;

/// The most blocks of a grid-stride launch (the loop covers the rest).
const MAX_BLOCKS: u64 = 1 << 16;

/// What can go wrong compiling or launching GPU kernels.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// No source file of that name in `kernels/cuda/`.
    #[error("no CUDA kernel source named `{source_name}` (kernels/cuda/{source_name}.cu)")]
    UnknownSource {
        /// The name asked for.
        source_name: String,
    },
    /// NVRTC could not be loaded.
    #[error(
        "NVRTC (libnvrtc.so) could not be loaded, so CUDA kernels cannot be compiled: install the \
         CUDA toolkit, or `pip install nvidia-cuda-nvrtc-cu12` and add its lib folder to \
         LD_LIBRARY_PATH"
    )]
    NvrtcMissing,
    /// A source did not compile.
    #[error("CUDA kernel source `{source_name}` does not compile ({arch}): {log}")]
    Compile {
        /// The source file stem.
        source_name: String,
        /// The target architecture.
        arch: String,
        /// The compiler's log.
        log: String,
    },
    /// An NVRTC call other than compiling failed.
    #[error("NVRTC's {call} failed: {reason}")]
    Nvrtc {
        /// The function called.
        call: String,
        /// NVRTC's status.
        reason: String,
    },
    /// The GPU is older than every architecture this NVRTC compiles for.
    #[error(
        "the GPU's architecture {arch} is older than every one NVRTC compiles for ({supported}): \
         use an NVRTC of an older CUDA release"
    )]
    UnsupportedArch {
        /// The device's architecture (`sm_35`).
        arch: String,
        /// NVRTC's architectures.
        supported: String,
    },
    /// The emulator library could not be built or loaded.
    #[error("the GPU emulator is unavailable: {reason}")]
    Emulator {
        /// Why.
        reason: String,
    },
    /// A source has no kernel of that name.
    #[error("CUDA kernel `{kernel}` not found in source `{source_name}`")]
    UnknownKernel {
        /// The source.
        source_name: String,
        /// The kernel asked for.
        kernel: String,
    },
    /// The driver refused a module load or a launch.
    #[error("{context}: {what}: {reason}")]
    Driver {
        /// The device.
        context: Context,
        /// What was being done (`loading module elemwise`, `launching elemwise_add_f32`).
        what: String,
        /// The driver's error.
        reason: String,
    },
    /// A launcher's arguments do not fit its kernel (a slice too short for the sizes given).
    #[error("{kernel}: {reason}")]
    Argument {
        /// The kernel (or memory operation).
        kernel: String,
        /// What does not fit.
        reason: String,
    },
    /// A device error (memory, copies).
    #[error(transparent)]
    Device(#[from] mxr_engine::Error),
}

/// Errors compare by their messages (the engine errors inside carry no equality of their own).
impl PartialEq for GpuError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Launches `kernel` of `source` on `dev`'s compute stream over `items` work items (a grid-stride
/// launch: `BLOCK` threads per block, enough blocks for the items up to a cap). Returns when
/// the work is queued; [`GpuDevice::when_done`] tells when it has run. `items == 0` launches
/// nothing.
///
/// # Safety
/// The arguments must match the kernel's parameters in number, order and type, and every device
/// pointer among them must address live device memory of `dev` large enough for what the kernel
/// touches, kept alive until the work has run. The kernel's body is trusted like any `unsafe`
/// code.
pub unsafe fn launch<A: KernelArgs>(
    dev: &Arc<GpuDevice>,
    source: Source,
    kernel: &str,
    items: usize,
    args: A,
) -> Result<(), GpuError> {
    if items == 0 {
        return Ok(());
    }
    match dev.backend() {
        Backend::Emulated => {
            let f = emulator::function(source.name(), kernel)?;
            // SAFETY: `f` is the kernel's entry point in the emulator library, whose parameters
            // match `args` (the caller's contract); pointers are host addresses on the emulator.
            unsafe { args.call_emulated(f) };
            Ok(())
        }
        Backend::Cuda => {
            let blocks = (items as u64).div_ceil(u64::from(BLOCK)).min(MAX_BLOCKS) as u32;
            let f = nvrtc::function(dev, source.name(), kernel)?;
            let (_, stream) = dev.cuda().expect("a CUDA backend has a stream");
            let config = cudarc::driver::LaunchConfig {
                grid_dim: (blocks, 1, 1),
                block_dim: (BLOCK, 1, 1),
                shared_mem_bytes: 0,
            };
            let mut builder = stream.launch_builder(&f);
            args.push_cuda(&mut builder);
            // SAFETY: the arguments match the kernel (the caller's contract) and were pushed by
            // reference to `args`, which outlives the launch call (cuLaunchKernel copies them).
            unsafe { builder.launch(config) }.map_err(|e| GpuError::Driver {
                context: dev.context(),
                what: format!("launching {kernel}"),
                reason: format!("{e:?}"),
            })?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
