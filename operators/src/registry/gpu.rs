//! What GPU kernels get: device tensor views and the GPU operator context.
#![allow(
    unsafe_code,
    reason = "GPU kernels are launched with raw device addresses"
)]

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuBuffer, GpuDevice};
use mxr_kernels::DType;
use mxr_kernels::cpu::random::Rng;
use mxr_kernels::cuda::{self, GpuError, KernelArgs};

use crate::{Error, Result};

/// A view of one input or output in device memory (the GPU counterpart of
/// [`TensorRef`](super::TensorRef) / [`TensorMut`](super::TensorMut)): shape, dtype, address
/// of the first element. Row-major and contiguous.
#[derive(Debug, Clone, Copy)]
pub struct GpuTensor<'a> {
    /// The dimensions.
    pub shape: &'a [usize],
    /// The element type.
    pub dtype: DType,
    /// The device address of the first element.
    pub ptr: DevicePtr,
}

impl GpuTensor<'_> {
    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The address, checking that the dtype is float32 (the dtype of mxr's GPU kernels);
    /// an error naming `op` otherwise.
    pub fn f32_ptr(&self, op: &str) -> Result<DevicePtr> {
        if self.dtype != DType::F32 {
            return Err(Error::Unsupported {
                op: op.to_string(),
                what: format!(
                    "{} data on the GPU (the GPU kernels take float32)",
                    self.dtype
                ),
            });
        }
        Ok(self.ptr)
    }
}

/// What a GPU kernel gets besides its tensors (MXNet's `OpContext` with a GPU `RunContext`).
///
/// A kernel queues its work on the device's compute stream ([`GpuOpContext::launch`],
/// [`cuda::blas`]) and returns; the caller completes the operation when the stream has run it.
pub struct GpuOpContext<'a> {
    /// Training mode.
    pub is_train: bool,
    /// The device.
    pub device: &'a Arc<GpuDevice>,
    /// The random state (host-side), when the operator requested it.
    pub rng: Option<&'a mut Rng>,
    /// Which outputs anyone reads, when known (see [`OpContext`](super::OpContext)).
    pub needed: Option<&'a [bool]>,
    /// Checks queued by [`GpuOpContext::check_after`], run by the caller once the stream has
    /// run this operation's work.
    pub deferred: Vec<DeferredCheck>,
}

impl std::fmt::Debug for GpuOpContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuOpContext")
            .field("is_train", &self.is_train)
            .field("device", &self.device.context())
            .field("rng", &self.rng.is_some())
            .field("needed", &self.needed)
            .field("deferred", &self.deferred.len())
            .finish()
    }
}

/// A check of an operation's results that runs once the device has run its work (for
/// instance, reading back a count of invalid inputs); an `Err` fails the operation.
pub type DeferredCheck = Box<dyn FnOnce() -> Result<()> + Send + 'static>;

impl<'a> GpuOpContext<'a> {
    /// A context on `device`: every output needed, no random state, no deferred checks.
    pub fn new(is_train: bool, device: &'a Arc<GpuDevice>) -> GpuOpContext<'a> {
        GpuOpContext {
            is_train,
            device,
            rng: None,
            needed: None,
            deferred: Vec::new(),
        }
    }

    /// Queues `check` to run once the stream has run everything this operation queued, without
    /// waiting for the device now; an error it returns fails the operation (its next wait
    /// reports it). The operation's input and output buffers stay alive until the checks have
    /// run, so a check may read them back.
    pub fn check_after(&mut self, check: impl FnOnce() -> Result<()> + Send + 'static) {
        self.deferred.push(Box::new(check));
    }

    /// Whether output `k` must be computed.
    pub fn output_needed(&self, k: usize) -> bool {
        self.needed
            .is_none_or(|m| m.get(k).copied().unwrap_or(true))
    }

    /// The random state; an error naming `op` when it was not requested.
    pub fn rng(&mut self, op: &str) -> Result<&mut Rng> {
        self.rng.as_deref_mut().ok_or_else(|| Error::Unsupported {
            op: op.to_string(),
            what: "random numbers without requesting Resource::Random".into(),
        })
    }

    /// Scratch device memory for this kernel's work. It may be dropped as soon as the work is
    /// queued: a block returned to the pool is only reused by work queued later on the same
    /// stream, which runs after.
    pub fn temp(&self, op: &str, bytes: usize) -> Result<GpuBuffer> {
        self.device
            .alloc(bytes)
            .map_err(|e| gpu_error(op, e.into()))
    }

    /// Queues a grid-stride launch of `kernel` (from `kernels/cuda/{source}.cu`) over `items`
    /// items; errors name `op`.
    ///
    /// # Safety
    /// As [`cuda::launch`]: the arguments match the kernel's parameters, and every pointer
    /// addresses live device memory of this device large enough for what the kernel touches.
    pub unsafe fn launch<A: KernelArgs>(
        &self,
        op: &str,
        source: &str,
        kernel: &str,
        items: usize,
        args: A,
    ) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { cuda::launch(self.device, source, kernel, items, args) }
            .map_err(|e| gpu_error(op, e))
    }

    /// Queues a copy of `bytes` bytes between device addresses (non-overlapping).
    ///
    /// # Safety
    /// Both addresses hold at least `bytes` bytes of live memory of this device.
    pub unsafe fn copy(
        &self,
        op: &str,
        dst: DevicePtr,
        src: DevicePtr,
        bytes: usize,
    ) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.device.copy_async(dst, src, bytes) }.map_err(|e| gpu_error(op, e.into()))
    }

    /// Queues zeroing `bytes` bytes at `dst`.
    ///
    /// # Safety
    /// `dst` holds at least `bytes` bytes of live memory of this device.
    pub unsafe fn zero(&self, op: &str, dst: DevicePtr, bytes: usize) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.device.zero_async(dst, bytes) }.map_err(|e| gpu_error(op, e.into()))
    }

    /// Copies host values to device memory now (for small parameter tables, random masks).
    ///
    /// # Safety
    /// `dst` holds at least `src.len()` bytes of live memory of this device that no queued work
    /// still reads or writes (fresh [`GpuOpContext::temp`] memory qualifies only once the
    /// stream is idle: prefer [`GpuOpContext::upload`]).
    pub unsafe fn write_now(&self, op: &str, dst: DevicePtr, src: &[u8]) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.device.write_from_host(dst, src) }.map_err(|e| gpu_error(op, e.into()))
    }

    /// Uploads host bytes into fresh device memory, in stream order (after the work already
    /// queued, before the work queued next), without waiting: for small tables (shapes,
    /// strides) and masks. Keep the buffer alive until the kernels using it are queued.
    pub fn upload(&self, op: &str, src: &[u8]) -> Result<GpuBuffer> {
        let buffer = self.temp(op, src.len())?;
        // SAFETY: `buffer` is fresh and holds `src.len()` bytes; a block reused from the pool
        // may still be read by queued work, which the stream-ordered copy runs after; `src` is
        // an ordinary Rust slice (pageable).
        unsafe { self.device.upload_async(buffer.ptr(), src) }
            .map_err(|e| gpu_error(op, e.into()))?;
        Ok(buffer)
    }
}

/// Checks that every view of `tensors` holds `n` elements, before a kernel trusts the sizes;
/// an error naming `op` and the offending shape otherwise.
pub fn check_sizes(op: &str, n: usize, tensors: &[&GpuTensor<'_>]) -> Result<()> {
    match tensors.iter().find(|t| t.size() != n) {
        Some(t) => Err(Error::BadInput {
            op: op.to_string(),
            reason: format!("expected {n} elements, got shape {:?}", t.shape),
        }),
        None => Ok(()),
    }
}

/// A GPU failure as an operator error naming `op`.
pub fn gpu_error(op: &str, source: GpuError) -> Error {
    Error::Gpu {
        op: op.to_string(),
        source,
    }
}
