//! The CUDA side of a device, through cudarc's driver API (loaded at run time).
//!
//! Nothing in this file runs on a machine without a CUDA driver: [`super::probe`] refuses
//! first, because cudarc panics when `libcuda` is absent.

use std::sync::Arc;

use cudarc::driver::result::{self, DriverError};
use cudarc::driver::{CudaContext, CudaStream, sys};

use super::DevicePtr;
use crate::{Context, Error, Result};

/// One CUDA device: its primary context and its stream.
///
/// Everything runs on the one stream, host transfers included: a device block returned to the
/// pool may still be read by queued kernels, and ordering every later use of it behind them on
/// the same stream is what makes reusing it at once safe. (Host transfers are synchronous for
/// the caller anyway; a separate copy stream would only pay off with asynchronous transfers
/// from pinned memory, which mxr does not do yet.)
#[derive(Debug)]
pub(super) struct CudaDevice {
    pub(super) ctx: Arc<CudaContext>,
    /// Kernels and copies, in engine order.
    pub(super) compute: Arc<CudaStream>,
}

/// A driver error as an engine error on `context`, naming the driver call.
pub(super) fn driver_error(context: Context, call: &'static str, e: DriverError) -> Error {
    if e.0 == sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY {
        return Error::OutOfMemory {
            context,
            requested: 0,
        };
    }
    let name = e
        .error_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::Device {
        context,
        call,
        reason: format!("{name}: {text}"),
    }
}

/// The number of CUDA devices, once the driver library is known to be loadable.
pub(super) fn device_count() -> std::result::Result<u32, DriverError> {
    CudaContext::device_count().map(|n| u32::try_from(n).unwrap_or(0))
}

impl CudaDevice {
    pub(super) fn open(context: Context) -> Result<CudaDevice> {
        let err = |call| move |e| driver_error(context, call, e);
        let ctx = CudaContext::new(context.device_id() as usize).map_err(err("cuCtxCreate"))?;
        // SAFETY: mxr never uses cudarc's `CudaSlice`/`CudaView` on this context (all memory is
        // raw device pointers ordered by the engine and the compute stream), so nothing relies
        // on the per-slice events that tracking would record.
        unsafe { ctx.disable_event_tracking() };
        let compute = ctx.new_stream().map_err(err("cuStreamCreate"))?;
        Ok(CudaDevice { ctx, compute })
    }

    pub(super) fn name(&self) -> String {
        self.ctx.name().unwrap_or_else(|_| "CUDA device".into())
    }

    pub(super) fn bind(&self, context: Context) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| driver_error(context, "cuCtxSetCurrent", e))
    }

    pub(super) fn malloc(&self, context: Context, bytes: usize) -> Result<DevicePtr> {
        self.bind(context)?;
        // SAFETY: the context is current on this thread (bound above); the result is a fresh
        // allocation owned by the caller.
        unsafe { result::malloc_sync(bytes) }
            .map(DevicePtr)
            .map_err(|e| match driver_error(context, "cuMemAlloc", e) {
                Error::OutOfMemory { .. } => Error::OutOfMemory {
                    context,
                    requested: bytes,
                },
                other => other,
            })
    }

    /// Frees a block. `cuMemFree` waits for work still using it (it synchronizes).
    pub(super) fn free(&self, context: Context, ptr: DevicePtr) {
        if self.bind(context).is_ok() {
            // SAFETY: `ptr` came from `malloc` on this context and its owner gave it up.
            // A failure leaks the block, which is all that can be done in a destructor.
            let _ = unsafe { result::free_sync(ptr.0) };
        }
    }

    /// # Safety
    /// `dst` is a live allocation of at least `src.len()` bytes on this device.
    pub(super) unsafe fn write_from_host(
        &self,
        context: Context,
        dst: DevicePtr,
        src: &[u8],
    ) -> Result<()> {
        // SAFETY: `dst` holds `src.len()` bytes (the caller's contract); `src`, whatever memory
        // it is, outlives the copy because the stream is synchronized before returning.
        unsafe { self.upload_async(context, dst, src) }?;
        self.synchronize_bound(context)
    }

    /// Queues a host-to-device copy from pageable memory on the compute stream. The driver
    /// copies pageable `src` into its own staging memory before returning (CUDA's documented
    /// behaviour for pageable sources), so `src` may be dropped at once, and the transfer is
    /// ordered with the stream's other work.
    ///
    /// # Safety
    /// `dst` is a live allocation of at least `src.len()` bytes on this device; `src` is
    /// pageable (ordinary heap) memory, or outlives the transfer.
    pub(super) unsafe fn upload_async(
        &self,
        context: Context,
        dst: DevicePtr,
        src: &[u8],
    ) -> Result<()> {
        self.bind(context)?;
        // SAFETY: sizes by contract; pageable `src` is staged by the driver before return, other
        // memory outlives the transfer (the caller's contract).
        unsafe { result::memcpy_htod_async(dst.0, src, self.compute.cu_stream()) }
            .map_err(|e| driver_error(context, "cuMemcpyHtoDAsync", e))
    }

    /// # Safety
    /// `src` is a live allocation of at least `dst.len()` bytes on this device, with no
    /// unfinished writes.
    pub(super) unsafe fn read_to_host(
        &self,
        context: Context,
        src: DevicePtr,
        dst: &mut [u8],
    ) -> Result<()> {
        self.bind(context)?;
        // SAFETY: as for `write_from_host`: sizes by contract, `dst` outlives the synchronized
        // copy.
        unsafe { result::memcpy_dtoh_async(dst, src.0, self.compute.cu_stream()) }
            .map_err(|e| driver_error(context, "cuMemcpyDtoHAsync", e))?;
        self.synchronize_bound(context)
    }

    /// # Safety
    /// Both ranges are live allocations on this device of at least `bytes` bytes.
    pub(super) unsafe fn copy_async(
        &self,
        context: Context,
        dst: DevicePtr,
        src: DevicePtr,
        bytes: usize,
    ) -> Result<()> {
        self.bind(context)?;
        // SAFETY: by the caller's contract; ordered on the compute stream.
        unsafe { result::memcpy_dtod_async(dst.0, src.0, bytes, self.compute.cu_stream()) }
            .map_err(|e| driver_error(context, "cuMemcpyDtoDAsync", e))
    }

    /// # Safety
    /// `dst` is a live allocation on this device of at least `bytes` bytes.
    pub(super) unsafe fn zero_async(
        &self,
        context: Context,
        dst: DevicePtr,
        bytes: usize,
    ) -> Result<()> {
        self.bind(context)?;
        // SAFETY: by the caller's contract; ordered on the compute stream.
        unsafe { result::memset_d8_async(dst.0, 0, bytes, self.compute.cu_stream()) }
            .map_err(|e| driver_error(context, "cuMemsetD8Async", e))
    }

    /// Records an event on the compute stream: the point a completion waits for.
    pub(super) fn record(&self, context: Context) -> Result<Event> {
        self.bind(context)?;
        let err = |call| move |e| driver_error(context, call, e);
        let event = result::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)
            .map_err(err("cuEventCreate"))?;
        let event = Event(event);
        // SAFETY: `event` was just created on this (current) context; the stream is alive (held
        // by `self`).
        unsafe { result::event::record(event.0, self.compute.cu_stream()) }
            .map_err(err("cuEventRecord"))?;
        Ok(event)
    }

    pub(super) fn synchronize(&self, context: Context) -> Result<()> {
        self.bind(context)?;
        self.synchronize_bound(context)
    }

    /// Waits for the compute stream; the device's context is already bound to this thread.
    fn synchronize_bound(&self, context: Context) -> Result<()> {
        // SAFETY: the compute stream is alive (held by `self`).
        unsafe { result::stream::synchronize(self.compute.cu_stream()) }
            .map_err(|e| driver_error(context, "cuStreamSynchronize", e))
    }
}

/// A recorded CUDA event, destroyed when dropped.
#[derive(Debug)]
pub(super) struct Event(sys::CUevent);

// SAFETY: a CUevent is a driver handle usable from any thread of the process (the driver API
// is thread-safe); `Event` owns it alone.
unsafe impl Send for Event {}

impl Event {
    /// Blocks until the stream work before the event is done; its error if that work failed.
    pub(super) fn wait(&self, context: Context) -> Result<()> {
        // SAFETY: the event is alive (owned by `self`) and was recorded.
        unsafe { result::event::synchronize(self.0) }
            .map_err(|e| driver_error(context, "cuEventSynchronize (a kernel or copy failed)", e))
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: owned, alive, and no longer waited on. A failure only leaks the handle.
        let _ = unsafe { result::event::destroy(self.0) };
    }
}
