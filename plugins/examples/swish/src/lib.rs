//! An example mxr plugin: `swish(data, beta=1.0)`, the activation y = x·sigmoid(β·x)
//! (Ramachandran et al., 2017), with its gradient dy/dx = s + β·x·s·(1 − s), s = sigmoid(β·x).
//! It works on float32 and float64 and carries a CUDA version of the kernel for the GPU
//! backend (stored by the host, unused until that backend lands).
//!
//! Build it with `cargo build -p mxr-plugin-example-swish`; the library is
//! `target/debug/libmxr_plugin_example_swish.so`.

use mxr_plugin_abi::{
    Backward, CallCtx, CudaKernel, DType, Forward, Op, OpInfo, ParamInfo, Params, Real, Result,
    Shape, Tensor, TensorMut, bail,
};

/// The `swish` operator with its parsed parameter.
#[derive(Debug, Clone, Copy)]
pub struct Swish {
    beta: f64,
}

/// The GPU kernel, for NVRTC.
const CUDA_SOURCE: &str = r#"
extern "C" __global__ void swish_forward(const float* x, float* y, float beta, unsigned int n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float s = 1.0f / (1.0f + expf(-beta * x[i]));
        y[i] = x[i] * s;
    }
}
"#;

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

impl Swish {
    fn forward_typed<T: Real>(&self, x: &Tensor<'_>, y: &mut TensorMut<'_>) -> Result<()> {
        let x = x.as_slice::<T>()?;
        for (y, &x) in y.as_mut_slice::<T>()?.iter_mut().zip(x) {
            let x = x.to_f64();
            *y = T::from_f64(x * sigmoid(self.beta * x));
        }
        Ok(())
    }

    fn backward_typed<T: Real>(
        &self,
        g: &Tensor<'_>,
        x: &Tensor<'_>,
        dx: &mut TensorMut<'_>,
    ) -> Result<()> {
        let (g, x) = (g.as_slice::<T>()?, x.as_slice::<T>()?);
        for ((d, &g), &x) in dx.as_mut_slice::<T>()?.iter_mut().zip(g).zip(x) {
            let x = x.to_f64();
            let s = sigmoid(self.beta * x);
            *d = T::from_f64(g.to_f64() * (s + self.beta * x * s * (1.0 - s)));
        }
        Ok(())
    }
}

impl Op for Swish {
    fn info() -> OpInfo {
        OpInfo {
            name: "swish",
            description: "Swish activation: y = x * sigmoid(beta * x).",
            inputs: &["data"],
            outputs: &["output"],
            aux: &[],
            params: vec![ParamInfo::optional(
                "beta",
                "float",
                "1.0",
                "The slope inside the sigmoid; beta = 1 is SiLU.",
            )],
            cuda: Some(CudaKernel {
                source: CUDA_SOURCE,
                kernel: "swish_forward",
            }),
        }
    }

    fn create(params: &Params) -> Result<Self> {
        let beta = params.float("beta")?;
        if !beta.is_finite() {
            bail!("beta must be finite, got {beta}");
        }
        Ok(Swish { beta })
    }

    fn infer_shape(&self, inputs: &mut [Shape], outputs: &mut [Shape]) -> Result<()> {
        // Either side determines the other.
        if inputs[0].ndim().is_some() {
            outputs[0] = inputs[0].clone();
        } else {
            inputs[0] = outputs[0].clone();
        }
        Ok(())
    }

    fn forward(&self, _ctx: &CallCtx, t: Forward<'_, '_>) -> Result<()> {
        let (x, y) = (&t.inputs[0], &mut t.outputs[0]);
        match x.dtype() {
            DType::F32 => self.forward_typed::<f32>(x, y),
            DType::F64 => self.forward_typed::<f64>(x, y),
            other => bail!("swish supports float32 and float64, not {other}"),
        }
    }

    const HAS_BACKWARD: bool = true;

    fn backward(&self, _ctx: &CallCtx, t: Backward<'_, '_>) -> Result<()> {
        let (g, x, dx) = (&t.ograds[0], &t.inputs[0], &mut t.igrads[0]);
        match x.dtype() {
            DType::F32 => self.backward_typed::<f32>(g, x, dx),
            DType::F64 => self.backward_typed::<f64>(g, x, dx),
            other => bail!("swish supports float32 and float64, not {other}"),
        }
    }
}

mxr_plugin_abi::export_plugin!(Swish);
