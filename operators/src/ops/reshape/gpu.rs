//! The GPU kernel of `Reshape`, `Flatten`, `expand_dims` and `_backward_reshape`: a device copy
//! of the bytes (any dtype), nothing when the output is the input (in place).
#![allow(unsafe_code, reason = "device copies between raw addresses")]

use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// Copies `input`'s bytes to `output` unless they are the same memory.
pub(super) fn copy(
    ctx: &GpuOpContext<'_>,
    op: &str,
    input: &GpuTensor<'_>,
    output: &GpuTensor<'_>,
) -> Result<()> {
    let bytes = input.size() * input.dtype.size();
    if input.dtype != output.dtype || output.size() * output.dtype.size() != bytes {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "the input {:?} ({}) and the output {:?} ({}) differ in size",
                input.shape, input.dtype, output.shape, output.dtype
            ),
        });
    }
    if bytes == 0 || input.ptr == output.ptr {
        return Ok(());
    }
    // SAFETY: both hold `bytes` bytes (checked above); distinct buffers (an in-place pair has
    // the same address, handled above; otherwise inputs and outputs do not alias).
    unsafe { ctx.copy(op, output.ptr, input.ptr, bytes) }
}
