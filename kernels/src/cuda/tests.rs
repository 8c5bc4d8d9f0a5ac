//! Kernel sources compile (NVRTC, when present; the emulator's C++ compiler always) and the
//! launch path runs them (emulated device).

use std::sync::Arc;

use mxr_engine::gpu::{self, GpuDevice};

use super::*;

/// An emulated `gpu(0)`; no test of this crate opens a real GPU.
pub(crate) fn emulated() -> Arc<GpuDevice> {
    gpu::emulate(1).expect("no test in this crate opens a real GPU");
    GpuDevice::get(0).expect("emulated gpu(0)")
}

/// Whether NVRTC loads; if not, the test skips (see [`mxr_test_support::skip`]).
fn have_nvrtc() -> bool {
    let found = nvrtc_available();
    if !found {
        mxr_test_support::skip(
            mxr_test_support::Missing::Nvrtc,
            "NVRTC not found (pip install nvidia-cuda-nvrtc-cu12 and put its lib folder on \
             LD_LIBRARY_PATH to check the CUDA sources; ./test does where .venv has it)",
        );
    }
    found
}

#[test]
fn nvrtc_compiles_every_source() {
    if !have_nvrtc() {
        return;
    }
    assert!(!sources().is_empty());
    for arch in ["compute_70", "compute_90"] {
        for (name, _) in sources() {
            let ptx = compile_ptx(name, arch).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                ptx.to_src().contains(".entry"),
                "{name}: no kernel entry in the PTX"
            );
        }
    }
}

#[test]
fn nvrtc_reports_a_broken_source() {
    if !have_nvrtc() {
        return;
    }
    let e = compile_ptx("no_such_source", "compute_90").unwrap_err();
    assert!(matches!(e, GpuError::UnknownSource { .. }), "{e}");
    let broken =
        cudarc::nvrtc::compile_ptx("extern \"C\" __global__ void k() { undefined_thing; }");
    assert!(broken.is_err());
}

#[test]
fn every_source_builds_for_the_emulator() {
    let lib = emulator::build().unwrap_or_else(|e| panic!("{e}"));
    assert!(lib.exists());
}

#[test]
fn launches_run_on_the_emulator() {
    let dev = emulated();
    let x: Vec<f32> = (0..1000).map(|i| i as f32 - 500.0).collect();
    let xb = dev.alloc(4000).unwrap();
    let yb = dev.alloc(4000).unwrap();
    // SAFETY: both buffers hold 1000 floats; the kernel's parameters are (float*, const float*,
    // long long, int).
    unsafe {
        dev.write_from_host(xb.ptr(), bytemuck::cast_slice(&x))
            .unwrap();
        launch(
            &dev,
            "activation",
            "activation_forward_f32",
            1000,
            (yb.ptr(), xb.ptr(), 1000i64, 0i32),
        )
        .unwrap();
    }
    let mut y = vec![0f32; 1000];
    // SAFETY: 1000 floats, written above.
    unsafe {
        dev.read_to_host(yb.ptr(), bytemuck::cast_slice_mut(&mut y))
            .unwrap()
    };
    for (a, b) in x.iter().zip(&y) {
        assert_eq!(*b, a.max(0.0));
    }
    // Unknown names are errors, not crashes.
    // SAFETY: the launch fails before calling anything.
    let e = unsafe { launch(&dev, "activation", "nope", 1, (0i64,)) }.unwrap_err();
    assert!(matches!(e, GpuError::UnknownKernel { .. }), "{e}");
    // SAFETY: as above.
    let e = unsafe { launch(&dev, "nope", "nope", 1, (0i64,)) }.unwrap_err();
    assert!(matches!(e, GpuError::UnknownSource { .. }), "{e}");
}

#[test]
fn gemm_on_the_emulator_matches_the_cpu() {
    let dev = emulated();
    let (m, n, k) = (5, 7, 3);
    let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| 1.0 - i as f32 * 0.25).collect();
    let mut want = vec![0f32; m * n];
    crate::cpu::gemm::gemm(
        false, true, m, n, k, 1.0, &a, k, &b, k, 0.0, &mut want, n, 1,
    )
    .unwrap();
    let (da, db, dc) = (
        dev.alloc(4 * m * k).unwrap(),
        dev.alloc(4 * k * n).unwrap(),
        dev.alloc(4 * m * n).unwrap(),
    );
    let mut got = vec![0f32; m * n];
    // SAFETY: sizes as allocated; `b` is read as n×k transposed (stored k*n elements).
    unsafe {
        dev.write_from_host(da.ptr(), bytemuck::cast_slice(&a))
            .unwrap();
        dev.write_from_host(db.ptr(), bytemuck::cast_slice(&b))
            .unwrap();
        blas::sgemm(
            &dev,
            false,
            true,
            m,
            n,
            k,
            1.0,
            da.ptr(),
            k,
            db.ptr(),
            k,
            0.0,
            dc.ptr(),
            n,
        )
        .unwrap();
        dev.read_to_host(dc.ptr(), bytemuck::cast_slice_mut(&mut got))
            .unwrap();
    }
    assert_eq!(got, want);
}
