//! Test helpers shared by the operator families' tests: deterministic values and tensors,
//! comparisons (with tolerances, of CPU and GPU, of error messages) and a recorder for the nodes
//! a gradient function adds.

use std::sync::Arc;

use mxr_engine::Context;
use mxr_engine::gpu::GpuDevice;

use crate::Result;
use crate::check::gpu::{compare_with_cpu, test_device};
use crate::check::{HostTensor, run};
use crate::registry::{Entry, GradCtx, GraphBuilder, OpContext, OpRef, Operator, create};

/// Deterministic values in [lo, hi) (a small LCG), some exactly zero when `zeros`.
pub(crate) fn gpu_values(n: usize, seed: u64, lo: f32, hi: f32, zeros: bool) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if zeros && i % 7 == 3 {
                return 0.0;
            }
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            lo + (hi - lo) * u
        })
        .collect()
}

/// The shapes the GPU tests cover: odd sizes, a size-1 axis, a scalar, empty.
pub(crate) const GPU_SHAPES: &[&[usize]] = &[&[3, 5, 7], &[1, 9], &[17], &[], &[0, 4], &[2, 0]];

/// One node a gradient function added: its op, its name and its inputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) op: String,
    pub(crate) name: String,
    pub(crate) inputs: Vec<Entry>,
}

/// Forward input `i` in [`backward_graph`]'s numbering.
pub(crate) fn input(i: usize) -> Entry {
    Entry { node: i, output: 0 }
}

/// Forward output `k`.
pub(crate) fn output(k: usize) -> Entry {
    Entry {
        node: 100,
        output: k,
    }
}

/// Head gradient `k`.
pub(crate) fn ograd(k: usize) -> Entry {
    Entry {
        node: 200,
        output: k,
    }
}

/// Output `k` of the `n`-th node the gradient function added.
pub(crate) fn added(n: usize, k: usize) -> Entry {
    Entry {
        node: 300 + n,
        output: k,
    }
}

struct Recorder {
    nodes: Vec<Node>,
}

impl GraphBuilder for Recorder {
    fn add_node(&mut self, op: OpRef, name: &str, inputs: &[Entry]) -> Result<Vec<Entry>> {
        let node = 300 + self.nodes.len();
        self.nodes.push(Node {
            op: op.name().to_string(),
            name: name.to_string(),
            inputs: inputs.to_vec(),
        });
        Ok((0..op.num_outputs())
            .map(|output| Entry { node, output })
            .collect())
    }
}

/// The nodes `op`'s gradient function adds for a forward node named `fwd`, and the entries
/// it returns per input (see [`input`], [`output`], [`ograd`], [`added`] for the numbering).
pub(crate) fn backward_graph(op: &OpRef) -> (Vec<Node>, Vec<Option<Entry>>) {
    let inputs: Vec<Entry> = (0..op.num_inputs()).map(input).collect();
    let outputs: Vec<Entry> = (0..op.num_outputs()).map(output).collect();
    let ograds: Vec<Entry> = (0..op.num_outputs()).map(ograd).collect();
    let mut rec = Recorder { nodes: Vec::new() };
    let grads = op
        .gradient(&mut GradCtx {
            builder: &mut rec,
            name: "fwd",
            inputs: &inputs,
            outputs: &outputs,
            ograds: &ograds,
            needed: &[],
        })
        .unwrap();
    (rec.nodes, grads)
}

/// A float32 tensor of `shape` holding 0, 1, 2, ... in row-major order.
pub(crate) fn iota(shape: &[usize]) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(shape, (0..n).map(|v| v as f32).collect())
}

/// A float64 tensor of `shape` with values uniform in [lo, hi) from the kernels' seeded
/// generator (continuous, so no two values tie).
pub(crate) fn uniform_f64(shape: &[usize], seed: u64, lo: f64, hi: f64) -> HostTensor {
    let mut rng = mxr_kernels::cpu::random::Rng::seed(seed);
    let n: usize = shape.iter().product();
    HostTensor::from_vec(
        shape,
        (0..n)
            .map(|_| lo + (hi - lo) * rng.uniform_f64())
            .collect::<Vec<f64>>(),
    )
}

/// `n` deterministic values in [lo, hi) from a xorshift generator seeded with `seed`.
pub(crate) fn xorshift_values(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// A float32 tensor of `shape` holding [`xorshift_values`] in [lo, hi).
pub(crate) fn xorshift_f32(shape: &[usize], seed: u64, lo: f64, hi: f64) -> HostTensor {
    let n = shape.iter().product();
    let v = xorshift_values(n, seed, lo, hi);
    HostTensor::from_f32(shape, v.into_iter().map(|v| v as f32).collect())
}

/// A float32 tensor of `shape` holding [`gpu_values`] (in [lo, hi), some zero when `zeros`).
pub(crate) fn gpu_tensor(shape: &[usize], seed: u64, lo: f32, hi: f32, zeros: bool) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(shape, gpu_values(n, seed, lo, hi, zeros))
}

/// An inference-mode CPU context with no generator, for calling an operator directly.
pub(crate) fn cpu_ctx() -> OpContext<'static> {
    OpContext {
        is_train: false,
        context: Context::cpu(0),
        rng: None,
        needed: None,
    }
}

/// Asserts that `got` and `want` have the same length and that every element is within
/// `atol + rtol * |want|`.
pub(crate) fn assert_close(got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "element {i}: {g} vs {w}\n{got:?} vs {want:?}"
        );
    }
}

/// The operator `name` with `attrs` (fixed arity); panics naming both when it cannot be made.
#[track_caller]
pub(crate) fn make_op(name: &str, attrs: &[(&str, &str)]) -> OpRef {
    create(name, attrs, None).unwrap_or_else(|e| panic!("{name} {attrs:?}: {e}"))
}

/// Asserts that `create(name, attrs)` fails with an error message containing every one of
/// `needles`.
#[track_caller]
pub(crate) fn assert_create_err(name: &str, attrs: &[(&str, &str)], needles: &[&str]) {
    let msg = match create(name, attrs, None) {
        Ok(_) => panic!("{name} {attrs:?}: created, expected an error"),
        Err(e) => e.to_string(),
    };
    for needle in needles {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
}

/// The GPU tests' comparison: an operator run on the CPU and on the test device (a real GPU,
/// else the emulator) in training mode must agree within `atol + rtol * |cpu|`
/// ([`compare_with_cpu`]).
pub(crate) struct GpuCheck {
    dev: Arc<GpuDevice>,
    rtol: f64,
    atol: f64,
}

impl GpuCheck {
    /// The test device with these tolerances.
    pub(crate) fn new(rtol: f64, atol: f64) -> GpuCheck {
        GpuCheck {
            dev: test_device().unwrap(),
            rtol,
            atol,
        }
    }

    /// Compares `op` on `inputs`; panics naming `what` where CPU and GPU differ.
    pub(crate) fn check(&self, op: &dyn Operator, inputs: &[HostTensor], what: &str) {
        compare_with_cpu(op, &self.dev, inputs, true, self.rtol, self.atol)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    /// Compares `op` on the single input `x` as [`GpuCheck::check`] does and returns its
    /// (training-mode) CPU output, the input of the backward op's comparison.
    pub(crate) fn forward(&self, op: &dyn Operator, x: &HostTensor, what: &str) -> HostTensor {
        self.check(op, std::slice::from_ref(x), what);
        run(op, &mut [x.clone()], true).unwrap().remove(0)
    }
}

/// One reference case of an operator: its attributes, and the output's shape and values.
pub(crate) type RefCase = (
    &'static [(&'static str, &'static str)],
    &'static [usize],
    Vec<f64>,
);

/// Integers as `f64` (reference values written compactly).
pub(crate) fn f64s(v: &[i32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}
