//! GPU devices: CUDA through cudarc, with every CUDA library loaded at run time, or a software
//! emulator that runs the same device code on the host.
//!
//! A [`GpuDevice`] owns one CUDA context with its stream, a memory pool of device blocks ([`GpuBuffer`]), and a completer thread that turns "the stream has reached this
//! point" into a callback, so that engine operations on the GPU complete when their stream work
//! does (see [`GpuDevice::when_done`]).
//!
//! # No GPU, no driver
//!
//! The build needs no CUDA toolkit: cudarc opens `libcuda` on first use. cudarc *panics* when the
//! library is absent, so [`probe`] first asks whether it can be loaded, and every entry point here
//! returns an error instead: `gpu(0)` on a machine without a driver is
//! [`Error::DeviceUnavailable`] saying so, and `gpu(7)` on a machine with one GPU names the
//! number of devices.
//!
//! ```
//! use mxr_engine::gpu::GpuDevice;
//! match GpuDevice::get(0) {
//!     Ok(dev) => println!("{} ({})", dev.context(), dev.name()),
//!     Err(e) => println!("no GPU here: {e}"),
//! }
//! ```
//!
//! # The emulator
//!
//! With `MXR_GPU_EMULATE=N` in the environment (or [`emulate`] called before the first GPU
//! use), `gpu(0)` … `gpu(N-1)` are software devices: their memory is host memory (at most
//! [`EMULATED_MEMORY`] bytes each, so that running out can be tested), their
//! "streams" run each piece of work when it is enqueued, and kernels run through the emulator
//! library of `mxr-kernels` (the same CUDA C sources compiled as C++). It makes every GPU code
//! path above the driver testable on machines without a GPU, which is how CI checks them. It is
//! not a performance mode.

mod buffer;
mod cuda;
mod device;

pub use buffer::{DevicePtr, GpuBuffer};
pub use device::{
    Backend, EMULATED_MEMORY, GpuDevice, driver_device_count, emulate, emulated_devices, probe,
};

#[cfg(test)]
mod tests;
