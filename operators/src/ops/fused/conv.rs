//! A convolution with its BatchNorm, residual addition and ReLU fused (inference), and the
//! operator that folds and packs its weights.
//!
//! Folding follows MXNet's inference BatchNorm, `y = (x − mean)·a + beta` with
//! `a = gamma / √(moving_var + eps)` (`gamma` = 1 with `fix_gamma`): the convolution's weights of
//! output channel `f` are multiplied by `a[f]` and its bias becomes `(bias − mean)·a + beta`.
//! The result differs from the unfused operators only by rounding.

use std::cell::RefCell;

use mxr_kernels::cpu::batch_norm::inverse_std;
use mxr_kernels::cpu::conv::blocked::Blocked;
use mxr_kernels::cpu::conv::depthwise::DepthwiseConv;
use mxr_kernels::cpu::conv::direct::{
    ConvOperands, DirectConv, Epilogue, InputLayout, InputStrides,
};
use mxr_kernels::cpu::conv::winograd::{Variant, WinogradConv};
use mxr_kernels::cpu::conv::{ConvError, ConvGeom};
use mxr_kernels::cpu::parallel;

use super::{bad, blocked_shape, layout_of};
use crate::ops::convolution::ConvSpec;
use crate::registry::{Call, Operator, Shape, ShapeCtx};
use crate::{Error, Result};

/// The BatchNorm folded into a convolution: its `eps` and `fix_gamma`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldedBatchNorm {
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Gamma is taken as ones.
    pub fix_gamma: bool,
}

/// The kernel that computes a fused convolution, chosen when the program is built, so that
/// the fold packs the weights the way the kernel reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKernel {
    /// [`DirectConv`]: any 1-group convolution with strides 1 or 2.
    Direct,
    /// [`WinogradConv`] with this variant: 3×3, stride 1.
    Winograd(Variant),
    /// [`DepthwiseConv`]: one filter per channel.
    Depthwise,
}

/// The part of a fused convolution both operators share: the convolution, its input channel
/// count and input layout, and the kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvPart {
    /// The convolution's parameters.
    pub spec: ConvSpec,
    /// Input channels `C`.
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// How the input is laid out (plain only with [`ConvKernel::Direct`]).
    pub layout: InputLayout,
    /// The kernel.
    pub kernel: ConvKernel,
}

/// A planned kernel.
#[derive(Debug)]
pub(crate) enum Plan {
    Direct(DirectConv),
    Winograd(WinogradConv),
    Depthwise(DepthwiseConv),
}

impl Plan {
    fn packed_len(&self) -> usize {
        match self {
            Plan::Direct(p) => p.packed_len(),
            Plan::Winograd(p) => p.packed_len(),
            Plan::Depthwise(p) => p.packed_len(),
        }
    }

    fn pack_weights(
        &self,
        w: &[f32],
        scale: Option<&[f32]>,
        dst: &mut [f32],
    ) -> std::result::Result<(), ConvError> {
        match self {
            Plan::Direct(p) => p.pack_weights(w, scale, dst),
            Plan::Winograd(p) => p.pack_weights(w, scale, dst),
            Plan::Depthwise(p) => p.pack_weights(w, scale, dst),
        }
    }

    pub(crate) fn output_layout(&self, halo: usize) -> Blocked {
        match self {
            Plan::Direct(p) => p.output_layout(halo),
            Plan::Winograd(p) => p.output_layout(halo),
            Plan::Depthwise(p) => p.output_layout(halo),
        }
    }

    fn input_halo(&self) -> usize {
        match self {
            Plan::Direct(p) => p.input_halo(),
            Plan::Winograd(p) => p.input_halo(),
            Plan::Depthwise(p) => p.input_halo(),
        }
    }

    /// Runs the kernel into `out` on up to `threads` threads: on the input with the strides
    /// `op.in_layout` (the direct and Winograd kernels) or, blocked, in `layout` (the
    /// depthwise kernel).
    fn forward(
        &self,
        op: &ConvOperands<'_>,
        layout: &Blocked,
        out: &mut [f32],
        threads: usize,
    ) -> std::result::Result<(), ConvError> {
        match self {
            Plan::Direct(p) => p.forward(op, out, threads),
            Plan::Winograd(p) => p.forward(op, out, threads),
            Plan::Depthwise(p) => p.forward(&op.with_in_layout(layout), out, threads),
        }
    }
}

impl ConvPart {
    /// The kernels' geometry for a batch of `n`.
    pub fn geom(&self, n: usize) -> ConvGeom {
        self.spec
            .geom(&[n, self.channels, self.input[0], self.input[1]])
    }

    /// The kernel for a batch of `n`; an error naming `op` when it does not serve the
    /// convolution (the fusion pass only builds served ones).
    fn plan(&self, op: &str, n: usize) -> Result<Plan> {
        let geom = self.geom(n);
        let unserved = || Error::Unsupported {
            op: op.into(),
            what: format!("the convolution {geom:?} with the {:?} kernel", self.kernel),
        };
        Ok(match self.kernel {
            ConvKernel::Direct => Plan::Direct(
                DirectConv::new(&geom, self.layout)
                    .map_err(|e| bad(op, e))?
                    .ok_or_else(unserved)?,
            ),
            ConvKernel::Winograd(v) => Plan::Winograd(
                WinogradConv::with_variant(&geom, v)
                    .map_err(|e| bad(op, e))?
                    .ok_or_else(unserved)?,
            ),
            ConvKernel::Depthwise => Plan::Depthwise(
                DepthwiseConv::new(&geom)
                    .map_err(|e| bad(op, e))?
                    .ok_or_else(unserved)?,
            ),
        })
    }
}

/// `_fold_conv`: inputs `weight`, `bias` (unless the convolution has none), then `gamma`,
/// `beta`, `moving_mean`, `moving_var` when a BatchNorm is folded; outputs the packed weights
/// and the folded bias (`F` values).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldConv {
    /// The convolution.
    pub conv: ConvPart,
    /// The folded BatchNorm, if any.
    pub bn: Option<FoldedBatchNorm>,
}

impl Operator for FoldConv {
    fn name(&self) -> &'static str {
        "_fold_conv"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.conv.spec.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["weight".to_string()];
        if !self.conv.spec.param.no_bias {
            names.push("bias".into());
        }
        if self.bn.is_some() {
            names.extend(["gamma", "beta", "moving_mean", "moving_var"].map(String::from));
        }
        names
    }
    fn num_outputs(&self) -> usize {
        2
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let plan = self.conv.plan(self.name(), 1)?;
        shapes.set_output(0, Shape::known(&[plan.packed_len()]))?;
        shapes.set_output(1, Shape::known(&[self.conv.spec.param.num_filter]))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let plan = self.conv.plan(name, 1)?;
        let f = self.conv.spec.param.num_filter;
        let weight = inputs[0].slice::<f32>(name)?;
        let mut rest = &inputs[1..];
        let bias = if self.conv.spec.param.no_bias {
            None
        } else {
            let b = rest[0].slice::<f32>(name)?;
            rest = &rest[1..];
            Some(b)
        };
        let [packed, folded] = outputs else {
            return Err(bad(name, "expected 2 outputs"));
        };
        let folded = folded.slice_mut::<f32>(name)?;
        match self.bn {
            None => {
                match bias {
                    Some(b) => folded.copy_from_slice(b),
                    None => folded.fill(0.0),
                }
                plan.pack_weights(weight, None, packed.slice_mut::<f32>(name)?)
                    .map_err(|e| bad(name, e))?;
            }
            Some(bn) => {
                let [gamma, beta, mean, var] = rest else {
                    return Err(bad(name, "expected gamma, beta, moving_mean, moving_var"));
                };
                let (gamma, beta) = (gamma.slice::<f32>(name)?, beta.slice::<f32>(name)?);
                let (mean, var) = (mean.slice::<f32>(name)?, var.slice::<f32>(name)?);
                // As BatchNorm's inference kernel: a = invstd·gamma, y = (x − mean)·a + beta.
                let mut scale = vec![0.0f32; f];
                inverse_std(var, bn.eps, &mut scale);
                if !bn.fix_gamma {
                    scale.iter_mut().zip(gamma).for_each(|(a, &g)| *a *= g);
                }
                for (k, out) in folded.iter_mut().enumerate() {
                    let b = bias.map_or(0.0, |b| b[k]);
                    *out = (b - mean[k]) * scale[k] + beta[k];
                }
                plan.pack_weights(weight, Some(&scale), packed.slice_mut::<f32>(name)?)
                    .map_err(|e| bad(name, e))?;
            }
        }
        Ok(())
    }
}

/// `_fused_conv`: inputs `data` (blocked with `in_halo`, or plain NCHW), the packed weights and
/// folded bias from [`FoldConv`], and the residual (blocked, `residual_halo`) when there is
/// one; output blocked with `out_halo`: `relu(conv(data)·a + bias' + residual)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedConv {
    /// The convolution.
    pub conv: ConvPart,
    /// The input's halo (blocked input).
    pub in_halo: usize,
    /// The output's halo.
    pub out_halo: usize,
    /// The residual's halo, when a residual is added.
    pub residual_halo: Option<usize>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

thread_local! {
    /// A plain input copied with the padding as zero columns.
    static PLAIN_SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Operator for FusedConv {
    fn name(&self) -> &'static str {
        "_fused_conv"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.conv.spec.param.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = ["data", "packed_weight", "bias"].map(String::from).to_vec();
        if self.residual_halo.is_some() {
            names.push("residual".into());
        }
        names
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(n) = shapes.input(0).dim(0) else {
            return Ok(());
        };
        let plan = self.conv.plan(self.name(), n)?;
        shapes.set_output(
            0,
            Shape::known(&blocked_shape(&plan.output_layout(self.out_halo))),
        )
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let n = inputs[0].shape.first().copied().unwrap_or(0);
        let plan = self.conv.plan(name, n)?;
        if self.conv.layout == InputLayout::Blocked {
            // The shape check: a blocked array of this convolution's channels and halo.
            layout_of(name, inputs[0].shape, self.conv.channels, self.in_halo)?;
        }
        let residual = match self.residual_halo {
            Some(halo) => {
                let r = &inputs[3];
                layout_of(name, r.shape, self.conv.spec.param.num_filter, halo)?;
                Some(r.slice::<f32>(name)?)
            }
            None => None,
        };
        self.run(
            name,
            &plan,
            n,
            FusedOperands {
                data: inputs[0].slice::<f32>(name)?,
                packed: inputs[1].slice::<f32>(name)?,
                bias: inputs[2].slice::<f32>(name)?,
                residual,
            },
            outputs[0].slice_mut::<f32>(name)?,
            parallel::num_threads(),
        )
    }
}

/// The operands of a fused convolution on some images: the input (blocked with the
/// convolution's `in_halo`, or plain NCHW), the packed weights and folded bias, and the
/// residual (blocked with its halo) when one is added.
#[derive(Clone, Copy)]
pub(crate) struct FusedOperands<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) packed: &'a [f32],
    pub(crate) bias: &'a [f32],
    pub(crate) residual: Option<&'a [f32]>,
}

impl FusedConv {
    /// The kernel for a batch of `n` (an error naming `op` when none serves it).
    pub(crate) fn plan(&self, op: &str, n: usize) -> Result<Plan> {
        self.conv.plan(op, n)
    }

    /// Floats of one image of the input.
    pub(crate) fn input_image_len(&self) -> usize {
        let [h, w] = self.conv.input;
        match self.conv.layout {
            InputLayout::Blocked => Blocked::new(1, self.conv.channels, h, w, self.in_halo).image(),
            InputLayout::Plain => self.conv.channels * h * w,
        }
    }

    /// Runs `plan` (made for `n` images) on `n` images with up to `threads` threads, writing
    /// `out` (blocked with `out_halo`).
    pub(crate) fn run(
        &self,
        name: &str,
        plan: &Plan,
        n: usize,
        ops: FusedOperands<'_>,
        out: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        let [h, w] = self.conv.input;
        let out_layout = plan.output_layout(self.out_halo);
        let residual = match (self.residual_halo, ops.residual) {
            (Some(halo), Some(r)) => Some((r, plan.output_layout(halo))),
            (None, None) => None,
            _ => return Err(bad(name, "the residual does not match the operator")),
        };
        let epilogue = Epilogue {
            bias: Some(ops.bias),
            residual,
            relu: self.relu,
        };
        let blocked = Blocked::new(n, self.conv.channels, h, w, self.in_halo);
        let mut run = |input: &[f32], strides: &InputStrides| {
            let op = ConvOperands::new(input, strides, ops.packed, &epilogue, &out_layout);
            plan.forward(&op, &blocked, out, threads)
                .map_err(|e| bad(name, e))
        };
        match self.conv.layout {
            InputLayout::Blocked => run(ops.data, &InputStrides::blocked(&blocked)),
            InputLayout::Plain if plan.input_halo() == 0 => {
                run(ops.data, &InputStrides::plain(self.conv.channels, h, w, 0))
            }
            InputLayout::Plain => {
                let Plan::Direct(direct) = plan else {
                    return Err(bad(name, "a plain input needs the direct kernel"));
                };
                PLAIN_SCRATCH.with_borrow_mut(|buf| {
                    let strides = direct
                        .prepare_input(ops.data, direct.input_halo(), buf)
                        .map_err(|e| bad(name, e))?;
                    run(buf, &strides)
                })
            }
        }
    }
}
