//! LayerNormalization (opset 17): MXNet's `LayerNorm`, which normalises along one axis. ONNX
//! normalises over every axis from `axis` to the last: for the last axis alone that is
//! `LayerNorm(axis=-1)`; otherwise the normalised axes are flattened into one (`Reshape`), the
//! scale and bias likewise, and the result takes the input's shape back (`reshape_like`).

use mxr_frontend::sym::Symbol;

use super::Importer;
use super::node::{Node, axis};
use super::ops::{build, fmt_f32, tuple};
use crate::error::Result;
use crate::tensor::{Tensor, Values};

pub(super) fn layer_norm(imp: &mut Importer<'_>, n: &Node<'_>) -> Result<Symbol> {
    n.check_attrs(&["axis", "epsilon", "stash_type"])?;
    if n.int("stash_type", 1)? != 1 {
        return Err(n.attr_error("stash_type", "only 1 (float32 statistics) converts"));
    }
    if n.proto.output.iter().skip(1).any(|o| !o.is_empty()) {
        // MXNet's LayerNorm gives the standard deviation, ONNX's the inverse.
        return Err(n.error(
            "the Mean and InvStdDev outputs do not convert (MXNet's LayerNorm gives the mean \
             and standard deviation); only Y may be read",
        ));
    }
    let eps = n.float("epsilon", 1e-5)?;
    let a = n.int("axis", -1)?;
    let x = imp.symbol(n, 0)?;
    let scale = imp.symbol(n, 1)?;
    let bias = match n.input(2) {
        Some(_) => imp.symbol(n, 2)?,
        None => {
            // MXNet's LayerNorm always adds a bias: zeros of the scale's shape.
            let dims = imp.known_shape(n, 1, "make a zero bias for it")?;
            let zeros = Tensor {
                values: Values::F32(vec![0.0; dims.iter().product()]),
                dims,
            };
            let name = imp.node_name(n, "_bias");
            imp.param(&name, zeros)?
        }
    };
    let params = |axis: &str| [("axis", axis.to_owned()), ("eps", fmt_f32(eps))];
    let rank = imp.shape(n, 0)?.map(|s| s.len());
    let last = match rank {
        Some(r) => axis(n, "axis", a, r)? + 1 == r,
        None => a == -1,
    };
    if last {
        return build(imp, n, "LayerNorm", &[x, scale, bias], &params("-1"), "");
    }
    let Some(rank) = rank else {
        return Err(n.error(format!(
            "axis {a} needs the input's rank, unknown at import; give the graph input a static \
             shape"
        )));
    };
    let first = axis(n, "axis", a, rank)?;
    // (0, .., 0, -1): the leading axes kept, the normalised ones flattened into the last.
    let mut flat_shape = vec![0i64; first];
    flat_shape.push(-1);
    let flat = build(
        imp,
        n,
        "Reshape",
        std::slice::from_ref(&x),
        &[("shape", tuple(&flat_shape))],
        "_flat",
    )?;
    let line = [("shape", tuple(&[-1i64]))];
    let scale = build(imp, n, "Reshape", &[scale], &line, "_scale")?;
    let bias = build(imp, n, "Reshape", &[bias], &line, "_bias_flat")?;
    let y = build(
        imp,
        n,
        "LayerNorm",
        &[flat, scale, bias],
        &params("-1"),
        "_norm",
    )?;
    build(imp, n, "reshape_like", &[y, x], &[], "")
}
