//! GPU benchmarks of the CUDA backend (issue 8's targets), on a real GPU only — without one it
//! prints a notice and exits (the emulator is not a performance mode).
//!
//! - `sgemm`: `C = A·B` for square float32 matrices, N = 4096 (and 1024, 2048), through
//!   `mxr_kernels::cuda::blas::sgemm` (cuBLAS): median TFLOP/s over timed calls. Target: at
//!   least 90% of PyTorch's `torch.mm` on the same GPU (`benches/gpu/torch_baseline.py`).
//! - `add`: `c = a + b` on 256M float32 through `nd::invoke("elemwise_add")` on `gpu(0)`,
//!   against a device-to-device copy of the same bytes: effective bandwidth (GB/s, bytes read
//!   plus written). Target: at least 80% of the copy's bandwidth.
//!
//! W4 and W5 on the GPU: `cargo run --release --example train_mlp -- --ctx gpu:0 [--net lenet]`
//! prints samples/s per epoch; compare with `benches/gpu/torch_baseline.py --workloads`.
//!
//! Run: `cargo bench --bench gpu` (`GPU_BENCH_ROUNDS=N` timed calls per case, default 20).

use std::time::Instant;

use mxr::engine::Context;
use mxr::engine::gpu::{self, Backend, GpuDevice};
use mxr::nd::{self, NDArray};
use mxr_kernels::cuda::{DeviceSlice, blas, memory};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match gpu::driver_device_count() {
        Ok(n) if n > 0 => {}
        Ok(_) => {
            println!("notice: no GPU on this machine; the GPU benchmarks need one");
            return Ok(());
        }
        Err(e) => {
            println!("notice: no GPU on this machine ({e}); the GPU benchmarks need one");
            return Ok(());
        }
    }
    let rounds: usize = std::env::var("GPU_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dev = GpuDevice::get(0)?;
    assert_eq!(dev.backend(), Backend::Cuda);
    println!("device: {} ({})", dev.name(), dev.context());

    for n in [1024usize, 2048, 4096] {
        let bytes = 4 * n * n;
        let (a, b, c) = (dev.alloc(bytes)?, dev.alloc(bytes)?, dev.alloc(bytes)?);
        let ones = vec![1.0f32; n * n];
        let (a, b, c) = (
            DeviceSlice::<f32>::of_buffer(&a),
            DeviceSlice::<f32>::of_buffer(&b),
            DeviceSlice::<f32>::of_buffer(&c),
        );
        memory::write(&dev, a, &ones)?;
        memory::write(&dev, b, &ones)?;
        let mut times = Vec::new();
        for round in 0..=rounds {
            let t = Instant::now();
            blas::sgemm(&dev, false, false, n, n, n, 1.0, a, n, b, n, 0.0, c, n)?;
            dev.synchronize()?;
            if round > 0 {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        let mut check = vec![0f32; 4];
        memory::read(&dev, c, &mut check)?;
        assert!(
            check.iter().all(|&v| v == n as f32),
            "sgemm result {check:?}"
        );
        let s = median(times);
        println!(
            "sgemm N={n}: {:.2} TFLOP/s (median of {rounds})",
            2.0 * (n as f64).powi(3) / s / 1e12
        );
    }

    let len = 256usize << 20;
    let g = Context::gpu(0);
    let a = NDArray::ones(&[len])?.copy_to(g)?;
    let b = a.copy()?;
    let out = NDArray::zeros_on(&[len], g)?;
    let (mut add, mut copy) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let t = Instant::now();
        nd::invoke_into("elemwise_add", &[&a, &b], &[], &[&out])?;
        out.wait_to_read()?;
        let add_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        out.assign(&a)?;
        out.wait_to_read()?;
        let copy_s = t.elapsed().as_secs_f64();
        if round > 0 {
            add.push(add_s);
            copy.push(copy_s);
        }
    }
    let bytes = (4 * len) as f64;
    let (add_bw, copy_bw) = (
        3.0 * bytes / median(add) / 1e9,
        2.0 * bytes / median(copy) / 1e9,
    );
    println!(
        "elemwise_add 256M floats: {add_bw:.0} GB/s; device copy: {copy_bw:.0} GB/s; ratio {:.2}",
        add_bw / copy_bw
    );
    Ok(())
}
