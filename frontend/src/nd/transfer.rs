//! Moving bytes of arrays on a GPU: host writes, reads out, and copies between any two contexts.
#![allow(unsafe_code, reason = "transfers to and from raw device buffers")]

use std::sync::Arc;

use mxr_engine::Operation;
use mxr_engine::gpu::{DevicePtr, GpuBuffer};

use super::chunk::Storage;
use super::ndarray::NDArray;
use crate::{Error, Result};

/// The device buffer and the address of `a`'s first byte.
fn device_of(a: &NDArray) -> Option<(Arc<GpuBuffer>, DevicePtr)> {
    a.chunk
        .device()
        .map(|b| (Arc::clone(b), b.ptr().offset(a.byte_range().start)))
}

/// Pushes an operation that fills the view's bytes on the host with `f` and uploads them.
pub(crate) fn write_region(
    a: &NDArray,
    name: &'static str,
    f: impl FnOnce(&mut [u8]) + Send + 'static,
) -> Result<()> {
    let (buffer, ptr) = device_of(a).ok_or(Error::InvalidArgument {
        call: name,
        reason: "not a GPU array".into(),
    })?;
    let len = a.byte_range().len();
    let op = Operation::sync(name, move |_| {
        let mut host = vec![0u8; len];
        f(&mut host);
        // SAFETY: `ptr` starts the view's `len` bytes inside `buffer` (alive: captured); the
        // engine runs this write alone on the array's var, after every earlier operation on it
        // has completed (its stream work done).
        unsafe { buffer.device().write_from_host(ptr, &host)? };
        Ok(())
    });
    a.chunk
        .engine
        .push(op.writes(&[&a.chunk.var]).context(a.context()))?;
    Ok(())
}

/// The view's bytes, read from the device now (call after a wait).
pub(crate) fn read_bytes(a: &NDArray) -> Result<Vec<u8>> {
    let (buffer, ptr) = device_of(a).ok_or(Error::InvalidArgument {
        call: "read_bytes",
        reason: "not a GPU array".into(),
    })?;
    let mut host = vec![0u8; a.byte_range().len()];
    // SAFETY: the view's bytes lie inside `buffer` (held); the caller waited for the writes
    // pushed before, which completed only once their stream work was done.
    unsafe { buffer.device().read_to_host(ptr, &mut host)? };
    Ok(host)
}

/// Pushes a copy of `src`'s values into `dst` (same shape and dtype, checked by the caller),
/// where at least one of them is on a GPU. Runs on the GPU's worker (the destination's when both
/// are GPUs).
pub(crate) fn copy(src: &NDArray, dst: &NDArray) -> Result<()> {
    let len = dst.byte_range().len();
    let (from, to) = (src.byte_range(), dst.byte_range());
    let same = src.shares_storage_with(dst);
    let reads = [&src.chunk.var];
    let writes = [&dst.chunk.var];
    let engine = dst.chunk.engine;
    let op = match (&src.chunk.storage, &dst.chunk.storage) {
        (Storage::Host(h), Storage::Device(_)) => {
            let (h, (buffer, ptr)) = (Arc::clone(h), device_of(dst).expect("matched Device"));
            Operation::sync("copy_to_gpu", move |_| {
                let host = h.read();
                // SAFETY: `ptr` starts `len` bytes of the destination view in `buffer` (held),
                // written by this operation alone; the source range has the same length.
                unsafe {
                    buffer
                        .device()
                        .write_from_host(ptr, &host.as_bytes()[from])?
                };
                Ok(())
            })
            .context(dst.context())
        }
        (Storage::Device(_), Storage::Host(h)) => {
            let (h, (buffer, ptr)) = (Arc::clone(h), device_of(src).expect("matched Device"));
            Operation::sync("copy_from_gpu", move |_| {
                let mut host = h.write();
                // SAFETY: `ptr` starts `len` bytes of the source view in `buffer` (held), whose
                // writers have completed (the engine granted this read).
                unsafe {
                    buffer
                        .device()
                        .read_to_host(ptr, &mut host.as_bytes_mut()[to])?
                };
                Ok(())
            })
            .context(src.context())
        }
        (Storage::Device(s), Storage::Device(d)) if Arc::ptr_eq(s.device(), d.device()) => {
            let (sb, sp) = device_of(src).expect("matched Device");
            let (db, dp) = device_of(dst).expect("matched Device");
            Operation::asynchronous("copy_gpu", move |_, done| {
                let device = Arc::clone(db.device());
                let queued = (|| -> mxr_engine::Result<()> {
                    // SAFETY: both ranges hold `len` bytes of live buffers of this device, held
                    // by this closure until the operation completes. Overlapping ranges (one
                    // storage) go through a temporary block.
                    unsafe {
                        if same {
                            let tmp = device.alloc(len)?;
                            device.copy_async(tmp.ptr(), sp, len)?;
                            device.copy_async(dp, tmp.ptr(), len)?;
                        } else {
                            device.copy_async(dp, sp, len)?;
                        }
                    }
                    Ok(())
                })();
                match queued {
                    Ok(()) => device.when_done(move |r| {
                        drop((sb, db));
                        done.finish(r.map_err(Into::into));
                    }),
                    Err(e) => done.fail(e),
                }
            })
            .context(dst.context())
        }
        (Storage::Device(_), Storage::Device(_)) => {
            let (sb, sp) = device_of(src).expect("matched Device");
            let (db, dp) = device_of(dst).expect("matched Device");
            Operation::sync("copy_between_gpus", move |_| {
                // Through the host: peer access is not enabled between devices.
                let mut host = vec![0u8; len];
                // SAFETY: `len` bytes of each live view (held); the source's writers have
                // completed and this operation is the destination's only writer.
                unsafe {
                    sb.device().read_to_host(sp, &mut host)?;
                    db.device().write_from_host(dp, &host)?;
                }
                Ok(())
            })
            .context(dst.context())
        }
        (Storage::Host(_), Storage::Host(_)) => {
            return Err(Error::InvalidArgument {
                call: "NDArray::assign",
                reason: "internal: host-to-host copies do not go through the GPU path".into(),
            });
        }
    };
    let op = if same {
        op.writes(&writes)
    } else {
        op.reads(&reads).writes(&writes)
    };
    engine.push(op)?;
    Ok(())
}
