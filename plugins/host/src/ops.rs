//! The registry [`Operator`]s over a plugin's C functions: the forward operator and the
//! hidden `_backward_<name>` operator its gradient builds.

use std::sync::Arc;

use mxr_kernels::DType;
use mxr_operators::Error as OpError;
use mxr_operators::registry::{
    Call, Entry, GradCtx, Operator, Shape, ShapeCtx, TensorMut, TensorRef, TypeCtx,
};
use mxr_plugin_abi::ffi::{ShapeDesc, TensorDesc};
use mxr_plugin_abi::{MAX_NDIM, STATUS_ERROR};

use super::desc::{OpResult, PluginOpDef, State, call_plugin, count};

/// A plugin operator with its parameters parsed (a registry [`Operator`]).
pub(super) struct PluginOp {
    pub(super) def: Arc<PluginOpDef>,
    pub(super) state: Arc<State>,
    pub(super) attrs: Vec<(String, String)>,
}

impl std::fmt::Debug for PluginOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginOp")
            .field("name", &self.def.name)
            .field("attrs", &self.attrs)
            .finish_non_exhaustive()
    }
}

/// Shapes as the ABI passes them.
fn shape_to_desc(shape: &Shape) -> Result<ShapeDesc, String> {
    let mut d = ShapeDesc {
        ndim: -1,
        dims: [-1; MAX_NDIM],
    };
    if let Some(dims) = shape.partial_dims() {
        if dims.len() > MAX_NDIM {
            return Err(format!(
                "shape {shape} has rank {}, plugin operators take at most {MAX_NDIM}",
                dims.len()
            ));
        }
        d.ndim = count(dims.len()) as i32;
        for (slot, dim) in d.dims.iter_mut().zip(dims) {
            *slot = dim.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        }
    }
    Ok(d)
}

fn shape_from_desc(d: &ShapeDesc) -> Result<Shape, String> {
    if d.ndim == -1 {
        return Ok(Shape::unknown());
    }
    let ndim = usize::try_from(d.ndim)
        .ok()
        .filter(|n| *n <= MAX_NDIM)
        .ok_or_else(|| format!("the plugin returned a shape of rank {}", d.ndim))?;
    d.dims[..ndim]
        .iter()
        .map(|&v| match v {
            -1 => Ok(None),
            v => usize::try_from(v)
                .map(Some)
                .map_err(|_| format!("the plugin returned a dimension {v}")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Shape::partial)
}

/// Runs the plugin's shape inference on slots mapped from the context: `inputs[k]` and
/// `outputs[k]` are indices into the context's inputs and outputs (by `Slot`).
fn plugin_infer_shape(
    def: &PluginOpDef,
    state: &State,
    shapes: &mut ShapeCtx<'_>,
    inputs: &[Slot],
    outputs: &[Slot],
) -> OpResult<()> {
    let get = |shapes: &ShapeCtx<'_>, s: Slot| match s {
        Slot::In(i) => shapes.input(i).clone(),
        Slot::Out(i) => shapes.output(i).clone(),
    };
    let to = |shapes: &ShapeCtx<'_>, slots: &[Slot]| -> OpResult<Vec<ShapeDesc>> {
        slots
            .iter()
            .map(|s| shape_to_desc(&get(shapes, *s)).map_err(|r| shapes.error(r)))
            .collect()
    };
    let mut ins = to(shapes, inputs)?;
    let mut outs = to(shapes, outputs)?;
    call_plugin(|err| {
        // SAFETY: the plugin's function with its own live state and two arrays of the given
        // lengths, all valid for the call.
        unsafe {
            (def.infer_shape)(
                state.ptr,
                ins.as_mut_ptr(),
                count(ins.len()),
                outs.as_mut_ptr(),
                count(outs.len()),
                err,
            )
        }
    })
    .map_err(|f| match f.status {
        STATUS_ERROR => shapes.error(f.message),
        _ => def.plugin_error(f.describe("shape inference")),
    })?;
    for (slots, descs) in [(inputs, &ins), (outputs, &outs)] {
        for (slot, d) in slots.iter().zip(descs.iter()) {
            let shape = shape_from_desc(d).map_err(|r| def.plugin_error(r))?;
            match *slot {
                Slot::In(i) => shapes.set_input(i, shape)?,
                Slot::Out(i) => shapes.set_output(i, shape)?,
            }
        }
    }
    Ok(())
}

/// A slot of a node: input `i` or output `i`.
#[derive(Debug, Clone, Copy)]
enum Slot {
    In(usize),
    Out(usize),
}

fn tensor_desc(t: &TensorRef<'_>) -> TensorDesc {
    TensorDesc {
        data: t.bytes.as_ptr().cast_mut().cast(),
        nbytes: t.bytes.len(),
        dtype: t.dtype.flag(),
        ndim: t.shape.len(),
        shape: t.shape.as_ptr(),
    }
}

fn tensor_desc_mut(t: &mut TensorMut<'_>) -> TensorDesc {
    TensorDesc {
        data: t.bytes.as_mut_ptr().cast(),
        nbytes: t.bytes.len(),
        dtype: t.dtype.flag(),
        ndim: t.shape.len(),
        shape: t.shape.as_ptr(),
    }
}

impl PluginOp {
    fn n_data(&self) -> usize {
        self.def.inputs.len()
    }
    fn n_aux(&self) -> usize {
        self.def.aux.len()
    }
    fn n_out(&self) -> usize {
        self.def.outputs.len()
    }
}

impl Operator for PluginOp {
    fn name(&self) -> &'static str {
        self.def.name
    }

    fn attrs(&self) -> Vec<(String, String)> {
        self.attrs.clone()
    }

    fn input_names(&self) -> Vec<String> {
        self.def
            .inputs
            .iter()
            .chain(&self.def.aux)
            .cloned()
            .collect()
    }

    fn num_inputs(&self) -> usize {
        self.n_data() + self.n_aux()
    }

    fn output_names(&self) -> Vec<String> {
        self.def.outputs.clone()
    }

    fn num_outputs(&self) -> usize {
        self.n_out()
    }

    fn mutate_inputs(&self) -> Vec<usize> {
        (self.n_data()..self.n_data() + self.n_aux()).collect()
    }

    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> OpResult<()> {
        let ins: Vec<Slot> = (0..shapes.num_inputs()).map(Slot::In).collect();
        let outs: Vec<Slot> = (0..shapes.num_outputs()).map(Slot::Out).collect();
        plugin_infer_shape(&self.def, &self.state, shapes, &ins, &outs)
    }

    fn infer_type(&self, types: &mut TypeCtx<'_>) -> OpResult<()> {
        let Some(infer_type) = self.def.infer_type else {
            return types.all_same();
        };
        let n_in = self.num_inputs();
        let n_out = self.n_out();
        let mut ins: Vec<i32> = (0..n_in)
            .map(|i| types.input(i).map_or(-1, DType::flag))
            .collect();
        let mut outs: Vec<i32> = (0..n_out)
            .map(|i| types.output(i).map_or(-1, DType::flag))
            .collect();
        call_plugin(|err| {
            // SAFETY: the plugin's function with its live state and arrays of the given
            // lengths, valid for the call.
            unsafe {
                infer_type(
                    self.state.ptr,
                    ins.as_mut_ptr(),
                    count(n_in),
                    outs.as_mut_ptr(),
                    count(n_out),
                    err,
                )
            }
        })
        .map_err(|f| match f.status {
            STATUS_ERROR => types.error(f.message),
            _ => self.def.plugin_error(f.describe("type inference")),
        })?;
        let dtype = |flag: i32| {
            DType::from_flag(flag).ok_or_else(|| {
                self.def.plugin_error(format!(
                    "type inference returned an unknown type flag {flag}"
                ))
            })
        };
        for (i, &f) in ins.iter().enumerate().filter(|(_, f)| **f >= 0) {
            types.set_input(i, dtype(f)?)?;
        }
        for (i, &f) in outs.iter().enumerate().filter(|(_, f)| **f >= 0) {
            types.set_output(i, dtype(f)?)?;
        }
        Ok(())
    }

    fn forward(&self, call: Call<'_, '_, '_>) -> OpResult<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        if inputs.len() != self.num_inputs() || outputs.len() != self.n_out() + self.n_aux() {
            return Err(self.def.plugin_error(format!(
                "forward called with {} inputs and {} outputs, expected {} and {}",
                inputs.len(),
                outputs.len(),
                self.num_inputs(),
                self.n_out() + self.n_aux()
            )));
        }
        let ins: Vec<TensorDesc> = inputs.iter().map(tensor_desc).collect();
        let outs: Vec<TensorDesc> = outputs.iter_mut().map(tensor_desc_mut).collect();
        let call = PluginOpDef::call_info(ctx);
        call_plugin(|err| {
            // SAFETY: the plugin's kernel with its live state; the tensors stay borrowed (the
            // outputs exclusively) for the call, and the shapes they point to as well.
            unsafe {
                (self.def.forward)(
                    self.state.ptr,
                    &call,
                    ins.as_ptr(),
                    count(ins.len()),
                    outs.as_ptr(),
                    count(outs.len()),
                    err,
                )
            }
        })
        .map_err(|f| self.def.plugin_error(f.describe("the forward kernel")))
    }

    fn gradient(&self, grad: &mut GradCtx<'_>) -> OpResult<Vec<Option<Entry>>> {
        if self.def.backward.is_none() {
            return Err(OpError::Unsupported {
                op: self.def.name.to_string(),
                what: "a gradient (the plugin has no backward kernel)".into(),
            });
        }
        let inputs: Vec<Entry> = grad
            .ograds
            .iter()
            .chain(grad.inputs)
            .chain(grad.outputs)
            .copied()
            .collect();
        let back = PluginBackwardOp {
            def: Arc::clone(&self.def),
            state: Arc::clone(&self.state),
            attrs: self.attrs.clone(),
        };
        let out = grad.backward_node(back, &inputs)?;
        let mut grads: Vec<Option<Entry>> = out.into_iter().map(Some).collect();
        grads.resize(self.num_inputs(), None); // auxiliary states get no gradient
        Ok(grads)
    }
}

/// `_backward_<name>`: inputs (head gradients, forward inputs with auxiliary states, forward
/// outputs); outputs one gradient per data input.
pub(super) struct PluginBackwardOp {
    pub(super) def: Arc<PluginOpDef>,
    pub(super) state: Arc<State>,
    pub(super) attrs: Vec<(String, String)>,
}

impl std::fmt::Debug for PluginBackwardOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginBackwardOp")
            .field("name", &self.def.backward_name)
            .field("attrs", &self.attrs)
            .finish_non_exhaustive()
    }
}

impl PluginBackwardOp {
    fn n_out(&self) -> usize {
        self.def.outputs.len()
    }
    fn n_in(&self) -> usize {
        self.def.inputs.len() + self.def.aux.len()
    }
    fn n_data(&self) -> usize {
        self.def.inputs.len()
    }
}

impl Operator for PluginBackwardOp {
    #[allow(clippy::misnamed_getters)] // the backward operator's own name, not the forward's
    fn name(&self) -> &'static str {
        self.def.backward_name
    }

    fn attrs(&self) -> Vec<(String, String)> {
        self.attrs.clone()
    }

    fn input_names(&self) -> Vec<String> {
        let d = &self.def;
        d.outputs
            .iter()
            .map(|o| format!("ograd_{o}"))
            .chain(d.inputs.iter().chain(&d.aux).cloned())
            .chain(d.outputs.iter().map(|o| format!("out_{o}")))
            .collect()
    }

    fn num_inputs(&self) -> usize {
        2 * self.n_out() + self.n_in()
    }

    fn output_names(&self) -> Vec<String> {
        self.def
            .inputs
            .iter()
            .map(|i| format!("{i}_grad"))
            .collect()
    }

    fn num_outputs(&self) -> usize {
        self.n_data()
    }

    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> OpResult<()> {
        // Gradient k has the shape of forward input k, and head gradient j that of output j;
        // the plugin's own inference relates the forward inputs and outputs.
        let (n_out, n_in) = (self.n_out(), self.n_in());
        for k in 0..self.n_data() {
            let known = shapes.input(n_out + k).clone();
            shapes.set_output(k, known)?;
            let known = shapes.output(k).clone();
            shapes.set_input(n_out + k, known)?;
        }
        for j in 0..n_out {
            let known = shapes.input(j).clone();
            shapes.set_input(n_out + n_in + j, known)?;
            let known = shapes.input(n_out + n_in + j).clone();
            shapes.set_input(j, known)?;
        }
        let ins: Vec<Slot> = (n_out..n_out + n_in).map(Slot::In).collect();
        let outs: Vec<Slot> = (n_out + n_in..2 * n_out + n_in).map(Slot::In).collect();
        plugin_infer_shape(&self.def, &self.state, shapes, &ins, &outs)?;
        for k in 0..self.n_data() {
            let known = shapes.input(n_out + k).clone();
            shapes.set_output(k, known)?;
        }
        Ok(())
    }

    fn infer_type(&self, types: &mut TypeCtx<'_>) -> OpResult<()> {
        let n_out = self.n_out();
        for k in 0..self.n_data() {
            if let Some(d) = types.input(n_out + k) {
                types.set_output(k, d)?;
            } else if let Some(d) = types.output(k) {
                types.set_input(n_out + k, d)?;
            }
        }
        Ok(())
    }

    fn forward(&self, call: Call<'_, '_, '_>) -> OpResult<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let (n_out, n_in) = (self.n_out(), self.n_in());
        if inputs.len() != 2 * n_out + n_in || outputs.len() != self.n_data() {
            return Err(self.def.plugin_error(format!(
                "backward called with {} inputs and {} outputs, expected {} and {}",
                inputs.len(),
                outputs.len(),
                2 * n_out + n_in,
                self.n_data()
            )));
        }
        let Some(backward) = self.def.backward else {
            return Err(self.def.plugin_error("no backward kernel".into()));
        };
        let descs: Vec<TensorDesc> = inputs.iter().map(tensor_desc).collect();
        let (og, rest) = descs.split_at(n_out);
        let (ins, outs) = rest.split_at(n_in);
        let igrads: Vec<TensorDesc> = outputs.iter_mut().map(tensor_desc_mut).collect();
        let call = PluginOpDef::call_info(ctx);
        call_plugin(|err| {
            // SAFETY: the plugin's backward kernel with its live state; every tensor stays
            // borrowed for the call (the gradients exclusively).
            unsafe {
                backward(
                    self.state.ptr,
                    &call,
                    og.as_ptr(),
                    count(og.len()),
                    ins.as_ptr(),
                    count(ins.len()),
                    outs.as_ptr(),
                    count(outs.len()),
                    igrads.as_ptr(),
                    count(igrads.len()),
                    err,
                )
            }
        })
        .map_err(|f| self.def.plugin_error(f.describe("the backward kernel")))
    }
}
