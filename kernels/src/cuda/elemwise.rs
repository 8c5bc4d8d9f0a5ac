//! Launchers of `kernels/cuda/elemwise.cu`: same-shape binary operators and `where`, with
//! their backward operators.

use std::sync::Arc;

use mxr_engine::gpu::{DevicePtr, GpuDevice};

use super::codes::BinaryCode;
use super::{AnySlice, DeviceSlice, GpuError, Source, all_at_least, at_least, launch};

/// `out = a ∘ b` over `n` elements (`out` may be `a` or `b`: item i reads before it writes).
pub fn binary(
    dev: &Arc<GpuDevice>,
    op: BinaryCode,
    [out, a, b]: [DeviceSlice<'_, f32>; 3],
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "elemwise_binary_f32";
    let [out, a, b] = all_at_least(K, ["out", "a", "b"], [out, a, b], n)?;
    // SAFETY: (float* out, const float* a, const float* b, long long n, int op); item i < n
    // touches element i of each, inside the checked lengths.
    unsafe {
        launch(
            dev,
            Source::Elemwise,
            K,
            n,
            (out, a, b, n as i64, op as i32),
        )
    }
}

/// The gradients `(da, db)` of `a ∘ b` for head gradient `g` over `n` elements; the operands
/// are read for mul and div only (`None` for add and sub).
pub fn binary_backward(
    dev: &Arc<GpuDevice>,
    op: BinaryCode,
    [da, db, g]: [DeviceSlice<'_, f32>; 3],
    operands: Option<[DeviceSlice<'_, f32>; 2]>,
    n: usize,
) -> Result<(), GpuError> {
    const K: &str = "elemwise_binary_backward_f32";
    let [da, db, g] = all_at_least(K, ["da", "db", "g"], [da, db, g], n)?;
    let (a, b) = match operands {
        Some([a, b]) => (at_least(K, "a", a, n)?, at_least(K, "b", b, n)?),
        None if matches!(op, BinaryCode::Add | BinaryCode::Sub) => (g, g),
        None => {
            return Err(GpuError::Argument {
                kernel: K.into(),
                reason: "mul, div, max and min gradients read both operands".into(),
            });
        }
    };
    // SAFETY: (float* da, float* db, const float* g, const float* a, const float* b,
    // long long n, int op); item i < n touches element i of each; a and b are checked, or are
    // g and unread (add, sub).
    unsafe {
        launch(
            dev,
            Source::Elemwise,
            K,
            n,
            (da, db, g, a, b, n as i64, op as i32),
        )
    }
}

/// The condition's address and code, once it holds a value per `row` of `n` elements.
fn cond_parts(
    kernel: &str,
    cond: AnySlice<'_>,
    n: usize,
    row: usize,
) -> Result<(DevicePtr, i32), GpuError> {
    let (ptr, code, len) = (cond.ptr(), cond.code(), cond.len());
    if n > 0 && (row == 0 || len < n.div_ceil(row)) {
        return Err(GpuError::Argument {
            kernel: kernel.into(),
            reason: format!("{len} condition values for {n} elements in rows of {row}"),
        });
    }
    Ok((ptr, code))
}

/// `out = cond != 0 ? x : y` over `n` elements, one condition value per `row` elements.
pub fn select(
    dev: &Arc<GpuDevice>,
    [out, x, y]: [DeviceSlice<'_, f32>; 3],
    cond: AnySlice<'_>,
    n: usize,
    row: usize,
) -> Result<(), GpuError> {
    const K: &str = "elemwise_where_f32";
    let [out, x, y] = all_at_least(K, ["out", "x", "y"], [out, x, y], n)?;
    let (c, ct) = cond_parts(K, cond, n, row)?;
    // SAFETY: (float* out, const void* cond, int ctype, const float* x, const float* y,
    // long long n, long long row); item i < n touches element i of out, x, y and condition
    // value i / row of the dtype `ct` names (row > 0 and enough values: checked).
    unsafe {
        launch(
            dev,
            Source::Elemwise,
            K,
            n,
            (out, c, ct, x, y, n as i64, row as i64),
        )
    }
}

/// `(dx, dy)`: the head gradient `g` split by the condition, over `n` elements.
pub fn select_backward(
    dev: &Arc<GpuDevice>,
    [dx, dy, g]: [DeviceSlice<'_, f32>; 3],
    cond: AnySlice<'_>,
    n: usize,
    row: usize,
) -> Result<(), GpuError> {
    const K: &str = "elemwise_where_backward_f32";
    let [dx, dy, g] = all_at_least(K, ["dx", "dy", "g"], [dx, dy, g], n)?;
    let (c, ct) = cond_parts(K, cond, n, row)?;
    // SAFETY: (float* dx, float* dy, const float* g, const void* cond, int ctype, long long n,
    // long long row); as in `select`.
    unsafe {
        launch(
            dev,
            Source::Elemwise,
            K,
            n,
            (dx, dy, g, c, ct, n as i64, row as i64),
        )
    }
}
