//! Reductions, and cutting a computed tensor: ReduceMean/Sum/Max/Min, Slice (on computed
//! data: one `slice_axis` per axis), Split (equal pieces: `SliceChannel`).

use mxr_frontend::sym::Symbol;

use super::node::Node;
use super::ops::{build, tuple};
use super::{Importer, Value};
use crate::error::Result;

/// ReduceMean, ReduceSum, ReduceMax, ReduceMin: MXNet's `mean`, `sum`, `max`, `min` over
/// `axes` (an attribute, or from ReduceSum at opset 13 and the others at 18 an input; all
/// axes when absent), keeping the reduced axes as ONNX's `keepdims` says (default 1).
pub(super) fn reduce(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axes", "keepdims", "noop_with_empty_axes"])?;
    let op = match n.op {
        "ReduceMean" => "mean",
        "ReduceSum" => "sum",
        "ReduceMax" => "max",
        _ => "min",
    };
    let axes_as_input = n.opset >= 18 || (n.op == "ReduceSum" && n.opset >= 13);
    let axes = if axes_as_input {
        imp.int_list(n, 1, "axes")?
    } else {
        n.ints("axes")?
    };
    let axes = axes.filter(|a| !a.is_empty());
    if axes.is_none() && n.int("noop_with_empty_axes", 0)? != 0 {
        return Err(n.attr_error("noop_with_empty_axes", "is not supported"));
    }
    let keep = n.int("keepdims", 1)? != 0;
    let x = imp.symbol(n, 0)?;
    let mut params = vec![("keepdims", if keep { "True" } else { "False" }.to_owned())];
    if let Some(axes) = axes {
        params.push(("axis", tuple(&axes)));
    }
    build(imp, n, op, &[x], &params, "")
}

/// Slice of a computed tensor with step 1: one `slice_axis` per sliced axis. ONNX clamps
/// `starts` and `ends` to the axis; with the input's shape known mxr clamps them the same way,
/// else an end past any size (`INT64_MAX`, as exporters write "to the end") means the end.
/// Slice with steps other than 1: one `slice` whose tuples cover the axes up to the last one
/// sliced (None elsewhere); ONNX's clamping of starts and ends is MXNet's. Negative axes need
/// the input's rank.
fn strided_slice(
    imp: &mut Importer<'_>,
    n: &Node<'_>,
    rank: Option<usize>,
    (axes, starts, ends, steps): (&[i64], &[i64], &[i64], &[i64]),
) -> Result<Value> {
    let at = axes
        .iter()
        .map(|&a| match rank {
            Some(r) => super::node::axis(n, "axes", a, r),
            None if a >= 0 => Ok(a as usize),
            None => Err(n.error(format!(
                "axes {axes:?}: a negative axis needs the input's shape, unknown at import"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let len = at.iter().max().map_or(0, |m| m + 1);
    let (mut begin, mut end, mut step) = (vec![None; len], vec![None; len], vec![None; len]);
    for (k, &a) in at.iter().enumerate() {
        begin[a] = Some(starts[k]);
        end[a] = Some(ends[k]);
        step[a] = Some(steps[k]);
    }
    let text = |v: &[Option<i64>]| {
        let items: Vec<String> = v
            .iter()
            .map(|x| x.map_or_else(|| "None".to_owned(), |x| x.to_string()))
            .collect();
        tuple(&items)
    };
    let params = [
        ("begin", text(&begin)),
        ("end", text(&end)),
        ("step", text(&step)),
    ];
    let x = imp.symbol(n, 0)?;
    Ok(Value::Symbol(build(imp, n, "slice", &[x], &params, "")?))
}

pub(super) fn slice(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Value> {
    n.check_attrs(&[])?;
    let starts = imp.int_list(n, 1, "starts")?.unwrap_or_default();
    let ends = imp.int_list(n, 2, "ends")?.unwrap_or_default();
    let axes = imp
        .int_list(n, 3, "axes")?
        .unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = imp
        .int_list(n, 4, "steps")?
        .unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(n.error(format!(
            "starts {starts:?}, ends {ends:?}, axes {axes:?}, steps {steps:?} differ in length"
        )));
    }
    let shape = imp.shape(n, 0)?;
    if steps.iter().any(|&s| s != 1) {
        return strided_slice(
            imp,
            n,
            shape.map(|d| d.len()),
            (&axes, &starts, &ends, &steps),
        );
    }
    let mut x = imp.symbol(n, 0)?;
    for (k, ((&axis, &start), &end)) in axes.iter().zip(&starts).zip(&ends).enumerate() {
        let (begin, end) = match &shape {
            Some(dims) => {
                let at = super::node::axis(n, "axes", axis, dims.len())?;
                let size = dims[at] as i64;
                let clamp = |v: i64| (if v < 0 { v + size } else { v }).clamp(0, size);
                let (b, e) = (clamp(start), clamp(end));
                (b, Some(e.max(b)))
            }
            None => (start, (end < i64::from(i32::MAX)).then_some(end)),
        };
        let end = end.map_or_else(|| "None".to_owned(), |e| e.to_string());
        let params = [
            ("axis", axis.to_string()),
            ("begin", begin.to_string()),
            ("end", end),
        ];
        let suffix = if k + 1 == axes.len() {
            String::new()
        } else {
            format!("_axis{axis}")
        };
        x = build(imp, n, "slice_axis", &[x], &params, &suffix)?;
    }
    Ok(Value::Symbol(x))
}

/// Split into equal pieces along `axis`: MXNet's `SliceChannel`, one output per piece.
pub(super) fn split(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Vec<Value>> {
    n.check_attrs(&["axis", "split", "num_outputs"])?;
    let pieces = n.proto.output.len();
    let sizes = if n.opset >= 13 {
        imp.int_list(n, 1, "split")?
    } else {
        n.ints("split")?
    };
    if let Some(sizes) = &sizes
        && sizes.windows(2).any(|w| w[0] != w[1])
    {
        return Err(n.error(format!(
            "unequal pieces {sizes:?}: only equal ones convert (MXNet's SliceChannel)"
        )));
    }
    let axis = n.int("axis", 0)?;
    let x = imp.symbol(n, 0)?;
    let params = [
        ("num_outputs", pieces.to_string()),
        ("axis", axis.to_string()),
    ];
    let s = build(imp, n, "SliceChannel", &[x], &params, "")?;
    (0..pieces)
        .map(|i| {
            s.output(i)
                .map(Value::Symbol)
                .map_err(|e| n.error(format!("output {i}: {e}")))
        })
        .collect()
}
