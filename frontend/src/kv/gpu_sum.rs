//! The KVStore's merge when a GPU is involved (the `device` store, or arrays on GPUs): every
//! source is brought to the destination's device, then summed there by one operation pushed
//! through the dispatch room ([`dispatch::push_device`]).

use mxr_kernels::DType;
use mxr_kernels::cuda::{self, DeviceSlice};
use mxr_operators::registry::gpu_error;

use crate::dispatch;
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
    let local: Vec<&NDArray> = local.iter().collect();
    if context.is_cpu() {
        return super::reduce::push_sum(name, &local, out);
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
    dispatch::push_device(name, &local, out, move |device, sources, out| {
        let out = floats(out, n)?;
        if sources.is_empty() {
            cuda::memory::zero(device, out).map_err(|e| gpu_error("KVStore merge", e))?;
        }
        for (k, &src) in sources.iter().enumerate() {
            // No source aliases `out` (the caller's merge buffers and stored values).
            cuda::kvstore::sum(device, out, floats(src, n)?, n, k > 0)
                .map_err(|e| gpu_error("KVStore merge", e))?;
        }
        Ok(())
    })
}

/// The first `n` floats of a view's bytes (each view holds `n`: shapes checked by the caller).
fn floats(view: DeviceSlice<'_, u8>, n: usize) -> Result<DeviceSlice<'_, f32>> {
    view.range(0, 4 * n)
        .and_then(DeviceSlice::cast::<f32>)
        .map_err(|e| gpu_error("KVStore merge", e).into())
}
