//! Image classification networks (MXNet's `gluon.model_zoo.vision`): ResNet V1 and V2 and
//! MobileNet V1 and V2, with MXNet 1.9.1's structure and names. Each is a
//! [`HybridForward`] block: it runs imperatively, hybridized, and exports files MXNet loads.
//!
//! As in MXNet, a network's prefix comes from the thread's counter of its class
//! (`resnetv10_`, then `resnetv11_` for a second ResNet V1 made on the same thread), and its
//! input shape is not fixed: parameters whose input channels are not given wait for the first
//! forward (deferred initialisation).
//!
//! ```
//! use mxr::gluon::{Block, model_zoo::vision};
//! use mxr::nd::NDArray;
//! let net = vision::resnet18_v1(&vision::ResNetOptions { classes: 10, thumbnail: true })?;
//! net.initialize(r#"["xavier", {"magnitude": 2}]"#, mxr::engine::Context::cpu(0))?;
//! let y = net.call(&NDArray::zeros(&[1, 3, 8, 8])?)?;
//! assert_eq!(y.shape(), &[1, 10]);
//! assert!(net.collect_params().keys().contains(&"resnetv10_stage4_conv3_weight".to_owned()));
//! # Ok::<(), mxr::gluon::Error>(())
//! ```

mod mobilenet;
mod resnet;

pub use mobilenet::{
    LinearBottleneck, MobileNet, MobileNetV2, Relu6, get_mobilenet, get_mobilenet_v2,
    mobilenet_v2_0_5, mobilenet_v2_0_25, mobilenet_v2_0_75, mobilenet_v2_1_0, mobilenet0_5,
    mobilenet0_25, mobilenet0_75, mobilenet1_0,
};
pub use resnet::{
    BasicBlockV1, BasicBlockV2, BottleneckV1, BottleneckV2, ResNet, ResNetOptions, ResNetV1,
    ResNetV2, ResidualBlock, get_resnet, resnet18_v1, resnet18_v2, resnet34_v1, resnet34_v2,
    resnet50_v1, resnet50_v2, resnet101_v1, resnet101_v2, resnet152_v1, resnet152_v2,
};

use crate::block::{Block, BlockCore, HybridBlock, HybridForward, single};
use crate::nn::HybridSequential;
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Calls `block` on one input and returns its one output.
fn call1<F: Tensor>(block: &dyn HybridBlock, x: &F) -> Result<F> {
    let mut out = F::call_block(block, std::slice::from_ref(x))?;
    match out.len() {
        1 => Ok(out.swap_remove(0)),
        n => Err(block.core().error(format!("expected one output, got {n}"))),
    }
}

/// The two parts of every network here, children of its block under these names:
/// `features`, then `output`.
#[derive(Debug)]
struct Trunk<O> {
    features: HybridSequential,
    output: O,
}

impl<O: HybridBlock> Trunk<O> {
    fn children(&self) -> Vec<(String, &dyn Block)> {
        vec![
            ("features".to_owned(), &self.features as &dyn Block),
            ("output".to_owned(), &self.output),
        ]
    }

    /// `output(features(x))` for the network of `core`.
    fn forward<F: Tensor>(&self, core: &BlockCore, inputs: &[F]) -> Result<Vec<F>> {
        let x = call1(&self.features, single(core, inputs)?)?;
        Ok(vec![call1(&self.output, &x)?])
    }
}

/// A network of the zoo, as [`get_model`] returns it: one block type for all of them (it is
/// the network itself: same prefix, parameters and graph).
#[derive(Debug)]
pub enum Model {
    /// A ResNet (V1 or V2).
    ResNet(ResNet),
    /// A MobileNet (V1).
    MobileNet(MobileNet),
    /// A MobileNetV2.
    MobileNetV2(MobileNetV2),
}

/// The names [`get_model`] knows, as MXNet's `vision.get_model` spells them.
pub const MODELS: [&str; 18] = [
    "resnet18_v1",
    "resnet34_v1",
    "resnet50_v1",
    "resnet101_v1",
    "resnet152_v1",
    "resnet18_v2",
    "resnet34_v2",
    "resnet50_v2",
    "resnet101_v2",
    "resnet152_v2",
    "mobilenet1.0",
    "mobilenet0.75",
    "mobilenet0.5",
    "mobilenet0.25",
    "mobilenetv2_1.0",
    "mobilenetv2_0.75",
    "mobilenetv2_0.5",
    "mobilenetv2_0.25",
];

/// MXNet's `vision.get_model(name, classes=...)`: a network by name, as in [`MODELS`]; the
/// function names (`mobilenet1_0`, `mobilenet_v2_1_0`) are accepted too. An unknown name is an
/// error listing the known ones.
///
/// ```
/// use mxr::gluon::{Block, model_zoo::vision};
/// assert_eq!(vision::get_model("mobilenet_v2_1_0", 1000)?.prefix(), "mobilenetv20_");
/// assert!(vision::get_model("vgg16", 1000).is_err());
/// # Ok::<(), mxr::gluon::Error>(())
/// ```
pub fn get_model(name: &str, classes: usize) -> Result<Model> {
    let canonical = name.to_lowercase().replace("mobilenet_v2_", "mobilenetv2_");
    if let Some(rest) = canonical.strip_prefix("resnet")
        && let Some((layers, version)) = rest.split_once("_v")
        && let (Ok(layers), Ok(version)) = (layers.parse(), version.parse())
    {
        let options = ResNetOptions {
            classes,
            ..ResNetOptions::default()
        };
        return Ok(Model::ResNet(get_resnet(version, layers, &options)?));
    }
    let multiplier = |m: &str| -> Option<f64> {
        match m.replace('_', ".").as_str() {
            "1.0" => Some(1.0),
            "0.75" => Some(0.75),
            "0.5" => Some(0.5),
            "0.25" => Some(0.25),
            _ => None,
        }
    };
    if let Some(m) = canonical.strip_prefix("mobilenetv2_").and_then(multiplier) {
        return Ok(Model::MobileNetV2(MobileNetV2::new(m, classes)?));
    }
    if let Some(m) = canonical.strip_prefix("mobilenet").and_then(multiplier) {
        return Ok(Model::MobileNet(MobileNet::new(m, classes)?));
    }
    Err(Error::InvalidArgument {
        call: "get_model",
        reason: format!("model {name} is not in the zoo; the zoo has {MODELS:?}"),
    })
}

impl Model {
    /// The network as a block.
    fn block(&self) -> &dyn Block {
        match self {
            Model::ResNet(n) => n,
            Model::MobileNet(n) => n,
            Model::MobileNetV2(n) => n,
        }
    }
}

impl HybridForward for Model {
    fn core(&self) -> &BlockCore {
        self.block().core()
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        self.block().children()
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        match self {
            Model::ResNet(n) => n.hybrid_forward(inputs),
            Model::MobileNet(n) => n.hybrid_forward(inputs),
            Model::MobileNetV2(n) => n.hybrid_forward(inputs),
        }
    }
}
