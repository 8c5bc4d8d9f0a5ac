//! Launchers of `kernels/cuda/transpose.cu`: any permutation of the axes, for elements of 1, 2,
//! 4 or 8 bytes.

use std::sync::Arc;

use mxr_engine::gpu::GpuDevice;

use super::{DeviceSlice, GpuError, Source, by_width, launch, memory};

fn bad(reason: String) -> GpuError {
    GpuError::Argument {
        kernel: "transpose".into(),
        reason,
    }
}

/// `y = x` with its axes permuted (`y`'s axis `k` is `x`'s axis `axes[k]`), `x` of `x_shape`,
/// both given as bytes of elements `width` bytes wide.
pub fn transpose(
    dev: &Arc<GpuDevice>,
    width: usize,
    [y, x]: [DeviceSlice<'_, u8>; 2],
    x_shape: &[usize],
    axes: &[usize],
) -> Result<(), GpuError> {
    let rank = x_shape.len();
    let mut seen = vec![false; rank];
    let permutation = axes.len() == rank
        && axes
            .iter()
            .all(|&a| a < rank && !std::mem::replace(&mut seen[a], true));
    if !permutation {
        return Err(bad(format!("axes {axes:?} do not permute {rank} axes")));
    }
    let n: usize = x_shape.iter().product();
    let (kernel, yp, xp) = by_width("transpose", width, [y, x], (n, n))?;
    if n == 0 {
        return Ok(());
    }
    let mut in_strides = vec![0usize; rank];
    let mut acc = 1;
    for k in (0..rank).rev() {
        in_strides[k] = acc;
        acc *= x_shape[k];
    }
    // The output's extents, then the input stride of each output axis; size-1 axes dropped.
    let (mut ext, mut str_) = (Vec::new(), Vec::new());
    for &a in axes {
        if x_shape[a] != 1 {
            ext.push(x_shape[a] as i64);
            str_.push(in_strides[a] as i64);
        }
    }
    let r = ext.len();
    let mut t = ext;
    t.extend(str_);
    if t.is_empty() {
        t.push(0);
    }
    let table = memory::upload(dev, &t)?;
    // SAFETY: (T* y, const T* x, const long long* tab, int rank, long long n), T of `width`
    // bytes (the kernel named by it; both slices aligned and holding n such elements: checked);
    // item i < n writes y[i] and reads x at Σ coordinate·stride over a permutation of x's axes
    // (checked), each coordinate below its extent, so below n; the table holds 2·r values.
    unsafe {
        launch(
            dev,
            Source::Transpose,
            &kernel,
            n,
            (yp, xp, table.ptr(), r as i32, n as i64),
        )
    }
}
