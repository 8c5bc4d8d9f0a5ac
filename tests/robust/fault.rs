//! `_robust_fault`: an operator registered by this test binary that copies its input, or fails,
//! or panics, as its `mode` parameter says. Its `tag` names the injection in the message, so a
//! test can tell which injected fault an error reports.

use std::sync::Arc;

use mxr::operators::registry::{Call, OpDef, OpRef, Operator, ShapeCtx};
use mxr::operators::{Error, Result, attr_enum, params};

attr_enum! {
    /// What the operator does.
    pub(crate) enum FaultMode { Copy = "copy", Fail = "fail", Panic = "panic" }
}

params! {
    /// Parameters of `_robust_fault`.
    pub(crate) struct FaultParam for "_robust_fault" {
        /// Copy, fail or panic.
        mode: FaultMode = FaultMode::Copy,
        /// Names the injection in the error.
        tag: String = String::new(),
    }
}

/// The operator.
#[derive(Debug)]
pub(crate) struct Fault(FaultParam);

impl Operator for Fault {
    fn name(&self) -> &'static str {
        "_robust_fault"
    }

    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }

    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let input = shapes.input(0).clone();
        shapes.set_output(0, input)?;
        let output = shapes.output(0).clone();
        shapes.set_input(0, output)
    }

    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        match self.0.mode {
            FaultMode::Copy => {
                let x = inputs[0].slice::<f32>("_robust_fault")?;
                outputs[0]
                    .slice_mut::<f32>("_robust_fault")?
                    .copy_from_slice(x);
                Ok(())
            }
            FaultMode::Fail => Err(Error::BadInput {
                op: "_robust_fault".into(),
                reason: format!("injected failure {}", self.0.tag),
            }),
            FaultMode::Panic => panic!("injected panic {}", self.0.tag),
        }
    }
}

fn create(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Fault(FaultParam::parse(attrs.iter().copied())?)))
}

inventory::submit! {
    OpDef::new(
        "_robust_fault",
        "Test operator: copies its input, fails or panics (mode).",
        FaultParam::specs,
        create,
    )
}

/// Silences the default panic message for injected panics (the engine catches them; the
/// message would only clutter the output), keeping it for every other panic.
pub(crate) fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !message.starts_with("injected panic") {
            default(info);
        }
    }));
}
