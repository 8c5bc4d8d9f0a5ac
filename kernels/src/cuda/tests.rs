//! Kernel sources compile (NVRTC, when present; the emulator's C++ compiler always) and the
//! launch path runs them (emulated device).

use std::sync::Arc;

use mxr_engine::gpu::{self, GpuDevice};

use super::activation::ActCode;
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

/// The kernels a source defines outside macros (`extern "C" __global__ void NAME(` on a line
/// that does not continue a `#define`).
fn plain_kernel_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| !line.trim_end().ends_with('\\'))
        .filter_map(|line| line.split("__global__ void ").nth(1))
        .filter_map(|rest| rest.split('(').next())
        .map(str::trim)
        .collect()
}

/// The kernels of a PTX module (`.entry NAME(`), macro-made ones included.
fn ptx_entries(ptx: &str) -> Vec<&str> {
    ptx.split(".entry ")
        .skip(1)
        .filter_map(|rest| rest.split('(').next())
        .map(str::trim)
        .collect()
}

/// PTX for a virtual architecture (the fallback): every kernel of the source is an entry.
fn ptx_of(name: &str, text: &str) -> String {
    let image = compile(name, Target::Ptx(90)).unwrap_or_else(|e| panic!("{e}"));
    let Image::Ptx(ptx) = &*image else {
        panic!("{name}: compute_90 gave a CUBIN")
    };
    assert!(ptx.contains(".target sm_90"), "{name}");
    let entries = ptx_entries(ptx);
    for kernel in plain_kernel_names(text) {
        assert!(entries.contains(&kernel), "{name}: no entry {kernel}");
    }
    assert!(!entries.is_empty(), "{name}: no kernel");
    ptx.clone()
}

/// Every source compiles to a CUBIN for Volta, Ampere and Hopper, as the GPU path loads them
/// (an ELF for NVIDIA's GPUs holding each of the source's kernels), and to PTX, the fallback.
/// No GPU needed.
#[test]
fn nvrtc_compiles_every_source_to_a_cubin_for_sm_70_80_90() {
    if !have_nvrtc() {
        return;
    }
    let supported = supported_archs().unwrap_or_else(|e| panic!("{e}"));
    assert!(!sources().is_empty());
    for (name, text) in sources() {
        let ptx = ptx_of(name, text);
        for sm in [70, 80, 90] {
            assert!(
                supported.contains(&sm),
                "NVRTC lacks sm_{sm}: {supported:?}"
            );
            let image = compile(name, Target::Cubin(sm)).unwrap_or_else(|e| panic!("{e}"));
            let Image::Cubin(elf) = &*image else {
                panic!("{name}: sm_{sm} gave {image:?}")
            };
            assert_eq!(&elf[..4], b"\x7fELF", "{name} sm_{sm}: not an ELF");
            // e_machine (offset 18, little-endian) is EM_CUDA.
            assert_eq!(
                u16::from_le_bytes([elf[18], elf[19]]),
                190,
                "{name} sm_{sm}"
            );
            for kernel in ptx_entries(&ptx) {
                assert!(
                    elf.windows(kernel.len()).any(|w| w == kernel.as_bytes()),
                    "{name} sm_{sm}: no {kernel} in the CUBIN"
                );
            }
        }
    }
}

#[test]
fn a_device_gets_a_cubin_for_its_own_architecture_else_ptx() {
    // NVRTC 12.9's list.
    let nvrtc_12_9 = [
        50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 103, 120, 121,
    ];
    let for_device = |major, minor| Target::for_device(major, minor, &nvrtc_12_9);
    assert_eq!(for_device(7, 0), Ok(Target::Cubin(70)));
    assert_eq!(for_device(8, 6), Ok(Target::Cubin(86)));
    assert_eq!(for_device(9, 0), Ok(Target::Cubin(90)));
    assert_eq!(for_device(12, 0), Ok(Target::Cubin(120)));
    // A GPU newer than this NVRTC: PTX of the newest architecture below it, JIT-compiled.
    assert_eq!(for_device(13, 0), Ok(Target::Ptx(121)));
    assert_eq!(for_device(8, 8), Ok(Target::Ptx(87)));
    // Older than every target: no code can run there.
    let e = for_device(3, 5).unwrap_err();
    assert!(
        matches!(&e, GpuError::UnsupportedArch { arch, .. } if arch == "sm_35"),
        "{e}"
    );
    assert!(e.to_string().contains("sm_50"), "{e}");
    assert_eq!(Target::Cubin(90).to_string(), "sm_90");
    assert_eq!(Target::Ptx(90).to_string(), "compute_90");
}

#[test]
fn nvrtc_reports_a_broken_source_with_its_log() {
    if !have_nvrtc() {
        return;
    }
    let e = compile("no_such_source", Target::Cubin(90)).unwrap_err();
    assert!(matches!(e, GpuError::UnknownSource { .. }), "{e}");
    let broken = "extern \"C\" __global__ void k() { undefined_thing; }";
    for target in [Target::Cubin(90), Target::Ptx(90)] {
        let e = nvrtc::compile_text("broken", broken, target).unwrap_err();
        assert!(
            matches!(&e, GpuError::Compile { source_name, arch, log }
                if source_name == "broken" && *arch == target.to_string()
                    && log.contains("undefined_thing")),
            "{e}"
        );
    }
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
    let (xs, ys) = (DeviceSlice::of_buffer(&xb), DeviceSlice::of_buffer(&yb));
    memory::write(&dev, xs, &x).unwrap();
    activation::forward(&dev, ActCode::Relu, ys, xs, 1000).unwrap();
    let mut y = vec![0f32; 1000];
    memory::read(&dev, ys, &mut y).unwrap();
    for (a, b) in x.iter().zip(&y) {
        assert_eq!(*b, a.max(0.0));
    }
    // Unknown names are errors, not crashes.
    // SAFETY: the launch fails before calling anything.
    let e = unsafe { launch(&dev, Source::Activation, "nope", 1, (0i64,)) }.unwrap_err();
    assert!(matches!(e, GpuError::UnknownKernel { .. }), "{e}");
    assert!(matches!(
        source("nope"),
        Err(GpuError::UnknownSource { .. })
    ));
    // A slice shorter than the count is an error before anything runs.
    let e = activation::forward(&dev, ActCode::Relu, ys, xs, 1001).unwrap_err();
    assert!(matches!(e, GpuError::Argument { .. }), "{e}");
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
    let slice = DeviceSlice::<f32>::of_buffer;
    memory::write(&dev, slice(&da), &a).unwrap();
    memory::write(&dev, slice(&db), &b).unwrap();
    blas::sgemm(
        &dev,
        false,
        true,
        m,
        n,
        k,
        1.0,
        slice(&da),
        k,
        slice(&db),
        k,
        0.0,
        slice(&dc),
        n,
    )
    .unwrap();
    memory::read(&dev, slice(&dc), &mut got).unwrap();
    assert_eq!(got, want);
    // A product past its buffers is an error, not a stray write.
    let e = blas::sgemm(
        &dev,
        false,
        true,
        m + 1,
        n,
        k,
        1.0,
        slice(&da),
        k,
        slice(&db),
        k,
        0.0,
        slice(&dc),
        n,
    )
    .unwrap_err();
    assert!(matches!(e, GpuError::Argument { .. }), "{e}");
}

#[test]
fn slices_check_their_bounds_and_copies_their_overlap() {
    let dev = emulated();
    let buf = dev.alloc(64).unwrap();
    let all = DeviceSlice::<f32>::of_buffer(&buf);
    assert_eq!(all.len(), 16);
    let tail = all.range(12, 4).unwrap();
    assert_eq!(tail.ptr(), buf.ptr().offset(48));
    assert!(matches!(all.range(13, 4), Err(GpuError::Argument { .. })));
    assert!(matches!(
        all.range(usize::MAX, 2),
        Err(GpuError::Argument { .. })
    ));
    // Bytes as floats: a misaligned start is an error, a trailing partial element left out.
    let bytes = all.cast::<u8>().unwrap();
    assert_eq!(bytes.len(), 64);
    assert!(matches!(
        bytes.range(1, 8).unwrap().cast::<f32>(),
        Err(GpuError::Argument { .. })
    ));
    assert_eq!(bytes.range(4, 7).unwrap().cast::<f32>().unwrap().len(), 1);
    // Copies: the same range is left alone, an overlapping one refused, a short target refused.
    let x: Vec<f32> = (0..16).map(|i| i as f32).collect();
    memory::write(&dev, all, &x).unwrap();
    memory::copy(&dev, all, all).unwrap();
    let (head, mid) = (all.range(0, 8).unwrap(), all.range(4, 8).unwrap());
    assert!(matches!(
        memory::copy(&dev, head, mid),
        Err(GpuError::Argument { .. })
    ));
    assert!(matches!(
        memory::copy(&dev, tail, head),
        Err(GpuError::Argument { .. })
    ));
    memory::copy(&dev, all.range(8, 8).unwrap(), head).unwrap();
    let mut got = vec![0f32; 16];
    memory::read(&dev, all, &mut got).unwrap();
    assert_eq!(&got[8..], &x[..8]);
    memory::zero(&dev, head).unwrap();
    memory::read(&dev, all, &mut got).unwrap();
    assert_eq!(&got[..8], &[0.0; 8]);
    assert_eq!(&got[8..], &x[..8]);
}

#[test]
fn codes_header_defines_every_code_once() {
    let header = codes::header();
    for (name, value) in [
        ("MXR_ACT_RELU", codes::ActCode::Relu as i32),
        ("MXR_ACT_SOFTSIGN", codes::ActCode::SoftSign as i32),
        ("MXR_BINARY_DIV", codes::BinaryCode::Div as i32),
        ("MXR_LEAKY_GELU", codes::LeakyCode::Gelu as i32),
        ("MXR_POOL_SUM", codes::PoolCode::Sum as i32),
        ("MXR_SCALAR_POWER", 6),
        ("MXR_UNARY_SOFTSIGN", 10),
        ("MXR_REDUCE_MIN", 3),
    ] {
        let line = format!("#define {name} {value}\n");
        assert_eq!(header.matches(&line).count(), 1, "{name} in {header}");
    }
    // The sources switch on the names, not on literal codes.
    let activation = source("activation").unwrap();
    assert!(activation.contains("case MXR_ACT_RELU:"));
    for name in ["activation", "leaky_relu", "scalar", "unary"] {
        assert!(!source(name).unwrap().contains("case 0:"), "{name}");
    }
    assert!(source("pooling").unwrap().contains("kind == MXR_POOL_MAX"));
    assert!(
        source("reduce")
            .unwrap()
            .contains("kind == MXR_REDUCE_MEAN")
    );
}
