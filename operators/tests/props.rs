//! Property tests over every registered operator: random shapes and parameters.
//!
//! - infer_shape and the kernel agree: whenever inference accepts the input shapes, the kernel
//!   run on outputs of the inferred shapes returns normally (`Ok`, or an error about input
//!   values such as an index out of range), never panics;
//! - gradients pass the finite-difference check on random small shapes (every operator with a
//!   gradient that is not a loss layer and draws no random numbers), and once for every such
//!   operator and parameter set; an operator that declares a gradient
//!   ([`OpDef::has_gradient`]) and answers `Unsupported` fails, and one declared without
//!   ([`OpDef::no_gradient`](mxr_operators::registry::OpDef::no_gradient)) must answer so.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mxr_kernels::DType;
use mxr_operators::Error;
use mxr_operators::check::{GradCheck, HostTensor, check_gradient, infer_shapes, infer_types, run};
use mxr_operators::registry::{self, OpDef, OpRef, Resource, Shape};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError};

/// Parameter sets tried per operator, besides none: the required parameters, and values that
/// change the kernel's path (axes, flags). Keys an operator does not know make that set fail
/// to parse, which the tests skip.
/// One parameter set: `key = value` pairs.
type ParamSet = &'static [(&'static str, &'static str)];

/// A registered operator with the parameters it was made from.
type Candidate = (&'static OpDef, Vec<(String, String)>, OpRef);

const PARAMS: &[(&str, &[ParamSet])] = &[
    (
        "sgd_update",
        &[
            &[("lr", "0.1")],
            &[("lr", "0.1"), ("wd", "0.01"), ("clip_gradient", "0.5")],
        ],
    ),
    ("sgd_mom_update", &[&[("lr", "0.1"), ("momentum", "0.9")]]),
    ("adam_update", &[&[("lr", "0.01")]]),
    (
        "multi_sgd_update",
        &[
            &[("lrs", "(0.1,)"), ("wds", "(0,)")],
            &[
                ("lrs", "(0.1, 0.2)"),
                ("wds", "(0, 0.1)"),
                ("num_weights", "2"),
            ],
        ],
    ),
    (
        "multi_sgd_mom_update",
        &[&[("lrs", "(0.1,)"), ("wds", "(0,)"), ("momentum", "0.9")]],
    ),
    (
        "FullyConnected",
        &[
            &[("num_hidden", "3")],
            &[("num_hidden", "2"), ("no_bias", "True")],
            &[("num_hidden", "2"), ("flatten", "False")],
        ],
    ),
    (
        "Convolution",
        &[
            &[("kernel", "(2,)"), ("num_filter", "2")],
            &[("kernel", "(2, 2)"), ("num_filter", "3"), ("pad", "(1, 1)")],
            &[
                ("kernel", "(1, 2)"),
                ("num_filter", "2"),
                ("stride", "(2, 1)"),
                ("no_bias", "True"),
            ],
        ],
    ),
    (
        "Pooling",
        &[
            &[("kernel", "(2, 2)")],
            &[("kernel", "(2,)"), ("pool_type", "avg")],
            &[
                ("kernel", "(1, 2)"),
                ("pool_type", "sum"),
                ("stride", "(1, 2)"),
            ],
            &[("global_pool", "True")],
        ],
    ),
    ("Embedding", &[&[("input_dim", "5"), ("output_dim", "3")]]),
    ("one_hot", &[&[("depth", "4")]]),
    ("take", &[&[], &[("axis", "-1"), ("mode", "wrap")]]),
    (
        "pick",
        &[&[("axis", "0"), ("keepdims", "true"), ("mode", "wrap")]],
    ),
    (
        "Pad",
        &[
            &[
                ("mode", "constant"),
                ("pad_width", "(0, 0, 0, 0, 1, 0, 0, 1)"),
            ],
            &[
                ("mode", "edge"),
                ("pad_width", "(0, 0, 0, 0, 1, 1, 0, 0, 1, 0)"),
            ],
        ],
    ),
    (
        "Activation",
        &[
            &[("act_type", "relu")],
            &[("act_type", "sigmoid")],
            &[("act_type", "tanh")],
            &[("act_type", "softrelu")],
            &[("act_type", "softsign")],
        ],
    ),
    (
        "LeakyReLU",
        &[
            &[("act_type", "leaky"), ("slope", "0.1")],
            &[("act_type", "elu")],
        ],
    ),
    (
        "Reshape",
        &[
            &[("shape", "(-1,)")],
            &[("shape", "(0, -1)")],
            &[("shape", "(-3, -2)")],
        ],
    ),
    ("transpose", &[&[("axes", "(1, 0)")]]),
    ("Cast", &[&[("dtype", "float64")]]),
    ("expand_dims", &[&[("axis", "0")], &[("axis", "-1")]]),
    ("Concat", &[&[("dim", "0")], &[("dim", "-1")]]),
    (
        "SliceChannel",
        &[
            &[("num_outputs", "1")],
            &[("num_outputs", "2"), ("axis", "0")],
        ],
    ),
    (
        "slice_axis",
        &[
            &[("axis", "0"), ("begin", "0"), ("end", "1")],
            &[("axis", "-1"), ("begin", "1"), ("end", "None")],
        ],
    ),
    (
        "slice",
        &[
            &[("begin", "(0,)"), ("end", "(1,)")],
            &[
                ("begin", "(None, -1)"),
                ("end", "(None, None)"),
                ("step", "(1, -2)"),
            ],
        ],
    ),
    (
        "sum",
        &[
            &[("axis", "0")],
            &[("axis", "-1"), ("keepdims", "True")],
            &[("exclude", "True"), ("axis", "0")],
        ],
    ),
    ("mean", &[&[("axis", "1")]]),
    ("max", &[&[("axis", "0")]]),
    ("min", &[&[("axis", "-1")]]),
    (
        "argmax",
        &[&[("axis", "0")], &[("axis", "1"), ("keepdims", "True")]],
    ),
    (
        "broadcast_to",
        &[&[("shape", "(2, 0)")], &[("shape", "(3, 0, 0)")]],
    ),
    ("clip", &[&[("a_min", "-0.5"), ("a_max", "0.5")]]),
    ("softmax", &[&[("axis", "0")]]),
    ("log_softmax", &[&[("axis", "0")]]),
    (
        "dot",
        &[&[("transpose_a", "True")], &[("transpose_b", "True")]],
    ),
    ("batch_dot", &[&[("transpose_b", "True")]]),
    ("Dropout", &[&[("p", "0.5")]]),
    (
        "BatchNorm",
        &[&[("fix_gamma", "False")], &[("use_global_stats", "True")]],
    ),
    ("_plus_scalar", &[&[("scalar", "1.5")]]),
    ("_mul_scalar", &[&[("scalar", "-2")]]),
    ("_power_scalar", &[&[("scalar", "2")]]),
    (
        "SoftmaxOutput",
        &[&[("multi_output", "True")], &[("normalization", "valid")]],
    ),
];

/// Every user-facing operator with each parameter set that parses: `(def, params, op)`.
fn candidates() -> Vec<Candidate> {
    let mut out = Vec::new();
    for def in registry::ops() {
        if def.is_backward() {
            continue;
        }
        let extra = PARAMS
            .iter()
            .find(|(name, _)| *name == def.name)
            .map_or(&[][..], |(_, sets)| *sets);
        for set in std::iter::once(&[][..]).chain(extra.iter().copied()) {
            for num_inputs in [None, Some(2), Some(3)] {
                if num_inputs.is_some() && def.key_var_num_args.is_none() {
                    continue;
                }
                if let Ok(op) = def.instantiate(set, num_inputs) {
                    let params = set
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    out.push((def, params, op));
                }
            }
        }
    }
    out
}

/// A small deterministic generator from the case's seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, m: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % m
    }

    fn shape(&mut self) -> Vec<usize> {
        let rank = self.next(4) as usize + 1;
        (0..rank).map(|_| self.next(4) as usize + 1).collect()
    }

    fn values(&mut self, n: usize) -> Vec<f64> {
        (0..n)
            // Half-way between thousandths: never at (or within 1e-4 of) a kink at 0.
            .map(|_| (self.next(2000) as f64 + 0.5) / 1000.0 - 1.0)
            .collect()
    }
}

/// Random input shapes for `op`: input 0 random; each other input the same as input 0, unknown
/// (left to inference) or random. Returns the fully inferred inputs, or `None` when inference
/// rejects them or leaves one unknown.
fn shapes_for(op: &OpRef, rng: &mut Lcg) -> Option<Vec<Vec<usize>>> {
    let n = op.num_inputs();
    let first = rng.shape();
    let given: Vec<Shape> = (0..n)
        .map(|i| match (i, rng.next(3)) {
            (0, _) | (_, 0) => Shape::known(&first),
            (_, 1) => Shape::unknown(),
            _ => Shape::known(&rng.shape()),
        })
        .collect();
    let (ins, outs) = infer_shapes(op.as_ref(), &given).ok()?;
    if !outs.iter().all(Shape::is_known) {
        return None;
    }
    ins.iter().map(Shape::dims).collect()
}

/// Host tensors of the inferred shapes and dtypes (float32 where unknown), values in [-1, 1]
/// (integer dtypes: small non-negative integers).
fn tensors(op: &OpRef, shapes: &[Vec<usize>], rng: &mut Lcg) -> Vec<HostTensor> {
    let first = [Some(DType::F32)];
    let given: Vec<Option<DType>> = (0..shapes.len())
        .map(|i| first.get(i).copied().flatten())
        .collect();
    let dtypes = infer_types(op.as_ref(), &given)
        .map(|(ins, _)| ins)
        .unwrap_or_default();
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let dtype = dtypes.get(i).copied().flatten().unwrap_or(DType::F32);
            let size = s.iter().product();
            let values: Vec<f64> = if dtype.is_float() {
                rng.values(size)
            } else {
                (0..size).map(|_| rng.next(3) as f64).collect()
            };
            HostTensor::from_f64_as(s, &values, dtype)
        })
        .collect()
}

fn describe(def: &OpDef, params: &[(String, String)], shapes: &[Vec<usize>]) -> String {
    format!("{} {params:?} on input shapes {shapes:?}", def.name)
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        // The same cases on every run (CI must not flake); set PROPTEST_RNG_SEED to explore.
        rng_seed: std::env::var("PROPTEST_RNG_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(RngSeed::Fixed(0x006d_7872), RngSeed::Fixed),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Whatever shapes inference accepts, the kernel runs on without panicking, and errors only
    /// about input values.
    #[test]
    fn forward_runs_on_every_shape_inference_accepts(pick in any::<usize>(), seed in any::<u64>()) {
        let all = candidates();
        let (def, params, op) = &all[pick % all.len()];
        let mut rng = Lcg(seed);
        let Some(shapes) = shapes_for(op, &mut rng) else { return Ok(()); };
        let mut inputs = tensors(op, &shapes, &mut rng);
        for is_train in [false, true] {
            let result = catch_unwind(AssertUnwindSafe(|| run(op.as_ref(), &mut inputs.clone(), is_train)));
            match result {
                Err(_) => return Err(TestCaseError::fail(format!("{} panicked", describe(def, params, &shapes)))),
                Ok(Ok(outputs)) => {
                    let (_, inferred) = infer_shapes(op.as_ref(), &shapes.iter().map(|s| Shape::known(s)).collect::<Vec<_>>())
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    for (o, s) in outputs.iter().zip(&inferred) {
                        prop_assert_eq!(Some(o.shape().to_vec()), s.dims(), "{}", describe(def, params, &shapes));
                    }
                }
                Ok(Err(Error::BadInput { .. } | Error::Unsupported { .. })) => {}
                Ok(Err(e)) => return Err(TestCaseError::fail(format!("{}: {e}", describe(def, params, &shapes)))),
            }
        }
        let _ = &mut inputs;
    }
}

/// Operators the gradient check leaves out, and why.
const NO_GRADIENT_CHECK: &[(&str, &str)] = &[
    // Outputs are integers or piecewise constant: the finite difference is 0 or a jump.
    ("argmax", "piecewise constant"),
    ("argmin", "piecewise constant"),
    ("one_hot", "integer input"),
    ("Embedding", "integer indices"),
    ("take", "integer indices"),
    ("pick", "integer indices"),
    ("zeros_like", "constant"),
    ("ones_like", "constant"),
    ("where", "the condition input is a selector"),
];

/// The candidates the gradient check covers: not loss layers (they ignore the head gradient),
/// not drawing random numbers, not in [`NO_GRADIENT_CHECK`].
fn gradient_candidates() -> Vec<Candidate> {
    candidates()
        .into_iter()
        .filter(|(def, _, op)| {
            !op.is_loss()
                && !op.resources().contains(&Resource::Random)
                && !NO_GRADIENT_CHECK.iter().any(|(n, _)| *n == def.name)
        })
        .collect()
}

/// Random small inputs for `op` (at most 64 elements in all) from `seed`, with their shapes.
fn small_inputs(op: &OpRef, seed: u64) -> Option<(Vec<Vec<usize>>, Vec<HostTensor>)> {
    let mut rng = Lcg(seed);
    let shapes = shapes_for(op, &mut rng)?;
    if shapes
        .iter()
        .map(|s| s.iter().product::<usize>())
        .sum::<usize>()
        > 64
    {
        return None;
    }
    let inputs = tensors(op, &shapes, &mut rng);
    Some((shapes, inputs))
}

/// The finite-difference check of `op` on `inputs` (float64), holding fixed the inputs that
/// have no gradient (labels, indices, auxiliary states). An operator that declares a gradient
/// must pass; one declared without must answer `Unsupported` for "a gradient".
fn gradient_agrees(
    (def, params, op): &Candidate,
    shapes: &[Vec<usize>],
    inputs: &[HostTensor],
) -> Result<(), String> {
    let what = || describe(def, params, shapes);
    let mut opts = GradCheck {
        eps: 1e-6,
        rtol: 1e-4,
        atol: 1e-6,
        ..GradCheck::default()
    };
    opts.skip = op.mutate_inputs();
    for (i, t) in inputs.iter().enumerate() {
        if !t.dtype().is_float() {
            opts.skip.push(i);
        }
    }
    loop {
        match (check_gradient(op, inputs, &opts), def.has_gradient()) {
            (Ok(()), true) => return Ok(()),
            (Err(Error::Unsupported { what: w, .. }), false) if w.starts_with("a gradient") => {
                return Ok(());
            }
            (Ok(()), false) => {
                return Err(format!(
                    "{}: registered with no_gradient, yet has one",
                    what()
                ));
            }
            (Err(Error::BadInput { reason, .. }), _)
                if reason.starts_with("no gradient for input ") =>
            {
                let i: usize = reason["no gradient for input ".len()..]
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| reason.clone())?;
                if opts.skip.contains(&i) {
                    return Err(format!("{}: {reason} twice", what()));
                }
                opts.skip.push(i);
            }
            (Err(e), _) => return Err(format!("{}: {e}", what())),
        }
    }
}

proptest! {
    #![proptest_config(config(400))]

    /// Gradients agree with central finite differences (float64) on random small shapes.
    #[test]
    fn gradients_pass_the_finite_difference_check(pick in any::<usize>(), seed in any::<u64>()) {
        let all = gradient_candidates();
        let candidate = &all[pick % all.len()];
        let Some((shapes, inputs)) = small_inputs(&candidate.2, seed) else { return Ok(()); };
        gradient_agrees(candidate, &shapes, &inputs).map_err(TestCaseError::fail)?;
    }
}

/// The operators with a parameter set for which [`every_gradient_is_checked`] finds no valid
/// small input, and why (their other sets are checked).
const NO_SMALL_INPUT: &[(&str, &str)] = &[
    // Without `shape` the target shape is empty: no input broadcasts to it.
    ("broadcast_to", "the parameterless set has no valid input"),
    // `shape` is required in practice: the default () fits no input.
    ("Reshape", "the parameterless set has no valid input"),
    // The random shapes have at most 4 axes; the 5-D set needs 5.
    ("Pad", "the 5-D set has no valid input"),
];

/// The random test samples 400 cases; this one checks every gradient candidate (operator and
/// parameter set) once, on the first small input its seeds give, so that no operator can lose
/// its gradient unnoticed.
#[test]
fn every_gradient_is_checked() {
    let mut failures = Vec::new();
    let mut checked: Vec<&str> = Vec::new();
    let mut unchecked = Vec::new();
    for candidate in &gradient_candidates() {
        let name = candidate.0.name;
        match (0..300).find_map(|seed| small_inputs(&candidate.2, seed)) {
            Some((shapes, inputs)) => {
                if let Err(e) = gradient_agrees(candidate, &shapes, &inputs) {
                    failures.push(e);
                }
                checked.push(name);
            }
            None => unchecked.push(name),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every candidate left unchecked is listed (and still checked with its other sets).
    let mut listed: Vec<&str> = NO_SMALL_INPUT.iter().map(|(n, _)| *n).collect();
    listed.sort_unstable();
    unchecked.sort_unstable();
    assert_eq!(unchecked, listed, "candidates without a small input");
    listed
        .iter()
        .for_each(|n| assert!(checked.contains(n), "{n}: never checked"));
    // Both kinds were checked: operators with a gradient, and ones declared without.
    for name in [
        "FullyConnected",
        "Convolution",
        "sgd_update",
        "_broadcast_backward",
    ] {
        assert!(checked.contains(&name), "{name} was not checked");
    }
}

/// The property tests cover the registry: every user-facing operator has at least one
/// parameter set that parses.
#[test]
fn every_operator_is_a_candidate() {
    let all = candidates();
    let missing: Vec<&str> = registry::ops()
        .iter()
        .filter(|d| !d.is_backward() && !all.iter().any(|(c, _, _)| c.name == d.name))
        .map(|d| d.name)
        .collect();
    assert!(
        missing.is_empty(),
        "operators without parameters to test: {missing:?}"
    );
}

/// The random shapes reach the kernels: for nearly every operator some of 200 draws pass shape
/// inference and run (the rest of the registry is listed when this fails).
#[test]
fn random_shapes_reach_nearly_every_kernel() {
    let all = candidates();
    let mut never: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = all.iter().map(|(d, _, _)| d.name).collect();
    names.dedup();
    for name in &names {
        let ran = all
            .iter()
            .filter(|(d, _, _)| d.name == *name)
            .any(|(_, _, op)| {
                (0..200u64).any(|seed| {
                    let mut rng = Lcg(seed);
                    shapes_for(op, &mut rng).is_some_and(|shapes| {
                        let mut inputs = tensors(op, &shapes, &mut rng);
                        run(op.as_ref(), &mut inputs, false).is_ok()
                    })
                })
            });
        if !ran {
            never.push(name);
        }
    }
    assert!(
        never.len() * 20 <= names.len(),
        "{} of {} operators never ran: {never:?}",
        never.len(),
        names.len()
    );
    eprintln!(
        "operators never run on random shapes: {never:?} (of {})",
        names.len()
    );
}

/// A shape past `MAX_ELEMENTS` given to any operator is an error before the operator computes
/// with it (no overflow in its shape arithmetic), whichever input it is given for.
#[test]
fn absurd_shapes_are_errors_for_every_operator() {
    let huge = Shape::known(&[1 << 32, 1 << 32, 1 << 32]);
    for (def, params, op) in candidates() {
        for i in 0..op.num_inputs() {
            let mut given = vec![Shape::unknown(); op.num_inputs()];
            given[i] = huge.clone();
            let r = catch_unwind(AssertUnwindSafe(|| infer_shapes(op.as_ref(), &given)));
            match r {
                Err(_) => panic!("{} {params:?}: panicked on input {i} {huge}", def.name),
                Ok(Ok(_)) => panic!("{} {params:?}: accepted input {i} {huge}", def.name),
                Ok(Err(e)) => assert!(
                    e.to_string().contains("elements"),
                    "{} {params:?}: {e}",
                    def.name
                ),
            }
        }
    }
}
