//! `FullyConnected`: `y = x·Wᵀ + b`, and `_backward_FullyConnected`.
//!
//! The forward pass is one GEMM (`W` used transposed through the GEMM's flag, never copied) into
//! an output whose rows were first set to the bias. The backward pass is two GEMMs and a column
//! sum: `dW = gᵀ·x`, `db = Σ_rows g`, `dx = g·W`.

use std::sync::Arc;

use mxr_kernels::cpu::conv::ConvElement;
use mxr_kernels::cpu::gemm::{GemmElement, gemm};
use mxr_kernels::cpu::parallel::num_threads as threads;

use crate::registry::attrs::AttrValue;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Resource, Shape, ShapeCtx,
};
use crate::{Error, Result, float_dispatch, params};

params! {
    /// Parameters of `FullyConnected`.
    pub struct FullyConnectedParam for "FullyConnected" {
        /// Number of hidden nodes of the output.
        num_hidden: usize,
        /// Whether to disable bias parameter.
        no_bias: bool = false,
        /// Whether to collapse all but the first axis of the input data tensor.
        flatten: bool = true,
    }
}

/// `FullyConnected`: inputs `data`, `weight` (`num_hidden × K`) and `bias` (`num_hidden`,
/// absent with `no_bias`). With `flatten` the data is viewed as `N × K` with `K` the product of
/// its other axes and the output is `N × num_hidden`; without, the product is over the last
/// axis and the output keeps the data's other axes.
#[derive(Debug, Clone, PartialEq)]
pub struct FullyConnected {
    /// The parameters.
    pub param: FullyConnectedParam,
}

/// `_backward_FullyConnected`: inputs `[ograd, data, weight]`, outputs `[d data, d weight]`
/// and `d bias` unless `no_bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct FullyConnectedBackward {
    /// The forward's parameters.
    pub param: FullyConnectedParam,
}

/// The GEMM view: data is `rows × k`, the output `rows × hidden`.
#[derive(Debug, Clone, Copy)]
struct Fc {
    rows: usize,
    k: usize,
    hidden: usize,
}

impl Fc {
    fn new(p: &FullyConnectedParam, data: &[usize]) -> Fc {
        let size: usize = data.iter().product();
        let k = if p.flatten {
            data.iter().skip(1).product()
        } else {
            data.last().copied().unwrap_or(1)
        };
        Fc {
            rows: size.checked_div(k).unwrap_or(0),
            k,
            hidden: p.num_hidden,
        }
    }

    fn forward<T: GemmElement>(
        &self,
        x: &[T],
        w: &[T],
        b: Option<&[T]>,
        y: &mut [T],
    ) -> Result<(), String> {
        let beta = match b {
            Some(b) if b.len() != self.hidden => {
                return Err(format!(
                    "bias has {} elements, num_hidden is {}",
                    b.len(),
                    self.hidden
                ));
            }
            Some(b) => {
                for row in y.chunks_exact_mut(self.hidden.max(1)) {
                    row.copy_from_slice(b);
                }
                T::ONE
            }
            None => T::ZERO,
        };
        let (n, h, k) = (self.rows, self.hidden, self.k);
        // y (n × h) = x (n × k) · Wᵀ (k × h), W stored h × k.
        gemm(
            false,
            true,
            n,
            h,
            k,
            T::ONE,
            x,
            k,
            w,
            k,
            beta,
            y,
            h,
            threads(),
        )
        .map_err(|e| e.to_string())
    }

    /// Writes `dw`, then `db`, then `dx` (so `dx` may take the data's memory, MXNet's in-place
    /// option: the data is read only for `dw`).
    fn backward<T: ConvElement>(
        &self,
        g: &[T],
        x: &[T],
        w: &[T],
        dx: Option<&mut [T]>,
        dw: &mut [T],
        db: Option<&mut [T]>,
    ) -> Result<(), String> {
        let (n, h, k) = (self.rows, self.hidden, self.k);
        // dW (h × k) = gᵀ (h × n) · x (n × k).
        gemm(
            true,
            false,
            h,
            k,
            n,
            T::ONE,
            g,
            h,
            x,
            k,
            T::ZERO,
            dw,
            k,
            threads(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(db) = db {
            db.fill(T::ZERO);
            for row in g.chunks_exact(h.max(1)) {
                for (d, &v) in db.iter_mut().zip(row) {
                    *d += v;
                }
            }
        }
        // dx (n × k) = g (n × h) · W (h × k), unless nobody reads it (the first layer's).
        match dx {
            Some(dx) => gemm(
                false,
                false,
                n,
                k,
                h,
                T::ONE,
                g,
                h,
                w,
                k,
                T::ZERO,
                dx,
                k,
                threads(),
            )
            .map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

fn input_names(p: &FullyConnectedParam) -> Vec<String> {
    let mut names = vec!["data".to_string(), "weight".to_string()];
    if !p.no_bias {
        names.push("bias".into());
    }
    names
}

/// Fills in the data (0), weight (1), bias (2) and output shapes from what is known.
fn infer(p: &FullyConnectedParam, shapes: &mut ShapeCtx<'_>) -> Result<()> {
    let Some(mut data) = shapes.input(0).partial_dims().map(<[_]>::to_vec) else {
        // As MXNet: nothing is inferred before the data's rank is known.
        return Ok(());
    };
    let Some(&last) = data.last() else {
        return Err(shapes.error("FullyConnected: data must have at least one axis"));
    };
    let h = p.num_hidden;
    // The weight's second axis is the data's last one (flatten=False or 2-D data) or the
    // product of its non-batch axes (flatten=True).
    let single_k = !p.flatten || data.len() == 2;
    if single_k
        && last.is_none()
        && let Some(k) = shapes.input(1).dim(1)
        && let Some(d) = data.last_mut()
    {
        *d = Some(k);
    }
    let k = if p.flatten {
        data.iter()
            .skip(1)
            .try_fold(1usize, |acc, d| d.map(|d| acc * d))
    } else {
        data.last().copied().flatten()
    };
    shapes.set_input(1, Shape::partial(vec![Some(h), k]))?;
    if !p.no_bias {
        shapes.set_input(2, Shape::known(&[h]))?;
    }
    // Output ← data, and data's batch axes ← output.
    let out_dims: Vec<Option<usize>> = if p.flatten {
        vec![data[0], Some(h)]
    } else {
        data[..data.len() - 1]
            .iter()
            .copied()
            .chain([Some(h)])
            .collect()
    };
    shapes.set_output(0, Shape::partial(out_dims))?;
    if let Some(o) = shapes.output(0).partial_dims() {
        let batch_axes = if p.flatten { 1 } else { data.len() - 1 };
        for (d, known) in data.iter_mut().zip(o).take(batch_axes) {
            *d = d.or(*known);
        }
    }
    shapes.set_input(0, Shape::partial(data))
}

fn gemm_error(op: &str, reason: String) -> Error {
    Error::BadInput {
        op: op.to_string(),
        reason,
    }
}

impl Operator for FullyConnected {
    fn name(&self) -> &'static str {
        "FullyConnected"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        input_names(&self.param)
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        infer(&self.param, shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let fc = Fc::new(&self.param, inputs[0].shape);
        float_dispatch!(outputs[0].dtype, name, T => {
            let x = inputs[0].slice::<T>(name)?;
            let w = inputs[1].slice::<T>(name)?;
            let b = match inputs.get(2) {
                Some(b) if !self.param.no_bias => Some(b.slice::<T>(name)?),
                _ => None,
            };
            let y = outputs[0].slice_mut::<T>(name)?;
            fc.forward(x, w, b, y).map_err(|e| gemm_error(name, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let inputs = [grad.ograds[0], grad.inputs[0], grad.inputs[1]];
        let out = grad.backward_node_per_input(
            FullyConnectedBackward {
                param: self.param.clone(),
            },
            &inputs,
        )?;
        Ok(GradCtx::all(out))
    }
}

impl GpuForward for FullyConnected {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let fc = Fc::new(&self.param, inputs[0].shape);
        let b = if self.param.no_bias {
            None
        } else {
            inputs.get(2)
        };
        gpu::forward(ctx, fc, &inputs[0], &inputs[1], b, &outputs[0])
    }
}

impl Operator for FullyConnectedBackward {
    fn name(&self) -> &'static str {
        "_backward_FullyConnected"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["ograd".into(), "data".into(), "weight".into()]
    }
    fn num_outputs(&self) -> usize {
        if self.param.no_bias { 2 } else { 3 }
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        // The gradients have the shapes of what they are gradients of.
        for (input, output) in [(1, 0), (2, 1)] {
            let s = shapes.input(input).clone();
            shapes.set_output(output, s)?;
            let s = shapes.output(output).clone();
            shapes.set_input(input, s)?;
        }
        if !self.param.no_bias {
            shapes.set_output(2, Shape::known(&[self.param.num_hidden]))?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let name = self.name();
        let dx_needed = ctx.output_needed(0);
        let fc = Fc::new(&self.param, inputs[1].shape);
        let (dx, rest) = outputs
            .split_first_mut()
            .ok_or_else(|| gemm_error(name, "no outputs".into()))?;
        let (dw, rest) = rest
            .split_first_mut()
            .ok_or_else(|| gemm_error(name, "no weight gradient output".into()))?;
        float_dispatch!(dx.dtype, name, T => {
            let g = inputs[0].slice::<T>(name)?;
            let x = inputs[1].slice::<T>(name)?;
            let w = inputs[2].slice::<T>(name)?;
            let db = match rest.first_mut() {
                Some(db) => Some(db.slice_mut::<T>(name)?),
                None => None,
            };
            let dx = if dx_needed { Some(dx.slice_mut::<T>(name)?) } else { None };
            fc.backward(g, x, w, dx, dw.slice_mut::<T>(name)?, db)
                .map_err(|e| gemm_error(name, e))
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(1, 0)]
    }
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::TempSpace]
    }
}

impl GpuForward for FullyConnectedBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let fc = Fc::new(&self.param, inputs[1].shape);
        gpu::backward(ctx, fc, inputs, outputs)
    }
}

fn parse(attrs: &[(&str, &str)]) -> Result<FullyConnectedParam> {
    let param = FullyConnectedParam::parse(attrs.iter().copied())?;
    if param.num_hidden == 0 {
        return Err(Error::BadParam {
            op: "FullyConnected".into(),
            name: "num_hidden".into(),
            value: param.num_hidden.to_attr(),
            type_name: "int".into(),
            hint: "; must be at least 1".into(),
        });
    }
    Ok(param)
}

fn create(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(FullyConnected {
        param: parse(attrs)?,
    }))
}

fn create_backward(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(FullyConnectedBackward {
        param: parse(attrs)?,
    }))
}

inventory::submit! {
    OpDef::new("FullyConnected", "Applies a linear transformation: y = x·Wᵀ + b.",
        FullyConnectedParam::specs, create)
        .aliases(&["_npx_fully_connected", "_sparse_FullyConnected"])
}
inventory::submit! {
    OpDef::new("_backward_FullyConnected",
        "Gradient of FullyConnected: inputs [ograd, data, weight], outputs [ddata, dweight, dbias].",
        FullyConnectedParam::specs, create_backward)
}

mod gpu;
#[cfg(test)]
mod tests;
