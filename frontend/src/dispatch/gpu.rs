//! Operators on a GPU context: one asynchronous engine operation per call, whose body queues
//! the operator's GPU kernel on the device's stream and completes when the stream has run it;
//! and [`push_device`], the same for device code that is no registry operator (the KVStore's
//! GPU merge).

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};
use mxr_engine::{Completion, Context, Operation, Var};
use mxr_kernels::DType;
use mxr_kernels::cuda::{DeviceSlice, memory};
use mxr_operators::registry::{DeferredCheck, GpuOpContext, GpuTensor, OpRef, Resource, gpu_error};
use smallvec::SmallVec;

use crate::nd::NDArray;
use crate::nd::ndarray::Dims;
use crate::nd::random::RngState;
use crate::{Error, Result};

/// One array's place in a GPU operation: its buffer (held until the operation completes), the
/// view's first byte, shape and dtype.
struct GpuView {
    buffer: Arc<GpuBuffer>,
    start: usize,
    shape: Dims,
    dtype: DType,
}

impl GpuView {
    /// The view of `a`, an array on `device`; an error from `call` naming `op` otherwise.
    fn of(a: &NDArray, device: &Arc<GpuDevice>, call: &'static str, op: &str) -> Result<GpuView> {
        let buffer = a.chunk.device().filter(|b| Arc::ptr_eq(b.device(), device));
        let Some(buffer) = buffer else {
            return Err(Error::InvalidArgument {
                call,
                reason: format!(
                    "operator {op}: an array on {} in an operation on {}",
                    a.context(),
                    device.context()
                ),
            });
        };
        Ok(GpuView {
            buffer: Arc::clone(buffer),
            start: a.byte_range().start,
            shape: a.shape.clone(),
            dtype: a.dtype(),
        })
    }

    /// The view's bytes in its buffer; an error naming `op` when they do not lie inside.
    fn slice(&self, op: &str) -> Result<DeviceSlice<'_, u8>> {
        DeviceSlice::of_buffer(&self.buffer)
            .range(self.start, self.bytes())
            .map_err(|e| gpu_error(op, e).into())
    }

    fn bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.size()
    }

    /// Whether the two views' bytes overlap.
    fn overlaps(&self, other: &GpuView) -> bool {
        Arc::ptr_eq(&self.buffer, &other.buffer)
            && self.start < other.start + other.bytes()
            && other.start < self.start + self.bytes()
    }
}

/// Pushes `op` on arrays of GPU `context` (shapes and dtypes already inferred and checked).
pub(crate) fn push(
    op: &OpRef,
    inputs: &[&NDArray],
    outputs: &[NDArray],
    is_train: bool,
    context: Context,
    needed: Option<&[bool]>,
) -> Result<()> {
    let name = op.name();
    if !op.has_gpu() {
        return Err(Error::Operator(mxr_operators::Error::Unsupported {
            op: name.to_string(),
            what: format!("running on {context}: it has no GPU kernel yet (it runs on the CPU)"),
        }));
    }
    let device = GpuDevice::get(context.device_id())?;
    let mutated = op.mutate_inputs();
    let rng = op
        .resources()
        .contains(&Resource::Random)
        .then(|| RngState::of(context));
    let (mut reads, writes) = super::cpu::call_vars(inputs, outputs, &mutated, rng.as_deref());
    reads.retain(|r| !writes.iter().any(|w| w.id() == r.id()));
    let input_views = inputs
        .iter()
        .map(|a| GpuView::of(a, &device, "nd::apply", name))
        .collect::<Result<SmallVec<[GpuView; 4]>>>()?;
    let output_views = outputs
        .iter()
        .chain(mutated.iter().map(|&i| inputs[i]))
        .map(|a| GpuView::of(a, &device, "nd::apply", name))
        .collect::<Result<SmallVec<[GpuView; 4]>>>()?;
    let op = Arc::clone(op);
    let rng_state = rng.clone();
    let needed: Option<SmallVec<[bool; 4]>> = needed.map(SmallVec::from_slice);
    let body = move |_: &mxr_engine::RunContext, done: mxr_engine::Completion| {
        let dev = Arc::clone(&device);
        let queued = (|| -> Result<(SmallVec<[GpuBuffer; 2]>, Vec<DeferredCheck>)> {
            // Inputs overlapping an output are copied first: kernels may assume no aliasing.
            let mut staged: SmallVec<[GpuBuffer; 2]> = SmallVec::new();
            let mut staged_as: SmallVec<[Option<usize>; 4]> = SmallVec::new();
            for v in &input_views {
                if output_views.iter().any(|o| o.overlaps(v)) {
                    let tmp = dev.alloc(v.bytes())?;
                    memory::copy(&dev, DeviceSlice::of_buffer(&tmp), v.slice(name)?)
                        .map_err(|e| gpu_error(name, e))?;
                    staged_as.push(Some(staged.len()));
                    staged.push(tmp);
                } else {
                    staged_as.push(None);
                }
            }
            let ins = input_views
                .iter()
                .zip(&staged_as)
                .map(|(v, k)| {
                    let data = match k {
                        Some(k) => DeviceSlice::of_buffer(&staged[*k]),
                        None => v.slice(name)?,
                    };
                    Ok(GpuTensor::new(name, &v.shape, v.dtype, data)?)
                })
                .collect::<Result<SmallVec<[GpuTensor<'_>; 4]>>>()?;
            let outs = output_views
                .iter()
                .map(|v| Ok(GpuTensor::new(name, &v.shape, v.dtype, v.slice(name)?)?))
                .collect::<Result<SmallVec<[GpuTensor<'_>; 4]>>>()?;
            let mut rng_guard = rng_state.as_ref().map(|r| r.rng.lock());
            let mut ctx = GpuOpContext {
                is_train,
                device: &dev,
                rng: rng_guard.as_deref_mut(),
                needed: needed.as_deref(),
                deferred: Vec::new(),
            };
            op.forward_gpu(&mut ctx, &ins, &outs)?;
            // The views borrow `staged`, handed back below.
            drop((ins, outs));
            Ok((staged, ctx.deferred))
        })();
        // The checks run once the stream has run the kernels, while the buffers are still
        // held; then the buffers go.
        complete_after_stream(&dev, queued, done, move |(staged, checks)| {
            let r = checks
                .into_iter()
                .try_for_each(|check| check().map_err(Error::Operator));
            drop((input_views, output_views, staged));
            r
        });
    };
    let engine = inputs
        .first()
        .map_or_else(|| outputs[0].chunk.engine, |a| a.chunk.engine);
    engine.push(
        Operation::asynchronous(name, body)
            .reads(&reads)
            .writes(&writes)
            .context(context),
    )?;
    Ok(())
}

/// Completes `done` once `device`'s stream has run what an operation body queued: `queued` is
/// what queuing gave (the buffers and checks the work needs until then, or an error, which
/// fails the operation at once); `then` runs after the stream (unless it failed) and releases
/// them.
fn complete_after_stream<H: Send + 'static>(
    device: &GpuDevice,
    queued: Result<H>,
    done: Completion,
    then: impl FnOnce(H) -> Result<()> + Send + 'static,
) {
    match queued {
        Ok(held) => device.when_done(move |r| {
            let r = r.map_err(Error::from);
            // `held` goes with `then`, or here when the stream failed.
            let r = match r {
                Ok(()) => then(held),
                Err(e) => {
                    drop(held);
                    Err(e)
                }
            };
            done.finish(r.map_err(Into::into));
        }),
        Err(e) => done.fail(e),
    }
}

/// Pushes device code that is no registry operator as one asynchronous engine operation on
/// `out`'s GPU, reading the vars of `sources` and writing `out`'s: `body` gets the device and
/// the arrays' bytes on it (the sources', in order, then `out`'s) and queues its work on the
/// device's stream; the operation completes when the stream has run it, and holds the arrays'
/// buffers until then. The arrays' storage stays in the dispatch room.
///
/// # Errors
/// [`Error::InvalidArgument`] when `out` is not on a GPU or a source is not on `out`'s device;
/// an engine error if the push is refused. What `body` returns fails the operation (and the
/// waits on `out`).
pub(crate) fn push_device(
    name: &'static str,
    sources: &[&NDArray],
    out: &NDArray,
    body: impl FnOnce(&Arc<GpuDevice>, &[DeviceSlice<'_, u8>], DeviceSlice<'_, u8>) -> Result<()>
    + Send
    + 'static,
) -> Result<()> {
    let context = out.context();
    let Some(buffer) = out.chunk.device() else {
        return Err(Error::InvalidArgument {
            call: name,
            reason: format!("the destination is on {context}, not on a GPU"),
        });
    };
    let device = Arc::clone(buffer.device());
    let views = sources
        .iter()
        .map(|a| GpuView::of(a, &device, name, name))
        .collect::<Result<SmallVec<[GpuView; 4]>>>()?;
    let dst = GpuView::of(out, &device, name, name)?;
    let op = Operation::asynchronous(name, move |_, done| {
        let queued = (|| -> Result<()> {
            let sources = views
                .iter()
                .map(|v| v.slice(name))
                .collect::<Result<SmallVec<[DeviceSlice<'_, u8>; 4]>>>()?;
            body(&device, &sources, dst.slice(name)?)
        })();
        complete_after_stream(&device, queued, done, move |()| {
            drop((views, dst));
            Ok(())
        });
    });
    let reads: SmallVec<[&Var; 4]> = sources.iter().map(|a| &a.chunk.var).collect();
    out.chunk
        .engine
        .push(op.reads(&reads).writes(&[&out.chunk.var]).context(context))?;
    Ok(())
}
