//! `LeakyReLU` and `_backward_LeakyReLU` on the GPU against the CPU kernels.

use crate::check::gpu::{compare_with_cpu, test_device};
use crate::check::run;
use crate::ops::test_util::{GPU_SHAPES, GpuCheck, gpu_tensor, make_op};

#[test]
fn fixed_slope_acts_match_cpu() {
    let gpu = GpuCheck::new(1e-5, 1e-7);
    let variants: &[&[(&str, &str)]] = &[
        &[("act_type", "leaky")],
        &[("act_type", "leaky"), ("slope", "0.01")],
        &[("act_type", "leaky"), ("slope", "-1.5")],
        &[("act_type", "elu")],
        &[("act_type", "elu"), ("slope", "1.7")],
        &[("act_type", "selu")],
        &[("act_type", "gelu")],
    ];
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let x = gpu_tensor(shape, k as u64, -6.0, 6.0, true);
        let g = gpu_tensor(shape, k as u64 + 7, -2.0, 2.0, true);
        for attrs in variants {
            let fwd = make_op("LeakyReLU", attrs);
            let y = gpu.forward(fwd.as_ref(), &x, &format!("{attrs:?} {shape:?}"));
            let back = make_op("_backward_LeakyReLU", attrs);
            let ins = [g.clone(), x.clone(), y];
            let what = format!("backward {attrs:?} {shape:?}");
            gpu.check(back.as_ref(), &ins, &what);
        }
    }
}

#[test]
fn prelu_matches_cpu() {
    let dev = test_device().unwrap();
    let attrs = [("act_type", "prelu")];
    let fwd = make_op("LeakyReLU", &attrs);
    let back = make_op("_backward_LeakyReLU", &attrs);
    let cases: &[(&[usize], &[usize])] = &[
        (&[2, 3, 4], &[3]),
        (&[2, 3, 4], &[1]),
        (&[5, 3, 2, 7], &[3]),
        (&[4, 3], &[3]),
        (&[5], &[5]),
        (&[5], &[1]),
        (&[3, 1, 9], &[1]),
        (&[0, 3, 2], &[3]),
        (&[2, 3, 0], &[3]),
    ];
    for (k, &(ds, gs)) in cases.iter().enumerate() {
        let x = gpu_tensor(ds, k as u64, -3.0, 3.0, true);
        let gamma = gpu_tensor(gs, k as u64 + 3, -1.0, 1.0, true);
        let g = gpu_tensor(ds, k as u64 + 9, -2.0, 2.0, true);
        compare_with_cpu(
            fwd.as_ref(),
            &dev,
            &[x.clone(), gamma.clone()],
            true,
            1e-6,
            0.0,
        )
        .unwrap_or_else(|e| panic!("prelu {ds:?} {gs:?}: {e}"));
        let y = run(fwd.as_ref(), &mut [x.clone(), gamma.clone()], true)
            .unwrap()
            .remove(0);
        // dgamma sums in the CPU kernel's order (block by block): tight.
        compare_with_cpu(back.as_ref(), &dev, &[g, x, gamma, y], true, 1e-5, 1e-6)
            .unwrap_or_else(|e| panic!("prelu backward {ds:?} {gs:?}: {e}"));
    }
}

#[test]
fn rrelu_matches_cpu() {
    let dev = test_device().unwrap();
    let variants: &[&[(&str, &str)]] = &[
        &[("act_type", "rrelu")],
        &[
            ("act_type", "rrelu"),
            ("lower_bound", "0.3"),
            ("upper_bound", "0.3"),
        ],
    ];
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let x = gpu_tensor(shape, k as u64, -3.0, 3.0, true);
        let g = gpu_tensor(shape, k as u64 + 4, -2.0, 2.0, true);
        let gm = gpu_tensor(shape, k as u64 + 5, -2.0, 2.0, true);
        for attrs in variants {
            let fwd = make_op("LeakyReLU", attrs);
            for train in [true, false] {
                // Training draws the slopes from the host generator in the CPU order: the
                // same mask and output for the same seed.
                compare_with_cpu(
                    fwd.as_ref(),
                    &dev,
                    std::slice::from_ref(&x),
                    train,
                    0.0,
                    0.0,
                )
                .unwrap_or_else(|e| panic!("rrelu {attrs:?} train {train} {shape:?}: {e}"));
                let out = run(fwd.as_ref(), &mut [x.clone()], train).unwrap();
                let back = make_op("_backward_LeakyReLU", attrs);
                let ins = [
                    g.clone(),
                    gm.clone(),
                    x.clone(),
                    out[0].clone(),
                    out[1].clone(),
                ];
                compare_with_cpu(back.as_ref(), &dev, &ins, train, 0.0, 0.0)
                    .unwrap_or_else(|e| panic!("rrelu backward {attrs:?} {shape:?}: {e}"));
            }
        }
    }
}
