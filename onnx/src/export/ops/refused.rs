//! The registry operators that export refuses because ONNX cannot express what they compute,
//! each with its reason.

/// Why ONNX cannot express registry operator `op`, or `None` when that is not known to be
/// the case.
pub(super) fn reason(op: &str) -> Option<&'static str> {
    if op.starts_with("_random_") {
        return Some(
            "it draws from mxr's random generator; ONNX's RandomUniform/RandomNormal draw from \
             the runtime's own, so the exported model could not compute the same values",
        );
    }
    if op.starts_with("_backward_") || op == "_broadcast_backward" {
        return Some("it is a gradient operator; ONNX models carry inference graphs only");
    }
    if op.ends_with("_update") {
        return Some(
            "it is an optimizer step updating weights and states in place; ONNX models carry \
             inference graphs only",
        );
    }
    None
}
