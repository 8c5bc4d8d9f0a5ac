//! Launchers of `kernels/cuda/broadcast.cu`: NumPy-broadcasting binary operators and their
//! backward. The launchers build the kernels' shape and stride tables themselves, from shapes
//! they check, so every offset a kernel computes lies inside its operand.

use std::sync::Arc;

use mxr_engine::gpu::{GpuBuffer, GpuDevice};

use super::codes::BinaryCode;
use super::{DeviceSlice, GpuError, Source, at_least, launch, memory};

/// `shape` right-aligned to `n` dimensions (1 in the padding).
fn padded(shape: &[usize], n: usize) -> Vec<usize> {
    let mut dims = vec![1; n - shape.len()];
    dims.extend_from_slice(shape);
    dims
}

/// Row-major element strides of `dims`, 0 along the axes of size 1 (broadcast ones).
fn strides(dims: &[usize]) -> Vec<i64> {
    let mut out = vec![0i64; dims.len()];
    let mut s = 1i64;
    for (k, &d) in dims.iter().enumerate().rev() {
        out[k] = if d == 1 { 0 } else { s };
        s *= d as i64;
    }
    out
}

/// The operands' shapes padded to `out`'s rank, once each axis is `out`'s or 1.
fn operands(
    kernel: &str,
    a: &[usize],
    b: &[usize],
    out: &[usize],
) -> Result<(Vec<usize>, Vec<usize>), GpuError> {
    let nd = out.len();
    let fits = |s: &[usize]| {
        s.len() <= nd
            && padded(s, nd)
                .iter()
                .zip(out)
                .all(|(&d, &o)| d == o || d == 1)
    };
    if !fits(a) || !fits(b) {
        return Err(GpuError::Argument {
            kernel: kernel.into(),
            reason: format!("shapes {a:?} and {b:?} do not broadcast to {out:?}"),
        });
    }
    Ok((padded(a, nd), padded(b, nd)))
}

/// Uploads an `i64` table (an empty one still gets a valid address).
fn table(dev: &Arc<GpuDevice>, values: &[i64]) -> Result<GpuBuffer, GpuError> {
    memory::upload(dev, if values.is_empty() { &[0] } else { values })
}

/// `out = a ∘ b`, the operands of shapes `a_shape`, `b_shape` broadcast to `out_shape`.
pub fn binary(
    dev: &Arc<GpuDevice>,
    op: BinaryCode,
    [out, a, b]: [DeviceSlice<'_, f32>; 3],
    [a_shape, b_shape, out_shape]: [&[usize]; 3],
) -> Result<(), GpuError> {
    const K: &str = "broadcast_binary_f32";
    let (ap, bp) = operands(K, a_shape, b_shape, out_shape)?;
    let n: usize = out_shape.iter().product();
    let out = at_least(K, "out", out, n)?;
    let a = at_least(K, "a", a, a_shape.iter().product())?;
    let b = at_least(K, "b", b, b_shape.iter().product())?;
    let nd = out_shape.len();
    let mut t: Vec<i64> = out_shape.iter().map(|&d| d as i64).collect();
    t.extend(strides(&ap));
    t.extend(strides(&bp));
    let tab = table(dev, &t)?;
    // SAFETY: (float* out, const float* a, const float* b, const long long* table, int ndim,
    // long long n, int op); item i < n writes out[i] and reads a and b at its coordinates in
    // `out_shape` (each < the axis, positive when n > 0) times the operands' strides (0 along
    // their broadcast axes, where the coordinate may exceed their size 1), so inside their
    // element counts (checked above, with the shapes); the table holds 3·ndim values (the
    // temporary may be dropped once queued).
    unsafe {
        launch(
            dev,
            Source::Broadcast,
            K,
            n,
            (out, a, b, tab.ptr(), nd as i32, n as i64, op as i32),
        )
    }
}

/// Which operand's gradient [`reduce`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left operand `a`.
    Lhs,
    /// The right operand `b`.
    Rhs,
}

/// One operand's gradient of `a ∘ b` for head gradient `g` (of `out_shape`), summed over its
/// broadcast axes into `d`; `operands` (`a`, `b`) are read for all but add and sub (`None` for
/// those).
pub fn reduce(
    dev: &Arc<GpuDevice>,
    op: BinaryCode,
    side: Side,
    [d, g]: [DeviceSlice<'_, f32>; 2],
    values: Option<[DeviceSlice<'_, f32>; 2]>,
    [a_shape, b_shape, out_shape]: [&[usize]; 3],
) -> Result<(), GpuError> {
    const K: &str = "broadcast_reduce_f32";
    let (ap, bp) = operands(K, a_shape, b_shape, out_shape)?;
    let (own, m) = match side {
        Side::Lhs => (&ap, a_shape.iter().product::<usize>()),
        Side::Rhs => (&bp, b_shape.iter().product::<usize>()),
    };
    let d = at_least(K, "d", d, m)?;
    let g = at_least(K, "g", g, out_shape.iter().product())?;
    let (a, b) = match values {
        Some([a, b]) => (
            at_least(K, "a", a, a_shape.iter().product())?,
            at_least(K, "b", b, b_shape.iter().product())?,
        ),
        None if matches!(op, BinaryCode::Add | BinaryCode::Sub) => (g, g),
        None => {
            return Err(GpuError::Argument {
                kernel: K.into(),
                reason: "mul, div, max and min gradients read both operands".into(),
            });
        }
    };
    let kop = match (op, side) {
        (BinaryCode::Add, _) | (BinaryCode::Sub, Side::Lhs) => 0,
        (BinaryCode::Sub, Side::Rhs) => 1,
        (BinaryCode::Mul, Side::Lhs) => 2,
        (BinaryCode::Mul, Side::Rhs) => 3,
        (BinaryCode::Div, Side::Lhs) => 4,
        (BinaryCode::Div, Side::Rhs) => 5,
        (BinaryCode::Max, Side::Lhs) => 6,
        (BinaryCode::Max, Side::Rhs) => 7,
        (BinaryCode::Min, Side::Lhs) => 8,
        (BinaryCode::Min, Side::Rhs) => 9,
    };
    let nd = out_shape.len();
    let mut t: Vec<i64> = own.iter().map(|&v| v as i64).collect();
    t.extend(
        own.iter()
            .zip(out_shape)
            .map(|(&s, &o)| if s == 1 { o as i64 } else { 1 }),
    );
    t.extend(strides(out_shape));
    t.extend(strides(&ap));
    t.extend(strides(&bp));
    let tab = table(dev, &t)?;
    // SAFETY: (float* d, const float* g, const float* a, const float* b,
    // const long long* table, int ndim, long long m, int op); item i < m writes d[i] and visits
    // the coordinates of `out_shape` whose own-axis parts are i's (each axis is either the
    // operand's, or 1 in the operand and reduced over `out_shape`'s size), so every coordinate
    // is inside `out_shape` and, times each operand's strides (0 along its broadcast axes),
    // inside g, a and b (checked above; a and b are g and unread for ops 0 and 1); the table
    // holds 5·ndim values.
    unsafe {
        launch(
            dev,
            Source::Broadcast,
            K,
            m,
            (d, g, a, b, tab.ptr(), nd as i32, m as i64, kop),
        )
    }
}
