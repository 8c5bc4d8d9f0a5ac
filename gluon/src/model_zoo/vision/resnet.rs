//! ResNets (MXNet's `gluon/model_zoo/vision/resnet.py`): V1 ("Deep Residual Learning for Image
//! Recognition") and V2 ("Identity Mappings in Deep Residual Networks"), 18 to 152 layers.
//!
//! The residual blocks are made with the prefix `""` inside their stage's name scope, as in
//! MXNet, so a stage's layers count on in one scope (`resnetv10_stage1_conv0_`, `..._conv1_`,
//! ...) and the blocks' own operators are named in the stage (`resnetv10_stage1__plus0`,
//! `resnetv10_stage1_activation0`).

use crate::block::{Block, BlockCore, HybridForward, single};
use crate::naming::name_scope;
use crate::nn::{Activation, BatchNorm, Conv2D, Dense, Flatten, HybridSequential, Pool};
use crate::tensor::Tensor;
use crate::{Error, Result};

use super::{Trunk, call1};

/// `_conv3x3`: a 3×3 convolution with padding 1 and no bias.
fn conv3x3(channels: usize, stride: usize, in_channels: usize) -> Result<Conv2D> {
    Conv2D::new(channels, &[3, 3])
        .strides(&[stride, stride])
        .padding(&[1, 1])
        .no_bias()
        .in_channels(in_channels)
}

/// A 1×1 convolution without bias: the shortcut's projection.
fn conv1x1(channels: usize, stride: usize, in_channels: usize) -> Result<Conv2D> {
    Conv2D::new(channels, &[1, 1])
        .strides(&[stride, stride])
        .no_bias()
        .in_channels(in_channels)
}

/// V1's shortcut projection: a 1×1 convolution and a BatchNorm, in a sequence with prefix `""`.
fn downsample_v1(channels: usize, stride: usize, in_channels: usize) -> Result<HybridSequential> {
    let mut seq = HybridSequential::with_prefix(Some(""));
    seq.add(conv1x1(channels, stride, in_channels)?);
    seq.add(BatchNorm::new());
    Ok(seq)
}

/// V1's forward: `relu(body(x) + shortcut(x))`, the sum's operands in MXNet's order
/// (`residual + x` in BasicBlockV1, `x + residual` in BottleneckV1: the graph keeps the order).
fn forward_v1<F: Tensor>(
    core: &BlockCore,
    body: &HybridSequential,
    downsample: Option<&HybridSequential>,
    residual_first: bool,
    inputs: &[F],
) -> Result<Vec<F>> {
    let x = single(core, inputs)?;
    let y = call1(body, x)?;
    let residual = match downsample {
        Some(d) => call1(d, x)?,
        None => x.clone(),
    };
    let sum = if residual_first {
        residual.binary("_Plus", &y)?
    } else {
        y.binary("_Plus", &residual)?
    };
    Ok(vec![sum.activation("relu")?])
}

/// V1's children: `body`, then `downsample` when there is one.
fn children_v1<'a>(
    body: &'a HybridSequential,
    downsample: Option<&'a HybridSequential>,
) -> Vec<(String, &'a dyn Block)> {
    let mut out = vec![("body".to_owned(), body as &dyn Block)];
    if let Some(d) = downsample {
        out.push(("downsample".to_owned(), d));
    }
    out
}

/// The basic block of ResNet V1 (18 and 34 layers): two 3×3 convolutions, each followed by a
/// BatchNorm, the first by a relu; the sum with the shortcut goes through a relu.
#[derive(Debug)]
pub struct BasicBlockV1 {
    core: BlockCore,
    body: HybridSequential,
    downsample: Option<HybridSequential>,
}

impl BasicBlockV1 {
    /// `channels` outputs, the first convolution strided by `stride`; `downsample` projects the
    /// shortcut (1×1 convolution and BatchNorm); `in_channels` 0 is inferred; `prefix` as
    /// Gluon's (`Some("")` inside a ResNet's stage).
    pub fn new(
        channels: usize,
        stride: usize,
        downsample: bool,
        in_channels: usize,
        prefix: Option<&str>,
    ) -> Result<BasicBlockV1> {
        let core = BlockCore::new("basicblockv1", prefix);
        let mut body = HybridSequential::with_prefix(Some(""));
        body.add(conv3x3(channels, stride, in_channels)?);
        body.add(BatchNorm::new());
        body.add(Activation::new("relu"));
        body.add(conv3x3(channels, 1, channels)?);
        body.add(BatchNorm::new());
        let downsample = match downsample {
            true => Some(downsample_v1(channels, stride, in_channels)?),
            false => None,
        };
        Ok(BasicBlockV1 {
            core,
            body,
            downsample,
        })
    }
}

impl HybridForward for BasicBlockV1 {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        children_v1(&self.body, self.downsample.as_ref())
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        forward_v1(
            &self.core,
            &self.body,
            self.downsample.as_ref(),
            true,
            inputs,
        )
    }
}

/// The bottleneck of ResNet V1 (50 layers and more): 1×1 (strided, with bias), 3×3 and 1×1
/// (with bias) convolutions to `channels / 4`, `channels / 4` and `channels` channels, each
/// followed by a BatchNorm, the first two by a relu.
#[derive(Debug)]
pub struct BottleneckV1 {
    core: BlockCore,
    body: HybridSequential,
    downsample: Option<HybridSequential>,
}

impl BottleneckV1 {
    /// As [`BasicBlockV1::new`].
    pub fn new(
        channels: usize,
        stride: usize,
        downsample: bool,
        in_channels: usize,
        prefix: Option<&str>,
    ) -> Result<BottleneckV1> {
        let core = BlockCore::new("bottleneckv1", prefix);
        let mut body = HybridSequential::with_prefix(Some(""));
        body.add(Conv2D::new(channels / 4, &[1, 1]).strides(&[stride, stride]));
        body.add(BatchNorm::new());
        body.add(Activation::new("relu"));
        body.add(conv3x3(channels / 4, 1, channels / 4)?);
        body.add(BatchNorm::new());
        body.add(Activation::new("relu"));
        body.add(Conv2D::new(channels, &[1, 1]));
        body.add(BatchNorm::new());
        let downsample = match downsample {
            true => Some(downsample_v1(channels, stride, in_channels)?),
            false => None,
        };
        Ok(BottleneckV1 {
            core,
            body,
            downsample,
        })
    }
}

impl HybridForward for BottleneckV1 {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        children_v1(&self.body, self.downsample.as_ref())
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        forward_v1(
            &self.core,
            &self.body,
            self.downsample.as_ref(),
            false,
            inputs,
        )
    }
}

/// V2's forward (pre-activation): for each `(bn, conv)` pair, `conv(relu(bn(x)))`; the
/// shortcut projects the first relu's output when `downsample` is given; the result is the
/// last convolution's output plus the shortcut.
fn forward_v2<F: Tensor>(
    core: &BlockCore,
    units: &[(&BatchNorm, &Conv2D)],
    downsample: Option<&Conv2D>,
    inputs: &[F],
) -> Result<Vec<F>> {
    let mut x = single(core, inputs)?.clone();
    let mut residual = x.clone();
    for (i, (bn, conv)) in units.iter().enumerate() {
        x = call1(*bn, &x)?.activation("relu")?;
        if i == 0
            && let Some(d) = downsample
        {
            residual = call1(d, &x)?;
        }
        x = call1(*conv, &x)?;
    }
    Ok(vec![x.binary("_Plus", &residual)?])
}

/// V2's children: `bn1`, `conv1`, `bn2`, `conv2`, ... then `downsample`.
fn children_v2<'a>(
    units: &[(&'a BatchNorm, &'a Conv2D)],
    downsample: Option<&'a Conv2D>,
) -> Vec<(String, &'a dyn Block)> {
    let mut out: Vec<(String, &dyn Block)> = Vec::new();
    for (i, (bn, conv)) in units.iter().enumerate() {
        out.push((format!("bn{}", i + 1), *bn));
        out.push((format!("conv{}", i + 1), *conv));
    }
    if let Some(d) = downsample {
        out.push(("downsample".to_owned(), d));
    }
    out
}

/// The basic block of ResNet V2 (18 and 34 layers): BatchNorm, relu, 3×3 convolution, twice;
/// no activation after the sum.
#[derive(Debug)]
pub struct BasicBlockV2 {
    core: BlockCore,
    bn1: BatchNorm,
    conv1: Conv2D,
    bn2: BatchNorm,
    conv2: Conv2D,
    downsample: Option<Conv2D>,
}

impl BasicBlockV2 {
    /// As [`BasicBlockV1::new`]; the shortcut's projection is a 1×1 convolution alone.
    pub fn new(
        channels: usize,
        stride: usize,
        downsample: bool,
        in_channels: usize,
        prefix: Option<&str>,
    ) -> Result<BasicBlockV2> {
        Ok(BasicBlockV2 {
            core: BlockCore::new("basicblockv2", prefix),
            bn1: BatchNorm::new(),
            conv1: conv3x3(channels, stride, in_channels)?,
            bn2: BatchNorm::new(),
            conv2: conv3x3(channels, 1, channels)?,
            downsample: match downsample {
                true => Some(conv1x1(channels, stride, in_channels)?),
                false => None,
            },
        })
    }

    fn units(&self) -> [(&BatchNorm, &Conv2D); 2] {
        [(&self.bn1, &self.conv1), (&self.bn2, &self.conv2)]
    }
}

impl HybridForward for BasicBlockV2 {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        children_v2(&self.units(), self.downsample.as_ref())
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        forward_v2(&self.core, &self.units(), self.downsample.as_ref(), inputs)
    }
}

/// The bottleneck of ResNet V2 (50 layers and more): BatchNorm, relu and a convolution, three
/// times: 1×1 to `channels / 4`, 3×3 (strided) to `channels / 4`, 1×1 to `channels`, all
/// without bias.
#[derive(Debug)]
pub struct BottleneckV2 {
    core: BlockCore,
    bn1: BatchNorm,
    conv1: Conv2D,
    bn2: BatchNorm,
    conv2: Conv2D,
    bn3: BatchNorm,
    conv3: Conv2D,
    downsample: Option<Conv2D>,
}

impl BottleneckV2 {
    /// As [`BasicBlockV2::new`].
    pub fn new(
        channels: usize,
        stride: usize,
        downsample: bool,
        in_channels: usize,
        prefix: Option<&str>,
    ) -> Result<BottleneckV2> {
        Ok(BottleneckV2 {
            core: BlockCore::new("bottleneckv2", prefix),
            bn1: BatchNorm::new(),
            conv1: Conv2D::new(channels / 4, &[1, 1]).no_bias(),
            bn2: BatchNorm::new(),
            conv2: conv3x3(channels / 4, stride, channels / 4)?,
            bn3: BatchNorm::new(),
            conv3: Conv2D::new(channels, &[1, 1]).no_bias(),
            downsample: match downsample {
                true => Some(conv1x1(channels, stride, in_channels)?),
                false => None,
            },
        })
    }

    fn units(&self) -> [(&BatchNorm, &Conv2D); 3] {
        [
            (&self.bn1, &self.conv1),
            (&self.bn2, &self.conv2),
            (&self.bn3, &self.conv3),
        ]
    }
}

impl HybridForward for BottleneckV2 {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        children_v2(&self.units(), self.downsample.as_ref())
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        forward_v2(&self.core, &self.units(), self.downsample.as_ref(), inputs)
    }
}

/// The residual block a ResNet is made of (MXNet passes the class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResidualBlock {
    /// [`BasicBlockV1`].
    BasicBlockV1,
    /// [`BottleneckV1`].
    BottleneckV1,
    /// [`BasicBlockV2`].
    BasicBlockV2,
    /// [`BottleneckV2`].
    BottleneckV2,
}

impl ResidualBlock {
    /// Makes one block with the prefix `""` and appends it to `stage`.
    fn add_to(
        self,
        stage: &mut HybridSequential,
        channels: usize,
        stride: usize,
        downsample: bool,
        in_channels: usize,
    ) -> Result<()> {
        let (c, s, d, i, p) = (channels, stride, downsample, in_channels, Some(""));
        match self {
            Self::BasicBlockV1 => stage.add(BasicBlockV1::new(c, s, d, i, p)?),
            Self::BottleneckV1 => stage.add(BottleneckV1::new(c, s, d, i, p)?),
            Self::BasicBlockV2 => stage.add(BasicBlockV2::new(c, s, d, i, p)?),
            Self::BottleneckV2 => stage.add(BottleneckV2::new(c, s, d, i, p)?),
        }
        Ok(())
    }
}

/// A ResNet's options beside its depth (MXNet's keyword arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetOptions {
    /// The number of classes of the output layer (1000).
    pub classes: usize,
    /// A 3×3 convolution (stride 1) instead of the 7×7 convolution, BatchNorm, relu and max
    /// pooling at the start: for small images such as CIFAR's (false).
    pub thumbnail: bool,
}

impl Default for ResNetOptions {
    fn default() -> ResNetOptions {
        ResNetOptions {
            classes: 1000,
            thumbnail: false,
        }
    }
}

/// A ResNet: `features` (stem, stages `stage1_` ..., global average pooling) then `output`
/// (Dense). One type for MXNet's `ResNetV1` and `ResNetV2` classes, made by [`ResNet::v1`]
/// and [`ResNet::v2`] (named `resnetv10_`, `resnetv20_`).
#[derive(Debug)]
pub struct ResNet {
    core: BlockCore,
    trunk: Trunk<Dense>,
}

/// MXNet's `ResNetV1` (see [`ResNet::v1`]).
pub type ResNetV1 = ResNet;
/// MXNet's `ResNetV2` (see [`ResNet::v2`]).
pub type ResNetV2 = ResNet;

/// The stem before the stages: a 3×3 convolution for thumbnails, else a 7×7 convolution
/// (stride 2), BatchNorm, relu and 3×3 max pooling (stride 2).
fn add_stem(features: &mut HybridSequential, channels: usize, thumbnail: bool) -> Result<()> {
    if thumbnail {
        features.add(conv3x3(channels, 1, 0)?);
    } else {
        let conv = Conv2D::new(channels, &[7, 7])
            .strides(&[2, 2])
            .padding(&[3, 3]);
        features.add(conv.no_bias());
        features.add(BatchNorm::new());
        features.add(Activation::new("relu"));
        features.add(Pool::max(&[3, 3]).strides(&[2, 2]).padding(&[1, 1]));
    }
    Ok(())
}

/// Appends the stages: stage `i + 1` has `layers[i]` blocks of `channels[i + 1]` channels, the
/// first strided by 2 (but in stage 1) and projecting its shortcut when the channels change.
fn add_stages(
    features: &mut HybridSequential,
    block: ResidualBlock,
    layers: &[usize],
    channels: &[usize],
) -> Result<()> {
    for (i, &num_layers) in layers.iter().enumerate() {
        let stride = if i == 0 { 1 } else { 2 };
        let (in_channels, out_channels) = (channels[i], channels[i + 1]);
        let mut stage = HybridSequential::with_prefix(Some(&format!("stage{}_", i + 1)));
        stage.name_scope(|stage| -> Result<()> {
            let downsample = out_channels != in_channels;
            block.add_to(stage, out_channels, stride, downsample, in_channels)?;
            for _ in 1..num_layers {
                block.add_to(stage, out_channels, 1, false, out_channels)?;
            }
            Ok(())
        })?;
        features.add(stage);
    }
    Ok(())
}

fn check_spec(
    call: &'static str,
    layers: &[usize],
    channels: &[usize],
    classes: usize,
) -> Result<()> {
    if layers.len() + 1 != channels.len() || classes == 0 {
        return Err(Error::InvalidArgument {
            call,
            reason: format!(
                "expected one more channel count than stages and at least one class, got \
                 layers {layers:?}, channels {channels:?}, classes {classes}"
            ),
        });
    }
    Ok(())
}

impl ResNet {
    /// MXNet's `ResNetV1(block, layers, channels, classes, thumbnail)`: `layers[i]` blocks in
    /// stage `i + 1`, `channels` the stem's then each stage's channels (one more than
    /// `layers`).
    pub fn v1(
        block: ResidualBlock,
        layers: &[usize],
        channels: &[usize],
        options: &ResNetOptions,
    ) -> Result<ResNet> {
        check_spec("ResNetV1", layers, channels, options.classes)?;
        let core = BlockCore::new("resnetv1", None);
        let (features, output) = name_scope(core.prefix(), || -> Result<_> {
            let mut features = HybridSequential::with_prefix(Some(""));
            add_stem(&mut features, channels[0], options.thumbnail)?;
            add_stages(&mut features, block, layers, channels)?;
            features.add(Pool::global_avg(2));
            let last = channels[channels.len() - 1];
            Ok((features, Dense::new(options.classes).in_units(last)?))
        })?;
        let trunk = Trunk { features, output };
        Ok(ResNet { core, trunk })
    }

    /// MXNet's `ResNetV2(block, layers, channels, classes, thumbnail)`: as [`ResNet::v1`],
    /// with a BatchNorm (neither scaled nor centred) on the input, and BatchNorm, relu and
    /// Flatten after the stages.
    pub fn v2(
        block: ResidualBlock,
        layers: &[usize],
        channels: &[usize],
        options: &ResNetOptions,
    ) -> Result<ResNet> {
        check_spec("ResNetV2", layers, channels, options.classes)?;
        let core = BlockCore::new("resnetv2", None);
        let (features, output) = name_scope(core.prefix(), || -> Result<_> {
            let mut features = HybridSequential::with_prefix(Some(""));
            features.add(BatchNorm::new().scale(false).center(false));
            add_stem(&mut features, channels[0], options.thumbnail)?;
            add_stages(&mut features, block, layers, channels)?;
            features.add(BatchNorm::new());
            features.add(Activation::new("relu"));
            features.add(Pool::global_avg(2));
            features.add(Flatten::new());
            let last = channels[channels.len() - 1];
            Ok((features, Dense::new(options.classes).in_units(last)?))
        })?;
        let trunk = Trunk { features, output };
        Ok(ResNet { core, trunk })
    }

    /// The feature extractor (everything but the output layer).
    pub fn features(&self) -> &HybridSequential {
        &self.trunk.features
    }

    /// The output layer.
    pub fn output(&self) -> &Dense {
        &self.trunk.output
    }
}

impl HybridForward for ResNet {
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

/// The depths MXNet defines: the block type and per stage the layers and channels
/// (`resnet_spec`).
fn resnet_spec(num_layers: usize) -> Option<(bool, [usize; 4], [usize; 5])> {
    const BASIC: [usize; 5] = [64, 64, 128, 256, 512];
    const BOTTLENECK: [usize; 5] = [64, 256, 512, 1024, 2048];
    Some(match num_layers {
        18 => (false, [2, 2, 2, 2], BASIC),
        34 => (false, [3, 4, 6, 3], BASIC),
        50 => (true, [3, 4, 6, 3], BOTTLENECK),
        101 => (true, [3, 4, 23, 3], BOTTLENECK),
        152 => (true, [3, 8, 36, 3], BOTTLENECK),
        _ => return None,
    })
}

/// MXNet's `get_resnet(version, num_layers, **kwargs)`: ResNet V1 or V2 (`version` 1 or 2) of
/// 18, 34, 50, 101 or 152 layers, initialised later (no pretrained weights: load MXNet's with
/// `load_parameters`).
///
/// ```
/// use mxr::gluon::{Block, model_zoo::vision};
/// let net = vision::get_resnet(1, 18, &vision::ResNetOptions::default())?;
/// assert_eq!(net.prefix(), "resnetv10_");
/// assert!(vision::get_resnet(3, 18, &Default::default()).is_err());
/// # Ok::<(), mxr::gluon::Error>(())
/// ```
pub fn get_resnet(version: u32, num_layers: usize, options: &ResNetOptions) -> Result<ResNet> {
    let Some((bottleneck, layers, channels)) = resnet_spec(num_layers) else {
        return Err(Error::InvalidArgument {
            call: "get_resnet",
            reason: format!(
                "invalid number of layers: {num_layers}; options are 18, 34, 50, 101, 152"
            ),
        });
    };
    let block = match (version, bottleneck) {
        (1, false) => ResidualBlock::BasicBlockV1,
        (1, true) => ResidualBlock::BottleneckV1,
        (2, false) => ResidualBlock::BasicBlockV2,
        (2, true) => ResidualBlock::BottleneckV2,
        _ => {
            return Err(Error::InvalidArgument {
                call: "get_resnet",
                reason: format!("invalid resnet version: {version}; options are 1 and 2"),
            });
        }
    };
    match version {
        1 => ResNet::v1(block, &layers, &channels, options),
        _ => ResNet::v2(block, &layers, &channels, options),
    }
}

/// ResNet-18 V1.
pub fn resnet18_v1(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(1, 18, options)
}

/// ResNet-34 V1.
pub fn resnet34_v1(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(1, 34, options)
}

/// ResNet-50 V1.
pub fn resnet50_v1(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(1, 50, options)
}

/// ResNet-101 V1.
pub fn resnet101_v1(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(1, 101, options)
}

/// ResNet-152 V1.
pub fn resnet152_v1(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(1, 152, options)
}

/// ResNet-18 V2.
pub fn resnet18_v2(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(2, 18, options)
}

/// ResNet-34 V2.
pub fn resnet34_v2(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(2, 34, options)
}

/// ResNet-50 V2.
pub fn resnet50_v2(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(2, 50, options)
}

/// ResNet-101 V2.
pub fn resnet101_v2(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(2, 101, options)
}

/// ResNet-152 V2.
pub fn resnet152_v2(options: &ResNetOptions) -> Result<ResNet> {
    get_resnet(2, 152, options)
}
