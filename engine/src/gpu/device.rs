//! `GpuDevice`: the process-wide handle of one GPU (or emulated GPU).

use std::alloc::{self, Layout};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use parking_lot::Mutex;

use super::buffer::{BlockPool, DevicePtr, GpuBuffer};
use super::cuda::{self, CudaDevice, Event};
use crate::storage::{ALIGN, PoolStats, size_class};
use crate::{Context, Error, Result};

/// What runs a device's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A CUDA GPU through the driver API.
    Cuda,
    /// The software emulator (`MXR_GPU_EMULATE`): host memory, host execution.
    Emulated,
}

/// Cached device memory is kept up to this many bytes per device.
const MAX_POOLED: usize = 4 << 30;

/// The memory of an emulated device: allocations beyond it fail as a full GPU's would.
pub const EMULATED_MEMORY: usize = 8 << 30;

/// `u32::MAX`: not decided yet (read `MXR_GPU_EMULATE` on first use); otherwise the number of
/// emulated devices, 0 meaning "use the real driver".
static EMULATED: AtomicU32 = AtomicU32::new(u32::MAX);

/// Devices opened so far, by ordinal.
static DEVICES: Mutex<Option<HashMap<u32, Arc<GpuDevice>>>> = Mutex::new(None);

/// Switches this process to `n` emulated GPUs (0: back to the real driver). Must come before
/// the first GPU use: afterwards it is an error, as devices already opened cannot change.
pub fn emulate(n: u32) -> Result<()> {
    let devices = DEVICES.lock();
    let current = EMULATED.load(Ordering::Acquire);
    let opened = devices.as_ref().is_some_and(|d| !d.is_empty());
    if opened && current != n {
        return Err(Error::Config {
            name: "MXR_GPU_EMULATE",
            value: n.to_string(),
            reason: "GPU devices were already opened in this process; choose emulation first"
                .into(),
        });
    }
    EMULATED.store(n, Ordering::Release);
    Ok(())
}

/// The number of emulated GPUs, if the emulator is on (`MXR_GPU_EMULATE=N` or [`emulate`]).
pub fn emulated_devices() -> Option<u32> {
    let mut n = EMULATED.load(Ordering::Acquire);
    if n == u32::MAX {
        let from_env = std::env::var("MXR_GPU_EMULATE")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        n = match EMULATED.compare_exchange(u32::MAX, from_env, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => from_env,
            Err(set) => set,
        };
    }
    (n > 0).then_some(n)
}

/// The number of GPUs this process can use, or why there are none usable: no driver library,
/// or a driver that fails to initialise. Never panics (cudarc would, without `libcuda`).
pub fn probe() -> Result<u32> {
    count().map_err(|reason| Error::DeviceUnavailable {
        context: Context::gpu(0),
        reason,
    })
}

fn count() -> std::result::Result<u32, String> {
    match emulated_devices() {
        Some(n) => Ok(n),
        None => real_count(),
    }
}

/// The number of CUDA devices the driver reports, ignoring emulation; an error saying why
/// there is no usable driver. Never panics.
pub fn driver_device_count() -> Result<u32> {
    real_count().map_err(|reason| Error::DeviceUnavailable {
        context: Context::gpu(0),
        reason,
    })
}

/// [`driver_device_count`] with the reason as text.
pub(super) fn real_count() -> std::result::Result<u32, String> {
    // SAFETY: only tries to load the library (dlopen) and reports whether it could; it calls no
    // CUDA function.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(
            "no CUDA driver: libcuda.so could not be loaded (install the NVIDIA driver, \
                    or set MXR_GPU_EMULATE=N to use N emulated GPUs)"
                .into(),
        );
    }
    match cuda::device_count() {
        Ok(n) => Ok(n),
        Err(e) if e.0 == cudarc::driver::sys::cudaError_enum::CUDA_ERROR_NO_DEVICE => Ok(0),
        Err(e) => Err(format!("the CUDA driver failed to initialise: {e:?}")),
    }
}

enum Kind {
    Cuda(CudaDevice),
    Emulated,
}

/// A piece of work waiting for the stream to reach an event.
type Callback = Box<dyn FnOnce(Result<()>) + Send + 'static>;

/// One GPU: context, streams, memory pool, completer thread. Shared (`Arc`) by everything on it
/// and alive for the rest of the process once opened.
pub struct GpuDevice {
    context: Context,
    name: String,
    kind: Kind,
    pub(super) pool: BlockPool,
    completer: Mutex<Option<mpsc::Sender<(Event, Callback)>>>,
}

impl fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuDevice")
            .field("context", &self.context)
            .field("name", &self.name)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl GpuDevice {
    /// The device `gpu(ordinal)`, opened on first use. An error, never a panic, when there is
    /// no driver or no such device (the message says which, and how many devices exist).
    pub fn get(ordinal: u32) -> Result<Arc<GpuDevice>> {
        let context = Context::gpu(ordinal);
        let mut guard = DEVICES.lock();
        let devices = guard.get_or_insert_with(HashMap::new);
        if let Some(d) = devices.get(&ordinal) {
            return Ok(Arc::clone(d));
        }
        let n = count().map_err(|reason| Error::DeviceUnavailable { context, reason })?;
        if ordinal >= n {
            return Err(Error::DeviceUnavailable {
                context,
                reason: match n {
                    0 => "no CUDA device is present".into(),
                    1 => "there is 1 GPU: gpu(0)".into(),
                    n => format!("there are {n} GPUs: gpu(0) to gpu({})", n - 1),
                },
            });
        }
        let (kind, name) = if emulated_devices().is_some() {
            (Kind::Emulated, format!("mxr GPU emulator #{ordinal}"))
        } else {
            let dev = CudaDevice::open(context)?;
            let name = dev.name();
            (Kind::Cuda(dev), name)
        };
        let device = Arc::new(GpuDevice {
            context,
            name,
            kind,
            pool: BlockPool::new(MAX_POOLED),
            completer: Mutex::new(None),
        });
        devices.insert(ordinal, Arc::clone(&device));
        Ok(device)
    }

    /// `gpu(n)`.
    pub fn context(&self) -> Context {
        self.context
    }

    /// The device's name (the driver's, or the emulator's).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What runs its work.
    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Cuda(_) => Backend::Cuda,
            Kind::Emulated => Backend::Emulated,
        }
    }

    /// The cudarc context and compute stream (CUDA devices only), for kernel launches and
    /// cuBLAS.
    pub fn cuda(
        &self,
    ) -> Option<(
        &Arc<cudarc::driver::CudaContext>,
        &Arc<cudarc::driver::CudaStream>,
    )> {
        match &self.kind {
            Kind::Cuda(d) => Some((&d.ctx, &d.compute)),
            Kind::Emulated => None,
        }
    }

    /// Makes the device's context current on this thread (before raw driver calls). A no-op on
    /// the emulator.
    pub fn bind(&self) -> Result<()> {
        match &self.kind {
            Kind::Cuda(d) => d.bind(self.context),
            Kind::Emulated => Ok(()),
        }
    }

    /// The memory pool's counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Frees the cached (unused) device memory; returns the bytes freed.
    pub fn release_cached(&self) -> usize {
        let blocks = self.pool.drain();
        let bytes = blocks.iter().map(|(c, _)| c).sum();
        for (class, ptr) in blocks {
            self.free_block(ptr, class);
        }
        bytes
    }

    /// `bytes` bytes of device memory with unspecified contents.
    pub fn alloc(self: &Arc<Self>, bytes: usize) -> Result<GpuBuffer> {
        let class = size_class(bytes).ok_or(Error::OutOfMemory {
            context: self.context,
            requested: bytes,
        })?;
        let ptr = self.pool.take(
            self.context,
            class,
            |c| self.fresh_block(c),
            |p, c| self.free_block(p, c),
        )?;
        Ok(GpuBuffer {
            device: Arc::clone(self),
            ptr,
            len: bytes,
            class,
        })
    }

    /// `bytes` bytes of device memory, zeroed (in stream order: work queued later sees zeros).
    pub fn alloc_zeroed(self: &Arc<Self>, bytes: usize) -> Result<GpuBuffer> {
        let buffer = self.alloc(bytes)?;
        // SAFETY: the buffer was just allocated with `bytes` bytes and is owned here.
        unsafe { self.zero_async(buffer.ptr(), bytes)? };
        Ok(buffer)
    }

    fn fresh_block(&self, class: usize) -> Result<DevicePtr> {
        match &self.kind {
            Kind::Cuda(d) => d.malloc(self.context, class),
            Kind::Emulated => {
                let oom = Error::OutOfMemory {
                    context: self.context,
                    requested: class,
                };
                let stats = self.pool.stats();
                if stats.bytes_in_use + stats.bytes_pooled + class > EMULATED_MEMORY {
                    return Err(oom);
                }
                let layout = Layout::from_size_align(class, ALIGN).map_err(|_| oom.clone())?;
                // SAFETY: `layout` has a non-zero size (classes are at least 64 bytes).
                let p = unsafe { alloc::alloc_zeroed(layout) };
                if p.is_null() {
                    return Err(oom);
                }
                Ok(DevicePtr(p as u64))
            }
        }
    }

    pub(super) fn free_block(&self, ptr: DevicePtr, class: usize) {
        match &self.kind {
            Kind::Cuda(d) => d.free(self.context, ptr),
            Kind::Emulated => {
                // SAFETY: `ptr` came from `fresh_block(class)` with this layout (valid then) and
                // its owner gave it up; the emulator has no queued work that could still use it
                // (emulated work runs when enqueued).
                unsafe {
                    alloc::dealloc(
                        ptr.0 as *mut u8,
                        Layout::from_size_align_unchecked(class, ALIGN),
                    )
                }
            }
        }
    }

    /// Copies host bytes to the device; returns when the copy is done.
    ///
    /// # Safety
    /// `dst` must address at least `src.len()` bytes of a live buffer of this device, which no
    /// queued or running work writes.
    pub unsafe fn write_from_host(&self, dst: DevicePtr, src: &[u8]) -> Result<()> {
        match &self.kind {
            // SAFETY: forwarded contract.
            Kind::Cuda(d) => unsafe { d.write_from_host(self.context, dst, src) },
            Kind::Emulated => {
                // SAFETY: `dst` is host memory of at least `src.len()` bytes (contract), which
                // cannot overlap `src` (a Rust slice the caller holds).
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.0 as *mut u8, src.len()) };
                Ok(())
            }
        }
    }

    /// Queues a copy of host bytes to the device in stream order: after the work already
    /// queued (which may still use `dst`'s block, if it was just reused), before the work queued
    /// next. `src` may be dropped on return (the driver stages pageable memory at once).
    ///
    /// # Safety
    /// `dst` must address at least `src.len()` bytes of a live buffer of this device, alive
    /// until the copy has run; `src` must be ordinary (pageable) host memory.
    pub unsafe fn upload_async(&self, dst: DevicePtr, src: &[u8]) -> Result<()> {
        match &self.kind {
            // SAFETY: forwarded contract.
            Kind::Cuda(d) => unsafe { d.upload_async(self.context, dst, src) },
            // SAFETY: emulated work runs when queued; as `write_from_host`.
            Kind::Emulated => unsafe { self.write_from_host(dst, src) },
        }
    }

    /// Copies device bytes to the host; returns when the copy is done.
    ///
    /// # Safety
    /// `src` must address at least `dst.len()` bytes of a live buffer of this device, with no
    /// unfinished writes.
    pub unsafe fn read_to_host(&self, src: DevicePtr, dst: &mut [u8]) -> Result<()> {
        match &self.kind {
            // SAFETY: forwarded contract.
            Kind::Cuda(d) => unsafe { d.read_to_host(self.context, src, dst) },
            Kind::Emulated => {
                // SAFETY: as in `write_from_host`, the other way.
                unsafe {
                    std::ptr::copy_nonoverlapping(src.0 as *const u8, dst.as_mut_ptr(), dst.len())
                };
                Ok(())
            }
        }
    }

    /// Queues a device-to-device copy on the compute stream (ranges may not overlap).
    ///
    /// # Safety
    /// Both must address at least `bytes` bytes of live buffers of this device, alive until the
    /// copy has run (the engine's completion of the operation that queues it).
    pub unsafe fn copy_async(&self, dst: DevicePtr, src: DevicePtr, bytes: usize) -> Result<()> {
        match &self.kind {
            // SAFETY: forwarded contract.
            Kind::Cuda(d) => unsafe { d.copy_async(self.context, dst, src, bytes) },
            Kind::Emulated => {
                // SAFETY: host memory of `bytes` bytes each (contract); `copy` allows overlap.
                unsafe { std::ptr::copy(src.0 as *const u8, dst.0 as *mut u8, bytes) };
                Ok(())
            }
        }
    }

    /// Queues zeroing `bytes` bytes at `dst` on the compute stream.
    ///
    /// # Safety
    /// As [`GpuDevice::copy_async`] for `dst`.
    pub unsafe fn zero_async(&self, dst: DevicePtr, bytes: usize) -> Result<()> {
        match &self.kind {
            // SAFETY: forwarded contract.
            Kind::Cuda(d) => unsafe { d.zero_async(self.context, dst, bytes) },
            Kind::Emulated => {
                // SAFETY: host memory of `bytes` bytes (contract).
                unsafe { std::ptr::write_bytes(dst.0 as *mut u8, 0, bytes) };
                Ok(())
            }
        }
    }

    /// Blocks until everything queued on the compute stream has run.
    pub fn synchronize(&self) -> Result<()> {
        match &self.kind {
            Kind::Cuda(d) => d.synchronize(self.context),
            Kind::Emulated => Ok(()),
        }
    }

    /// Calls `done` once everything queued on the compute stream so far has run, with the
    /// stream's error if some of it failed. Returns at once: a completer thread (one per
    /// device) waits. On the emulator, the work has already run, so `done` runs now.
    pub fn when_done(&self, done: impl FnOnce(Result<()>) + Send + 'static) {
        let event = match &self.kind {
            Kind::Emulated => return done(Ok(())),
            Kind::Cuda(d) => match d.record(self.context) {
                Ok(e) => e,
                Err(e) => return done(Err(e)),
            },
        };
        let mut completer = self.completer.lock();
        if completer.is_none() {
            match self.spawn_completer() {
                Ok(tx) => *completer = Some(tx),
                Err(e) => return done(Err(e)),
            }
        }
        let tx = completer.as_ref().expect("set just above");
        if let Err(mpsc::SendError((_, done))) = tx.send((event, Box::new(done))) {
            done(Err(Error::DeviceUnavailable {
                context: self.context,
                reason: "the device's completer thread has stopped".into(),
            }));
        }
    }

    fn spawn_completer(&self) -> Result<mpsc::Sender<(Event, Callback)>> {
        let (tx, rx) = mpsc::channel::<(Event, Callback)>();
        let context = self.context;
        let ctx = self.cuda().map(|(c, _)| Arc::clone(c));
        thread::Builder::new()
            .name(format!("mxr-{context}-completer"))
            .spawn(move || {
                // Driver calls on this thread (event waits, destroys) need the context current.
                let bound = ctx.map_or(Ok(()), |c| c.bind_to_thread());
                for (event, done) in rx {
                    match &bound {
                        Ok(()) => done(event.wait(context)),
                        Err(e) => done(Err(Error::Device {
                            context,
                            call: "cuCtxSetCurrent",
                            reason: format!("{e:?}"),
                        })),
                    }
                }
            })
            .map_err(|e| Error::DeviceUnavailable {
                context,
                reason: format!("cannot start the completer thread: {e}"),
            })?;
        Ok(tx)
    }
}
