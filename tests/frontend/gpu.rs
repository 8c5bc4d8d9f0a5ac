//! The frontends on a GPU context: on a real `gpu(0)` when the machine has one, else on the
//! mxr GPU emulator (a notice says so; `MXR_REQUIRE_GPU=1` makes a missing GPU a failure).

use mxr::engine::Context;
use mxr::engine::gpu::{Backend, GpuDevice};
use mxr::nd::{self, NDArray};
use mxr::operators::check::gpu::test_device;

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
        eprintln!("skip: one GPU only");
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
        eprintln!("skip: only checked on the emulator (a real GPU's memory size varies)");
        return;
    }
    let too_big = mxr::engine::gpu::EMULATED_MEMORY / 4 + 1;
    let e = NDArray::zeros_on(&[too_big], g).unwrap_err();
    assert!(e.to_string().contains("out of memory on gpu(0)"), "{e}");
    // The device still allocates.
    assert!(NDArray::zeros_on(&[1024], g).is_ok());
}
