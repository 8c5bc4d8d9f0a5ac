//! MobileNet and MobileNetV2 (MXNet's `gluon/model_zoo/vision/mobilenet.py`): depthwise
//! separable convolutions ("MobileNets: Efficient Convolutional Neural Networks for Mobile
//! Vision Applications") and inverted residuals with linear bottlenecks ("Inverted Residuals
//! and Linear Bottlenecks"), with a width multiplier.

use crate::block::{Block, BlockCore, HybridForward, single};
use crate::naming::name_scope;
use crate::nn::{Activation, BatchNorm, Conv2D, Dense, Flatten, HybridSequential, Pool};
use crate::tensor::Tensor;
use crate::{Error, Result};

use super::{Trunk, call1};

/// MobileNetV2's activation: `clip(x, 0, 6)`, one `clip` node named `relu6` in the block
/// (`relu60_relu6`).
#[derive(Debug)]
pub struct Relu6 {
    core: BlockCore,
}

impl Relu6 {
    /// The activation (`relu6<n>_`).
    pub fn new() -> Relu6 {
        Relu6 {
            core: BlockCore::new("relu6", None),
        }
    }
}

impl Default for Relu6 {
    fn default() -> Relu6 {
        Relu6::new()
    }
}

impl HybridForward for Relu6 {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let attrs = [("a_min", "0"), ("a_max", "6")];
        Ok(vec![F::invoke1("clip", Some("relu6"), &[x], &attrs)?])
    }
}

/// The activation after a convolution unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    None,
    Relu,
    Relu6,
}

/// `_add_conv`: a `kernel`×`kernel` convolution without bias (`groups` groups), a BatchNorm and
/// the activation.
fn add_conv(
    out: &mut HybridSequential,
    channels: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    groups: usize,
    act: Act,
) {
    let conv = Conv2D::new(channels, &[kernel, kernel])
        .strides(&[stride, stride])
        .padding(&[pad, pad])
        .groups(groups);
    out.add(conv.no_bias());
    out.add(BatchNorm::new().scale(true));
    match act {
        Act::None => {}
        Act::Relu => out.add(Activation::new("relu")),
        Act::Relu6 => out.add(Relu6::new()),
    }
}

/// A 1×1 convolution unit (`_add_conv` with its defaults but the activation).
fn add_pointwise(out: &mut HybridSequential, channels: usize, act: Act) {
    add_conv(out, channels, 1, 1, 0, 1, act);
}

/// `int(channels * multiplier)`, which must leave at least one channel.
fn scaled(call: &'static str, channels: usize, multiplier: f64) -> Result<usize> {
    // Truncation towards zero, as Python's `int()` of a positive float.
    let c = (channels as f64 * multiplier) as usize;
    if c == 0 || !multiplier.is_finite() {
        return Err(Error::InvalidArgument {
            call,
            reason: format!("multiplier {multiplier} leaves no channels of {channels}"),
        });
    }
    Ok(c)
}

fn check_classes(call: &'static str, classes: usize) -> Result<()> {
    match classes {
        0 => Err(Error::InvalidArgument {
            call,
            reason: "classes must be at least 1".into(),
        }),
        _ => Ok(()),
    }
}

/// MobileNet's depthwise separable units: input (depthwise) channels, output channels, stride.
const SEPARABLE: [(usize, usize, usize); 13] = [
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 1024, 2),
    (1024, 1024, 1),
];

/// MobileNet (V1): a 3×3 convolution, 13 depthwise separable units, global average pooling
/// and Flatten as `features` (prefix `""`), then `output` (Dense).
#[derive(Debug)]
pub struct MobileNet {
    core: BlockCore,
    trunk: Trunk<Dense>,
}

impl MobileNet {
    /// MXNet's `MobileNet(multiplier, classes)`: every layer's channels scaled by
    /// `multiplier` (rounded down).
    pub fn new(multiplier: f64, classes: usize) -> Result<MobileNet> {
        const CALL: &str = "MobileNet";
        check_classes(CALL, classes)?;
        let core = BlockCore::new("mobilenet", None);
        let (features, output) = name_scope(core.prefix(), || -> Result<_> {
            // Gluon's `with self.features.name_scope()` is no scope for the prefix "".
            let mut features = HybridSequential::with_prefix(Some(""));
            let first = scaled(CALL, 32, multiplier)?;
            add_conv(&mut features, first, 3, 2, 1, 1, Act::Relu);
            for &(dw, c, stride) in &SEPARABLE {
                // `_add_conv_dw`: a depthwise 3×3 convolution, then a pointwise one.
                let dw = scaled(CALL, dw, multiplier)?;
                add_conv(&mut features, dw, 3, stride, 1, dw, Act::Relu);
                add_pointwise(&mut features, scaled(CALL, c, multiplier)?, Act::Relu);
            }
            features.add(Pool::global_avg(2));
            features.add(Flatten::new());
            Ok((features, Dense::new(classes)))
        })?;
        let trunk = Trunk { features, output };
        Ok(MobileNet { core, trunk })
    }
}

impl HybridForward for MobileNet {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        self.trunk.children()
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        self.trunk.forward(&self.core, inputs)
    }
}

/// MobileNetV2's inverted residual: a 1×1 expansion to `in_channels × t` channels, a 3×3
/// depthwise convolution (strided), both with [`Relu6`], and a linear 1×1 projection to
/// `channels`; the input is added back (`elemwise_add`) when the stride is 1 and the channels
/// do not change.
#[derive(Debug)]
pub struct LinearBottleneck {
    core: BlockCore,
    out: HybridSequential,
    use_shortcut: bool,
}

impl LinearBottleneck {
    /// MXNet's `LinearBottleneck(in_channels, channels, t, stride)`.
    pub fn new(in_channels: usize, channels: usize, t: usize, stride: usize) -> LinearBottleneck {
        let core = BlockCore::new("linearbottleneck", None);
        let out = name_scope(core.prefix(), || {
            let mut out = HybridSequential::new();
            let expanded = in_channels * t;
            add_pointwise(&mut out, expanded, Act::Relu6);
            add_conv(&mut out, expanded, 3, stride, 1, expanded, Act::Relu6);
            add_pointwise(&mut out, channels, Act::None);
            out
        });
        LinearBottleneck {
            core,
            out,
            use_shortcut: stride == 1 && in_channels == channels,
        }
    }
}

impl HybridForward for LinearBottleneck {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        vec![("out".to_owned(), &self.out as &dyn Block)]
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let out = call1(&self.out, x)?;
        Ok(vec![match self.use_shortcut {
            true => out.binary("elemwise_add", x)?,
            false => out,
        }])
    }
}

/// MobileNetV2's bottlenecks: input channels, output channels, expansion, stride.
const BOTTLENECKS: [(usize, usize, usize, usize); 17] = [
    (32, 16, 1, 1),
    (16, 24, 6, 2),
    (24, 24, 6, 1),
    (24, 32, 6, 2),
    (32, 32, 6, 1),
    (32, 32, 6, 1),
    (32, 64, 6, 2),
    (64, 64, 6, 1),
    (64, 64, 6, 1),
    (64, 64, 6, 1),
    (64, 96, 6, 1),
    (96, 96, 6, 1),
    (96, 96, 6, 1),
    (96, 160, 6, 2),
    (160, 160, 6, 1),
    (160, 160, 6, 1),
    (160, 320, 6, 1),
];

/// MobileNetV2: a 3×3 convolution, 17 [`LinearBottleneck`]s, a 1×1 convolution to 1280
/// channels and global average pooling as `features` (`features_`), then `output`
/// (`output_`: a 1×1 convolution `pred_` to the classes and Flatten).
#[derive(Debug)]
pub struct MobileNetV2 {
    core: BlockCore,
    trunk: Trunk<HybridSequential>,
}

impl MobileNetV2 {
    /// MXNet's `MobileNetV2(multiplier, classes)`: the channels scaled by `multiplier`
    /// (rounded down), the last convolution's 1280 only for a multiplier above 1.
    pub fn new(multiplier: f64, classes: usize) -> Result<MobileNetV2> {
        const CALL: &str = "MobileNetV2";
        check_classes(CALL, classes)?;
        let core = BlockCore::new("mobilenetv2", None);
        let (features, output) = name_scope(core.prefix(), || -> Result<_> {
            let mut features = HybridSequential::with_prefix(Some("features_"));
            features.name_scope(|f| -> Result<()> {
                add_conv(f, scaled(CALL, 32, multiplier)?, 3, 2, 1, 1, Act::Relu6);
                for &(in_c, c, t, stride) in &BOTTLENECKS {
                    let (in_c, c) = (
                        scaled(CALL, in_c, multiplier)?,
                        scaled(CALL, c, multiplier)?,
                    );
                    f.add(LinearBottleneck::new(in_c, c, t, stride));
                }
                let last = match multiplier > 1.0 {
                    true => scaled(CALL, 1280, multiplier)?,
                    false => 1280,
                };
                add_pointwise(f, last, Act::Relu6);
                f.add(Pool::global_avg(2));
                Ok(())
            })?;
            let mut output = HybridSequential::with_prefix(Some("output_"));
            output.name_scope(|o| {
                o.add(Conv2D::with_prefix(classes, &[1, 1], Some("pred_")).no_bias());
                o.add(Flatten::new());
            });
            Ok((features, output))
        })?;
        let trunk = Trunk { features, output };
        Ok(MobileNetV2 { core, trunk })
    }
}

impl HybridForward for MobileNetV2 {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        self.trunk.children()
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        self.trunk.forward(&self.core, inputs)
    }
}

/// MXNet's `get_mobilenet(multiplier, classes=...)`.
pub fn get_mobilenet(multiplier: f64, classes: usize) -> Result<MobileNet> {
    MobileNet::new(multiplier, classes)
}

/// MXNet's `get_mobilenet_v2(multiplier, classes=...)`.
pub fn get_mobilenet_v2(multiplier: f64, classes: usize) -> Result<MobileNetV2> {
    MobileNetV2::new(multiplier, classes)
}

/// MobileNet, width multiplier 1.0.
pub fn mobilenet1_0(classes: usize) -> Result<MobileNet> {
    get_mobilenet(1.0, classes)
}

/// MobileNet, width multiplier 0.75.
pub fn mobilenet0_75(classes: usize) -> Result<MobileNet> {
    get_mobilenet(0.75, classes)
}

/// MobileNet, width multiplier 0.5.
pub fn mobilenet0_5(classes: usize) -> Result<MobileNet> {
    get_mobilenet(0.5, classes)
}

/// MobileNet, width multiplier 0.25.
pub fn mobilenet0_25(classes: usize) -> Result<MobileNet> {
    get_mobilenet(0.25, classes)
}

/// MobileNetV2, width multiplier 1.0.
pub fn mobilenet_v2_1_0(classes: usize) -> Result<MobileNetV2> {
    get_mobilenet_v2(1.0, classes)
}

/// MobileNetV2, width multiplier 0.75.
pub fn mobilenet_v2_0_75(classes: usize) -> Result<MobileNetV2> {
    get_mobilenet_v2(0.75, classes)
}

/// MobileNetV2, width multiplier 0.5.
pub fn mobilenet_v2_0_5(classes: usize) -> Result<MobileNetV2> {
    get_mobilenet_v2(0.5, classes)
}

/// MobileNetV2, width multiplier 0.25.
pub fn mobilenet_v2_0_25(classes: usize) -> Result<MobileNetV2> {
    get_mobilenet_v2(0.25, classes)
}
