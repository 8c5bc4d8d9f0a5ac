//! The frontends on a GPU context: on a real `gpu(0)` when the machine has one, else on the
//! mxr GPU emulator (a notice says so; `MXR_REQUIRE_GPU=1` makes a missing GPU a failure).

use mxr::engine::Context;
use mxr::engine::gpu::{Backend, GpuDevice};
use mxr::nd::{self, NDArray};
use mxr::operators::check::gpu::test_device;
use mxr_test_support::{Missing, skip};

/// The GPU every test here uses (`gpu(0)`), real or emulated.
pub(crate) fn gpu() -> Context {
    let dev = test_device().unwrap_or_else(|e| panic!("{e}"));
    if dev.backend() == Backend::Emulated {
        eprintln!("notice: GPU tests run on the emulator (no GPU on this machine)");
    }
    dev.context()
}

#[test]
fn arrays_round_trip_through_the_gpu() {
    let g = gpu();
    let x = NDArray::from_vec(&[2, 3], vec![1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0]).unwrap();
    let on_gpu = x.copy_to(g).unwrap();
    assert_eq!(on_gpu.context(), g);
    assert_eq!(on_gpu.to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap());
    // GPU → GPU (same device), views, back to the CPU.
    let copy = on_gpu.copy().unwrap();
    let row = copy.slice(1, 2).unwrap();
    row.assign_scalar(9.0).unwrap();
    assert_eq!(
        copy.as_in_context(Context::cpu(0))
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![1.0, -2.0, 3.0, 9.0, 9.0, 9.0]
    );
    assert_eq!(
        on_gpu.to_vec::<f32>().unwrap()[3],
        -4.0,
        "the copy is independent"
    );
    // zeros and assign_scalar on the device.
    let z = NDArray::zeros_on(&[4], g).unwrap();
    assert_eq!(z.to_vec::<f32>().unwrap(), vec![0.0; 4]);
}

#[test]
fn copies_between_two_gpus() {
    let g = gpu();
    let other = Context::gpu(1);
    if GpuDevice::get(1).is_err() {
        skip(Missing::GpuHardware, "one GPU only");
        return;
    }
    let x = NDArray::from_vec(&[3], vec![1.0f32, 2.0, 3.0])
        .unwrap()
        .copy_to(g)
        .unwrap();
    let y = x.copy_to(other).unwrap();
    assert_eq!(y.context(), other);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);
}

#[test]
fn operators_run_on_the_gpu_like_on_the_cpu() {
    let g = gpu();
    let values: Vec<f32> = (0..50).map(|i| i as f32 * 0.3 - 7.0).collect();
    let x = NDArray::from_vec(&[5, 10], values.clone()).unwrap();
    let xg = x.copy_to(g).unwrap();
    for act in ["relu", "sigmoid", "tanh", "softrelu", "softsign"] {
        let cpu = nd::invoke("Activation", &[&x], &[("act_type", act)]).unwrap();
        let out = nd::invoke("Activation", &[&xg], &[("act_type", act)]).unwrap();
        assert_eq!(out[0].context(), g);
        let (c, d) = (
            cpu[0].to_vec::<f32>().unwrap(),
            out[0].to_vec::<f32>().unwrap(),
        );
        for (a, b) in c.iter().zip(&d) {
            assert!((a - b).abs() <= 1e-6 + 1e-5 * a.abs(), "{act}: {a} vs {b}");
        }
    }
    // In place on the device (`out` = input): the kernel sees a copy of its input.
    nd::invoke_into("Activation", &[&xg], &[("act_type", "relu")], &[&xg]).unwrap();
    let relu: Vec<f32> = values.iter().map(|v| v.max(0.0)).collect();
    assert_eq!(xg.to_vec::<f32>().unwrap(), relu);
}

#[test]
fn gpu_misuse_is_a_clear_error() {
    let g = gpu();
    let x = NDArray::zeros_on(&[2, 2], g).unwrap();
    let c = NDArray::zeros(&[2, 2]).unwrap();
    // A CPU input with a GPU `out` array.
    let e = nd::invoke_into("Activation", &[&c], &[("act_type", "relu")], &[&x]).unwrap_err();
    assert!(
        e.to_string().contains("CPU arrays only") || e.to_string().contains("gpu(0)"),
        "{e}"
    );
    // A device that does not exist.
    let e = NDArray::zeros_on(&[1], Context::gpu(7)).unwrap_err();
    assert!(e.to_string().contains("gpu(7)"), "{e}");
}

#[test]
fn failures_on_the_gpu_surface_at_the_next_wait_and_the_engine_goes_on() {
    let g = gpu();
    // A kernel that cannot run (float64 data: the GPU kernels take float32) fails its operation;
    // the error comes from the wait, and names the operator.
    let x = NDArray::new(&[4], mxr::DType::F64, g).unwrap();
    let y = nd::invoke("Activation", &[&x], &[("act_type", "relu")]).unwrap();
    let e = y[0].wait_to_read().unwrap_err();
    assert!(
        e.to_string().contains("Activation") && e.to_string().contains("float64"),
        "{e}"
    );
    // Unrelated work on the same device still runs.
    let z = NDArray::from_vec(&[3], vec![-1.0f32, 0.5, 2.0])
        .unwrap()
        .copy_to(g)
        .unwrap();
    let r = nd::invoke("Activation", &[&z], &[("act_type", "relu")]).unwrap();
    assert_eq!(r[0].to_vec::<f32>().unwrap(), vec![0.0, 0.5, 2.0]);
}

#[test]
fn running_out_of_gpu_memory_is_an_error_naming_the_device() {
    let g = gpu();
    let dev = GpuDevice::get(g.device_id()).unwrap();
    if dev.backend() != Backend::Emulated {
        skip(
            Missing::GpuHardware,
            "only checked on the emulator (a real GPU's memory size varies)",
        );
        return;
    }
    let too_big = mxr::engine::gpu::EMULATED_MEMORY / 4 + 1;
    let e = NDArray::zeros_on(&[too_big], g).unwrap_err();
    assert!(e.to_string().contains("out of memory on gpu(0)"), "{e}");
    // The device still allocates.
    assert!(NDArray::zeros_on(&[1024], g).is_ok());
}

/// A small network of the ops the main jobs use: convolution, batch norm, pooling, activation,
/// flatten, fully connected, softmax output.
fn convnet() -> mxr::sym::Symbol {
    use mxr::sym::{self, Symbol};
    let data = Symbol::variable("data");
    let c = sym::convolution(&data, &[3, 3], 4)
        .param("pad", &[1usize, 1][..])
        .name("conv")
        .build()
        .unwrap();
    let b = sym::batch_norm(&c).name("bn").build().unwrap();
    let a = sym::activation(&b, "tanh").name("act").build().unwrap();
    let p = sym::pooling(&a, &[2, 2], "max")
        .param("stride", &[2usize, 2][..])
        .name("pool")
        .build()
        .unwrap();
    let f = sym::flatten(&p).name("flat").build().unwrap();
    let fc = sym::fully_connected(&f, 5).name("fc").build().unwrap();
    sym::softmax_output(&fc).name("softmax").build().unwrap()
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

fn assert_close(what: &str, cpu: &[f32], gpu: &[f32], tol: f32) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths");
    for (i, (a, b)) in cpu.iter().zip(gpu).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + a.abs()),
            "{what}[{i}]: cpu {a}, gpu {b}"
        );
    }
}

/// The docs' MLP with dropout: fully connected, relu, dropout, softmax output.
fn mlp() -> mxr::sym::Symbol {
    use mxr::sym::{self, Symbol};
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 16).name("fc1").build().unwrap();
    let act = sym::activation(&fc1, "relu").name("relu1").build().unwrap();
    // p = 0: each device has its own random stream (as in MXNet), so masks would differ; the
    // operator-level tests compare the masks themselves with equal seeds.
    let drop = sym::dropout(&act, 0.0).name("drop").build().unwrap();
    let fc2 = sym::fully_connected(&drop, 5).name("fc2").build().unwrap();
    sym::softmax_output(&fc2).name("softmax").build().unwrap()
}

#[test]
fn an_mlp_executor_runs_on_the_gpu_like_on_the_cpu() {
    check_executor(&mlp(), &[6, 12]);
}

#[test]
fn a_convolutional_executor_runs_on_the_gpu_like_on_the_cpu() {
    check_executor(&convnet(), &[6, 2, 8, 8]);
}

/// Binds `symbol` on the CPU and on the GPU with the same values, runs two training steps
/// (forward, backward) and compares outputs, gradients and auxiliary states.
fn check_executor(symbol: &mxr::sym::Symbol, data: &[usize]) {
    use mxr::exec::{Executor, GradReq};
    let g = gpu();
    let net = symbol.to_graph().unwrap();
    let shapes: [(&str, &[usize]); 2] = [("data", data), ("softmax_label", &[6])];
    let no_grad = ["data", "softmax_label"];
    let mut cpu =
        Executor::simple_bind(&net, Context::cpu(0), &shapes, GradReq::Write, &no_grad).unwrap();
    let mut dev = Executor::simple_bind(&net, g, &shapes, GradReq::Write, &no_grad).unwrap();
    for (k, (c, d)) in cpu.arg_arrays().iter().zip(dev.arg_arrays()).enumerate() {
        let v = if c.shape() == [6] {
            (0..6).map(|i| (i % 5) as f32).collect()
        } else {
            values(c.size(), 17 + k as u32)
        };
        c.assign_slice(&v).unwrap();
        d.assign_slice(&v).unwrap();
    }
    for (c, d) in cpu.aux_arrays().iter().zip(dev.aux_arrays()) {
        let v = vec![0.5f32; c.size()];
        c.assign_slice(&v).unwrap();
        d.assign_slice(&v).unwrap();
    }
    for step in 0..2 {
        cpu.forward(true).unwrap();
        cpu.backward(&[]).unwrap();
        dev.forward(true).unwrap();
        dev.backward(&[]).unwrap();
        let (co, go) = (cpu.outputs(), dev.outputs());
        assert_eq!(go[0].context(), g);
        assert_close(
            &format!("step {step} output"),
            &co[0].to_vec().unwrap(),
            &go[0].to_vec().unwrap(),
            1e-4,
        );
        for (k, (c, d)) in cpu.grad_arrays().iter().zip(dev.grad_arrays()).enumerate() {
            if let (Some(c), Some(d)) = (c, d) {
                assert_close(
                    &format!("step {step} gradient {k}"),
                    &c.to_vec().unwrap(),
                    &d.to_vec().unwrap(),
                    1e-3,
                );
            }
        }
        for (k, (c, d)) in cpu.aux_arrays().iter().zip(dev.aux_arrays()).enumerate() {
            assert_close(
                &format!("step {step} aux {k}"),
                &c.to_vec().unwrap(),
                &d.to_vec().unwrap(),
                1e-4,
            );
        }
    }
}

#[test]
fn a_module_trains_on_the_gpu() {
    use mxr::io::NDArrayIter;
    use mxr::metric::Accuracy;
    use mxr::module::{FitOptions, Module};
    use mxr::sym::{self, Symbol};
    let g = gpu();
    // Two separable blobs.
    let x: Vec<f32> = values(200, 5)
        .chunks(2)
        .enumerate()
        .flat_map(|(i, p)| {
            let c = if i % 2 == 0 { 1.5 } else { -1.5 };
            [p[0] * 0.8 + c, p[1] * 0.8 - c]
        })
        .collect();
    let y: Vec<f32> = (0..100).map(|i| (i % 2) as f32).collect();
    let x = NDArray::from_vec(&[100, 2], x).unwrap();
    let y = NDArray::from_vec(&[100], y).unwrap();
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 8).name("fc1").build().unwrap();
    let act = sym::activation(&fc1, "relu").name("relu1").build().unwrap();
    let fc2 = sym::fully_connected(&act, 2).name("fc2").build().unwrap();
    let net = sym::softmax_output(&fc2).name("softmax").build().unwrap();
    let mut train = NDArrayIter::new(x, y, 20).unwrap();
    let mut module = Module::new(net, &["data"], &["softmax_label"], g);
    let report = module
        .fit(
            &mut train,
            None,
            &mut Accuracy::new(),
            &FitOptions::new(10).learning_rate(0.5),
        )
        .unwrap();
    let last = report.epochs.last().unwrap();
    assert!(last.train_metric.1 > 0.95, "{last:?}");
    let (args, _) = module.get_params().unwrap();
    assert!(
        args.iter()
            .all(|(_, a)| a.to_vec::<f32>().unwrap().iter().all(|v| v.is_finite()))
    );
}

#[test]
fn the_device_kvstore_sums_on_the_gpu() {
    use mxr::kv::KVStore;
    let g = gpu();
    let two = GpuDevice::get(1).is_ok();
    let other = if two { Context::gpu(1) } else { g };
    let kv = KVStore::create("device").unwrap();
    kv.init(0, &NDArray::zeros(&[4]).unwrap()).unwrap();
    let a = NDArray::from_vec(&[4], vec![1.0f32, 2.0, 3.0, 4.0])
        .unwrap()
        .copy_to(g)
        .unwrap();
    let b = NDArray::from_vec(&[4], vec![10.0f32; 4])
        .unwrap()
        .copy_to(other)
        .unwrap();
    kv.push(0, &[&a, &b]).unwrap();
    let (oa, ob) = (
        NDArray::zeros_on(&[4], g).unwrap(),
        NDArray::zeros_on(&[4], other).unwrap(),
    );
    kv.pull(0, &[&oa, &ob]).unwrap();
    assert_eq!(oa.to_vec::<f32>().unwrap(), vec![11.0, 12.0, 13.0, 14.0]);
    assert_eq!(ob.to_vec::<f32>().unwrap(), vec![11.0, 12.0, 13.0, 14.0]);
}

#[test]
fn a_bad_label_on_the_gpu_fails_the_backward_pass_at_its_wait() {
    use mxr::exec::{Executor, GradReq};
    let g = gpu();
    let net = mlp().to_graph().unwrap();
    let shapes: [(&str, &[usize]); 2] = [("data", &[4, 3]), ("softmax_label", &[4])];
    let mut exe =
        Executor::simple_bind(&net, g, &shapes, GradReq::Write, &["data", "softmax_label"])
            .unwrap();
    for a in exe.arg_arrays() {
        a.assign_slice(&values(a.size(), 3)).unwrap();
    }
    exe.arg_dict()["softmax_label"]
        .assign_slice(&[0.0f32, 1.0, 7.0, 2.0])
        .unwrap();
    exe.forward(true).unwrap();
    exe.backward(&[]).unwrap();
    let grad = exe.grad_arrays().iter().flatten().next().unwrap().clone();
    let e = grad.wait_to_read().unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("label 7") && text.contains("position 2"),
        "{text}"
    );
    // Fixed labels train again on the same executor.
    exe.arg_dict()["softmax_label"]
        .assign_slice(&[0.0f32, 1.0, 4.0, 2.0])
        .unwrap();
    exe.forward(true).unwrap();
    exe.backward(&[]).unwrap();
    assert!(grad.wait_to_read().is_ok());
}
