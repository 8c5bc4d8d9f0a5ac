//! The KVStore's merge when a GPU is involved (the `device` store, or arrays on GPUs): every
//! source is brought to the destination's device, then summed there by one operation.

use std::sync::Arc;

use mxr_engine::gpu::GpuBuffer;
use mxr_engine::{Operation, Var};
use mxr_kernels::DType;
use mxr_kernels::cuda::{self, DeviceSlice};
use mxr_operators::registry::gpu_error;
use smallvec::SmallVec;

use crate::nd::NDArray;
use crate::{Error, Result};

/// Pushes `out = Σ sources` where some array is on a GPU. Sources on other contexts are copied
/// to `out`'s first (MXNet's `CommDevice` copies them into a merge buffer the same way).
pub(crate) fn push_sum(name: &'static str, sources: &[&NDArray], out: &NDArray) -> Result<()> {
    let context = out.context();
    let local = sources
        .iter()
        .map(|a| a.as_in_context(context))
        .collect::<Result<Vec<_>>>()?;
    if context.is_cpu() {
        let refs: Vec<&NDArray> = local.iter().collect();
        return super::reduce::push_sum(name, &refs, out);
    }
    if out.dtype() != DType::F32 {
        return Err(Error::InvalidArgument {
            call: "KVStore",
            reason: format!(
                "{} values on {context}: GPU merges take float32",
                out.dtype()
            ),
        });
    }
    let n = out.size();
    let views: SmallVec<[(Arc<GpuBuffer>, usize); 4]> = local
        .iter()
        .map(|a| {
            let buffer = a.chunk.device().expect("copied to the GPU context above");
            (Arc::clone(buffer), a.byte_range().start)
        })
        .collect();
    let dst = Arc::clone(out.chunk.device().expect("`out` is on a GPU context"));
    let dst_start = out.byte_range().start;
    let op = Operation::asynchronous(name, move |_, done| {
        let device = Arc::clone(dst.device());
        let queued = (|| -> Result<()> {
            let fail = |e| gpu_error("KVStore merge", e);
            let out = DeviceSlice::<u8>::of_buffer(&dst)
                .range(dst_start, 4 * n)
                .and_then(DeviceSlice::cast::<f32>)
                .map_err(fail)?;
            if views.is_empty() {
                cuda::memory::zero(&device, out).map_err(fail)?;
            }
            for (k, (buffer, start)) in views.iter().enumerate() {
                // Each view holds `n` floats (shapes checked by the caller) in buffers held until
                // the operation completes; no source aliases `out`.
                let src = DeviceSlice::<u8>::of_buffer(buffer)
                    .range(*start, 4 * n)
                    .and_then(DeviceSlice::cast::<f32>)
                    .map_err(fail)?;
                cuda::kvstore::sum(&device, out, src, n, k > 0).map_err(fail)?;
            }
            Ok(())
        })();
        match queued {
            Ok(()) => device.when_done(move |r| {
                drop(views);
                done.finish(r.map_err(Into::into));
            }),
            Err(e) => done.fail(e),
        }
    });
    let reads: SmallVec<[&Var; 4]> = local.iter().map(|a| &a.chunk.var).collect();
    out.chunk
        .engine
        .push(op.reads(&reads).writes(&[&out.chunk.var]).context(context))?;
    Ok(())
}
