//! `transpose`'s GPU kernel (`kernels/cuda/transpose.cu`).
#![allow(unsafe_code, reason = "kernel launches on device addresses")]

use crate::registry::{GpuOpContext, GpuTensor};
use crate::{Error, Result};

/// `y = x` with its axes permuted by `axes` (`y`'s axis `k` is `x`'s axis `axes[k]`); any
/// dtype (the kernel moves elements of the dtype's width).
pub(super) fn transpose(
    ctx: &GpuOpContext<'_>,
    axes: &[usize],
    x: &GpuTensor<'_>,
    y: &GpuTensor<'_>,
) -> Result<()> {
    let op = "transpose";
    let kernel = match x.dtype.size() {
        1 => "transpose_b1",
        2 => "transpose_b2",
        4 => "transpose_b4",
        8 => "transpose_b8",
        w => {
            return Err(Error::Unsupported {
                op: op.into(),
                what: format!("{w}-byte elements on the GPU"),
            });
        }
    };
    let rank = x.shape.len();
    let valid = x.dtype == y.dtype
        && axes.len() == rank
        && y.shape.len() == rank
        && axes
            .iter()
            .enumerate()
            .all(|(k, &a)| x.shape.get(a) == Some(&y.shape[k]));
    if !valid {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "axes {axes:?} do not permute {:?} into {:?}",
                x.shape, y.shape
            ),
        });
    }
    let n = x.size();
    if n == 0 {
        return Ok(());
    }
    let mut in_strides = vec![0usize; rank];
    let mut acc = 1;
    for k in (0..rank).rev() {
        in_strides[k] = acc;
        acc *= x.shape[k];
    }
    // The output's extents, then the input stride of each output axis; size-1 axes dropped.
    let (mut ext, mut str_) = (Vec::new(), Vec::new());
    for (k, &a) in axes.iter().enumerate() {
        if y.shape[k] != 1 {
            ext.push(y.shape[k] as i64);
            str_.push(in_strides[a] as i64);
        }
    }
    let r = ext.len();
    let mut bytes: Vec<u8> = ext
        .iter()
        .chain(&str_)
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    if bytes.is_empty() {
        bytes.extend_from_slice(&0i64.to_ne_bytes());
    }
    let table = ctx.upload(op, &bytes)?;
    // SAFETY: (T* y, const T* x, const long long* tab, int rank, long long n), T of the
    // dtype's width: x and y hold n such elements each (the same dtype, a permutation of the
    // same extents, checked above); every offset the table gives is an input index within its
    // extents; the table holds 2 * r entries.
    unsafe {
        ctx.launch(
            op,
            "transpose",
            kernel,
            n,
            (y.ptr, x.ptr, table.ptr(), r as i32, n as i64),
        )
    }
}
