//! Helpers that several operator families share: parameterless ops, element-wise shape
//! inference and the slots it works on, axis normalisation and views, the window parameters of Convolution and Pooling, the
//! error for a kernel that refused its operands, and batched GEMMs on the GPU. A family imports another family only where it
//! composes that family's operator.

use mxr_engine::gpu::GpuDevice;
use mxr_kernels::cpu::softmax::Axis;
use mxr_kernels::cuda::{DeviceSlice, GpuError, blas};

use crate::registry::Shape;
use crate::registry::attrs::{AttrParser, AttrValue, ParamSpec};
use crate::{Error, Result};

/// The parameter listing of an operator without parameters.
pub(crate) fn no_params() -> Vec<ParamSpec> {
    Vec::new()
}

/// Checks that an operator without parameters was given none (user `__attrs__` excepted).
pub(crate) fn parse_no_params(op: &'static str, attrs: &[(&str, &str)]) -> Result<()> {
    AttrParser::new(op, attrs.iter().copied()).finish()
}

/// Shape inference of element-wise operators: every input and output has one shape, taken
/// from whichever is known (in both directions).
pub(crate) fn same_shape(shapes: &mut crate::registry::ShapeCtx<'_>) -> Result<()> {
    let mut merged = crate::registry::Shape::unknown();
    for i in 0..shapes.num_inputs() {
        merged
            .merge(shapes.input(i))
            .map_err(|reason| shapes.error(format!("inputs must have one shape: {reason}")))?;
    }
    for i in 0..shapes.num_outputs() {
        merged
            .merge(shapes.output(i))
            .map_err(|reason| shapes.error(reason))?;
    }
    for i in 0..shapes.num_inputs() {
        shapes.set_input(i, merged.clone())?;
    }
    for i in 0..shapes.num_outputs() {
        shapes.set_output(i, merged.clone())?;
    }
    Ok(())
}

/// An input or output slot of a node.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    /// Input `i`.
    In(usize),
    /// Output `k`.
    Out(usize),
}

impl Slot {
    /// The slot's shape as known.
    pub(crate) fn get(self, shapes: &crate::registry::ShapeCtx<'_>) -> Shape {
        match self {
            Slot::In(i) => shapes.input(i).clone(),
            Slot::Out(k) => shapes.output(k).clone(),
        }
    }

    /// Merges `shape` into the slot (`set_input` / `set_output`).
    pub(crate) fn set(
        self,
        shapes: &mut crate::registry::ShapeCtx<'_>,
        shape: Shape,
    ) -> Result<()> {
        match self {
            Slot::In(i) => shapes.set_input(i, shape),
            Slot::Out(k) => shapes.set_output(k, shape),
        }
    }
}

/// Type inference of an operator whose output 0 has input `input`'s dtype while its other
/// inputs (indices, shape donors) may have any.
pub(crate) fn tie_dtype(types: &mut crate::registry::TypeCtx<'_>, input: usize) -> Result<()> {
    if let Some(t) = types.input(input).or(types.output(0)) {
        types.set_input(input, t)?;
        types.set_output(0, t)?;
    }
    Ok(())
}

/// `axis` (negative counts from the end) as an index into `rank` axes, or `None` when out of
/// `[-rank, rank)`.
pub(crate) fn normalize_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = i64::try_from(rank).ok()?;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

/// Why `axis` does not fit an input of `rank` axes; `shape` describes the input (` (2, 3)`)
/// or is empty.
pub(crate) fn axis_out_of_range(axis: i64, rank: usize, shape: &str) -> String {
    format!("axis={axis} is out of range for a {rank}-D input{shape} (allowed [-{rank}, {rank}))")
}

/// The `(outer, len, inner)` view of an array of `shape` around `axis` (negative counts from
/// the end); an error naming `op` and the axis when it is out of range.
pub(crate) fn axis_view(op: &str, axis: i64, shape: &[usize]) -> Result<Axis> {
    normalize_axis(axis, shape.len())
        .and_then(|a| Axis::of(shape, a))
        .ok_or_else(|| Error::BadInput {
            op: op.into(),
            reason: axis_out_of_range(axis, shape.len(), &format!(" {shape:?}")),
        })
}

/// Checks that the `float`/`double` parameter `name` of `op` (an epsilon) is finite and
/// not negative.
pub(crate) fn check_eps(op: &str, name: &str, value: f64, type_name: &str) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        return Ok(());
    }
    Err(Error::BadParam {
        op: op.into(),
        name: name.into(),
        value: value.to_attr(),
        type_name: type_name.into(),
        hint: "; must be finite and >= 0".into(),
    })
}

/// The error for a kernel that refused its operands (the kernel's own error says which and
/// why), attributed to operator `op`.
pub(crate) fn kernel_error(op: &str, e: impl std::fmt::Display) -> Error {
    Error::BadInput {
        op: op.to_string(),
        reason: e.to_string(),
    }
}

/// The error for a `Shape(tuple)` parameter of `op` out of range (a window's `kernel`,
/// `stride`, `dilate` or `pad`); `hint` completes the message.
pub(crate) fn bad_tuple(op: &str, name: &str, value: &[usize], hint: String) -> Error {
    Error::BadParam {
        op: op.into(),
        name: name.into(),
        value: value.to_vec().to_attr(),
        type_name: "Shape(tuple)".into(),
        hint,
    }
}

/// Checks a window's `kernel` (Convolution, Pooling): 1, 2 or 3 dimensions (else an error
/// whose hint is `rank_hint`), every size positive. Returns its number of dimensions.
pub(crate) fn check_kernel(op: &str, kernel: &[usize], rank_hint: &str) -> Result<usize> {
    let nd = kernel.len();
    if !(1..=3).contains(&nd) {
        return Err(bad_tuple(op, "kernel", kernel, rank_hint.into()));
    }
    if kernel.contains(&0) {
        let hint = "; every size must be positive".into();
        return Err(bad_tuple(op, "kernel", kernel, hint));
    }
    Ok(nd)
}

/// A window's per-dimension parameter `name` (`stride`, `dilate`, `pad`): `default` in each of
/// `kernel`'s dimensions when `given` is empty, else `given`, which must have as many dimensions
/// as `kernel`.
pub(crate) fn expand_window(
    op: &str,
    name: &str,
    given: &[usize],
    kernel: &[usize],
    default: usize,
) -> Result<Vec<usize>> {
    if given.is_empty() {
        return Ok(vec![default; kernel.len()]);
    }
    if given.len() != kernel.len() {
        let hint = format!(
            "; must have as many dimensions as kernel {}",
            kernel.to_vec().to_attr()
        );
        return Err(bad_tuple(op, name, given, hint));
    }
    Ok(given.to_vec())
}

/// Checks that every value of the window parameter `name` is positive.
pub(crate) fn check_positive(op: &str, name: &str, values: &[usize]) -> Result<()> {
    if values.contains(&0) {
        let hint = "; every value must be positive".into();
        return Err(bad_tuple(op, name, values, hint));
    }
    Ok(())
}

/// The error for a `layout` that does not match an `nd`-D `kernel` (`expected` fits it);
/// `type_name` is the layout parameter's.
pub(crate) fn wrong_layout(
    op: &str,
    (layout, type_name): (String, String),
    kernel: &[usize],
    expected: String,
) -> Error {
    Error::BadParam {
        op: op.into(),
        name: "layout".into(),
        value: layout,
        type_name,
        hint: format!(
            "; a {}-D kernel {} needs layout {expected}",
            kernel.len(),
            kernel.to_vec().to_attr()
        ),
    }
}

/// A stack of row-major matrices of one size, packed one after another in device memory: an
/// operand or result of [`batched_gemm`].
pub(crate) struct Matrices<'a> {
    /// The elements.
    pub data: DeviceSlice<'a, f32>,
    /// Rows of each matrix, as stored.
    pub rows: usize,
    /// Columns of each matrix, as stored.
    pub cols: usize,
}

impl<'a> Matrices<'a> {
    /// `data` as matrices of `rows × cols`.
    pub(crate) fn new(data: DeviceSlice<'a, f32>, rows: usize, cols: usize) -> Matrices<'a> {
        Matrices { data, rows, cols }
    }
}

/// `c = op(a)·op(b) + beta·c` for each of `batch` matrices (`op` transposes where `ta`, `tb`
/// say): one strided-batched cuBLAS GEMM, the strides the matrices' sizes, the leading
/// dimensions their stored column counts.
pub(crate) fn batched_gemm(
    dev: &GpuDevice,
    batch: usize,
    (ta, a): (bool, &Matrices<'_>),
    (tb, b): (bool, &Matrices<'_>),
    beta: f32,
    c: &Matrices<'_>,
) -> std::result::Result<(), GpuError> {
    let k = if ta { a.rows } else { a.cols };
    blas::sgemm_strided_batched(
        dev,
        ta,
        tb,
        c.rows,
        c.cols,
        k,
        1.0,
        a.data,
        a.cols,
        a.rows * a.cols,
        b.data,
        b.cols,
        b.rows * b.cols,
        beta,
        c.data,
        c.cols,
        c.rows * c.cols,
        batch,
    )
}

/// `out[i] = src[offsets[i]]` on the GPU, float32, for operators that move elements by a
/// table computed on the host (`slice`, `take`, `Pad`): the table is uploaded and
/// `Embedding`'s row gather (rows of one element) does the move.
pub(crate) fn gpu_gather(
    ctx: &crate::registry::GpuOpContext<'_>,
    op: &str,
    src: DeviceSlice<'_, f32>,
    out: DeviceSlice<'_, f32>,
    offsets: &[i64],
) -> Result<()> {
    if out.len() != offsets.len() {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!("{} outputs for {} offsets", out.len(), offsets.len()),
        });
    }
    if offsets.is_empty() {
        return Ok(());
    }
    let table = ctx.upload(op, offsets)?;
    let idx = mxr_kernels::cuda::AnySlice::I64(DeviceSlice::of_buffer(&table));
    mxr_kernels::cuda::embedding::forward(ctx.device, out, idx, src, (src.len(), 1))
        .map_err(|e| crate::registry::gpu_error(op, e))
}

/// `out = 0`, then `out[offsets[i]] += g[i]` on the GPU, float32: the gradient of
/// [`gpu_gather`] (through `Embedding`'s row scatter-add).
pub(crate) fn gpu_scatter_add(
    ctx: &crate::registry::GpuOpContext<'_>,
    op: &str,
    g: DeviceSlice<'_, f32>,
    out: DeviceSlice<'_, f32>,
    offsets: &[i64],
) -> Result<()> {
    if g.len() != offsets.len() {
        return Err(Error::BadInput {
            op: op.into(),
            reason: format!("{} gradients for {} offsets", g.len(), offsets.len()),
        });
    }
    ctx.zero(op, out)?;
    if offsets.is_empty() {
        return Ok(());
    }
    let table = ctx.upload(op, offsets)?;
    let idx = mxr_kernels::cuda::AnySlice::I64(DeviceSlice::of_buffer(&table));
    mxr_kernels::cuda::embedding::backward(ctx.device, out, g, idx, (out.len(), 1))
        .map_err(|e| crate::registry::gpu_error(op, e))
}

/// The row-major strides (in elements) of an array of `dims`.
pub(crate) fn row_major_strides(dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; dims.len()];
    for k in (0..dims.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * dims[k + 1];
    }
    strides
}

/// Calls `f` with every multi-index of an array of `dims`, in row-major order.
pub(crate) fn for_each_index(dims: &[usize], mut f: impl FnMut(&[usize])) {
    let total: usize = dims.iter().product();
    let mut index = vec![0usize; dims.len()];
    for _ in 0..total {
        f(&index);
        for k in (0..index.len()).rev() {
            index[k] += 1;
            if index[k] < dims[k] {
                break;
            }
            index[k] = 0;
        }
    }
}

/// Shape inference of a one-input operator whose output's shape follows from its input's and
/// back through `rule` (given and returning `(input, output)`): `slice_axis`, `slice`, `Pad`.
pub(crate) fn infer_pair(
    shapes: &mut crate::registry::ShapeCtx<'_>,
    rule: impl Fn(&mut crate::registry::ShapeCtx<'_>, Shape, Shape) -> Result<(Shape, Shape)>,
) -> Result<()> {
    let (x, y) = (shapes.input(0).clone(), shapes.output(0).clone());
    let (x, y) = rule(shapes, x, y)?;
    shapes.set_input(0, x)?;
    shapes.set_output(0, y)
}

/// Shape inference of the backward operator of an [`infer_pair`] operator, on
/// `[ograd, data]` → the gradient of data: data and its gradient have the forward input's
/// shape, ograd the forward output's.
pub(crate) fn infer_pair_backward(
    shapes: &mut crate::registry::ShapeCtx<'_>,
    rule: impl Fn(&mut crate::registry::ShapeCtx<'_>, Shape, Shape) -> Result<(Shape, Shape)>,
) -> Result<()> {
    shapes.tie(1, 0)?;
    let (x, y) = (shapes.output(0).clone(), shapes.input(0).clone());
    let (x, y) = rule(shapes, x, y)?;
    shapes.set_output(0, x.clone())?;
    shapes.set_input(1, x)?;
    shapes.set_input(0, y)
}

#[cfg(test)]
mod tests {
    use super::{kernel_error, normalize_axis};
    use crate::Error;

    #[test]
    fn axes_count_from_either_end() {
        assert_eq!(normalize_axis(0, 3), Some(0));
        assert_eq!(normalize_axis(2, 3), Some(2));
        assert_eq!(normalize_axis(-1, 3), Some(2));
        assert_eq!(normalize_axis(-3, 3), Some(0));
        assert_eq!(normalize_axis(3, 3), None);
        assert_eq!(normalize_axis(-4, 3), None);
        assert_eq!(normalize_axis(0, 0), None);
    }

    #[test]
    fn kernel_errors_name_the_operator() {
        match kernel_error("Pooling", "window 3 larger than input 2") {
            Error::BadInput { op, reason } => {
                assert_eq!(op, "Pooling");
                assert_eq!(reason, "window 3 larger than input 2");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
