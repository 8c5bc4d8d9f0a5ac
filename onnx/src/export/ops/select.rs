//! Export of the indexing and selecting operators: Embedding, `where`, `argmax`/`argmin`,
//! `one_hot`, `broadcast_to` (`broadcast_maximum`/`broadcast_minimum` are plain Max/Min).
//! MXNet carries indices and conditions as float32; ONNX wants int64 indices and a bool
//! condition, so Casts go in between.

use super::{Ctx, int_attr};
use crate::error::Result;
use crate::export::Exporter;
use crate::proto::tensor_proto::DataType;

/// Casts `x` to `to` into a helper value named after the node and `what`; returns its name.
fn cast(ex: &mut Exporter, c: &Ctx<'_>, x: String, to: DataType, what: &str) -> String {
    let out = c.helper(what);
    let attrs = vec![int_attr("to", to as i64)];
    c.emit_as(ex, "Cast", vec![x], attrs, &out);
    out
}

/// Embedding: `Gather(weight, Cast(data, int64))` (MXNet clips an index out of range, ONNX
/// refuses it).
pub(super) fn embedding(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let idx = cast(ex, c, c.input(0)?, DataType::Int64, "indices");
    let attrs = vec![int_attr("axis", 0)];
    c.emit(ex, "Gather", vec![c.input(1)?, idx], attrs);
    Ok(())
}

/// where: `Where(Cast(condition, bool), x, y)`. MXNet's 1-D condition of x's first axis picks
/// whole rows; ONNX broadcasts from the last axis, so it is reshaped to `(n, 1, ..)` first.
pub(super) fn where_(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let mut cond = c.input(0)?;
    let (cs, xs) = (c.input_shape(ex, 0).cloned(), c.input_shape(ex, 1).cloned());
    match (cs, xs) {
        (Some(cs), Some(xs)) if cs.len() == 1 && xs.len() > 1 => {
            let mut dims = vec![1; xs.len()];
            dims[0] = cs[0] as i64;
            let shape = c.helper("row_shape");
            ex.int_init(&shape, dims);
            let rows = c.helper("rows");
            c.emit_as(ex, "Reshape", vec![cond, shape], vec![], &rows);
            cond = rows;
        }
        (Some(cs), Some(xs)) if cs == xs => {}
        (cs, xs) => {
            return Err(c.error(format!(
                "the shapes of the condition ({cs:?}) and x ({xs:?}) must be known and equal, \
                 or the condition 1-D; give the input shapes"
            )));
        }
    }
    let cond = cast(ex, c, cond, DataType::Bool, "condition");
    c.emit(ex, "Where", vec![cond, c.input(1)?, c.input(2)?], vec![]);
    Ok(())
}

/// argmax, argmin: ArgMax/ArgMin, then a Cast to float (MXNet's index has the input's
/// dtype). Without an axis MXNet searches the flattened input: a Reshape to 1-D first, and
/// with `keepdims` one back to ones of the input's rank.
pub(super) fn arg_reduce(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let op = if c.node.op == "argmax" {
        "ArgMax"
    } else {
        "ArgMin"
    };
    let keep = c.flag("keepdims", false)?;
    let mut x = c.input(0)?;
    let axis = match c.attr("axis") {
        None | Some("None") => None,
        Some(_) => Some(c.int("axis", 0)?),
    };
    let index = c.helper("index");
    match axis {
        Some(a) => {
            let attrs = vec![int_attr("axis", a), int_attr("keepdims", i64::from(keep))];
            c.emit_as(ex, op, vec![x], attrs, &index);
        }
        None => {
            let flat = c.helper("flat_shape");
            ex.int_init(&flat, vec![-1]);
            let flat_x = c.helper("flat");
            c.emit_as(ex, "Reshape", vec![x, flat], vec![], &flat_x);
            x = flat_x;
            let attrs = vec![int_attr("axis", 0), int_attr("keepdims", 1)];
            let found = if keep {
                c.helper("found")
            } else {
                index.clone()
            };
            c.emit_as(ex, op, vec![x], attrs, &found);
            if keep {
                let rank = c
                    .input_shape(ex, 0)
                    .map(Vec::len)
                    .ok_or_else(|| c.error("keepdims without an axis needs the input's rank"))?;
                let ones = c.helper("ones_shape");
                ex.int_init(&ones, vec![1; rank]);
                c.emit_as(ex, "Reshape", vec![found, ones], vec![], &index);
            }
        }
    }
    c.emit(
        ex,
        "Cast",
        vec![index],
        vec![int_attr("to", DataType::Float as i64)],
    );
    Ok(())
}

/// one_hot: `OneHot(Cast(indices, int64), depth, [off, on], axis=-1)` of float32 values (other
/// dtypes are refused). A negative index gives a row of `off` in MXNet; ONNX counts it from
/// the end.
pub(super) fn one_hot(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    if !matches!(c.attr("dtype"), None | Some("float32")) {
        return Err(c.error("only dtype float32 exports"));
    }
    if c.attr("depth").is_none() {
        return Err(c.error("attribute depth is missing"));
    }
    let depth = c.int("depth", 0)?;
    let idx = cast(ex, c, c.input(0)?, DataType::Int64, "indices");
    let (d, v) = (c.helper("depth"), c.helper("values"));
    ex.int_init(&d, vec![depth]);
    let values = vec![c.float("off_value", 0.0)?, c.float("on_value", 1.0)?];
    ex.float_init(&v, vec![2], values);
    c.emit(ex, "OneHot", vec![idx, d, v], vec![int_attr("axis", -1)]);
    Ok(())
}

/// broadcast_to: Expand to the inferred output shape (or the given one, MXNet's 0 "keep this
/// dimension" written as 1, which Expand's two-way broadcast reads the same).
pub(super) fn broadcast_to(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let dims = match ex.shapes.get(&format!("{}_output", c.node.name)) {
        Some(d) => d.iter().map(|&x| x as i64).collect(),
        None => c
            .tuple("shape")?
            .ok_or_else(|| c.error("attribute shape is missing"))?
            .into_iter()
            .map(|d| d.max(1))
            .collect(),
    };
    let shape = c.helper("shape");
    ex.int_init(&shape, dims);
    c.emit(ex, "Expand", vec![c.input(0)?, shape], vec![]);
    Ok(())
}
