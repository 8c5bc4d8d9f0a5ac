//! A chain of fused convolutions run image by image: each image goes through every stage
//! before the next image starts, so that the activations between the stages stay in the
//! caches instead of streaming a whole batch through memory at every layer.
//!
//! At batch 32 a MobileNet activation between two convolutions is up to 100 MB: the
//! depthwise convolutions, which do 9 multiply-adds per element they read, run at the speed
//! of memory. One image's activation (3 MB at most) stays in the last-level cache from the
//! stage that writes it to the stage that reads it. The images are split across the kernel
//! threads (each runs its images through the whole chain single-threaded, with two scratch
//! buffers of its own), so the threads also never wait for each other between layers.

use std::cell::RefCell;
use std::sync::Mutex;

use mxr_kernels::cpu::conv::blocked::Blocked;
use mxr_kernels::cpu::conv::direct::InputLayout;
use mxr_kernels::cpu::parallel;

use super::conv::{FusedConv, FusedOperands, Plan};
use super::{bad, blocked_shape, layout_of};
use crate::registry::{Call, Operator, Shape, ShapeCtx, TensorRef};
use crate::{Error, Result};

/// `_fused_chain`: fused convolutions where each stage's output is read only by the next
/// stage. Inputs: `data` (the first stage's input, as [`FusedConv`] reads it), then for each
/// stage its packed weights, its folded bias and its residual (blocked, full batch) when it
/// adds one; output: the last stage's output (blocked with its `out_halo`).
#[derive(Debug, Clone, PartialEq)]
pub struct FusedChain {
    /// The stages, in order; every stage after the first reads a blocked input of the
    /// previous one's channels with its `in_halo` equal to the previous one's `out_halo`.
    pub stages: Vec<FusedConv>,
}

thread_local! {
    /// Two buffers per thread: the activations between the stages, one image at a time.
    static STAGE_SCRATCH: RefCell<[Vec<f32>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// One stage's operands for a whole batch (the residual, when any, is full-batch).
struct StageInputs<'a> {
    packed: &'a [f32],
    bias: &'a [f32],
    residual: Option<&'a [f32]>,
}

impl FusedChain {
    /// Checks that the stages connect (see [`FusedChain::stages`]).
    fn check(&self, op: &str) -> Result<()> {
        if self.stages.len() < 2 {
            return Err(bad(op, "a chain needs at least two stages"));
        }
        for pair in self.stages.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let out = a.conv.geom(1).output().map_err(|e| bad(op, e))?;
            let connects = b.conv.layout == InputLayout::Blocked
                && b.conv.channels == a.conv.spec.param.num_filter
                && b.conv.input == [out[1], out[2]]
                && b.in_halo == a.out_halo;
            if !connects {
                return Err(bad(
                    op,
                    format!(
                        "stage {:?} does not read stage {:?}'s output",
                        b.conv, a.conv
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every stage's operands, from the operator's inputs after `data`.
    fn stage_inputs<'a>(
        &self,
        op: &str,
        n: usize,
        plans: &[Plan],
        inputs: &'a [TensorRef<'a>],
    ) -> Result<Vec<StageInputs<'a>>> {
        let mut rest = inputs;
        let mut stages = Vec::with_capacity(self.stages.len());
        for (stage, plan) in self.stages.iter().zip(plans) {
            let take = 2 + usize::from(stage.residual_halo.is_some());
            if rest.len() < take {
                return Err(bad(op, "fewer inputs than the stages read"));
            }
            let residual = match stage.residual_halo {
                Some(halo) => {
                    let r = &rest[2];
                    let f = stage.conv.spec.param.num_filter;
                    let layout = layout_of(op, r.shape, f, halo)?;
                    let want = plan.output_layout(halo);
                    if layout != (Blocked { n, ..want }) {
                        return Err(bad(
                            op,
                            format!("residual {:?} is not the stage's output {want:?}", r.shape),
                        ));
                    }
                    Some(r.slice::<f32>(op)?)
                }
                None => None,
            };
            stages.push(StageInputs {
                packed: rest[0].slice::<f32>(op)?,
                bias: rest[1].slice::<f32>(op)?,
                residual,
            });
            rest = &rest[take..];
        }
        if !rest.is_empty() {
            return Err(bad(op, "more inputs than the stages read"));
        }
        Ok(stages)
    }
}

impl Operator for FusedChain {
    fn name(&self) -> &'static str {
        "_fused_chain"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        vec![("stages".into(), self.stages.len().to_string())]
    }
    fn input_names(&self) -> Vec<String> {
        let mut names = vec!["data".to_string()];
        for (k, stage) in self.stages.iter().enumerate() {
            names.push(format!("packed_weight{k}"));
            names.push(format!("bias{k}"));
            if stage.residual_halo.is_some() {
                names.push(format!("residual{k}"));
            }
        }
        names
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        self.check(self.name())?;
        let Some(n) = shapes.input(0).dim(0) else {
            return Ok(());
        };
        let last = self.stages.last().expect("checked: at least two stages");
        let plan = last.plan(self.name(), n)?;
        shapes.set_output(
            0,
            Shape::known(&blocked_shape(&plan.output_layout(last.out_halo))),
        )
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        self.check(name)?;
        let first = &self.stages[0];
        let n = inputs[0].shape.first().copied().unwrap_or(0);
        match first.conv.layout {
            InputLayout::Blocked => {
                layout_of(name, inputs[0].shape, first.conv.channels, first.in_halo)?;
            }
            InputLayout::Plain => {
                let [h, w] = first.conv.input;
                if inputs[0].shape != [n, first.conv.channels, h, w] {
                    return Err(Error::BadInput {
                        op: name.into(),
                        reason: format!(
                            "data {:?} is not [N, {}, {h}, {w}]",
                            inputs[0].shape, first.conv.channels
                        ),
                    });
                }
            }
        }
        // One plan per stage, for one image.
        let plans: Vec<Plan> = self
            .stages
            .iter()
            .map(|s| s.plan(name, 1))
            .collect::<Result<_>>()?;
        let stages = self.stage_inputs(name, n, &plans, &inputs[1..])?;
        let data = inputs[0].slice::<f32>(name)?;
        let in_image = first.input_image_len();
        let last = self.stages.len() - 1;
        let out_image = plans[last]
            .output_layout(self.stages[last].out_halo)
            .image();
        let residual_image: Vec<usize> = self
            .stages
            .iter()
            .zip(&plans)
            .map(|(s, p)| s.residual_halo.map_or(0, |h| p.output_layout(h).image()))
            .collect();
        let out = outputs[0].slice_mut::<f32>(name)?;
        if data.len() != n * in_image || out.len() != n * out_image {
            return Err(bad(
                name,
                "the data or output length does not match the batch",
            ));
        }
        if n == 0 {
            return Ok(());
        }
        // Images split across threads, contiguous ranges (the same split every call).
        let ranges = parallel::split_range(n, parallel::num_threads().min(n), 1);
        let mut slots = Vec::with_capacity(ranges.len());
        let mut rest = out;
        for r in &ranges {
            let (chunk, tail) = rest.split_at_mut(r.len() * out_image);
            slots.push(Mutex::new(chunk));
            rest = tail;
        }
        let errors: Mutex<Option<Error>> = Mutex::new(None);
        parallel::for_each_part(ranges.len(), |p| {
            let mut chunk = slots[p].lock().unwrap_or_else(|e| e.into_inner());
            let result = STAGE_SCRATCH.with_borrow_mut(|[cur, next]| -> Result<()> {
                for (j, i) in ranges[p].clone().enumerate() {
                    let image_out = &mut chunk[j * out_image..(j + 1) * out_image];
                    // Floats of the previous stage's output at the front of `cur`.
                    let mut held = 0;
                    for (k, stage) in self.stages.iter().enumerate() {
                        let input: &[f32] = if k == 0 {
                            &data[i * in_image..(i + 1) * in_image]
                        } else {
                            &cur[..held]
                        };
                        let ops = FusedOperands {
                            data: input,
                            packed: stages[k].packed,
                            bias: stages[k].bias,
                            residual: stages[k]
                                .residual
                                .map(|r| &r[i * residual_image[k]..(i + 1) * residual_image[k]]),
                        };
                        if k == last {
                            stage.run(name, &plans[k], 1, ops, image_out, 1)?;
                        } else {
                            let len = plans[k].output_layout(stage.out_halo).image();
                            if next.len() < len {
                                // Grows each buffer to the largest stage once per thread.
                                next.resize(len, 0.0);
                            }
                            stage.run(name, &plans[k], 1, ops, &mut next[..len], 1)?;
                            std::mem::swap(cur, next);
                            held = len;
                        }
                    }
                }
                Ok(())
            });
            if let Err(e) = result {
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
            }
        });
        match errors.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
