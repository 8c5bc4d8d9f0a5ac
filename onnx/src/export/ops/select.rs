//! Export of the indexing and selecting operators: Embedding, `where`, `argmax`/`argmin`,
//! `one_hot`, `broadcast_to`, `pick`, `take` (`broadcast_maximum`/`broadcast_minimum` are plain
//! Max/Min).
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

/// The int64 indices of `x` brought into `[0, size)` as MXNet's `mode` does: `clip` by Clip,
/// `wrap` by Mod (the divisor's sign, so never negative), `raise` left as they are.
fn bound_indices(
    ex: &mut Exporter,
    c: &Ctx<'_>,
    idx: String,
    mode: &str,
    size: Option<usize>,
) -> Result<String> {
    if mode == "raise" {
        return Ok(idx);
    }
    let size = size.ok_or_else(|| {
        c.error(format!(
            "mode {mode:?} needs the size of the indexed axis; give the input shapes"
        ))
    })? as i64;
    let out = c.helper(&format!("{mode}_indices"));
    match mode {
        "clip" => {
            let (lo, hi) = (c.helper("index_min"), c.helper("index_max"));
            ex.scalar_int_init(&lo, 0);
            ex.scalar_int_init(&hi, size - 1);
            c.emit_as(ex, "Clip", vec![idx, lo, hi], vec![], &out);
        }
        "wrap" => {
            let m = c.helper("index_modulus");
            ex.scalar_int_init(&m, size);
            c.emit_as(ex, "Mod", vec![idx, m], vec![], &out);
        }
        other => return Err(c.error(format!("mode {other:?} has no ONNX export"))),
    }
    Ok(out)
}

/// The axis `a` of a `rank`-D input, counted from the start.
fn axis_of(c: &Ctx<'_>, a: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let at = if a < 0 { a + r } else { a };
    if (0..r).contains(&at) {
        Ok(at as usize)
    } else {
        Err(c.error(format!("axis {a} is out of range for a {rank}-D input")))
    }
}

/// pick: `GatherElements(data, index)` along the axis on the index cast to int64 (bounded by
/// `mode`) and, when it lacks the axis, unsqueezed there; then a Squeeze unless `keepdims`.
pub(super) fn pick(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    if matches!(c.attr("axis"), Some("None")) {
        return Err(c.error("axis=None is not supported (as in MXNet 1.9.1)"));
    }
    let dims = c
        .input_shape(ex, 0)
        .cloned()
        .ok_or_else(|| c.error("the data's shape is unknown; give the input shapes"))?;
    let index_rank = c
        .input_shape(ex, 1)
        .map(Vec::len)
        .ok_or_else(|| c.error("the index's shape is unknown; give the input shapes"))?;
    let axis = axis_of(c, c.int("axis", -1)?, dims.len())?;
    let mut idx = cast(ex, c, c.input(1)?, DataType::Int64, "pick_indices");
    if index_rank + 1 == dims.len() {
        let axes = c.helper("pick_axis");
        ex.int_init(&axes, vec![axis as i64]);
        let lanes = c.helper("pick_lanes");
        c.emit_as(ex, "Unsqueeze", vec![idx, axes], vec![], &lanes);
        idx = lanes;
    }
    let mode = c.attr("mode").unwrap_or("clip");
    let idx = bound_indices(ex, c, idx, mode, Some(dims[axis]))?;
    let attrs = vec![int_attr("axis", axis as i64)];
    let (data, out) = (c.input(0)?, c.node.output(0));
    if c.flag("keepdims", false)? {
        c.emit(ex, "GatherElements", vec![data, idx], attrs);
        return Ok(());
    }
    let picked = c.helper("picked");
    c.emit_as(ex, "GatherElements", vec![data, idx], attrs, &picked);
    let axes = c.helper("picked_axis");
    ex.int_init(&axes, vec![axis as i64]);
    c.emit_as(ex, "Squeeze", vec![picked, axes], vec![], &out);
    Ok(())
}

/// take: `Gather(a, Cast(indices, int64))` along the axis, the indices bounded by `mode`.
pub(super) fn take(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let dims = c.input_shape(ex, 0).cloned();
    let a = c.int("axis", 0)?;
    let axis = match &dims {
        Some(d) => axis_of(c, a, d.len())? as i64,
        None => a,
    };
    let size = dims.as_ref().map(|d| d[axis as usize]);
    let idx = cast(ex, c, c.input(1)?, DataType::Int64, "take_indices");
    let idx = bound_indices(ex, c, idx, c.attr("mode").unwrap_or("clip"), size)?;
    let attrs = vec![int_attr("axis", axis)];
    c.emit(ex, "Gather", vec![c.input(0)?, idx], attrs);
    Ok(())
}
