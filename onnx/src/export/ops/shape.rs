//! Export of the shaping and filling operators: `Cast`, `Pad`, `slice`, `squeeze`,
//! `reshape_like`, `ones_like`/`zeros_like`.

use super::{Ctx, int_attr};
use crate::error::Result;
use crate::export::Exporter;
use crate::proto::AttributeProto;
use crate::proto::attribute_proto::AttributeType;
use crate::proto::tensor_proto::DataType;
use crate::tensor::{Tensor, Values};

/// Cast: ONNX's Cast to the data type of MXNet's `dtype` (`bfloat16` and `bool`, which mxr
/// does not compute, are refused).
pub(super) fn cast(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let dtype = c
        .attr("dtype")
        .ok_or_else(|| c.error("attribute dtype is missing"))?;
    let to = match dtype {
        "float32" => DataType::Float,
        "float64" => DataType::Double,
        "float16" => DataType::Float16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::Uint8,
        "int8" => DataType::Int8,
        other => {
            return Err(c.error(format!(
                "dtype {other:?} has no ONNX export (float32, float64, float16, int32, int64, \
                 uint8, int8 export)"
            )));
        }
    };
    c.emit(
        ex,
        "Cast",
        vec![c.input(0)?],
        vec![int_attr("to", to as i64)],
    );
    Ok(())
}

/// Pad: MXNet's `(before_1, after_1, .., before_N, after_N)` becomes ONNX's
/// `[before_1, .., before_N, after_1, .., after_N]`; the modes share their names.
pub(super) fn pad(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let mode = c.attr("mode").unwrap_or("constant");
    if !matches!(mode, "constant" | "edge" | "reflect") {
        return Err(c.error(format!("mode {mode:?} has no ONNX export")));
    }
    let width = c
        .tuple("pad_width")?
        .ok_or_else(|| c.error("attribute pad_width is missing"))?;
    if width.len() % 2 != 0 {
        return Err(c.error(format!("pad_width {width:?} has an odd count of widths")));
    }
    let pads: Vec<i64> = [0, 1]
        .iter()
        .flat_map(|&side| width.iter().skip(side).step_by(2).copied())
        .collect();
    let (p, v) = (c.helper("pads_init"), c.helper("pad_value"));
    ex.int_init(&p, pads);
    ex.float_init(&v, vec![], vec![c.float("constant_value", 0.0)?]);
    let attrs = vec![string_attr("mode", mode)];
    c.emit(ex, "Pad", vec![c.input(0)?, p, v], attrs);
    Ok(())
}

/// slice: ONNX's Slice over the leading axes. A `None` begin is the first element in the
/// step's direction and a `None` end runs past the last (Slice clamps both as MXNet does).
pub(super) fn slice(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let begin = c.opt_tuple("begin")?.unwrap_or_default();
    let end = c.opt_tuple("end")?.unwrap_or_default();
    let step = c.opt_tuple("step")?.unwrap_or_default();
    if begin.len() != end.len() || step.len() > begin.len() {
        return Err(c.error(format!(
            "begin {begin:?}, end {end:?} and step {step:?} do not have matching lengths"
        )));
    }
    let mut values = [vec![], vec![], vec![], vec![]];
    for (axis, (&b, &e)) in begin.iter().zip(&end).enumerate() {
        let s = step.get(axis).copied().flatten().unwrap_or(1);
        if s == 0 {
            return Err(c.error(format!("step 0 on axis {axis}")));
        }
        let forward = s > 0;
        values[0].push(b.unwrap_or(if forward { 0 } else { i64::MAX }));
        values[1].push(e.unwrap_or(if forward { i64::MAX } else { i64::MIN }));
        values[2].push(axis as i64);
        values[3].push(s);
    }
    let names = ["slice_starts", "slice_ends", "slice_axes", "slice_steps"].map(|w| c.helper(w));
    for (name, v) in names.iter().zip(values) {
        ex.int_init(name, v);
    }
    let mut inputs = vec![c.input(0)?];
    inputs.extend(names);
    c.emit(ex, "Slice", inputs, vec![]);
    Ok(())
}

/// squeeze: Squeeze with the axes as an initialiser (all axes of size 1 when none are given,
/// read from the input's shape). MXNet keeps one axis where all would go: a Reshape to `[1]`.
pub(super) fn squeeze(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let dims = c.input_shape(ex, 0).cloned();
    let axes = match c.opt_tuple("axis")? {
        Some(a) if !a.is_empty() => a.into_iter().flatten().collect::<Vec<_>>(),
        _ => {
            let dims = dims
                .as_ref()
                .ok_or_else(|| c.error("squeeze without axes needs the input's shape"))?;
            (0..dims.len() as i64)
                .filter(|&a| dims[a as usize] == 1)
                .collect()
        }
    };
    let x = c.input(0)?;
    if dims.is_some_and(|d| d.len() == axes.len()) {
        let one = c.helper("squeeze_shape");
        ex.int_init(&one, vec![1]);
        c.emit(ex, "Reshape", vec![x, one], vec![]);
        return Ok(());
    }
    let name = c.helper("squeeze_axes");
    ex.int_init(&name, axes);
    c.emit(ex, "Squeeze", vec![x, name], vec![]);
    Ok(())
}

/// reshape_like: Reshape of lhs to `Shape(rhs)`, or with the ranges to
/// `Concat(Shape(lhs)[..lhs_begin], Shape(rhs)[rhs_begin..rhs_end], Shape(lhs)[lhs_end..])`.
pub(super) fn reshape_like(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let bound = |key: &str| match c.attr(key) {
        None | Some("None") => Ok(None),
        Some(_) => c.int(key, 0).map(Some),
    };
    let [lb, le, rb, re] = ["lhs_begin", "lhs_end", "rhs_begin", "rhs_end"];
    let [lb, le, rb, re] = [bound(lb)?, bound(le)?, bound(rb)?, bound(re)?];
    let (lhs, rhs) = (c.input(0)?, c.input(1)?);
    let rhs_shape = c.helper("rhs_shape");
    c.emit_as(ex, "Shape", vec![rhs], vec![], &rhs_shape);
    if [lb, le, rb, re].iter().all(Option::is_none) {
        c.emit(ex, "Reshape", vec![lhs, rhs_shape], vec![]);
        return Ok(());
    }
    let lhs_shape = c.helper("lhs_shape");
    c.emit_as(ex, "Shape", vec![lhs.clone()], vec![], &lhs_shape);
    let lb = lb.unwrap_or(0);
    let pieces = [
        (&lhs_shape, 0, Some(lb), "lhs_head"),
        (&rhs_shape, rb.unwrap_or(0), re, "rhs_middle"),
        (&lhs_shape, le.unwrap_or(i64::MAX), None, "lhs_tail"),
    ];
    let mut parts = Vec::new();
    for (shape, start, end, what) in pieces {
        let (s, e, out) = (
            c.helper(&format!("{what}_start")),
            c.helper(&format!("{what}_end")),
            c.helper(what),
        );
        ex.int_init(&s, vec![start]);
        ex.int_init(&e, vec![end.unwrap_or(i64::MAX)]);
        c.emit_as(ex, "Slice", vec![shape.clone(), s, e], vec![], &out);
        parts.push(out);
    }
    let target = c.helper("target_shape");
    c.emit_as(ex, "Concat", parts, vec![int_attr("axis", 0)], &target);
    c.emit(ex, "Reshape", vec![lhs, target], vec![]);
    Ok(())
}

/// ones_like, zeros_like: `ConstantOfShape(Shape(x))` of a float32 `value`.
pub(super) fn fill_like(ex: &mut Exporter, c: &Ctx<'_>, value: f32) -> Result<()> {
    let shape = c.helper("like_shape");
    c.emit_as(ex, "Shape", vec![c.input(0)?], vec![], &shape);
    let t = Tensor {
        dims: vec![1],
        values: Values::F32(vec![value]),
    };
    let attr = AttributeProto {
        name: Some("value".into()),
        r#type: Some(AttributeType::Tensor as i32),
        t: Some(t.to_proto("value")),
        ..Default::default()
    };
    c.emit(ex, "ConstantOfShape", vec![shape], vec![attr]);
    Ok(())
}

fn string_attr(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(s.as_bytes().to_vec()),
        ..Default::default()
    }
}
