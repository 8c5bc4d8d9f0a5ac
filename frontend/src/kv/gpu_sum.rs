//! The KVStore's merge when a GPU is involved (the `device` store, or arrays on GPUs): every
//! source is brought to the destination's device, then summed there by one operation.
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use std::sync::Arc;

use mxr_engine::gpu::GpuBuffer;
use mxr_engine::{Operation, Var};
use mxr_kernels::DType;
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
            let out_ptr = dst.ptr().offset(dst_start);
            if views.is_empty() {
                // SAFETY: `out`'s view holds `n` floats of `dst` (held until completion).
                unsafe { device.zero_async(out_ptr, 4 * n)? };
            }
            for (k, (buffer, start)) in views.iter().enumerate() {
                let src = buffer.ptr().offset(*start);
                // SAFETY: kvstore_sum_f32(float* out, const float* a, long long n, int
                // accumulate); each view holds `n` floats (shapes checked by the caller) in
                // buffers held until the operation completes; no source aliases `out`.
                unsafe {
                    mxr_kernels::cuda::launch(
                        &device,
                        "kvstore",
                        "kvstore_sum_f32",
                        n,
                        (out_ptr, src, n as i64, i32::from(k > 0)),
                    )
                    .map_err(|e| mxr_operators::registry::gpu_error("KVStore merge", e))?
                };
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
