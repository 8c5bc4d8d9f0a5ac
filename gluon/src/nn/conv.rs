//! Convolutions: `Conv1D`, `Conv2D`, `Conv3D` and the transposed `Conv1DTranspose`,
//! `Conv2DTranspose`, `Conv3DTranspose` (MXNet's `gluon/nn/conv_layers.py`, `_Conv`), one type
//! for 1 to 3 spatial dimensions and both operators (`Convolution`, `Deconvolution`).

use crate::Result;
use crate::block::{Block, BlockCore, HybridForward, single};
use crate::parameter::{ParamSpec, Parameter};
use crate::tensor::Tensor;

use super::{Activation, activation_child, child_activation, py_bool, py_tuple, weighted};

/// A convolution over 1, 2 or 3 spatial dimensions (as many as the kernel has), layout
/// `NCW` / `NCHW` / `NCDHW`; `in_channels` 0 (the default) is inferred at the first forward.
///
/// ```
/// use mxr::gluon::{Block, nn::Conv2D};
/// let conv = Conv2D::new(8, &[3, 3]).padding(&[1, 1]).activation("relu");
/// assert_eq!(conv.weight().shape(), [8, 0, 3, 3]);
/// ```
#[derive(Debug)]
pub struct Conv {
    core: BlockCore,
    channels: usize,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    padding: Vec<usize>,
    dilation: Vec<usize>,
    groups: usize,
    weight: Parameter,
    bias: Option<Parameter>,
    act: Option<Activation>,
    /// A transposed convolution's `output_padding` (MXNet's `adj`); `None` for a convolution.
    output_padding: Option<Vec<usize>>,
}

/// A 1-D convolution (`Conv::new` with a 1-element kernel).
pub type Conv1D = Conv;
/// A 2-D convolution.
pub type Conv2D = Conv;
/// A 3-D convolution.
pub type Conv3D = Conv;
/// A 1-D transposed convolution (`Conv::transpose` with a 1-element kernel).
pub type Conv1DTranspose = Conv;
/// A 2-D transposed convolution.
pub type Conv2DTranspose = Conv;
/// A 3-D transposed convolution.
pub type Conv3DTranspose = Conv;

impl Conv {
    /// `channels` output channels with a `kernel` window, stride 1, no padding, a bias.
    pub fn new(channels: usize, kernel: &[usize]) -> Conv {
        Conv::with_prefix(channels, kernel, None)
    }

    /// [`Conv::new`] with a given prefix (Gluon's `prefix='pred_'`).
    pub fn with_prefix(channels: usize, kernel: &[usize], prefix: Option<&str>) -> Conv {
        Conv::build(channels, kernel, prefix, None)
    }

    /// A transposed convolution (MXNet's `Deconvolution`, Gluon's `Conv2DTranspose`):
    /// `channels` output channels with a `kernel` window, stride 1, no padding, no output
    /// padding, a bias. Its weight is `in_channels × channels/groups × kernel`, Gluon's prefix
    /// the convolution's (`conv0_`).
    ///
    /// ```
    /// use mxr::gluon::nn::Conv2DTranspose;
    /// let up = Conv2DTranspose::transpose(4, &[3, 3]).strides(&[2, 2]).output_padding(&[1, 1]);
    /// assert_eq!(up.weight().shape(), [0, 4, 3, 3]);
    /// ```
    pub fn transpose(channels: usize, kernel: &[usize]) -> Conv {
        Conv::build(channels, kernel, None, Some(vec![0; kernel.len()]))
    }

    fn build(
        channels: usize,
        kernel: &[usize],
        prefix: Option<&str>,
        output_padding: Option<Vec<usize>>,
    ) -> Conv {
        let mut core = BlockCore::new("conv", prefix);
        let mut shape = match output_padding {
            Some(_) => vec![0, channels],
            None => vec![channels, 0],
        };
        shape.extend_from_slice(kernel);
        let weight = core.param("weight", ParamSpec::new(&shape));
        let bias = core.param("bias", ParamSpec::new(&[channels]).init("zeros"));
        let n = kernel.len();
        Conv {
            core,
            channels,
            kernel: kernel.to_vec(),
            strides: vec![1; n],
            padding: vec![0; n],
            dilation: vec![1; n],
            groups: 1,
            weight,
            bias: Some(bias),
            act: None,
            output_padding,
        }
    }

    /// A transposed convolution's extra size at the end of each spatial axis (MXNet's
    /// `adj`, smaller than the stride); ignored by a convolution.
    pub fn output_padding(mut self, output_padding: &[usize]) -> Conv {
        if self.output_padding.is_some() {
            self.output_padding = Some(output_padding.to_vec());
        }
        self
    }

    /// The strides.
    pub fn strides(mut self, strides: &[usize]) -> Conv {
        self.strides = strides.to_vec();
        self
    }

    /// The zero padding on both sides of each spatial axis.
    pub fn padding(mut self, padding: &[usize]) -> Conv {
        self.padding = padding.to_vec();
        self
    }

    /// The dilation.
    pub fn dilation(mut self, dilation: &[usize]) -> Conv {
        self.dilation = dilation.to_vec();
        self
    }

    /// Grouped convolution (`groups` divides the channels; a transposed convolution's weight
    /// becomes `0 × channels/groups × kernel`).
    pub fn groups(mut self, groups: usize) -> Conv {
        self.groups = groups;
        if self.output_padding.is_some() {
            let mut shape = vec![0, self.channels / groups.max(1)];
            shape.extend_from_slice(&self.kernel);
            self.weight.redeclare_shape(&shape);
        }
        self
    }

    /// The number of input channels, when known in advance.
    pub fn in_channels(self, in_channels: usize) -> Result<Conv> {
        let groups = self.groups.max(1);
        let mut shape = match self.output_padding {
            Some(_) => vec![in_channels, self.channels / groups],
            None => vec![self.channels, in_channels / groups],
        };
        shape.extend_from_slice(&self.kernel);
        self.weight.set_shape(&shape)?;
        Ok(self)
    }

    /// Without a bias.
    pub fn no_bias(mut self) -> Conv {
        self.core.remove_param("bias");
        self.bias = None;
        self
    }

    /// With an activation after the convolution (a child block `<act>_`).
    pub fn activation(mut self, act_type: &str) -> Conv {
        self.act = Some(child_activation(self.core.prefix(), act_type));
        self
    }

    /// The weight's own initializer.
    pub fn weight_initializer(self, init: &str) -> Conv {
        self.weight.set_init(Some(init));
        self
    }

    /// The weight (`channels × in_channels/groups × kernel`; transposed: `in_channels ×
    /// channels/groups × kernel`).
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Parameter> {
        self.bias.as_ref()
    }

    fn layout(&self) -> &'static str {
        match self.kernel.len() {
            1 => "NCW",
            3 => "NCDHW",
            _ => "NCHW",
        }
    }
}

impl HybridForward for Conv {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        activation_child(&self.act)
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let (kernel, stride) = (py_tuple(&self.kernel), py_tuple(&self.strides));
        let (dilate, pad) = (py_tuple(&self.dilation), py_tuple(&self.padding));
        let (filters, groups) = (self.channels.to_string(), self.groups.to_string());
        let adj = self.output_padding.as_deref().map(py_tuple);
        let mut attrs = vec![
            ("kernel", kernel.as_str()),
            ("stride", stride.as_str()),
            ("dilate", dilate.as_str()),
            ("pad", pad.as_str()),
            ("num_filter", filters.as_str()),
            ("num_group", groups.as_str()),
            ("no_bias", py_bool(self.bias.is_none())),
            ("layout", self.layout()),
        ];
        let op = match &adj {
            Some(adj) => {
                attrs.push(("adj", adj.as_str()));
                "Deconvolution"
            }
            None => "Convolution",
        };
        let (bias, act) = (self.bias.as_ref(), self.act.as_ref());
        weighted(op, x, &self.weight, bias, &attrs, act)
    }
}
