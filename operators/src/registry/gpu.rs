//! What GPU kernels get: device tensor views and the GPU operator context.

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuBuffer, GpuDevice};
use mxr_kernels::cpu::random::Rng;
use mxr_kernels::cuda::{AnySlice, DeviceSlice, GpuError, memory};
use mxr_kernels::{DType, Element};

use crate::{Error, Result};

/// A view of one input or output in device memory (the GPU counterpart of
/// [`TensorRef`](super::TensorRef) / [`TensorMut`](super::TensorMut)): shape, dtype, and the
/// device memory holding the elements. Row-major and contiguous.
///
/// The memory is a [`DeviceSlice`] of bytes, whose maker vouched for it (the frontends, from the
/// arrays' buffers); typed slices of it ([`GpuTensor::slice`]) are checked against its length,
/// so no shape put into `shape` afterwards can reach past it.
#[derive(Debug, Clone, Copy)]
pub struct GpuTensor<'a> {
    /// The dimensions.
    pub shape: &'a [usize],
    /// The element type.
    pub dtype: DType,
    data: DeviceSlice<'a, u8>,
}

impl<'a> GpuTensor<'a> {
    /// A view of `data` as a `shape` array of `dtype`; an error naming `op` when `data` is too
    /// short.
    pub fn new(
        op: &str,
        shape: &'a [usize],
        dtype: DType,
        data: DeviceSlice<'a, u8>,
    ) -> Result<GpuTensor<'a>> {
        let t = GpuTensor { shape, dtype, data };
        t.bytes(op)?;
        Ok(t)
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The device address of the first element.
    pub fn ptr(&self) -> DevicePtr {
        self.data.ptr()
    }

    /// The tensor's bytes.
    pub fn bytes(&self, op: &str) -> Result<DeviceSlice<'a, u8>> {
        self.data
            .range(0, self.size() * self.dtype.size())
            .map_err(|e| gpu_error(op, e))
    }

    /// The elements as `T`s; an error naming `op` when the dtype is not `T`'s.
    pub fn slice<T: Element>(&self, op: &str) -> Result<DeviceSlice<'a, T>> {
        if self.dtype != T::DTYPE {
            return Err(Error::Unsupported {
                op: op.to_string(),
                what: format!(
                    "{} data on the GPU where the kernel takes {}",
                    self.dtype,
                    T::DTYPE
                ),
            });
        }
        self.bytes(op)?.cast().map_err(|e| gpu_error(op, e))
    }

    /// The elements in their dtype, for kernels that take values of any dtype but float16
    /// (conditions, indices); an error naming `op` for float16.
    pub fn any(&self, op: &str) -> Result<AnySlice<'a>> {
        Ok(match self.dtype {
            DType::F32 => AnySlice::F32(self.slice(op)?),
            DType::F64 => AnySlice::F64(self.slice(op)?),
            DType::I32 => AnySlice::I32(self.slice(op)?),
            DType::I64 => AnySlice::I64(self.slice(op)?),
            DType::U8 => AnySlice::U8(self.slice(op)?),
            DType::I8 => AnySlice::I8(self.slice(op)?),
            other => {
                return Err(Error::Unsupported {
                    op: op.to_string(),
                    what: format!("{other} values (a condition or indices) on the GPU"),
                });
            }
        })
    }

    /// The elements as float32 (the dtype of mxr's GPU kernels); an error naming `op` for any
    /// other dtype.
    pub fn f32(&self, op: &str) -> Result<DeviceSlice<'a, f32>> {
        if self.dtype != DType::F32 {
            return Err(Error::Unsupported {
                op: op.to_string(),
                what: format!(
                    "{} data on the GPU (the GPU kernels take float32)",
                    self.dtype
                ),
            });
        }
        self.slice(op)
    }
}

/// What a GPU kernel gets besides its tensors (MXNet's `OpContext` with a GPU `RunContext`).
///
/// A kernel queues its work on the device's compute stream (the safe launchers of
/// [`mxr_kernels::cuda`], one module per kernel source, and the memory operations here) and
/// returns; the caller completes the operation when the stream has run it.
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

/// One call of a GPU kernel ([`GpuForward::forward_gpu`](super::GpuForward::forward_gpu)): the
/// context and the device views, by name, as [`Call`](super::Call) is for the CPU.
#[derive(Debug)]
pub struct GpuCall<'c, 'a, 't> {
    /// The device, its stream and what the kernel gets besides its tensors.
    pub ctx: &'c mut GpuOpContext<'a>,
    /// One view per input.
    pub inputs: &'c [GpuTensor<'t>],
    /// One view per output, then one per mutated input.
    pub outputs: &'c [GpuTensor<'t>],
}

impl<'c, 'a, 't> GpuCall<'c, 'a, 't> {
    /// The call of a GPU kernel with `ctx` on `inputs`, writing `outputs`.
    pub fn new(
        ctx: &'c mut GpuOpContext<'a>,
        inputs: &'c [GpuTensor<'t>],
        outputs: &'c [GpuTensor<'t>],
    ) -> Self {
        GpuCall {
            ctx,
            inputs,
            outputs,
        }
    }
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

    /// Queues copying `src` into `dst` (same length; the same range is left as it is).
    pub fn copy<T: Element>(
        &self,
        op: &str,
        dst: DeviceSlice<'_, T>,
        src: DeviceSlice<'_, T>,
    ) -> Result<()> {
        memory::copy(self.device, dst, src).map_err(|e| gpu_error(op, e))
    }

    /// Queues zeroing `dst`.
    pub fn zero<T: Element>(&self, op: &str, dst: DeviceSlice<'_, T>) -> Result<()> {
        memory::zero(self.device, dst).map_err(|e| gpu_error(op, e))
    }

    /// Queues an element-wise float32 kernel on `tensors` (its output first), which must all
    /// hold as many elements as the first ([`f32_slices`]): `launch` gets the device, their
    /// slices and that count. Errors, the launcher's included, name `op`.
    pub fn elementwise<'t, const N: usize>(
        &self,
        op: &str,
        tensors: [&GpuTensor<'t>; N],
        launch: impl FnOnce(
            &Arc<GpuDevice>,
            [DeviceSlice<'t, f32>; N],
            usize,
        ) -> std::result::Result<(), GpuError>,
    ) -> Result<()> {
        let (n, slices) = f32_slices(op, tensors)?;
        launch(self.device, slices, n).map_err(|e| gpu_error(op, e))
    }

    /// Uploads host values into fresh device memory, in stream order (after the work already
    /// queued, before the work queued next), without waiting: for small tables (shapes,
    /// strides) and masks. Keep the buffer alive until the kernels using it are queued.
    pub fn upload<T: Element>(&self, op: &str, src: &[T]) -> Result<GpuBuffer> {
        memory::upload(self.device, src).map_err(|e| gpu_error(op, e))
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

/// The float32 elements of `tensors`, which must hold as many elements as the first, with that
/// count: what an element-wise GPU kernel checks before it launches. An error naming `op` when
/// a size differs ([`check_sizes`]) or a dtype is not float32 ([`GpuTensor::f32`]).
pub fn f32_slices<'a, const N: usize>(
    op: &str,
    tensors: [&GpuTensor<'a>; N],
) -> Result<(usize, [DeviceSlice<'a, f32>; N])> {
    let n = tensors.first().map_or(0, |t| t.size());
    check_sizes(op, n, &tensors)?;
    let slices: Vec<DeviceSlice<'a, f32>> =
        tensors.iter().map(|t| t.f32(op)).collect::<Result<_>>()?;
    // One slice per tensor: the conversion to N elements cannot fail.
    let slices = slices
        .try_into()
        .unwrap_or_else(|_| unreachable!("one slice per tensor"));
    Ok((n, slices))
}

/// A GPU failure as an operator error naming `op`.
pub fn gpu_error(op: &str, source: GpuError) -> Error {
    Error::Gpu {
        op: op.to_string(),
        source,
    }
}
