//! Convolution kernels on the layer shapes of the W8 networks (ResNet-18 v1, MobileNet 1.0,
//! ResNet-50 v2 at 224×224), in GFLOP/s (2 flops per multiply-add, padding taps not counted).
//!
//! Rows, per shape:
//! - `im2col`: `conv::conv_forward` on NCHW data (im2col + GEMM, the reference path);
//! - `nchw`: `conv::conv_forward` as the executor's unfused path calls it today (it picks the
//!   direct kernel where that is served, converting NCHW to and from the blocked layout);
//! - `direct`: the direct kernel on blocked data with packed weights (what the fused inference
//!   executor runs between convolutions);
//! - `direct_avx2`: the same with the AVX2 kernels, on a CPU that has them.
//!
//! Forward rows run on `LAYERS` and on `BACKWARD_LAYERS` (LeNet's two convolutions at batch
//! 64, ResNet-18's at 112×112 and batch 16, as W9 trains them: the `nchw` row is training's
//! forward pass). Backward rows run on the layers of `LAYERS` with one group and on
//! `BACKWARD_LAYERS`; their
//! GFLOP/s count the forward's flops once per gradient computed (`dw`, `dx`, or both):
//! - `backward_im2col`: `conv::conv_backward_im2col`, `dx` and `dw` (and `db`), the reference;
//! - `backward_im2col_dw`: the same without `dx` (MXNet's kNullOp), so `dx` alone costs the
//!   difference;
//! - `backward`: `conv::conv_backward` as the operator calls it (the blocked kernels where
//!   they pay, else im2col);
//! - `backward_direct`, `backward_direct_dw`: the blocked kernels on NCHW data whatever the
//!   shape (`backward::backward_nchw_with`), conversions included;
//! - `dgrad_fused`: the fused GEMM + col2im data gradient alone (`conv::fused_dgrad`, NCHW),
//!   on the layers it serves;
//! - `deconv`: the `Deconvolution` operator's forward pass (`conv::transposed::forward`), which
//!   is the layer's data gradient: on `up_k4s2`, the convolution a 64 → 32 filter, 4×4, stride
//!   2, pad 1 upsampling deconvolution of 16×16 inputs to 32×32 transposes;
//! - `wgrad`, `dgrad`: the weight- and data-gradient kernels alone, on blocked data (`wgrad`
//!   by Winograd where `winograd::wgrad::plan` takes the layer, as training does);
//! - `wgrad_direct`: the direct weight-gradient kernel whatever the shape;
//! - `wgrad_avx2`, `wgrad_direct_avx2`: `wgrad` and `wgrad_direct` with the AVX2 kernels;
//! - `wgrad_f2x2`, `wgrad_f4x4`: the Winograd weight gradient with that variant (3×3 stride-1
//!   layers).
//!
//! Run: `cargo bench --bench conv` (`-- NAME` filters as criterion does; `MXR_NUM_THREADS=N`
//! for N threads, default 1 here; `CONV_BENCH_ROWS=direct,im2col` runs only those rows). Criterion reports elements per second where one element is
//! one flop, so `Gelem/s` reads as GFLOP/s; a table of the median GFLOP/s of every row follows.
//! Each row's output is checked against `im2col` once before timing.
//!
//! The conversions the `nchw` row makes on every call can be timed alone, in GB/s (bytes read
//! plus written): `to_blocked` (the input, with the layer's halo), `pack` (the weights),
//! `pack_winograd` (Winograd's weight transform, which training does at every call) and
//! `from_blocked` (the output), when `CONV_BENCH_ROWS` names them (they are not run by
//! default).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use mxr_kernels::cpu::conv::backward::{self, WgradInput};
use mxr_kernels::cpu::conv::blocked::{Blocked, to_blocked};
use mxr_kernels::cpu::conv::depthwise::DepthwiseConv;
use mxr_kernels::cpu::conv::direct::{ConvOperands, DirectConv, Epilogue, InputLayout};
use mxr_kernels::cpu::conv::winograd::Variant;
use mxr_kernels::cpu::conv::winograd::wgrad::WinogradWgrad;
use mxr_kernels::cpu::conv::{
    ConvGeom, conv_backward, conv_backward_im2col, conv_forward, fused_dgrad, transposed,
};
use mxr_kernels::cpu::isa::Isa;

#[path = "common/uniform.rs"]
mod uniform;
use uniform::uniform;

/// One layer: name, batch, in channels, filters, input side, kernel, stride, pad, groups.
type Layer = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

const LAYERS: [Layer; 19] = [
    ("r18_stem", 1, 3, 64, 224, 7, 2, 3, 1),
    ("r18_l1_3x3", 1, 64, 64, 56, 3, 1, 1, 1),
    ("r18_l2_3x3s2", 1, 64, 128, 56, 3, 2, 1, 1),
    ("r18_l2_3x3", 1, 128, 128, 28, 3, 1, 1, 1),
    ("r18_l2_1x1s2", 1, 64, 128, 56, 1, 2, 0, 1),
    ("r18_l3_3x3", 1, 256, 256, 14, 3, 1, 1, 1),
    ("r18_l4_3x3", 1, 512, 512, 7, 3, 1, 1, 1),
    ("r18_l1_3x3_b32", 32, 64, 64, 56, 3, 1, 1, 1),
    ("r18_l4_3x3_b32", 32, 512, 512, 7, 3, 1, 1, 1),
    ("mb_pw_32_64", 1, 32, 64, 112, 1, 1, 0, 1),
    ("mb_pw_512", 1, 512, 512, 14, 1, 1, 0, 1),
    ("mb_pw_32_64_b8", 8, 32, 64, 112, 1, 1, 0, 1),
    ("mb_pw_128_b8", 8, 128, 128, 56, 1, 1, 0, 1),
    ("mb_pw_256_b8", 8, 256, 256, 28, 1, 1, 0, 1),
    ("mb_pw_1024", 1, 1024, 1024, 7, 1, 1, 0, 1),
    ("mb_dw_64s2", 1, 64, 64, 112, 3, 2, 1, 64),
    ("mb_dw_512", 1, 512, 512, 14, 3, 1, 1, 512),
    ("r50_1x1_256_64", 1, 256, 64, 56, 1, 1, 0, 1),
    ("r50_1x1_1024_256", 1, 1024, 256, 14, 1, 1, 0, 1),
];

/// Training shapes for the backward rows (same fields as [`LAYERS`]).
const BACKWARD_LAYERS: [Layer; 14] = [
    ("lenet_c1_b64", 64, 1, 20, 28, 5, 1, 0, 1),
    ("lenet_c2_b64", 64, 20, 50, 12, 5, 1, 0, 1),
    ("w9_stem", 16, 3, 64, 112, 7, 2, 3, 1),
    ("w9_l1_3x3", 16, 64, 64, 28, 3, 1, 1, 1),
    ("w9_l2_3x3s2", 16, 64, 128, 28, 3, 2, 1, 1),
    ("w9_l2_3x3", 16, 128, 128, 14, 3, 1, 1, 1),
    ("w9_l2_1x1s2", 16, 64, 128, 28, 1, 2, 0, 1),
    ("w9_l3_3x3s2", 16, 128, 256, 14, 3, 2, 1, 1),
    ("w9_l3_3x3", 16, 256, 256, 7, 3, 1, 1, 1),
    ("w9_l3_1x1s2", 16, 128, 256, 14, 1, 2, 0, 1),
    ("w9_l4_3x3s2", 16, 256, 512, 7, 3, 2, 1, 1),
    ("w9_l4_3x3", 16, 512, 512, 4, 3, 1, 1, 1),
    ("w9_l4_1x1s2", 16, 256, 512, 7, 1, 2, 0, 1),
    ("up_k4s2", 1, 32, 64, 32, 4, 2, 1, 1),
];

/// A row's timings on one layer: row, layer, flops per call, seconds per call.
type Timings = (String, &'static str, f64, Vec<f64>);

thread_local! {
    /// Per-call seconds for each (row, layer), in the order run.
    static CALLS: RefCell<Vec<Timings>> = const { RefCell::new(Vec::new()) };
}

fn geom_of(l: &Layer) -> ConvGeom {
    let &(_, n, c, f, side, k, s, p, g) = l;
    ConvGeom::new_2d(n, c, f, g, [side, side], [k, k], [s, s], [p, p], [1, 1])
}

/// Flops of one call: 2 per multiply-add of the unpadded convolution.
fn flops(geom: &ConvGeom) -> f64 {
    let out = geom.output().expect("valid");
    let taps: usize = geom.kernel.iter().product();
    2.0 * (geom.batch * geom.filters * (geom.channels / geom.groups) * taps) as f64
        * out.iter().product::<usize>() as f64
}

/// One call of a planned kernel, with an epilogue, into an output buffer.
type KernelCall = dyn FnMut(&Epilogue<'_>, &mut [f32]);

/// A prepared row: a closure that runs one call, and its output as NCHW for the check.
type Runner = Box<dyn FnMut(bool) -> Vec<f32>>;

fn runner(row: &str, geom: &ConvGeom, threads: usize) -> Option<Runner> {
    let g = *geom;
    let taps: usize = g.kernel.iter().product();
    let x = uniform(g.data_len(), 1);
    let w = uniform(g.filters * g.channels / g.groups * taps, 2);
    let b = uniform(g.filters, 3);
    match row {
        "im2col" | "nchw" => {
            let mut y = vec![0.0f32; g.output_len()];
            let reference = row == "im2col";
            Some(Box::new(move |want_output| {
                if reference {
                    mxr_kernels::cpu::conv::conv_forward_im2col(
                        &g,
                        &x,
                        &w,
                        Some(&b),
                        &mut y,
                        threads,
                    )
                    .expect("valid");
                } else {
                    conv_forward(&g, &x, &w, Some(&b), &mut y).expect("valid");
                }
                if want_output { y.clone() } else { Vec::new() }
            }))
        }
        "direct" | "direct_avx2" | "winograd" | "winograd_f2x2" | "winograd_f4x4" => {
            use mxr_kernels::cpu::conv::winograd::{Variant, WinogradConv};
            let isa = if row == "direct_avx2" {
                Isa::Avx2
            } else {
                Isa::current()
            };
            if !isa.is_available() {
                return None;
            }
            // Winograd reads the blocked input as the direct kernel lays it out.
            let input = if g.channels < 8 && row.starts_with("direct") {
                InputLayout::Plain
            } else {
                InputLayout::Blocked
            };
            let direct = DirectConv::new_for(&g, input, isa).expect("valid")?;
            let mut xin = Vec::new();
            let strides = direct
                .prepare_input(&x, direct.input_halo(), &mut xin)
                .expect("valid");
            let out_layout = direct.output_layout(0);
            let mut out = vec![0.0; out_layout.len()];
            // One call of the planned kernel, with the epilogue, into `out`.
            let mut forward: Box<KernelCall> = if row.starts_with("direct") {
                let mut packed = vec![0.0; direct.packed_len()];
                direct.pack_weights(&w, None, &mut packed).expect("valid");
                Box::new(move |epilogue, out| {
                    direct
                        .forward_with(
                            isa,
                            &ConvOperands::new(&xin, &strides, &packed, epilogue, &out_layout),
                            out,
                            threads,
                        )
                        .expect("valid");
                })
            } else {
                let plan = match row {
                    "winograd" => WinogradConv::new(&g),
                    "winograd_f2x2" => WinogradConv::with_variant(&g, Variant::F2x2),
                    _ => WinogradConv::with_variant(&g, Variant::F4x4),
                }
                .expect("valid")?;
                let mut packed = vec![0.0; plan.packed_len()];
                plan.pack_weights(&w, None, &mut packed).expect("valid");
                Box::new(move |epilogue, out| {
                    plan.forward(
                        &ConvOperands::new(&xin, &strides, &packed, epilogue, &out_layout),
                        out,
                        threads,
                    )
                    .expect("valid");
                })
            };
            Some(Box::new(move |want_output| {
                let epilogue = Epilogue {
                    bias: Some(&b),
                    ..Epilogue::default()
                };
                forward(&epilogue, &mut out);
                if !want_output {
                    return Vec::new();
                }
                let mut y = vec![0.0; out_layout.n * out_layout.c * out_layout.h * out_layout.w];
                mxr_kernels::cpu::conv::blocked::from_blocked(&out, &out_layout, &mut y);
                y
            }))
        }
        "depthwise" | "depthwise_avx2" => {
            let isa = if row == "depthwise" {
                Isa::current()
            } else {
                Isa::Avx2
            };
            if !isa.is_available() {
                return None;
            }
            let plan = DepthwiseConv::new(&g).expect("valid")?;
            let in_layout = plan.input_layout(plan.input_halo());
            let mut xin = vec![0.0; in_layout.len()];
            mxr_kernels::cpu::conv::blocked::to_blocked(&x, &in_layout, &mut xin);
            let mut packed = vec![0.0; plan.packed_len()];
            plan.pack_weights(&w, None, &mut packed).expect("valid");
            let out_layout = plan.output_layout(0);
            let mut out = vec![0.0; out_layout.len()];
            Some(Box::new(move |want_output| {
                let epilogue = Epilogue {
                    bias: Some(&b),
                    ..Epilogue::default()
                };
                plan.forward_with(
                    isa,
                    &ConvOperands::new(&xin, &in_layout, &packed, &epilogue, &out_layout),
                    &mut out,
                    threads,
                )
                .expect("valid");
                if !want_output {
                    return Vec::new();
                }
                let mut y = vec![0.0; out_layout.n * out_layout.c * out_layout.h * out_layout.w];
                mxr_kernels::cpu::conv::blocked::from_blocked(&out, &out_layout, &mut y);
                y
            }))
        }
        "dgrad_fused" => {
            let isa = Isa::current();
            if !fused_dgrad::serves(isa, &g) {
                return None;
            }
            let dy = uniform(g.output_len(), 4);
            let mut dx = vec![0.0f32; g.data_len()];
            Some(Box::new(move |want_output| {
                fused_dgrad::data_gradient_with(isa, &g, &dy, &w, &mut dx, threads).expect("valid");
                if want_output { dx.clone() } else { Vec::new() }
            }))
        }
        "deconv" => {
            let x = uniform(g.output_len(), 4);
            let mut y = vec![0.0f32; g.data_len()];
            Some(Box::new(move |want_output| {
                transposed::forward(&g, &x, &w, None, &mut y).expect("valid");
                if want_output { y.clone() } else { Vec::new() }
            }))
        }
        "backward_im2col" | "backward_im2col_dw" | "backward" | "backward_dw" => {
            let dy = uniform(g.output_len(), 4);
            let with_dx = !row.ends_with("_dw");
            let reference = row.starts_with("backward_im2col");
            let mut dx = vec![0.0f32; g.data_len()];
            let mut dw = vec![0.0f32; w.len()];
            let mut db = vec![0.0f32; g.filters];
            Some(Box::new(move |want_output| {
                let dxo = with_dx.then_some(&mut dx[..]);
                if reference {
                    conv_backward_im2col(&g, &dy, &x, &w, dxo, &mut dw, Some(&mut db), threads)
                } else {
                    conv_backward(&g, &dy, &x, &w, dxo, &mut dw, Some(&mut db))
                }
                .expect("valid");
                backward_output(want_output, &dw, with_dx.then_some(&dx[..]))
            }))
        }
        "backward_direct" | "backward_direct_dw" => {
            let dy = uniform(g.output_len(), 4);
            let with_dx = row == "backward_direct";
            let isa = Isa::current();
            let mut dx = vec![0.0f32; g.data_len()];
            let mut dw = vec![0.0f32; w.len()];
            let served = backward::backward_nchw_with(isa, &g, &dy, &x, &w, None, Some(&mut dw), 1)
                .expect("valid");
            if !served {
                return None;
            }
            Some(Box::new(move |want_output| {
                let dxo = with_dx.then_some(&mut dx[..]);
                backward::backward_nchw_with(isa, &g, &dy, &x, &w, dxo, Some(&mut dw), threads)
                    .expect("valid");
                backward_output(want_output, &dw, with_dx.then_some(&dx[..]))
            }))
        }
        "wgrad" | "wgrad_direct" | "wgrad_avx2" | "wgrad_direct_avx2" | "wgrad_f2x2"
        | "wgrad_f4x4" | "dgrad" => {
            if g.groups != 1 {
                return None;
            }
            let avx2 = row.ends_with("_avx2");
            if avx2 && !Isa::Avx2.is_available() {
                return None;
            }
            let variant = match row {
                "wgrad_f2x2" => Some(Variant::F2x2),
                "wgrad_f4x4" => Some(Variant::F4x4),
                _ => None,
            };
            let wino = match variant {
                Some(v) => Some(WinogradWgrad::with_variant(&g, v).expect("valid")?),
                None => None,
            };
            let dy = uniform(g.output_len(), 4);
            let isa = if avx2 { Isa::Avx2 } else { Isa::current() };
            let out = g.output().expect("valid");
            let halo = backward::data_gradient_halo(&g).expect("valid");
            let dl = Blocked::new(g.batch, g.filters, out[1], out[2], halo);
            let mut dyb = vec![0.0; dl.len()];
            to_blocked(&dy, &dl, &mut dyb);
            let plain = backward::wgrad_prefers_nchw(&g) && wino.is_none();
            let xl = Blocked::new(g.batch, g.channels, g.input[1], g.input[2], 0);
            let mut xb = vec![0.0; if plain { 0 } else { xl.len() }];
            if !plain {
                to_blocked(&x, &xl, &mut xb);
            }
            let weights = row != "dgrad";
            let mut out = vec![0.0f32; if weights { w.len() } else { x.len() }];
            let direct = row.starts_with("wgrad_direct");
            Some(Box::new(move |want_output| {
                if let Some(wino) = &wino {
                    wino.run(isa, &xb, &xl, &dyb, &dl, &mut out, threads)
                } else if weights {
                    let input = if plain {
                        WgradInput::Nchw(&x)
                    } else {
                        WgradInput::Blocked(&xb, xl)
                    };
                    if direct {
                        backward::weight_gradient_direct(
                            isa, &g, input, &dyb, &dl, &mut out, threads,
                        )
                    } else {
                        backward::weight_gradient(isa, &g, input, &dyb, &dl, &mut out, threads)
                    }
                } else {
                    backward::data_gradient(isa, &g, &dyb, &dl, &w, &mut out, threads)
                }
                .expect("valid");
                if want_output { out.clone() } else { Vec::new() }
            }))
        }
        _ => None,
    }
}

/// A backward row's output for the check: `dw`, then `dx` when computed.
fn backward_output(want: bool, dw: &[f32], dx: Option<&[f32]>) -> Vec<f32> {
    if !want {
        return Vec::new();
    }
    let mut v = dw.to_vec();
    v.extend_from_slice(dx.unwrap_or_default());
    v
}

const ROWS: [&str; 24] = [
    "im2col",
    "nchw",
    "direct",
    "direct_avx2",
    "depthwise",
    "depthwise_avx2",
    "winograd",
    "winograd_f2x2",
    "winograd_f4x4",
    "backward_im2col",
    "backward_im2col_dw",
    "backward",
    "backward_dw",
    "backward_direct",
    "backward_direct_dw",
    "wgrad",
    "wgrad_direct",
    "wgrad_avx2",
    "wgrad_direct_avx2",
    "wgrad_f2x2",
    "wgrad_f4x4",
    "dgrad",
    "dgrad_fused",
    "deconv",
];

/// Which gradients a row computes: `None` for a forward row, else `(dw, dx)`.
fn gradients(row: &str) -> Option<(bool, bool)> {
    match row {
        r if r.starts_with("wgrad") => Some((true, false)),
        "dgrad" | "dgrad_fused" | "deconv" => Some((false, true)),
        r if r.starts_with("backward") => Some((true, !r.ends_with("_dw"))),
        _ => None,
    }
}

/// The conversions `nchw` pays on each call, timed alone: the input to the blocked layout (with
/// the layer's halo), the weights packed, the output back to NCHW.
const CONVERSIONS: [&str; 4] = ["to_blocked", "pack", "pack_winograd", "from_blocked"];

/// A prepared conversion: a closure that runs one call, and the bytes it reads and writes.
fn conversion(row: &str, geom: &ConvGeom, threads: usize) -> Option<(Box<dyn FnMut()>, f64)> {
    use mxr_kernels::cpu::conv::blocked::{from_blocked_with, to_blocked_with};
    let g = *geom;
    let input = if g.channels < 8 {
        InputLayout::Plain
    } else {
        InputLayout::Blocked
    };
    let plan = DirectConv::new(&g, input).expect("valid")?;
    let isa = Isa::current();
    let [_, h, w] = g.input;
    match row {
        "to_blocked" if input == InputLayout::Blocked => {
            let layout = Blocked::new(g.batch, g.channels, h, w, plan.input_halo());
            let x = uniform(g.data_len(), 1);
            let mut b = vec![0.0; layout.len()];
            let bytes = 4.0 * (x.len() + b.len()) as f64;
            Some((
                Box::new(move || to_blocked_with(isa, &x, &layout, &mut b, threads)),
                bytes,
            ))
        }
        "from_blocked" => {
            let layout = plan.output_layout(0);
            let b = uniform(layout.len(), 1);
            let mut y = vec![0.0; g.output_len()];
            let bytes = 4.0 * (y.len() + b.len()) as f64;
            Some((
                Box::new(move || from_blocked_with(isa, &b, &layout, &mut y, threads)),
                bytes,
            ))
        }
        "pack" => {
            let taps: usize = g.kernel.iter().product();
            let w = uniform(g.filters * g.channels * taps, 2);
            let mut packed = vec![0.0; plan.packed_len()];
            let bytes = 4.0 * (w.len() + packed.len()) as f64;
            Some((
                Box::new(move || {
                    plan.pack_weights_with(isa, &w, None, &mut packed, threads)
                        .expect("valid");
                }),
                bytes,
            ))
        }
        "pack_winograd" => {
            let wino = mxr_kernels::cpu::conv::winograd::WinogradConv::new(&g).expect("valid")?;
            let w = uniform(g.filters * g.channels * 9, 2);
            let len = wino.packed_len();
            // 64-byte aligned, as training's scratch is (large packs are then streamed).
            let mut buf = vec![0.0f32; len + 15];
            let bytes = 4.0 * (w.len() + len) as f64;
            Some((
                Box::new(move || {
                    let off = buf.as_ptr().align_offset(64).min(15);
                    wino.pack_weights_with(isa, &w, None, &mut buf[off..off + len], threads)
                        .expect("valid");
                }),
                bytes,
            ))
        }
        _ => None,
    }
}

fn layers(c: &mut Criterion) {
    let threads = std::env::var("MXR_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize);
    mxr_kernels::cpu::parallel::set_num_threads(threads);
    let mut group = c.benchmark_group(format!("conv_f32_{threads}thread"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat);
    let only = std::env::var("CONV_BENCH_ROWS").unwrap_or_default();
    let wanted = |row: &str| only.is_empty() || only.split(',').any(|r| r.trim() == row);
    for layer in LAYERS.iter().chain(&BACKWARD_LAYERS) {
        let geom = geom_of(layer);
        let fl = flops(&geom);
        let mut reference = runner("im2col", &geom, threads).expect("always served");
        let want = reference(true);
        for row in ROWS {
            if gradients(row).is_some() || !wanted(row) {
                continue;
            }
            if let Some(run) = runner(row, &geom, threads) {
                check_and_time(&mut group, row, layer.0, fl, run, &want);
            }
        }
    }
    let backward_layers = LAYERS.iter().filter(|l| l.8 == 1).chain(&BACKWARD_LAYERS);
    for layer in backward_layers {
        let geom = geom_of(layer);
        let fl = flops(&geom);
        let mut reference = runner("backward_im2col", &geom, threads).expect("always served");
        // `dw`, then `dx`.
        let want = reference(true);
        let dw_len = geom.weight_len();
        for row in ROWS {
            let Some((dw, dx)) = gradients(row) else {
                continue;
            };
            if !wanted(row) {
                continue;
            }
            let part = match (dw, dx) {
                (true, false) => &want[..dw_len],
                (false, true) => &want[dw_len..],
                _ => &want[..],
            };
            let fl = fl * f64::from(u8::from(dw) + u8::from(dx));
            if let Some(run) = runner(row, &geom, threads) {
                check_and_time(&mut group, row, layer.0, fl, run, part);
            }
        }
    }
    // Conversions run only when `CONV_BENCH_ROWS` names them.
    for layer in LAYERS.iter().chain(&BACKWARD_LAYERS) {
        let geom = geom_of(layer);
        for row in CONVERSIONS {
            if !only.split(',').any(|r| r.trim() == row) {
                continue;
            }
            let Some((mut run, bytes)) = conversion(row, &geom, threads) else {
                continue;
            };
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::new(row, layer.0), |bench| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut times = Vec::new();
                    for _ in 0..iters {
                        let start = Instant::now();
                        run();
                        let dt = start.elapsed();
                        total += dt;
                        times.push(dt.as_secs_f64());
                    }
                    record(row, layer.0, bytes, times);
                    total
                });
            });
        }
    }
    group.finish();
    summary(threads);
}

/// Checks a row's output against `want` (within `1e-4` of its largest magnitude), then times
/// it.
fn check_and_time(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    row: &'static str,
    layer: &'static str,
    fl: f64,
    mut run: Runner,
    want: &[f32],
) {
    group.throughput(Throughput::Elements(fl as u64));
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let got = run(true);
    assert_eq!(got.len(), want.len(), "{row} on {layer}: output length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{row} on {layer}: differs by {worst}"
    );
    group.bench_function(BenchmarkId::new(row, layer), |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut times = Vec::new();
            for _ in 0..iters {
                let start = Instant::now();
                run(false);
                let dt = start.elapsed();
                total += dt;
                times.push(dt.as_secs_f64());
            }
            record(row, layer, fl, times);
            total
        });
    });
}

fn record(row: &str, layer: &'static str, fl: f64, times: Vec<f64>) {
    CALLS.with_borrow_mut(|calls| {
        match calls
            .iter_mut()
            .find(|(r, l, _, _)| r == row && *l == layer)
        {
            Some((_, _, _, all)) => all.extend(times),
            None => calls.push((row.to_string(), layer, fl, times)),
        }
    });
}

fn summary(threads: usize) {
    println!("\nmedian GFLOP/s per call, {threads} thread(s):");
    println!(
        "{:>20} {:>12} {:>9} {:>10}",
        "layer", "row", "GFLOP/s", "median ms"
    );
    CALLS.with_borrow(|calls| {
        for (row, layer, fl, times) in calls {
            let mut t = times.clone();
            if t.is_empty() {
                continue;
            }
            t.sort_by(f64::total_cmp);
            let median = t[t.len() / 2];
            // Conversions: `fl` is bytes moved, so the rate reads as GB/s.
            let unit = if CONVERSIONS.contains(&row.as_str()) {
                "GB/s"
            } else {
                ""
            };
            println!(
                "{layer:>20} {row:>12} {:>9.1} {:>10.3} {unit}",
                fl / median / 1e9,
                median * 1e3
            );
        }
    });
}

criterion_group!(benches, layers);
criterion_main!(benches);
