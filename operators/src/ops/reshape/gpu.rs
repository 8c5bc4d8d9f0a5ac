//! The GPU kernel of `Reshape`, `Flatten`, `expand_dims` and `_backward_reshape`: a device copy
//! of the bytes (any dtype), nothing when the output is the input (in place).

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
    // Nothing to do in place (the same memory).
    ctx.copy(op, output.bytes(op)?, input.bytes(op)?)
}
