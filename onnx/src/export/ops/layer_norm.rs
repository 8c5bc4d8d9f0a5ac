//! Export of `LayerNorm` at opset 13, which has no LayerNormalization (opset 17): the mean and
//! variance along the axis by ReduceMean, then `(x − mean) / √(var + eps) · gamma + beta`, the
//! arithmetic MXNet's kernel does. gamma and beta (one value per position of the axis) are
//! reshaped to broadcast along it when it is not the last.

use super::{Ctx, int_attr, ints_attr};
use crate::error::Result;
use crate::export::Exporter;

pub(super) fn layer_norm(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    if c.flag("output_mean_var", false)? {
        return Err(c.error("output_mean_var has no ONNX export"));
    }
    let eps = c.float("eps", 1e-5)?;
    let mut axis = c.int("axis", -1)?;
    let rank = c.input_shape(ex, 0).map(Vec::len);
    if let Some(r) = rank {
        let r = r as i64;
        if axis < -r || axis >= r {
            return Err(c.error(format!("axis {axis} is out of range for rank {r}")));
        }
        axis = axis.rem_euclid(r);
    }
    let last = axis == -1 || rank.is_some_and(|r| axis as usize + 1 == r);
    let x = c.input(0)?;
    let (mut gamma, mut beta) = (c.input(1)?, c.input(2)?);
    if !last {
        let Some(rank) = rank else {
            return Err(c.error(format!(
                "axis {axis} needs the data's rank to broadcast gamma and beta; give the input \
                 shapes"
            )));
        };
        // (C, 1, .., 1): one value per position of the axis, ones after it.
        let mut dims = vec![-1i64];
        dims.extend(std::iter::repeat_n(1, rank - 1 - axis as usize));
        let shape = c.helper("affine_shape");
        ex.int_init(&shape, dims);
        for (v, what) in [(&mut gamma, "gamma_on_axis"), (&mut beta, "beta_on_axis")] {
            let out = c.helper(what);
            c.emit_as(ex, "Reshape", vec![v.clone(), shape.clone()], vec![], &out);
            *v = out;
        }
    }
    let reduce = |ex: &mut Exporter, input: String, what: &str| {
        let out = c.helper(what);
        let attrs = vec![ints_attr("axes", vec![axis]), int_attr("keepdims", 1)];
        c.emit_as(ex, "ReduceMean", vec![input], attrs, &out);
        out
    };
    let binary = |ex: &mut Exporter, op: &str, a: String, b: String, what: &str| {
        let out = c.helper(what);
        c.emit_as(ex, op, vec![a, b], vec![], &out);
        out
    };
    let mean = reduce(ex, x.clone(), "mean");
    let centred = binary(ex, "Sub", x, mean, "centred");
    let squares = binary(ex, "Mul", centred.clone(), centred.clone(), "squares");
    let var = reduce(ex, squares, "var");
    let eps_name = c.helper("eps");
    ex.float_init(&eps_name, vec![], vec![eps]);
    let shifted = binary(ex, "Add", var, eps_name, "var_eps");
    let std = c.helper("std");
    c.emit_as(ex, "Sqrt", vec![shifted], vec![], &std);
    let normed = binary(ex, "Div", centred, std, "normed");
    let scaled = binary(ex, "Mul", normed, gamma, "scaled");
    c.emit(ex, "Add", vec![scaled, beta], vec![]);
    Ok(())
}
