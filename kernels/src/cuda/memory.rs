//! Safe device memory operations on [`DeviceSlice`]s: stream-ordered copies, zeroing and
//! uploads, and blocking reads and writes for tests and small results.

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};

use super::{DeviceSlice, GpuError};
use crate::Element;

fn argument(kernel: &str, reason: String) -> GpuError {
    GpuError::Argument {
        kernel: kernel.into(),
        reason,
    }
}

/// Checks that `op` (`copy`, `read`, `write`) moving `moved` elements into a destination
/// (`into`) or from a source holding `held` elements fits: `moved <= held`.
fn fits(op: &str, moved: usize, into: bool, held: usize) -> Result<(), GpuError> {
    if held < moved {
        let dir = if into { "into" } else { "from" };
        return Err(argument(op, format!("{moved} elements {dir} {held}")));
    }
    Ok(())
}

/// Queues copying `src` into the first `src.len()` elements of `dst` on `dev`'s compute stream.
/// The same range is left as it is; partly overlapping ranges are an error.
pub fn copy<T: Element>(
    dev: &GpuDevice,
    dst: DeviceSlice<'_, T>,
    src: DeviceSlice<'_, T>,
) -> Result<(), GpuError> {
    fits("copy", src.len(), true, dst.len())?;
    if src.is_empty() || dst.ptr() == src.ptr() {
        return Ok(());
    }
    if dst.overlaps(&src) {
        return Err(argument("copy", "overlapping ranges".into()));
    }
    // SAFETY: both slices vouch for at least `src.bytes()` bytes of live memory of the device
    // they are used on, alive until queued work has run (their contract); the ranges do not
    // overlap (checked above).
    unsafe { dev.copy_async(dst.ptr(), src.ptr(), src.bytes()) }?;
    Ok(())
}

/// Queues zeroing every byte of `dst` on `dev`'s compute stream.
pub fn zero<T: Element>(dev: &GpuDevice, dst: DeviceSlice<'_, T>) -> Result<(), GpuError> {
    if dst.is_empty() {
        return Ok(());
    }
    // SAFETY: `dst` vouches for its bytes of live memory of this device, alive until queued
    // work has run.
    unsafe { dev.zero_async(dst.ptr(), dst.bytes()) }?;
    Ok(())
}

/// Uploads `src` into fresh device memory in stream order (after the work already queued,
/// before the work queued next), without waiting: for small tables and masks. Keep the buffer
/// alive until the kernels using it are queued.
pub fn upload<T: Element>(dev: &Arc<GpuDevice>, src: &[T]) -> Result<GpuBuffer, GpuError> {
    let bytes: &[u8] = bytemuck::cast_slice(src);
    let buffer = dev.alloc(bytes.len())?;
    if !bytes.is_empty() {
        // SAFETY: `buffer` is fresh and holds `bytes.len()` bytes, alive until the copy has run
        // (a dropped block is only reused by work queued later, which runs after); `bytes` is an
        // ordinary Rust slice (pageable).
        unsafe { dev.upload_async(buffer.ptr(), bytes) }?;
    }
    Ok(buffer)
}

/// Waits for everything queued on `dev`, then copies the first `dst.len()` elements of `src`
/// to the host.
pub fn read<T: Element>(
    dev: &GpuDevice,
    src: DeviceSlice<'_, T>,
    dst: &mut [T],
) -> Result<(), GpuError> {
    fits("read", dst.len(), false, src.len())?;
    dev.synchronize()?;
    // SAFETY: `src` vouches for at least `dst.len()` elements of live memory of this device;
    // the device is idle (synchronized above), so no write to it is unfinished.
    unsafe { dev.read_to_host(src.ptr(), bytemuck::cast_slice_mut(dst)) }?;
    Ok(())
}

/// Waits for everything queued on `dev`, then copies `src` into the first `src.len()` elements
/// of `dst`.
pub fn write<T: Element>(
    dev: &GpuDevice,
    dst: DeviceSlice<'_, T>,
    src: &[T],
) -> Result<(), GpuError> {
    fits("write", src.len(), true, dst.len())?;
    dev.synchronize()?;
    // SAFETY: `dst` vouches for at least `src.len()` elements of live memory of this device;
    // the device is idle (synchronized above), so no queued or running work writes it.
    unsafe { dev.write_from_host(dst.ptr(), bytemuck::cast_slice(src)) }?;
    Ok(())
}
