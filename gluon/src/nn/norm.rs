//! `BatchNorm` and `LayerNorm` (MXNet's `gluon/nn/basic_layers.py`). BatchNorm: gamma and beta
//! learned, the running mean and variance auxiliary states (no gradient) that the operator
//! updates in training mode. LayerNorm: gamma and beta over one axis, no state.

use mxr_frontend::exec::GradReq;

use crate::Result;
use crate::block::{BlockCore, HybridForward, single};
use crate::parameter::{ParamSpec, Parameter};
use crate::tensor::Tensor;

use super::{py_bool, py_float};

/// Batch normalization over `axis` (1: channels); `in_channels` 0 is inferred at the first
/// forward.
#[derive(Debug)]
pub struct BatchNorm {
    core: BlockCore,
    axis: i64,
    momentum: f64,
    epsilon: f64,
    scale: bool,
    use_global_stats: bool,
    gamma: Parameter,
    beta: Parameter,
    running_mean: Parameter,
    running_var: Parameter,
}

impl BatchNorm {
    /// Gluon's defaults: axis 1, momentum 0.9, epsilon 1e-5, scale and center.
    pub fn new() -> BatchNorm {
        let mut core = BlockCore::new("batchnorm", None);
        let gamma = core.param("gamma", ParamSpec::new(&[0]).init("ones"));
        let beta = core.param("beta", ParamSpec::new(&[0]).init("zeros"));
        let aux = |init| ParamSpec::new(&[0]).init(init).grad_req(GradReq::Null);
        let running_mean = core.param("running_mean", aux("zeros"));
        let running_var = core.param("running_var", aux("ones"));
        BatchNorm {
            core,
            axis: 1,
            momentum: 0.9,
            epsilon: 1e-5,
            scale: true,
            use_global_stats: false,
            gamma,
            beta,
            running_mean,
            running_var,
        }
    }

    /// The axis of the channels.
    pub fn axis(mut self, axis: i64) -> BatchNorm {
        self.axis = axis;
        self
    }

    /// The running statistics' momentum.
    pub fn momentum(mut self, momentum: f64) -> BatchNorm {
        self.momentum = momentum;
        self
    }

    /// The variance's epsilon.
    pub fn epsilon(mut self, epsilon: f64) -> BatchNorm {
        self.epsilon = epsilon;
        self
    }

    /// Whether gamma is learned (else fixed at 1, `fix_gamma`).
    pub fn scale(mut self, scale: bool) -> BatchNorm {
        self.scale = scale;
        self.gamma.set_grad_req(grad_req(scale));
        self
    }

    /// Whether beta is learned (else its gradient is not requested; Gluon's `center`).
    pub fn center(self, center: bool) -> BatchNorm {
        self.beta.set_grad_req(grad_req(center));
        self
    }

    /// Whether the running statistics are used in training too.
    pub fn use_global_stats(mut self, on: bool) -> BatchNorm {
        self.use_global_stats = on;
        self
    }

    /// The number of channels, when known in advance.
    pub fn in_channels(self, channels: usize) -> Result<BatchNorm> {
        for p in [
            &self.gamma,
            &self.beta,
            &self.running_mean,
            &self.running_var,
        ] {
            p.set_shape(&[channels])?;
        }
        Ok(self)
    }

    /// The running mean (an auxiliary state).
    pub fn running_mean(&self) -> &Parameter {
        &self.running_mean
    }

    /// The running variance (an auxiliary state).
    pub fn running_var(&self) -> &Parameter {
        &self.running_var
    }
}

impl Default for BatchNorm {
    fn default() -> BatchNorm {
        BatchNorm::new()
    }
}

impl HybridForward for BatchNorm {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let params = [
            &self.gamma,
            &self.beta,
            &self.running_mean,
            &self.running_var,
        ]
        .map(|p| F::param(p));
        let [g, b, m, v] = params;
        let (g, b, m, v) = (g?, b?, m?, v?);
        let (axis, eps) = (self.axis.to_string(), py_float(self.epsilon));
        let momentum = py_float(self.momentum);
        let attrs = [
            ("axis", axis.as_str()),
            ("eps", eps.as_str()),
            ("momentum", momentum.as_str()),
            ("fix_gamma", py_bool(!self.scale)),
            ("use_global_stats", py_bool(self.use_global_stats)),
        ];
        Ok(vec![F::invoke1(
            "BatchNorm",
            Some("fwd"),
            &[x, &g, &b, &m, &v],
            &attrs,
        )?])
    }
}

/// Layer normalization over `axis` (-1: the last), Gluon's `LayerNorm`: `in_channels` 0 (the
/// default) is inferred at the first forward.
///
/// ```
/// use mxr::gluon::{Block, nn::LayerNorm};
/// use mxr::nd::NDArray;
/// let ln = LayerNorm::new();
/// ln.initialize("zeros", mxr::engine::Context::cpu(0))?; // gamma ones, beta zeros by default
/// let y = ln.call(&NDArray::from_vec(&[1, 2], vec![1.0f32, 3.0])?)?;
/// let y = y.to_vec::<f32>()?;
/// assert!((y[0] + 1.0).abs() < 1e-4 && (y[1] - 1.0).abs() < 1e-4);
/// # Ok::<(), mxr::gluon::Error>(())
/// ```
#[derive(Debug)]
pub struct LayerNorm {
    core: BlockCore,
    axis: i64,
    epsilon: f64,
    gamma: Parameter,
    beta: Parameter,
}

impl LayerNorm {
    /// Gluon's defaults: axis -1, epsilon 1e-5, scale and center.
    pub fn new() -> LayerNorm {
        let mut core = BlockCore::new("layernorm", None);
        let gamma = core.param("gamma", ParamSpec::new(&[0]).init("ones"));
        let beta = core.param("beta", ParamSpec::new(&[0]).init("zeros"));
        LayerNorm {
            core,
            axis: -1,
            epsilon: 1e-5,
            gamma,
            beta,
        }
    }

    /// The normalised axis.
    pub fn axis(mut self, axis: i64) -> LayerNorm {
        self.axis = axis;
        self
    }

    /// The variance's epsilon.
    pub fn epsilon(mut self, epsilon: f64) -> LayerNorm {
        self.epsilon = epsilon;
        self
    }

    /// Whether gamma is learned (Gluon's `scale`; else its gradient is not requested).
    pub fn scale(self, scale: bool) -> LayerNorm {
        self.gamma.set_grad_req(grad_req(scale));
        self
    }

    /// Whether beta is learned (Gluon's `center`).
    pub fn center(self, center: bool) -> LayerNorm {
        self.beta.set_grad_req(grad_req(center));
        self
    }

    /// The size of the normalised axis, when known in advance.
    pub fn in_channels(self, channels: usize) -> Result<LayerNorm> {
        self.gamma.set_shape(&[channels])?;
        self.beta.set_shape(&[channels])?;
        Ok(self)
    }

    /// gamma.
    pub fn gamma(&self) -> &Parameter {
        &self.gamma
    }

    /// beta.
    pub fn beta(&self) -> &Parameter {
        &self.beta
    }
}

impl Default for LayerNorm {
    fn default() -> LayerNorm {
        LayerNorm::new()
    }
}

/// A learned parameter's request: written, or none.
fn grad_req(learned: bool) -> GradReq {
    if learned {
        GradReq::Write
    } else {
        GradReq::Null
    }
}

impl HybridForward for LayerNorm {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let (g, b) = (F::param(&self.gamma)?, F::param(&self.beta)?);
        let (axis, eps) = (self.axis.to_string(), py_float(self.epsilon));
        let attrs = [("axis", axis.as_str()), ("eps", eps.as_str())];
        Ok(vec![F::invoke1("LayerNorm", None, &[x, &g, &b], &attrs)?])
    }
}
