//! `take` and its gradient `_backward_take`: the slices of `a` along `axis` that `indices`
//! pick (MXNet 1.9.1, `src/operator/tensor/indexing_op.cc`).
//!
//! The output's shape is `a.shape[..axis] + indices.shape + a.shape[axis + 1..]`. An index is
//! truncated to an integer, then `mode` says what happens out of `[0, len)`: `clip` moves it
//! to the nearest end, `wrap` takes it modulo `len`, `raise` is an error. The gradient adds
//! the head gradient's slices into zeros of `a`'s shape at the indices' slices (repeated
//! indices accumulate); `indices` get no gradient (zeros). `_backward_take` takes
//! `[ograd, indices, a]` and gives `[d_a, d_indices]` (MXNet takes `[ograd, indices]` and
//! copies `a`'s shape from the forward node; `a` lends its shape, its bytes are not read).
//! On the GPU (float32), `clip` runs through `Embedding`'s kernels, one launch per block of
//! the axes before `axis`; `wrap` and `raise` are CPU only.

use std::sync::Arc;

use mxr_kernels::cpu::elementwise::Num;
use mxr_kernels::cuda::embedding;

use super::common::{normalize_axis, tie_dtype};
use super::elemwise::num_dispatch;
use crate::registry::attrs::AttrValue;
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx, TensorRef,
    TypeCtx, gpu_error,
};
use crate::{Error, Result, attr_enum, float_dispatch, params};

attr_enum! {
    /// What an index out of range does.
    pub enum TakeMode { Clip = "clip", Raise = "raise", Wrap = "wrap" }
}

params! {
    /// Parameters of `take`.
    pub struct TakeParam for "take" {
        /// The axis of `a` the indices pick along (in `[-r, r - 1]`).
        axis: i64 = 0,
        /// What an index out of range does: `clip` to the nearest end, `wrap` around, or
        /// `raise` an error.
        mode: TakeMode = TakeMode::Clip,
    }
}

fn bad_input(op: &str, reason: String) -> Error {
    Error::BadInput {
        op: op.into(),
        reason,
    }
}

/// The blocks of a take from `a` (shape `whole`): `(outer, len, inner)` = the product of the
/// axes before `axis`, the axis's length, the product of the axes after it.
fn geometry(op: &str, p: &TakeParam, whole: &[usize]) -> Result<(usize, usize, usize)> {
    let axis = normalize_axis(p.axis, whole.len()).ok_or_else(|| {
        let r = whole.len();
        bad_input(
            op,
            format!(
                "axis={} is out of range for a {r}-D input {whole:?} (allowed [-{r}, {r}))",
                p.axis
            ),
        )
    })?;
    let outer = whole[..axis].iter().product();
    let inner = whole[axis + 1..].iter().product();
    Ok((outer, whole[axis], inner))
}

/// The rows of the axis the indices pick, after `mode`.
fn rows(op: &str, p: &TakeParam, indices: &TensorRef<'_>, len: usize) -> Result<Vec<usize>> {
    let values: Vec<f64> = num_dispatch!(indices.dtype, op, T => {
        Ok::<_, Error>(indices.slice::<T>(op)?.iter().map(|v| v.to_f64()).collect())
    })?;
    let n = len as i64;
    values
        .into_iter()
        .map(|v| {
            let i = v as i64; // truncates toward zero, as MXNet's cast to an integer
            match p.mode {
                _ if n == 0 => Err(bad_input(op, "the axis to take from is empty".into())),
                TakeMode::Clip => Ok(i.clamp(0, n - 1) as usize),
                TakeMode::Wrap => Ok(i.rem_euclid(n) as usize),
                TakeMode::Raise if (0..n).contains(&i) => Ok(i as usize),
                TakeMode::Raise => Err(bad_input(
                    op,
                    format!("index {v} is out of bounds for an axis of size {len} (mode=raise)"),
                )),
            }
        })
        .collect()
}

/// Shape inference: the output from `a` and the indices.
fn infer_take(
    shapes: &mut ShapeCtx<'_>,
    p: &TakeParam,
    a: usize,
    idx: usize,
    out: OutSide,
) -> Result<()> {
    let (Some(a_dims), Some(i_dims)) = (
        shapes.input(a).partial_dims().map(<[_]>::to_vec),
        shapes.input(idx).partial_dims().map(<[_]>::to_vec),
    ) else {
        return Ok(());
    };
    let r = a_dims.len();
    let Some(axis) = normalize_axis(p.axis, r) else {
        let reason = format!(
            "axis={} is out of range for a {r}-D input (allowed [-{r}, {r}))",
            p.axis
        );
        return Err(shapes.error(reason));
    };
    let mut dims = a_dims[..axis].to_vec();
    dims.extend(i_dims);
    dims.extend_from_slice(&a_dims[axis + 1..]);
    match out {
        OutSide::Output(k) => shapes.set_output(k, Shape::partial(dims)),
        OutSide::Input(k) => shapes.set_input(k, Shape::partial(dims)),
    }
}

/// Where the taken shape lives: the forward's output, or the backward's head-gradient input.
#[derive(Clone, Copy)]
enum OutSide {
    Output(usize),
    Input(usize),
}

/// `take`: the slices of `a` along `axis` the indices pick.
#[derive(Debug, Clone)]
pub struct Take(pub TakeParam);

impl Operator for Take {
    fn name(&self) -> &'static str {
        "take"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["a".into(), "indices".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer_take(shapes, &self.0, 0, 1, OutSide::Output(0))
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        tie_dtype(types, 0) // the indices may have any dtype
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let (a, indices) = (&inputs[0], &inputs[1]);
        let (outer, len, inner) = geometry("take", &self.0, a.shape)?;
        let picked = rows("take", &self.0, indices, len)?;
        let out = &mut outputs[0];
        let w = a.dtype.size() * inner;
        if out.bytes.len() != outer * picked.len() * w || a.bytes.len() != outer * len * w {
            let reason = format!(
                "output {:?} does not fit a {:?} and indices {:?}",
                out.shape, a.shape, indices.shape
            );
            return Err(bad_input("take", reason));
        }
        if w == 0 {
            return Ok(());
        }
        for (o, block) in out
            .bytes
            .chunks_exact_mut(picked.len() * w)
            .enumerate()
            .take(outer)
        {
            for (dst, &row) in block.chunks_exact_mut(w).zip(&picked) {
                let at = (o * len + row) * w;
                dst.copy_from_slice(&a.bytes[at..at + w]);
            }
        }
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let g = grad.backward_node(
            BackwardTake(self.0.clone()),
            &[grad.ograds[0], grad.inputs[1], grad.inputs[0]],
        )?;
        Ok(vec![Some(g[0]), None]) // MXNet gives the indices zeros: no gradient flows
    }
}

/// The GPU take in `clip` mode: per block of the axes before `axis`, Embedding's row gather
/// (or, for the gradient, its row scatter-add).
fn clip_only(op: &str, p: &TakeParam) -> Result<()> {
    match p.mode {
        TakeMode::Clip => Ok(()),
        other => Err(Error::Unsupported {
            op: op.into(),
            what: format!("mode={} on the GPU (clip only)", other.to_attr()),
        }),
    }
}

impl GpuForward for Take {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "take";
        clip_only(op, &self.0)?;
        let (a, indices, out) = (&inputs[0], &inputs[1], &outputs[0]);
        let (outer, len, inner) = geometry(op, &self.0, a.shape)?;
        let n = indices.size();
        if out.size() != outer * n * inner || a.size() != outer * len * inner {
            return Err(bad_input(
                op,
                format!("output {:?} does not fit a {:?}", out.shape, a.shape),
            ));
        }
        let (ap, yp, idx) = (a.f32(op)?, out.f32(op)?, indices.any(op)?);
        let fail = |e| gpu_error(op, e);
        for o in 0..outer {
            let src = ap.range(o * len * inner, len * inner).map_err(fail)?;
            let dst = yp.range(o * n * inner, n * inner).map_err(fail)?;
            embedding::forward(ctx.device, dst, idx, src, (len, inner)).map_err(fail)?;
        }
        Ok(())
    }
}

/// `_backward_take`: inputs `[ograd, indices, a]`, outputs `[d_a, d_indices]`: the head
/// gradient's slices added into zeros of a's shape at the picked rows; zeros for the indices.
#[derive(Debug, Clone)]
pub struct BackwardTake(pub TakeParam);

/// `d_a[o, rows[j], :] += g[o, j, :]` for every block `o`.
fn scatter_add<T: Num + mxr_kernels::Element>(
    op: &str,
    g: &TensorRef<'_>,
    picked: &[usize],
    (outer, len, inner): (usize, usize, usize),
    da: &mut crate::registry::TensorMut<'_>,
) -> Result<()> {
    let g = g.slice::<T>(op)?;
    let da = da.slice_mut::<T>(op)?;
    if g.len() != outer * picked.len() * inner || da.len() != outer * len * inner {
        return Err(bad_input(
            op,
            "the head gradient does not fit the indices".into(),
        ));
    }
    da.fill(T::ZERO);
    if inner == 0 {
        return Ok(());
    }
    for (k, src) in g.chunks_exact(inner).enumerate() {
        let (o, j) = (k / picked.len(), k % picked.len());
        let at = (o * len + picked[j]) * inner;
        for (acc, &v) in da[at..at + inner].iter_mut().zip(src) {
            *acc = acc.plus(v);
        }
    }
    Ok(())
}

impl Operator for BackwardTake {
    fn name(&self) -> &'static str {
        "_backward_take"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "indices".into(), "a".into()]
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        shapes.tie(2, 0)?;
        let idx = shapes.input(1).clone();
        shapes.set_output(1, idx)?;
        let idx = shapes.output(1).clone();
        shapes.set_input(1, idx)?;
        infer_take(shapes, &self.0, 2, 1, OutSide::Input(0))
    }
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        if let Some(t) = types.input(0).or(types.output(0)) {
            types.set_input(0, t)?;
            types.set_output(0, t)?;
        }
        if let Some(t) = types.input(1).or(types.output(1)) {
            types.set_input(1, t)?;
            types.set_output(1, t)?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let op = "_backward_take";
        let [da, di] = outputs else {
            return Err(bad_input(op, "expected two outputs".into()));
        };
        di.bytes.fill(0); // zero bytes are 0 in every dtype
        let geom = geometry(op, &self.0, da.shape)?;
        let picked = rows(op, &self.0, &inputs[1], geom.1)?;
        float_dispatch!(da.dtype, op, T => scatter_add::<T>(op, &inputs[0], &picked, geom, da))
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        vec![2]
    }
}

impl GpuForward for BackwardTake {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let op = "_backward_take";
        clip_only(op, &self.0)?;
        let [da, di] = outputs else {
            return Err(bad_input(op, "expected two outputs".into()));
        };
        ctx.zero(op, di.bytes(op)?)?;
        let (g, indices) = (&inputs[0], &inputs[1]);
        let (outer, len, inner) = geometry(op, &self.0, da.shape)?;
        let n = indices.size();
        if g.size() != outer * n * inner || da.size() != outer * len * inner {
            return Err(bad_input(
                op,
                format!("gradient {:?} does not fit {:?}", g.shape, da.shape),
            ));
        }
        let (gp, dap, idx) = (g.f32(op)?, da.f32(op)?, indices.any(op)?);
        ctx.zero(op, dap)?;
        let fail = |e| gpu_error(op, e);
        for o in 0..outer {
            let dst = dap.range(o * len * inner, len * inner).map_err(fail)?;
            let src = gp.range(o * n * inner, n * inner).map_err(fail)?;
            embedding::backward(ctx.device, dst, src, idx, (len, inner)).map_err(fail)?;
        }
        Ok(())
    }
}

fn create_take(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Take(TakeParam::parse(attrs.iter().copied())?)))
}

fn create_backward_take(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let p = TakeParam::parse_as("_backward_take", attrs.iter().copied())?;
    Ok(Arc::new(BackwardTake(p)))
}

inventory::submit! {
    OpDef::new("take", "The slices of `a` along `axis` that `indices` pick (out-of-range indices: clip, wrap or raise).",
        TakeParam::specs, create_take)
}

inventory::submit! {
    OpDef::new("_backward_take", "Gradient of take: the head gradient's slices added at the picked rows of zeros of a's shape; zeros for the indices (inputs: ograd, indices, a).",
        TakeParam::specs, create_backward_take)
}

#[cfg(test)]
mod tests;
