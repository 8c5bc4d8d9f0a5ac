//! The blocked-layout kernels besides the direct convolution, against the NCHW kernels they
//! replace, on the shapes of MobileNet 1.0 and ResNet at 224×224:
//! - depthwise convolution (every depthwise layer of MobileNet, batch 1 and 32), in GFLOP/s
//!   (2 flops per multiply-add, padding taps not counted): `im2col` (`conv_forward_im2col`,
//!   the path before the depthwise kernels), `nchw` (`conv_forward`, which now converts to the
//!   blocked layout and back around them), `blocked` and `blocked_avx2`/`blocked_scalar` (the
//!   kernels on blocked data, with `Isa::current()` and the capped instruction sets);
//! - pooling (ResNet's 3×3 stride-2 max pooling on 112×112×64, global average pooling of
//!   7×7×512 and 7×7×2048) and the blocked element-wise operations, in GB/s (bytes of input
//!   read once plus output written): `nchw` (`pool_forward`, or a plain loop) and `blocked`;
//! - max pooling's backward on NCHW data (`pool_backward_with` with each instruction set, no
//!   blocked kernel), in ms per call: LeNet's two 2×2 poolings at batch 64 (W5) and ResNet-18's
//!   3×3 stride-2 one at batch 16.
//!
//! Run: `cargo bench --bench blocked` (`MXR_NUM_THREADS=N` for N threads, default 1;
//! `BLOCKED_BENCH=depthwise` (or `pooling`, `pooling_backward`, `elementwise`) runs only that
//! family). Every
//! timing is the median of repeated calls after a warm-up, in this thread's CPU time when on
//! one thread (so that other processes on a shared machine count less), else wall time;
//! outputs are checked against the NCHW kernels once.

use std::time::Instant;

use mxr_kernels::cpu::conv::blocked::{Blocked, from_blocked, to_blocked};
use mxr_kernels::cpu::conv::blocked_ops::{add_relu_with, affine_relu_with};
use mxr_kernels::cpu::conv::depthwise::DepthwiseConv;
use mxr_kernels::cpu::conv::direct::{ConvOperands, Epilogue};
use mxr_kernels::cpu::conv::{ConvGeom, conv_forward, conv_forward_im2col};
use mxr_kernels::cpu::isa::Isa;
use mxr_kernels::cpu::pooling::blocked::BlockedPool;
use mxr_kernels::cpu::pooling::{PoolGeom, PoolType, pool_backward_with, pool_forward};
use mxr_kernels::cpu::random::Rng;

/// A zeroed buffer of `len` floats starting on a 64-byte boundary, as the engine's storage
/// allocates them (a `Vec`'s large allocations are only 16-byte aligned, which splits every
/// 64-byte vector access across two cache lines).
struct Aligned {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn zeroed(len: usize) -> Aligned {
        let buf = vec![0.0f32; len + 16];
        let start = buf.as_ptr().align_offset(64).min(16);
        Aligned { buf, start, len }
    }
    fn from(v: &[f32]) -> Aligned {
        let mut a = Aligned::zeroed(v.len());
        a.copy_from_slice(v);
        a
    }
}

impl std::ops::Deref for Aligned {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for Aligned {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

fn uniform(len: usize, seed: u64) -> Vec<f32> {
    let mut v = vec![0.0; len];
    Rng::seed(seed).fill_uniform_f32(&mut v, -1.0, 1.0);
    v
}

/// A table cell: `value` right-aligned under the column `label` (at least 10 wide).
fn cell(label: &str, value: f64) -> String {
    let width = label.len().max(10);
    format!(" {value:>width$.2}")
}

/// One line of a table: `first` (`width` wide), the baselines' values, then `value(isa)` for
/// each row of [`isas`].
fn line(
    first: &str,
    width: usize,
    baselines: &[(&str, f64)],
    mut value: impl FnMut(Isa) -> f64,
) -> String {
    let mut row = format!("{first:>width$}");
    for (label, v) in baselines {
        row += &cell(label, *v);
    }
    for (label, isa) in isas() {
        row += &cell(label, value(isa));
    }
    row
}

/// The header of a table: `first` (`width` wide), the baselines, then the rows of [`isas`].
fn header(first: &str, width: usize, baselines: &[&str]) -> String {
    let mut h = format!("{first:>width$}");
    for label in baselines
        .iter()
        .copied()
        .chain(isas().iter().map(|(l, _)| *l))
    {
        h += &format!(" {label:>w$}", w = label.len().max(10));
    }
    h
}

/// Seconds of CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID`): on a shared machine,
/// time other processes run on this core is not counted.
#[cfg(target_os = "linux")]
fn thread_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid `timespec` for the call to fill.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.sec as f64 + t.nsec as f64 * 1e-9
}

/// The clock of [`time`]: this thread's CPU time for one thread (Linux), else wall time.
fn now(threads: usize) -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    #[cfg(target_os = "linux")]
    if threads == 1 {
        return thread_seconds();
    }
    let _ = threads;
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// The median seconds of one call of `f` on `threads` threads, over calls adding up to about
/// 0.3 s (at least 5).
fn time(threads: usize, mut f: impl FnMut()) -> f64 {
    let start = now(threads);
    f();
    let once = (now(threads) - start).max(1e-7);
    let reps = ((0.3 / once) as usize).clamp(5, 2000);
    for _ in 0..reps.min(3) {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = now(threads);
            f();
            now(threads) - s
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn isas() -> Vec<(&'static str, Isa)> {
    [
        ("blocked", Isa::current()),
        ("blocked_avx2", Isa::Avx2),
        ("blocked_scalar", Isa::Scalar),
    ]
    .into_iter()
    .filter(|(name, isa)| isa.is_available() && (*name == "blocked" || *isa < Isa::current()))
    .collect()
}

fn depthwise(threads: usize) {
    // (name, batch, channels, side, stride)
    let layers = [
        ("mb_dw_32", 1, 32, 112, 1),
        ("mb_dw_64s2", 1, 64, 112, 2),
        ("mb_dw_128", 1, 128, 56, 1),
        ("mb_dw_128s2", 1, 128, 56, 2),
        ("mb_dw_256", 1, 256, 28, 1),
        ("mb_dw_256s2", 1, 256, 28, 2),
        ("mb_dw_512", 1, 512, 14, 1),
        ("mb_dw_512s2", 1, 512, 14, 2),
        ("mb_dw_1024", 1, 1024, 7, 1),
        ("mb_dw_32_b32", 32, 32, 112, 1),
        ("mb_dw_256_b32", 32, 256, 28, 1),
        ("mb_dw_512_b32", 32, 512, 14, 1),
        ("mb_dw_1024_b32", 32, 1024, 7, 1),
    ];
    println!("\ndepthwise 3×3 pad 1, GFLOP/s, {threads} thread(s)");
    println!("{}", header("layer", 16, &["im2col", "nchw"]));
    for (name, n, c, side, s) in layers {
        let g = ConvGeom::new_2d(n, c, c, c, [side, side], [3, 3], [s, s], [1, 1], [1, 1]);
        let out = g.output().expect("valid");
        let flops = 2.0 * (n * c * 9 * out[1] * out[2]) as f64;
        let x = uniform(g.data_len(), 1);
        let w = uniform(g.weight_len(), 2);
        let b = uniform(c, 3);
        let mut want = vec![0.0; g.output_len()];
        let im2col = time(threads, || {
            conv_forward_im2col(&g, &x, &w, Some(&b), &mut want, threads).expect("valid");
        });
        let mut y = vec![0.0; g.output_len()];
        let nchw = time(threads, || {
            conv_forward(&g, &x, &w, Some(&b), &mut y).expect("valid")
        });
        check(&y, &want, name);
        let plan = DepthwiseConv::new(&g).expect("valid").expect("served");
        let il = plan.input_layout(1);
        let mut xin = Aligned::zeroed(il.len());
        to_blocked(&x, &il, &mut xin);
        let mut packed = Aligned::zeroed(plan.packed_len());
        plan.pack_weights(&w, None, &mut packed).expect("valid");
        let ol = plan.output_layout(0);
        let mut ob = Aligned::zeroed(ol.len());
        let ep = Epilogue {
            bias: Some(&b),
            ..Epilogue::default()
        };
        let baselines = [
            ("im2col", flops / im2col / 1e9),
            ("nchw", flops / nchw / 1e9),
        ];
        let row = line(name, 16, &baselines, |isa| {
            let t = time(threads, || {
                plan.forward_with(
                    isa,
                    &ConvOperands::new(&xin, &il, &packed, &ep, &ol),
                    &mut ob,
                    threads,
                )
                .expect("valid")
            });
            from_blocked(&ob, &ol, &mut y);
            check(&y, &want, name);
            flops / t / 1e9
        });
        println!("{row}");
    }
}

fn check(got: &[f32], want: &[f32], what: &str) {
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst <= 1e-4 * scale, "{what}: differs by {worst}");
}

fn pooling(threads: usize) {
    // (name, batch, channels, side, kernel, stride, pad, kind)
    let avg = PoolType::Avg {
        count_include_pad: true,
    };
    let shapes = [
        ("r18_maxpool", 1, 64, 112, 3, 2, 1, PoolType::Max),
        ("r18_maxpool_b32", 32, 64, 112, 3, 2, 1, PoolType::Max),
        ("r18_maxpool_w9", 16, 64, 56, 3, 2, 1, PoolType::Max),
        ("r18_gap_512", 1, 512, 7, 7, 1, 0, avg),
        ("r18_gap_512_b32", 32, 512, 7, 7, 1, 0, avg),
        ("r50_gap_2048", 1, 2048, 7, 7, 1, 0, avg),
        ("r50_gap_2048_b32", 32, 2048, 7, 7, 1, 0, avg),
    ];
    println!("\npooling, GB/s (input + output bytes), {threads} thread(s)");
    println!("{}", header("shape", 18, &["nchw"]));
    for (name, n, c, side, k, s, p, kind) in shapes {
        let o = (side + 2 * p - k) / s + 1;
        let g = PoolGeom::new_2d(n * c, [side, side], [o, o], [k, k], [s, s], [p, p]);
        let bytes = 4.0 * (g.input_len() + g.output_len()) as f64;
        let x = uniform(g.input_len(), 4);
        let mut want = vec![0.0; g.output_len()];
        mxr_kernels::cpu::parallel::set_num_threads(threads);
        let nchw = time(threads, || {
            pool_forward(&g, kind, &x, &mut want).expect("valid")
        });
        let pool = BlockedPool::new(&g, kind).expect("valid").expect("2-D");
        let il = pool.input_layout(n, c, 1);
        let mut xin = Aligned::zeroed(il.len());
        to_blocked(&x, &il, &mut xin);
        let ol = pool.output_layout(n, c, 0);
        let mut ob = Aligned::zeroed(ol.len());
        let mut y = vec![0.0; g.output_len()];
        let row = line(name, 18, &[("nchw", bytes / nchw / 1e9)], |isa| {
            let t = time(threads, || {
                pool.forward_with(isa, &xin, &il, &mut ob, &ol, threads)
                    .expect("valid")
            });
            from_blocked(&ob, &ol, &mut y);
            assert_eq!(y, want, "{name}");
            bytes / t / 1e9
        });
        println!("{row}");
    }
}

fn pooling_backward(threads: usize) {
    // (name, batch, channels, side, kernel, stride, pad)
    let shapes = [
        ("lenet_pool1", 64, 20, 24, 2, 2, 0),
        ("lenet_pool2", 64, 50, 8, 2, 2, 0),
        ("r18_maxpool_b16", 16, 64, 112, 3, 2, 1),
        ("r18_maxpool_w9", 16, 64, 56, 3, 2, 1),
    ];
    let isas = [Isa::Avx512, Isa::Avx2, Isa::Scalar];
    println!("\nmax pooling backward (NCHW), ms per call, {threads} thread(s)");
    let mut head = format!("{:>18}", "shape");
    for isa in isas {
        head += &format!(" {:>10}", isa.name());
    }
    println!("{head}");
    mxr_kernels::cpu::parallel::set_num_threads(threads);
    for (name, n, c, side, k, s, p) in shapes {
        let o = (side + 2 * p - k) / s + 1;
        let geom = PoolGeom::new_2d(n * c, [side, side], [o, o], [k, k], [s, s], [p, p]);
        let x = uniform(geom.input_len(), 5);
        let grad = uniform(geom.output_len(), 6);
        let mut y = vec![0.0; geom.output_len()];
        pool_forward(&geom, PoolType::Max, &x, &mut y).expect("valid");
        let mut dx = vec![0.0; geom.input_len()];
        let mut want: Option<Vec<f32>> = None;
        let mut row = format!("{name:>18}");
        for isa in isas {
            if !isa.is_available() {
                row += &format!(" {:>10}", "-");
                continue;
            }
            let t = time(threads, || {
                pool_backward_with(isa, &geom, PoolType::Max, &grad, &x, &y, &mut dx)
                    .expect("valid")
            });
            match &want {
                Some(w) => assert_eq!(&dx, w, "{name} {isa}"),
                None => want = Some(dx.clone()),
            }
            row += &format!(" {:>10.3}", t * 1e3);
        }
        println!("{row}");
    }
}

fn elementwise(threads: usize) {
    // (name, batch, channels, side)
    let shapes = [
        ("r50v2_bn_256_56", 1, 256, 56),
        ("r50v2_bn_1024_14", 1, 1024, 14),
        ("r50v2_bn_256_56_b32", 32, 256, 56),
    ];
    println!("\nblocked element-wise, GB/s (inputs + output bytes), {threads} thread(s)");
    println!("{}", header("op shape", 30, &["nchw"]));
    for (name, n, c, side) in shapes {
        let l = Blocked::new(n, c, side, side, 1);
        let len = n * c * side * side;
        let (x, z) = (
            Aligned::from(&uniform(len, 5)),
            Aligned::from(&uniform(len, 6)),
        );
        let (scale, shift) = (uniform(c, 7), uniform(c, 8));
        let (mut xb, mut zb) = (Aligned::zeroed(l.len()), Aligned::zeroed(l.len()));
        to_blocked(&x, &l, &mut xb);
        to_blocked(&z, &l, &mut zb);
        let mut y = Aligned::zeroed(len);
        let mut ob = Aligned::zeroed(l.len());
        let inner = side * side;
        // The NCHW baselines: plain loops over channel planes (what an unfused executor runs;
        // a separate multiply and add, which vectorise without FMA in the target).
        let affine = time(threads, || {
            for (i, (yp, xp)) in y
                .chunks_exact_mut(inner)
                .zip(x.chunks_exact(inner))
                .enumerate()
            {
                let (a, t) = (scale[i % c], shift[i % c]);
                for (o, &v) in yp.iter_mut().zip(xp) {
                    let r = v * a + t;
                    *o = if r <= 0.0 { 0.0 } else { r };
                }
            }
        });
        let gbs = |bytes: usize, t: f64| (bytes * len) as f64 / t / 1e9;
        let first = format!("affine_relu {name}");
        let row = line(&first, 30, &[("nchw", gbs(8, affine))], |isa| {
            let t = time(threads, || {
                affine_relu_with(isa, &xb, &l, &scale, &shift, true, &mut ob, &l, threads)
                    .expect("valid")
            });
            gbs(8, t)
        });
        println!("{row}");
        let add = time(threads, || {
            for ((o, &a), &b) in y.iter_mut().zip(x.iter()).zip(z.iter()) {
                let r = a + b;
                *o = if r <= 0.0 { 0.0 } else { r };
            }
        });
        let first = format!("add_relu {name}");
        let row = line(&first, 30, &[("nchw", gbs(12, add))], |isa| {
            let t = time(threads, || {
                add_relu_with(isa, &xb, &l, &zb, &l, true, &mut ob, &l, threads).expect("valid")
            });
            gbs(12, t)
        });
        println!("{row}");
    }
}

fn main() {
    let threads = std::env::var("MXR_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize);
    mxr_kernels::cpu::parallel::set_num_threads(threads);
    let only = std::env::var("BLOCKED_BENCH").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
    if run("depthwise") {
        depthwise(threads);
    }
    if run("pooling") {
        pooling(threads);
    }
    if run("pooling_backward") {
        pooling_backward(threads);
    }
    if run("elementwise") {
        elementwise(threads);
    }
}
