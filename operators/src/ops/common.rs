//! Helpers that several operator families share: parameterless ops, element-wise shape
//! inference, axis normalisation and the error for a kernel that refused its operands. A
//! family imports another family only where it composes that family's operator.

use crate::registry::attrs::{AttrParser, ParamSpec};
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

/// `axis` (negative counts from the end) as an index into `rank` axes, or `None` when out of
/// `[-rank, rank)`.
pub(crate) fn normalize_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = i64::try_from(rank).ok()?;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

/// The error for a kernel that refused its operands (the kernel's own error says which and
/// why), attributed to operator `op`.
pub(crate) fn kernel_error(op: &str, e: impl std::fmt::Display) -> Error {
    Error::BadInput {
        op: op.to_string(),
        reason: e.to_string(),
    }
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
