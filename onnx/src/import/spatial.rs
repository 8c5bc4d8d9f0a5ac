//! Convolution and pooling: ONNX's padding (`pads`, `auto_pad`) resolved to MXNet's, an
//! asymmetric padding becoming a `Pad` before the operator.

use mxr_frontend::sym::Symbol;

use super::Importer;
use super::node::Node;
use super::ops::{build, fmt_f32, tuple};
use crate::error::Result;

/// The per-spatial-axis list attribute `name` (strides, dilations), all ones when absent.
fn per_axis(n: &Node<'_>, name: &str, k: usize) -> Result<Vec<usize>> {
    let v = n.sizes(name)?.unwrap_or_else(|| vec![1; k]);
    if v.len() != k || v.contains(&0) {
        return Err(n.attr_error(
            name,
            format!("{v:?} must have {k} positive values (one per spatial axis)"),
        ));
    }
    Ok(v)
}

/// Pads `x` (input 0 of `n`) by ONNX's `pads` (`[begin_1.., end_1..]` over the `k` spatial
/// axes) where they are asymmetric, with `value`, in a `Pad` before the operator (4-D or 5-D
/// input); returns the operator's input and its own symmetric padding (zeros after a Pad).
fn pad_before(
    imp: &mut Importer<'_>,
    n: &Node<'_>,
    x: Symbol,
    pads: &[usize],
    value: f32,
) -> Result<(Symbol, Vec<usize>)> {
    let k = pads.len() / 2;
    let (begin, end) = pads.split_at(k);
    if begin == end {
        return Ok((x, begin.to_vec()));
    }
    if k != 2 && k != 3 {
        let reason = format!("asymmetric padding {pads:?} converts for 2-D and 3-D only");
        return Err(n.attr_error("pads", reason));
    }
    let width: Vec<usize> = [0, 0, 0, 0]
        .into_iter()
        .chain((0..k).flat_map(|i| [begin[i], end[i]]))
        .collect();
    let params = [
        ("mode", "constant".into()),
        ("pad_width", tuple(&width)),
        ("constant_value", fmt_f32(value)),
    ];
    let padded = build(imp, n, "Pad", &[x], &params, "_pad")?;
    Ok((padded, vec![0; k]))
}

/// ONNX's padding of a convolution or pooling node, `[begin_1.., end_1..]`, from `pads` or
/// `auto_pad`.
fn onnx_pads(
    imp: &Importer<'_>,
    n: &Node<'_>,
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
) -> Result<Vec<usize>> {
    let k = kernel.len();
    if kernel.contains(&0) {
        return Err(n.error(format!("kernel {kernel:?} has an empty axis")));
    }
    let auto = n.string("auto_pad", "NOTSET")?;
    let pads = match auto.as_str() {
        "NOTSET" => n.sizes("pads")?.unwrap_or_else(|| vec![0; 2 * k]),
        "VALID" => vec![0; 2 * k],
        "SAME_UPPER" | "SAME_LOWER" => {
            let shape = imp.known_shape(n, 0, "resolve auto_pad")?;
            if shape.len() != k + 2 || shape.contains(&0) {
                return Err(n.error(format!(
                    "input shape {shape:?} does not have {k} non-empty spatial axes"
                )));
            }
            let mut pads = vec![0; 2 * k];
            for i in 0..k {
                let (size, s) = (shape[i + 2], strides[i]);
                let out = size.div_ceil(s);
                // (out - 1) * s <= size - 1; the kernel's span may still overflow.
                let needed = (kernel[i] - 1)
                    .checked_mul(dilations[i])
                    .and_then(|x| x.checked_add(1 + (out - 1) * s))
                    .ok_or_else(|| n.error(format!("kernel {kernel:?} overflows")))?;
                let total = needed.saturating_sub(size);
                let (small, big) = (total / 2, total - total / 2);
                let upper = auto == "SAME_UPPER";
                pads[i] = if upper { small } else { big };
                pads[i + k] = if upper { big } else { small };
            }
            pads
        }
        other => {
            return Err(n.attr_error(
                "auto_pad",
                format!("{other:?} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"),
            ));
        }
    };
    if pads.len() != 2 * k {
        return Err(n.attr_error(
            "pads",
            format!(
                "{pads:?} must have {} values (begin and end of {k} axes)",
                2 * k
            ),
        ));
    }
    Ok(pads)
}

/// A convolution's window: its weight's shape, kernel, strides and dilations.
struct Window {
    weight: Vec<usize>,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
}

/// The window of convolution `n`: the weight shape (input 1, `layout` naming its axes in
/// errors), the kernel (`kernel_shape`, which must agree with the weight), strides and
/// dilations.
fn window(imp: &Importer<'_>, n: &Node<'_>, layout: &str) -> Result<Window> {
    let w_shape = imp.known_shape(n, 1, "take the filter count")?;
    if w_shape.len() < 3 {
        return Err(n.error(format!(
            "weight shape {w_shape:?} is not ({layout}, kernel...)"
        )));
    }
    let k = w_shape.len() - 2;
    let kernel = n
        .sizes("kernel_shape")?
        .unwrap_or_else(|| w_shape[2..].to_vec());
    if kernel != w_shape[2..] {
        return Err(n.attr_error(
            "kernel_shape",
            format!("{kernel:?} differs from the weight's {w_shape:?}"),
        ));
    }
    let strides = per_axis(n, "strides", k)?;
    let dilations = per_axis(n, "dilations", k)?;
    Ok(Window {
        weight: w_shape,
        kernel,
        strides,
        dilations,
    })
}

pub(super) fn conv(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "pads",
        "strides",
    ])?;
    let Window {
        weight: w_shape,
        kernel,
        strides,
        dilations,
    } = window(imp, n, "filters, channels / group")?;
    let pads = onnx_pads(imp, n, &kernel, &strides, &dilations)?;
    let group = n.int("group", 1)?;
    if group < 1 {
        return Err(n.attr_error("group", format!("{group} is not positive")));
    }
    let x = imp.symbol(n, 0)?;
    let (x, pad) = pad_before(imp, n, x, &pads, 0.0)?;
    let mut inputs = vec![x, imp.symbol(n, 1)?];
    let no_bias = n.input(2).is_none();
    if !no_bias {
        inputs.push(imp.symbol(n, 2)?);
    }
    let params = [
        ("kernel", tuple(&kernel)),
        ("stride", tuple(&strides)),
        ("dilate", tuple(&dilations)),
        ("pad", tuple(&pad)),
        ("num_filter", w_shape[0].to_string()),
        ("num_group", group.to_string()),
        ("no_bias", if no_bias { "True" } else { "False" }.into()),
    ];
    build(imp, n, "Convolution", &inputs, &params, "")
}

pub(super) fn pool(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    let max = n.op == "MaxPool";
    let mut known = vec!["auto_pad", "ceil_mode", "kernel_shape", "pads", "strides"];
    if max {
        known.extend(["dilations", "storage_order"]);
    } else {
        known.push("count_include_pad");
    }
    n.check_attrs(&known)?;
    let kernel = n
        .sizes("kernel_shape")?
        .ok_or_else(|| n.attr_error("kernel_shape", "is required"))?;
    let k = kernel.len();
    let strides = per_axis(n, "strides", k)?;
    let dilations = per_axis(n, "dilations", k)?;
    if dilations.iter().any(|&d| d != 1) {
        return Err(n.attr_error(
            "dilations",
            format!("{dilations:?}: MXNet's Pooling has no dilation"),
        ));
    }
    if n.int("storage_order", 0)? != 0 {
        return Err(n.attr_error("storage_order", "only row-major (0) is supported"));
    }
    let pads = onnx_pads(imp, n, &kernel, &strides, &dilations)?;
    let include = !max && n.int("count_include_pad", 0)? != 0;
    if !max && !include && pads[..k] != pads[k..] {
        // Padding before the Pooling would count the padded zeros in the averages.
        return Err(n.attr_error(
            "count_include_pad",
            format!(
                "0 (the default) with asymmetric padding {pads:?} cannot be expressed: MXNet's \
                 Pooling pads both ends alike, and a Pad before it would count its zeros"
            ),
        ));
    }
    // Max pooling ignores the padding: padded with -inf, no window can pick it. Average
    // pooling with count_include_pad counts the padded zeros, as a Pad's zeros are counted.
    let fill = if max { f32::NEG_INFINITY } else { 0.0 };
    let x = imp.symbol(n, 0)?;
    let (x, pad) = pad_before(imp, n, x, &pads, fill)?;
    let full = n.int("ceil_mode", 0)? != 0;
    let mut params = vec![
        ("kernel", tuple(&kernel)),
        ("stride", tuple(&strides)),
        ("pad", tuple(&pad)),
        ("pool_type", if max { "max" } else { "avg" }.into()),
        (
            "pooling_convention",
            if full { "full" } else { "valid" }.into(),
        ),
    ];
    if !max {
        params.push((
            "count_include_pad",
            if include { "True" } else { "False" }.into(),
        ));
    }
    build(imp, n, "Pooling", &[x], &params, "")
}

pub(super) fn global_pool(imp: &mut Importer<'_>, n: &Node<'_>, pool_type: &str) -> Result<Symbol> {
    n.check_attrs(&[])?;
    let spatial = imp.shape(n, 0)?.map_or(2, |s| s.len().saturating_sub(2));
    let x = imp.symbol(n, 0)?;
    let params = [
        ("kernel", tuple(&vec![1; spatial])),
        ("global_pool", "True".into()),
        ("pool_type", pool_type.into()),
    ];
    build(imp, n, "Pooling", &[x], &params, "")
}

/// ConvTranspose: MXNet's `Deconvolution` (the same weight layout, `C_in × M/group ×
/// kernel`), `output_padding` as `adj`. ONNX's output size per axis is
/// `stride·(in − 1) + output_padding + dilation·(k − 1) + 1 − pad_begin − pad_end`; MXNet pads
/// both ends alike, so asymmetric pads take the smaller of the two in the Deconvolution and
/// crop the rest with a `slice`. `output_shape` (and `auto_pad` SAME_*, whose output is
/// `in · stride`) give the padding by ONNX's rule: the total split with the extra unit at the
/// end for SAME_UPPER, at the beginning otherwise.
pub(super) fn conv_transpose(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "output_padding",
        "output_shape",
        "pads",
        "strides",
    ])?;
    let Window {
        weight: w_shape,
        kernel,
        strides,
        dilations,
    } = window(imp, n, "channels, filters / group")?;
    let k = kernel.len();
    let adj = n.sizes("output_padding")?.unwrap_or_else(|| vec![0; k]);
    if adj.len() != k {
        let reason = format!("{adj:?} must have {k} values (one per spatial axis)");
        return Err(n.attr_error("output_padding", reason));
    }
    let group = n.int("group", 1)?;
    if group < 1 {
        return Err(n.attr_error("group", format!("{group} is not positive")));
    }
    let pads = transpose_pads(imp, n, (&kernel, &strides, &dilations, &adj))?;
    let (begin, end) = pads.split_at(k);
    let pad: Vec<usize> = begin.iter().zip(end).map(|(&b, &e)| b.min(e)).collect();
    let mut inputs = vec![imp.symbol(n, 0)?, imp.symbol(n, 1)?];
    let no_bias = n.input(2).is_none();
    if !no_bias {
        inputs.push(imp.symbol(n, 2)?);
    }
    let params = [
        ("kernel", tuple(&kernel)),
        ("stride", tuple(&strides)),
        ("dilate", tuple(&dilations)),
        ("pad", tuple(&pad)),
        ("adj", tuple(&adj)),
        ("num_filter", (w_shape[1] * group as usize).to_string()),
        ("num_group", group.to_string()),
        ("no_bias", if no_bias { "True" } else { "False" }.into()),
    ];
    if begin == end {
        return build(imp, n, "Deconvolution", &inputs, &params, "");
    }
    let y = build(imp, n, "Deconvolution", &inputs, &params, "_full")?;
    // Crop what the smaller padding left: `begin − pad` at the start, `end − pad` at the end.
    let bound = |v: Option<i64>| v.map_or_else(|| "None".to_owned(), |v| v.to_string());
    let (mut from, mut to) = (vec!["None".to_owned(); 2], vec!["None".to_owned(); 2]);
    for i in 0..k {
        let (b, e) = (begin[i] - pad[i], end[i] - pad[i]);
        from.push(bound((b > 0).then_some(b as i64)));
        to.push(bound((e > 0).then_some(-(e as i64))));
    }
    let crop = [("begin", tuple(&from)), ("end", tuple(&to))];
    build(imp, n, "slice", &[y], &crop, "")
}

/// ConvTranspose's padding `[begin_1.., end_1..]`: from `pads`, or from the output shape that
/// `output_shape` or `auto_pad` SAME_* asks for (which needs the input's spatial shape).
fn transpose_pads(
    imp: &Importer<'_>,
    n: &Node<'_>,
    (kernel, strides, dilations, adj): (&[usize], &[usize], &[usize], &[usize]),
) -> Result<Vec<usize>> {
    let k = kernel.len();
    let auto = n.string("auto_pad", "NOTSET")?;
    if !matches!(
        auto.as_str(),
        "NOTSET" | "VALID" | "SAME_UPPER" | "SAME_LOWER"
    ) {
        return Err(n.attr_error(
            "auto_pad",
            format!("{auto:?} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"),
        ));
    }
    let output_shape = n.sizes("output_shape")?;
    let same = auto.starts_with("SAME");
    if output_shape.is_none() && !same {
        let pads = match auto.as_str() {
            "VALID" => vec![0; 2 * k],
            _ => n.sizes("pads")?.unwrap_or_else(|| vec![0; 2 * k]),
        };
        if pads.len() != 2 * k {
            let reason = format!(
                "{pads:?} must have {} values (begin and end of {k} axes)",
                2 * k
            );
            return Err(n.attr_error("pads", reason));
        }
        return Ok(pads);
    }
    let shape = imp.known_shape(n, 0, "compute ConvTranspose's padding for its output shape")?;
    if shape.len() != k + 2 {
        return Err(n.error(format!(
            "input shape {shape:?} does not have {k} spatial axes"
        )));
    }
    let spatial = &shape[2..];
    let target: Vec<usize> = match output_shape {
        // The full output shape or its spatial part.
        Some(o) if o.len() == k + 2 => o[2..].to_vec(),
        Some(o) if o.len() == k => o,
        Some(o) => {
            let reason = format!("{o:?} must have {k} spatial sizes");
            return Err(n.attr_error("output_shape", reason));
        }
        None => spatial.iter().zip(strides).map(|(&x, &s)| x * s).collect(),
    };
    let mut pads = vec![0; 2 * k];
    for i in 0..k {
        let full = strides[i] * (spatial[i] - 1) + adj[i] + dilations[i] * (kernel[i] - 1) + 1;
        let Some(total) = full.checked_sub(target[i]) else {
            return Err(n.attr_error(
                "output_shape",
                format!(
                    "{target:?} is larger than the {full} positions axis {} can produce",
                    i + 2
                ),
            ));
        };
        let (small, big) = (total / 2, total - total / 2);
        let upper = auto == "SAME_UPPER";
        pads[i] = if upper { small } else { big };
        pads[i + k] = if upper { big } else { small };
    }
    Ok(pads)
}
