//! Matrix products: `dot` (N-D arrays contracted over one axis each) and `batch_dot` (a matrix
//! product per leading index), with `_backward_dot`. Every product is one (batched) GEMM call
//! with transpose flags: no transposed copy is ever made.

use std::sync::Arc;

use mxr_kernels::cpu::gemm::{GemmElement, batched_gemm};

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// The storage type asked of a product's output (MXNet's `forward_stype`); mxr's arrays are
    /// dense, so only `default` is supported.
    pub enum ForwardStype { Csr = "csr", Default = "default", RowSparse = "row_sparse" }
}

params! {
    /// Parameters of `dot`.
    pub struct DotParam for "dot" {
        /// If true then transpose the first input before dot.
        transpose_a: bool = false,
        /// If true then transpose the second input before dot.
        transpose_b: bool = false,
        /// The desired storage type of the forward output (only `default`: dense).
        forward_stype: Option<ForwardStype> = None,
    }
}

params! {
    /// Parameters of `batch_dot` (the same as `dot`'s).
    pub struct BatchDotParam for "batch_dot" {
        /// If true then transpose the first input before dot.
        transpose_a: bool = false,
        /// If true then transpose the second input before dot.
        transpose_b: bool = false,
        /// The desired storage type of the forward output (only `default`: dense).
        forward_stype: Option<ForwardStype> = None,
    }
}

impl From<BatchDotParam> for DotParam {
    fn from(p: BatchDotParam) -> DotParam {
        DotParam {
            transpose_a: p.transpose_a,
            transpose_b: p.transpose_b,
            forward_stype: p.forward_stype,
        }
    }
}

/// `dot` (`batch == false`) or `batch_dot` (`batch == true`).
///
/// `dot`: 1-D · 1-D is the inner product, of shape `(1,)`. Otherwise the last axis of `lhs` (its
/// first with `transpose_a`) is contracted with the first axis of `rhs` (its last with
/// `transpose_b`); the output's shape is `lhs`'s other axes followed by `rhs`'s, e.g.
/// `(2, 3, 4) · (4, 5) → (2, 3, 5)`.
///
/// `batch_dot`: both inputs have the same rank ≥ 3 and the same leading axes; the last two axes
/// are multiplied as matrices (transposed when asked): `(B, M, K) · (B, K, N) → (B, M, N)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    /// `batch_dot` rather than `dot`.
    pub batch: bool,
    /// The transposes.
    pub param: DotParam,
}

/// `_backward_dot`: inputs `[ograd, lhs, rhs]`, outputs `[d lhs, d rhs]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DotBackward {
    /// The forward's parameters.
    pub param: DotParam,
}

fn gemm_error(op: &str, e: impl std::fmt::Display) -> Error {
    Error::BadInput {
        op: op.to_string(),
        reason: e.to_string(),
    }
}

/// The axes of a `dot` operand: the contracted one and the free ones (in order).
fn dot_axes(ndim: usize, contract_first: bool) -> (usize, std::ops::Range<usize>) {
    if contract_first {
        (0, 1..ndim)
    } else {
        (ndim - 1, 0..ndim - 1)
    }
}

/// `dot`'s shape rule on partially known shapes, in both directions: the contracted axes agree,
/// the output is `lhs`'s free axes then `rhs`'s, and a known output fills the free axes back.
fn dot_shape(p: &DotParam, shapes: &mut ShapeCtx<'_>) -> Result<()> {
    let (Some(l), Some(r)) = (
        shapes.input(0).partial_dims().map(<[_]>::to_vec),
        shapes.input(1).partial_dims().map(<[_]>::to_vec),
    ) else {
        return Ok(());
    };
    if l.is_empty() || r.is_empty() {
        return Err(shapes.error("dot: inputs must have at least one axis"));
    }
    if l.len() == 1 && r.len() == 1 {
        if p.transpose_a || p.transpose_b {
            return Err(shapes.error("dot: cannot transpose vectors (both inputs are 1-D)"));
        }
        let k = merge_dim(shapes, l[0], r[0], "lhs", "rhs")?;
        shapes.set_input(0, Shape::partial(vec![k]))?;
        shapes.set_input(1, Shape::partial(vec![k]))?;
        return shapes.set_output(0, Shape::known(&[1]));
    }
    let (lc, lfree) = dot_axes(l.len(), p.transpose_a);
    let (rc, rfree) = dot_axes(r.len(), !p.transpose_b);
    let (mut l, mut r) = (l, r);
    let k = merge_dim(shapes, l[lc], r[rc], "lhs", "rhs")?;
    l[lc] = k;
    r[rc] = k;
    // A 1-D operand contributes no free axes.
    let lfree = if l.len() > 1 { lfree } else { 0..0 };
    let rfree = if r.len() > 1 { rfree } else { 0..0 };
    let nl = lfree.len();
    let mut out: Vec<Option<usize>> = l[lfree.clone()]
        .iter()
        .chain(&r[rfree.clone()])
        .copied()
        .collect();
    if let Some(known) = shapes.output(0).partial_dims()
        && known.len() == out.len()
    {
        for (o, k) in out.iter_mut().zip(known) {
            *o = o.or(*k);
        }
    }
    for (i, d) in lfree.enumerate() {
        l[d] = out[i];
    }
    for (i, d) in rfree.enumerate() {
        r[d] = out[nl + i];
    }
    shapes.set_input(0, Shape::partial(l))?;
    shapes.set_input(1, Shape::partial(r))?;
    shapes.set_output(0, Shape::partial(out))
}

/// Merges two sizes of one axis; an error naming both when they are known and differ.
fn merge_dim(
    shapes: &ShapeCtx<'_>,
    a: Option<usize>,
    b: Option<usize>,
    what_a: &str,
    what_b: &str,
) -> Result<Option<usize>> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(shapes.error(format!(
            "the contracted axes differ: {what_a} has {x}, {what_b} has {y}"
        ))),
        _ => Ok(a.or(b)),
    }
}

/// `batch_dot`'s shape rule on partially known shapes, in both directions.
fn batch_dot_shape(p: &DotParam, shapes: &mut ShapeCtx<'_>) -> Result<()> {
    let (Some(l), Some(r)) = (
        shapes.input(0).partial_dims().map(<[_]>::to_vec),
        shapes.input(1).partial_dims().map(<[_]>::to_vec),
    ) else {
        return Ok(());
    };
    if l.len() < 3 || l.len() != r.len() {
        return Err(shapes.error(
            "batch_dot: the inputs must have the same rank, at least 3 (batch axes, then a matrix)",
        ));
    }
    let nd = l.len();
    let (mut l, mut r) = (l, r);
    let mut out = vec![None; nd];
    if let Some(known) = shapes.output(0).partial_dims()
        && known.len() == nd
    {
        out.copy_from_slice(known);
    }
    for i in 0..nd - 2 {
        let lead = merge_dim(shapes, l[i], r[i], "lhs", "rhs").map_err(|_| {
            shapes.error(format!(
                "batch_dot: the leading batch axes must be equal (axis {i})"
            ))
        })?;
        let lead = merge_dim(shapes, lead, out[i], "inputs", "output")?;
        (l[i], r[i], out[i]) = (lead, lead, lead);
    }
    // Axis positions of m and k in lhs, of k and n in rhs.
    let (lm, lk) = if p.transpose_a {
        (nd - 1, nd - 2)
    } else {
        (nd - 2, nd - 1)
    };
    let (rk, rn) = if p.transpose_b {
        (nd - 1, nd - 2)
    } else {
        (nd - 2, nd - 1)
    };
    let k = merge_dim(shapes, l[lk], r[rk], "lhs", "rhs")?;
    (l[lk], r[rk]) = (k, k);
    out[nd - 2] = out[nd - 2].or(l[lm]);
    out[nd - 1] = out[nd - 1].or(r[rn]);
    l[lm] = l[lm].or(out[nd - 2]);
    r[rn] = r[rn].or(out[nd - 1]);
    shapes.set_input(0, Shape::partial(l))?;
    shapes.set_input(1, Shape::partial(r))?;
    shapes.set_output(0, Shape::partial(out))
}

/// The GEMM view of one (`batch`-fold) product: `op(A)` is `m × k`, `op(B)` is `k × n`.
#[derive(Debug, Clone, Copy)]
struct Mm {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
}

impl Mm {
    /// From the input shapes of `dot` (`batch == false`) or `batch_dot`.
    fn new(batch: bool, p: &DotParam, l: &[usize], r: &[usize]) -> Mm {
        let (ta, tb) = (p.transpose_a, p.transpose_b);
        if batch {
            // Shapes were checked: same rank ≥ 3, equal leading axes.
            let nd = l.len();
            let b = l[..nd - 2].iter().product();
            let (m, k) = if ta {
                (l[nd - 1], l[nd - 2])
            } else {
                (l[nd - 2], l[nd - 1])
            };
            let n = if tb { r[nd - 2] } else { r[nd - 1] };
            return Mm {
                batch: b,
                m,
                n,
                k,
                ta,
                tb,
            };
        }
        // A 1-D operand is a 1 × k or k × 1 matrix: its free axes multiply to 1.
        let (lc, lfree) = dot_axes(l.len(), ta);
        let (_, rfree) = dot_axes(r.len(), !tb);
        let m = l[lfree].iter().product();
        let n = r[rfree].iter().product();
        Mm {
            batch: 1,
            m,
            n,
            k: l[lc],
            ta,
            tb,
        }
    }

    /// Leading dimensions of A and B as stored.
    fn lda(&self) -> usize {
        if self.ta { self.m } else { self.k }
    }
    fn ldb(&self) -> usize {
        if self.tb { self.k } else { self.n }
    }

    /// `c = op(a) · op(b)`.
    fn forward<T: GemmElement>(&self, a: &[T], b: &[T], c: &mut [T]) -> Result<(), String> {
        let (m, n, k) = (self.m, self.n, self.k);
        batched_gemm(
            self.ta,
            self.tb,
            m,
            n,
            k,
            T::ONE,
            a,
            self.lda(),
            m * k,
            b,
            self.ldb(),
            k * n,
            T::ZERO,
            c,
            n,
            m * n,
            self.batch,
            mxr_kernels::cpu::parallel::num_threads(),
        )
        .map_err(|e| e.to_string())
    }

    /// `da`, `db` from the head gradient `g` (`m × n` per batch).
    fn backward<T: GemmElement>(
        &self,
        g: &[T],
        a: &[T],
        b: &[T],
        da: &mut [T],
        db: &mut [T],
    ) -> Result<(), String> {
        let (m, n, k, bt) = (self.m, self.n, self.k, self.batch);
        let (lda, ldb) = (self.lda(), self.ldb());
        let run = |ta, tb, rows, cols, depth, x: &[T], ldx, sx, y: &[T], ldy, sy, out: &mut [T]| {
            batched_gemm(
                ta,
                tb,
                rows,
                cols,
                depth,
                T::ONE,
                x,
                ldx,
                sx,
                y,
                ldy,
                sy,
                T::ZERO,
                out,
                cols,
                rows * cols,
                bt,
                mxr_kernels::cpu::parallel::num_threads(),
            )
            .map_err(|e| e.to_string())
        };
        if self.ta {
            // dA (k × m) = op(B) (k × n) · gᵀ (n × m).
            run(self.tb, true, k, m, n, b, ldb, k * n, g, n, m * n, da)?;
        } else {
            // dA (m × k) = g (m × n) · op(B)ᵀ (n × k).
            run(false, !self.tb, m, k, n, g, n, m * n, b, ldb, k * n, da)?;
        }
        if self.tb {
            // dB (n × k) = gᵀ (n × m) · op(A) (m × k).
            run(true, self.ta, n, k, m, g, n, m * n, a, lda, m * k, db)
        } else {
            // dB (k × n) = op(A)ᵀ (k × m) · g (m × n).
            run(!self.ta, false, k, n, m, a, lda, m * k, g, n, m * n, db)
        }
    }
}

impl Operator for Dot {
    fn name(&self) -> &'static str {
        if self.batch { "batch_dot" } else { "dot" }
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["lhs".into(), "rhs".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        if self.batch {
            batch_dot_shape(&self.param, shapes)
        } else {
            dot_shape(&self.param, shapes)
        }
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let mm = Mm::new(self.batch, &self.param, inputs[0].shape, inputs[1].shape);
        float_dispatch!(outputs[0].dtype, name, T => {
            let a = inputs[0].slice::<T>(name)?;
            let b = inputs[1].slice::<T>(name)?;
            let c = outputs[0].slice_mut::<T>(name)?;
            mm.forward(a, b, c).map_err(|e| gemm_error(name, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let (lhs, rhs, g) = (grad.inputs[0], grad.inputs[1], grad.ograds[0]);
        if !self.batch {
            let out = grad.backward_node(
                DotBackward {
                    param: self.param.clone(),
                },
                &[g, lhs, rhs],
            )?;
            return Ok(GradCtx::all(out));
        }
        // MXNet 1.9.1 builds batch_dot's gradient from two batch_dot nodes,
        // `<name>_backward_lhs` and `<name>_backward_rhs`.
        let node = |a: bool, b: bool| Dot {
            batch: true,
            param: DotParam {
                transpose_a: a,
                transpose_b: b,
                forward_stype: None,
            },
        };
        let (dl, dr) = match (self.param.transpose_a, self.param.transpose_b) {
            // z = x·y: dx = g·yᵀ, dy = xᵀ·g.
            (false, false) => ((node(false, true), [g, rhs]), (node(true, false), [lhs, g])),
            // z = xᵀ·y: dx = y·gᵀ, dy = x·g.
            (true, false) => (
                (node(false, true), [rhs, g]),
                (node(false, false), [lhs, g]),
            ),
            // z = x·yᵀ: dx = g·y, dy = gᵀ·x.
            (false, true) => (
                (node(false, false), [g, rhs]),
                (node(true, false), [g, lhs]),
            ),
            // z = xᵀ·yᵀ: dx = yᵀ·gᵀ, dy = gᵀ·xᵀ.
            (true, true) => ((node(true, true), [rhs, g]), (node(true, true), [g, lhs])),
        };
        let dl = grad.node(dl.0, "backward_lhs", &dl.1)?;
        let dr = grad.node(dr.0, "backward_rhs", &dr.1)?;
        Ok(vec![Some(dl[0]), Some(dr[0])])
    }
}

impl GpuForward for Dot {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let mm = Mm::new(self.batch, &self.param, inputs[0].shape, inputs[1].shape);
        gpu::forward(ctx, self.name(), mm, &inputs[0], &inputs[1], &outputs[0])
    }
}

impl Operator for DotBackward {
    fn name(&self) -> &'static str {
        "_backward_dot"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "lhs".into(), "rhs".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let (l, r) = (shapes.input(1).clone(), shapes.input(2).clone());
        shapes.set_output(0, l)?;
        shapes.set_output(1, r)?;
        let (l, r) = (shapes.output(0).clone(), shapes.output(1).clone());
        shapes.set_input(1, l)?;
        shapes.set_input(2, r)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let mm = Mm::new(false, &self.param, inputs[1].shape, inputs[2].shape);
        let [da, db] = outputs else {
            return Err(gemm_error(name, "expected two outputs"));
        };
        float_dispatch!(da.dtype, name, T => {
            let g = inputs[0].slice::<T>(name)?;
            let a = inputs[1].slice::<T>(name)?;
            let b = inputs[2].slice::<T>(name)?;
            mm.backward(g, a, b, da.slice_mut::<T>(name)?, db.slice_mut::<T>(name)?)
                .map_err(|e| gemm_error(name, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
}

impl GpuForward for DotBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let mm = Mm::new(false, &self.param, inputs[1].shape, inputs[2].shape);
        gpu::backward(ctx, mm, inputs, outputs)
    }
}

fn check_stype(op: &str, p: &DotParam) -> Result<()> {
    match p.forward_stype {
        None | Some(ForwardStype::Default) => Ok(()),
        Some(other) => Err(Error::Unsupported {
            op: op.to_string(),
            what: format!(
                "forward_stype='{}' (sparse storage; only 'default' is)",
                crate::registry::attrs::AttrValue::to_attr(&other)
            ),
        }),
    }
}

fn create_dot(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = DotParam::parse(attrs.iter().copied())?;
    check_stype("dot", &param)?;
    Ok(Arc::new(Dot {
        batch: false,
        param,
    }))
}

fn create_batch_dot(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param: DotParam = BatchDotParam::parse(attrs.iter().copied())?.into();
    check_stype("batch_dot", &param)?;
    Ok(Arc::new(Dot { batch: true, param }))
}

fn create_dot_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = DotParam::parse(attrs.iter().copied())?;
    check_stype("_backward_dot", &param)?;
    Ok(Arc::new(DotBackward { param }))
}

inventory::submit! {
    OpDef::new("dot", "Dot product of two arrays: matrix product contracting lhs's last axis \
        (first with transpose_a) with rhs's first (last with transpose_b).",
        DotParam::specs, create_dot).aliases(&["_sparse_dot"])
}
inventory::submit! {
    OpDef::new("batch_dot", "Batchwise matrix product of two arrays of the same rank >= 3.",
        BatchDotParam::specs, create_batch_dot).aliases(&["_npx_batch_dot"])
}
inventory::submit! {
    OpDef::new("_backward_dot", "Gradient of dot: inputs [ograd, lhs, rhs], outputs [dlhs, drhs].",
        DotParam::specs, create_dot_backward)
}

mod gpu;
#[cfg(test)]
mod tests;
