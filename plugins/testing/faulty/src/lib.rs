//! A test plugin for mxr's error handling. `faulty(data, fail='none')` copies its input, and
//! fails on purpose where `fail` says: `error_create`, `panic_create`, `error_shape`,
//! `panic_shape`, `error_forward` (an error when the input has a negative value),
//! `panic_forward`, `panic_backward`. `tally(data; aux total)` copies its input and, in
//! training mode, adds the input's sum to its auxiliary state `total` (shape (1,)): it exercises
//! auxiliary states through the ABI. `opaque(data)` copies its input and has no backward kernel.

use mxr_plugin_abi::{
    Backward, CallCtx, Forward, Op, OpInfo, ParamInfo, Params, Result, Shape, Tensor, TensorMut,
    bail,
};

/// Where `faulty` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    None,
    ErrorShape,
    PanicShape,
    ErrorForward,
    PanicForward,
    PanicBackward,
}

/// The `faulty` operator.
#[derive(Debug)]
pub struct Faulty {
    fail: Fail,
}

/// Copies the first tensor of `from` into the first of `to` (a forward copy of the input, or
/// a backward pass of the head gradient).
fn copy(from: &[Tensor<'_>], to: &mut [TensorMut<'_>]) {
    to[0].bytes_mut().copy_from_slice(from[0].bytes());
}

/// The description of an operator `name` that copies its input `data` to its output `output`
/// (no auxiliary states, no parameters, no GPU kernel).
fn copy_info(name: &'static str, description: &'static str) -> OpInfo {
    OpInfo {
        name,
        description,
        inputs: &["data"],
        outputs: &["output"],
        aux: &[],
        params: Vec::new(),
        cuda: None,
    }
}

impl Op for Faulty {
    fn info() -> OpInfo {
        OpInfo {
            params: vec![ParamInfo::optional(
                "fail",
                "{'none', 'error_create', 'panic_create', 'error_shape', 'panic_shape', \
                 'error_forward', 'panic_forward', 'panic_backward'}",
                "none",
                "Where to fail.",
            )],
            ..copy_info(
                "faulty",
                "Copies its input; fails on purpose where `fail` says.",
            )
        }
    }

    fn create(params: &Params) -> Result<Self> {
        let fail = match params.get("fail").unwrap_or("none") {
            "none" => Fail::None,
            "error_create" => bail!("fail=error_create: refusing to create"),
            "panic_create" => panic!("fail=panic_create: deliberate panic in create"),
            "error_shape" => Fail::ErrorShape,
            "panic_shape" => Fail::PanicShape,
            "error_forward" => Fail::ErrorForward,
            "panic_forward" => Fail::PanicForward,
            "panic_backward" => Fail::PanicBackward,
            other => bail!("unknown fail mode {other:?}"),
        };
        Ok(Faulty { fail })
    }

    fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
        match self.fail {
            Fail::ErrorShape => bail!("fail=error_shape: no shape for you"),
            Fail::PanicShape => panic!("fail=panic_shape: deliberate panic in infer_shape"),
            _ => {
                outputs[0] = inputs[0].clone();
                Ok(())
            }
        }
    }

    fn forward(&self, _ctx: &CallCtx, t: Forward<'_, '_>) -> Result<()> {
        match self.fail {
            Fail::PanicForward => panic!("fail=panic_forward: deliberate panic in the kernel"),
            Fail::ErrorForward => {
                let x = t.inputs[0].as_slice::<f32>()?;
                if let Some(i) = x.iter().position(|v| *v < 0.0) {
                    bail!("negative input {} at index {i}", x[i]);
                }
                copy(t.inputs, t.outputs);
                Ok(())
            }
            _ => {
                copy(t.inputs, t.outputs);
                Ok(())
            }
        }
    }

    const HAS_BACKWARD: bool = true;

    fn backward(&self, _ctx: &CallCtx, t: Backward<'_, '_>) -> Result<()> {
        if self.fail == Fail::PanicBackward {
            panic!("fail=panic_backward: deliberate panic in the backward kernel");
        }
        copy(t.ograds, t.igrads);
        Ok(())
    }
}

/// The `tally` operator (no parameters).
#[derive(Debug)]
pub struct Tally;

impl Op for Tally {
    fn info() -> OpInfo {
        OpInfo {
            aux: &["total"],
            ..copy_info(
                "tally",
                "Copies its input; in training mode adds its sum to the state `total`.",
            )
        }
    }

    fn create(_params: &Params) -> Result<Self> {
        Ok(Tally)
    }

    fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
        outputs[0] = inputs[0].clone();
        inputs[1] = Shape::known(&[1]);
        Ok(())
    }

    fn forward(&self, ctx: &CallCtx, t: Forward<'_, '_>) -> Result<()> {
        copy(t.inputs, t.outputs);
        if ctx.is_train {
            let sum: f32 = t.inputs[0].as_slice::<f32>()?.iter().sum();
            t.outputs[1].as_mut_slice::<f32>()?[0] += sum;
        }
        Ok(())
    }

    const HAS_BACKWARD: bool = true;

    fn backward(&self, _ctx: &CallCtx, t: Backward<'_, '_>) -> Result<()> {
        copy(t.ograds, t.igrads);
        Ok(())
    }
}

/// The `opaque` operator: a copy without a gradient.
#[derive(Debug)]
pub struct Opaque;

impl Op for Opaque {
    fn info() -> OpInfo {
        copy_info("opaque", "Copies its input; has no backward kernel.")
    }

    fn create(_params: &Params) -> Result<Self> {
        Ok(Opaque)
    }

    fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
        outputs[0] = inputs[0].clone();
        Ok(())
    }

    fn forward(&self, _ctx: &CallCtx, t: Forward<'_, '_>) -> Result<()> {
        copy(t.inputs, t.outputs);
        Ok(())
    }
}

mxr_plugin_abi::export_plugin!(Faulty, Tally, Opaque);
