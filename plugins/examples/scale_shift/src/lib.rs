//! An example mxr plugin with several inputs and parameters:
//! `scale_shift(data, gamma, beta, alpha, axis=1, relu=False)` computes, per channel `c` along
//! `axis`, z = alpha·gamma[c]·x + beta[c], and y = max(z, 0) when `relu` is set (else y = z).
//! `gamma` and `beta` have shape (C,), C = data.shape[axis]; shape inference derives them from
//! `data`, so a symbol binds with only the data's shape given. The backward kernel gives all
//! three gradients.
//!
//! Build it with `cargo build -p mxr-plugin-example-scale-shift`; the library is
//! `target/debug/libmxr_plugin_example_scale_shift.so`.

use mxr_plugin_abi::{
    Backward, CallCtx, DType, Forward, Op, OpInfo, ParamInfo, Params, Real, Result, Shape, Tensor,
    TensorMut, bail,
};

/// The `scale_shift` operator with its parsed parameters.
#[derive(Debug, Clone, Copy)]
pub struct ScaleShift {
    alpha: f64,
    axis: i64,
    relu: bool,
}

/// `data`'s layout around the channel axis: (outer, channels, inner).
fn layout(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

impl ScaleShift {
    /// The axis as an index into a shape of rank `ndim`.
    fn axis(&self, ndim: usize) -> Result<usize> {
        let rank = i64::try_from(ndim).unwrap_or(i64::MAX);
        let axis = if self.axis < 0 {
            self.axis + rank
        } else {
            self.axis
        };
        if !(0..rank).contains(&axis) {
            bail!("axis {} is out of range for data of rank {ndim}", self.axis);
        }
        Ok(axis as usize)
    }

    /// The pre-activation z and the factor dy/dz (0 or 1) at one element.
    fn z(&self, x: f64, gamma: f64, beta: f64) -> (f64, f64) {
        let z = self.alpha * gamma * x + beta;
        if self.relu && z <= 0.0 {
            (0.0, 0.0)
        } else {
            (z, 1.0)
        }
    }

    fn forward_typed<T: Real>(&self, inputs: &[Tensor<'_>], y: &mut TensorMut<'_>) -> Result<()> {
        let axis = self.axis(inputs[0].shape().len())?;
        let (outer, channels, inner) = layout(inputs[0].shape(), axis);
        let x = inputs[0].as_slice::<T>()?;
        let (gamma, beta) = (inputs[1].as_slice::<T>()?, inputs[2].as_slice::<T>()?);
        let y = y.as_mut_slice::<T>()?;
        for o in 0..outer {
            for c in 0..channels {
                let (g, b) = (gamma[c].to_f64(), beta[c].to_f64());
                for i in 0..inner {
                    let k = (o * channels + c) * inner + i;
                    y[k] = T::from_f64(self.z(x[k].to_f64(), g, b).0);
                }
            }
        }
        Ok(())
    }

    fn backward_typed<T: Real>(
        &self,
        ograd: &Tensor<'_>,
        inputs: &[Tensor<'_>],
        igrads: &mut [TensorMut<'_>],
    ) -> Result<()> {
        let axis = self.axis(inputs[0].shape().len())?;
        let (outer, channels, inner) = layout(inputs[0].shape(), axis);
        let g = ograd.as_slice::<T>()?;
        let x = inputs[0].as_slice::<T>()?;
        let (gamma, beta) = (inputs[1].as_slice::<T>()?, inputs[2].as_slice::<T>()?);
        let mut dgamma = vec![0.0f64; channels];
        let mut dbeta = vec![0.0f64; channels];
        {
            let dx = igrads[0].as_mut_slice::<T>()?;
            for o in 0..outer {
                for c in 0..channels {
                    let (ga, be) = (gamma[c].to_f64(), beta[c].to_f64());
                    for i in 0..inner {
                        let k = (o * channels + c) * inner + i;
                        let xv = x[k].to_f64();
                        let gz = g[k].to_f64() * self.z(xv, ga, be).1;
                        dx[k] = T::from_f64(gz * self.alpha * ga);
                        dgamma[c] += gz * self.alpha * xv;
                        dbeta[c] += gz;
                    }
                }
            }
        }
        for (d, v) in igrads[1].as_mut_slice::<T>()?.iter_mut().zip(&dgamma) {
            *d = T::from_f64(*v);
        }
        for (d, v) in igrads[2].as_mut_slice::<T>()?.iter_mut().zip(&dbeta) {
            *d = T::from_f64(*v);
        }
        Ok(())
    }
}

impl Op for ScaleShift {
    fn info() -> OpInfo {
        OpInfo {
            name: "scale_shift",
            description: "Per-channel affine transform y = alpha * gamma[c] * x + beta[c], \
                          optionally followed by relu.",
            inputs: &["data", "gamma", "beta"],
            outputs: &["output"],
            aux: &[],
            params: vec![
                ParamInfo::required("alpha", "float", "A global factor on gamma."),
                ParamInfo::optional(
                    "axis",
                    "int",
                    "1",
                    "The channel axis (negative: from the end).",
                ),
                ParamInfo::optional("relu", "boolean", "False", "Apply max(·, 0) to the result."),
            ],
            cuda: None,
        }
    }

    fn create(params: &Params) -> Result<Self> {
        Ok(ScaleShift {
            alpha: params.float("alpha")?,
            axis: params.int("axis")?,
            relu: params.bool("relu")?,
        })
    }

    fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
        if inputs[0].ndim().is_none() && outputs[0].ndim().is_some() {
            inputs[0] = outputs[0].clone();
        }
        let Some(ndim) = inputs[0].ndim() else {
            return Ok(());
        };
        let axis = self.axis(ndim)?;
        outputs[0] = inputs[0].clone();
        if let Some(c) = inputs[0].dim(axis) {
            for (k, name) in [(1, "gamma"), (2, "beta")] {
                match inputs[k].dims() {
                    Some(d) if d != [c] => {
                        bail!(
                            "{name} has shape {}, expected ({c},) for data {}",
                            inputs[k],
                            inputs[0]
                        )
                    }
                    _ => inputs[k] = Shape::known(&[c]),
                }
            }
        }
        Ok(())
    }

    fn forward(&self, _ctx: &CallCtx, t: Forward<'_, '_>) -> Result<()> {
        match t.inputs[0].dtype() {
            DType::F32 => self.forward_typed::<f32>(t.inputs, &mut t.outputs[0]),
            DType::F64 => self.forward_typed::<f64>(t.inputs, &mut t.outputs[0]),
            other => bail!("scale_shift supports float32 and float64, not {other}"),
        }
    }

    const HAS_BACKWARD: bool = true;

    fn backward(&self, _ctx: &CallCtx, t: Backward<'_, '_>) -> Result<()> {
        match t.inputs[0].dtype() {
            DType::F32 => self.backward_typed::<f32>(&t.ograds[0], t.inputs, t.igrads),
            DType::F64 => self.backward_typed::<f64>(&t.ograds[0], t.inputs, t.igrads),
            other => bail!("scale_shift supports float32 and float64, not {other}"),
        }
    }
}

mxr_plugin_abi::export_plugin!(ScaleShift);
