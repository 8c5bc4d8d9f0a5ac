//! Export of `Deconvolution` as ConvTranspose: the same weight layout, `pad` on both ends,
//! `adj` as `output_padding`. A `target_shape` fixes `pad` and `adj` from the input's shape
//! as MXNet computes them.

use super::{Ctx, conv_kernel, int_attr, ints_attr};
use crate::error::Result;
use crate::export::Exporter;

pub(super) fn deconvolution(ex: &mut Exporter, c: &Ctx<'_>) -> Result<()> {
    let kernel = conv_kernel(c)?;
    let k = kernel.len();
    let stride = c.spatial("stride", k, 1)?;
    let dilate = c.spatial("dilate", k, 1)?;
    let target = c.tuple("target_shape")?.unwrap_or_default();
    let (pad, adj) = if target.iter().any(|&t| t != 0) {
        target_padding(ex, c, (&kernel, &stride, &dilate), &target)?
    } else {
        (c.spatial("pad", k, 0)?, c.spatial("adj", k, 0)?)
    };
    let mut inputs = vec![c.input(0)?, c.input(1)?];
    // MXNet's Deconvolution has no bias unless asked for.
    if !c.flag("no_bias", true)? {
        inputs.push(c.input(2)?);
    }
    let attrs = vec![
        ints_attr("kernel_shape", kernel),
        ints_attr("strides", stride),
        ints_attr("dilations", dilate),
        ints_attr("pads", [pad.clone(), pad].concat()),
        ints_attr("output_padding", adj),
        int_attr("group", c.int("num_group", 1)?),
    ];
    c.emit(ex, "ConvTranspose", inputs, attrs);
    Ok(())
}

/// MXNet's padding for `target_shape`: with `full = stride·(x − 1) + dilate·(k − 1) + 1`,
/// `pad = ⌈(full − target)/2⌉` and `adj = (full − target) mod 2`.
fn target_padding(
    ex: &Exporter,
    c: &Ctx<'_>,
    (kernel, stride, dilate): (&[i64], &[i64], &[i64]),
    target: &[i64],
) -> Result<(Vec<i64>, Vec<i64>)> {
    let k = kernel.len();
    let shape = c
        .input_shape(ex, 0)
        .ok_or_else(|| c.error("target_shape needs the data's shape; give the input shapes"))?;
    if target.len() != k || shape.len() != k + 2 {
        return Err(c.error(format!(
            "target_shape {target:?} and data shape {shape:?} do not fit a {k}-D kernel"
        )));
    }
    let (mut pad, mut adj) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for i in 0..k {
        let full = stride[i] * (shape[i + 2] as i64 - 1) + dilate[i] * (kernel[i] - 1) + 1;
        let extra = full - target[i];
        if extra < 0 {
            return Err(c.error(format!(
                "target_shape {target:?} is larger than the {full} positions axis {} can produce",
                i + 2
            )));
        }
        pad.push((extra + 1) / 2);
        adj.push(extra % 2);
    }
    Ok((pad, adj))
}
