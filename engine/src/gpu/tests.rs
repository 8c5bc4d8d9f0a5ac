//! Device tests on the emulator (no test here opens a real GPU, so emulation can be switched on),
//! plus the no-driver error on machines without CUDA.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;

use super::device::real_count;
use super::*;
use crate::{Context, Engine, EngineConfig, Error, Operation, Var};

fn emulator() -> Arc<GpuDevice> {
    emulate(2).expect("no test in this crate opens a real GPU, so emulation can be chosen");
    GpuDevice::get(0).expect("emulated gpu(0)")
}

#[test]
fn without_a_driver_the_probe_explains_instead_of_panicking() {
    // SAFETY: only checks whether the library loads.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        mxr_test_support::skip(
            mxr_test_support::Missing::GpuHardware,
            "this machine has a CUDA driver (the test checks the error without one)",
        );
        return;
    }
    let reason = real_count().unwrap_err();
    assert!(
        reason.contains("libcuda") && reason.contains("MXR_GPU_EMULATE"),
        "{reason}"
    );
}

#[test]
fn devices_past_the_count_are_errors_naming_the_count() {
    emulator();
    let e = GpuDevice::get(2).unwrap_err();
    assert!(
        matches!(&e, Error::DeviceUnavailable { context, reason }
            if *context == Context::gpu(2) && reason.contains("gpu(0) to gpu(1)")),
        "{e}"
    );
    assert_eq!(probe().unwrap(), 2);
    assert_eq!(emulated_devices(), Some(2));
    // Switching after devices were opened is refused.
    assert!(matches!(emulate(0), Err(Error::Config { .. })));
}

#[test]
fn memory_round_trips_and_blocks_are_reused() {
    let dev = emulator();
    assert_eq!(dev.backend(), Backend::Emulated);
    let data: Vec<u8> = (0..200u8).collect();
    let a = dev.alloc(data.len()).unwrap();
    // SAFETY: `a` holds 200 bytes and nothing else uses it.
    unsafe { dev.write_from_host(a.ptr(), &data).unwrap() };
    let b = dev.alloc_zeroed(data.len()).unwrap();
    let mut back = vec![1u8; 200];
    // SAFETY: `b` holds 200 bytes, zeroed in stream order.
    unsafe { dev.read_to_host(b.ptr(), &mut back).unwrap() };
    assert!(back.iter().all(|&x| x == 0));
    // SAFETY: both hold 200 bytes; offsets stay inside.
    unsafe {
        dev.copy_async(b.ptr().offset(10), a.ptr(), 100).unwrap();
        dev.read_to_host(b.ptr(), &mut back).unwrap();
    }
    assert_eq!(&back[10..110], &data[..100]);
    assert_eq!(back[110], 0);
    let before = dev.pool_stats();
    let ptr = b.ptr();
    drop(b);
    let c = dev.alloc(256).unwrap(); // the same size class (256)
    assert_eq!(c.ptr(), ptr, "a freed block of the class is reused");
    assert_eq!(dev.pool_stats().reuses, before.reuses + 1);
}

#[test]
fn gpu_operations_run_on_the_device_worker_in_dependency_order() {
    let _dev = emulator();
    let engine = Engine::new(EngineConfig::default().with_cpu_workers(2)).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let worker = Arc::new(AtomicU32::new(0));
    let v = Var::new();
    for i in 0..20 {
        let (log, worker) = (Arc::clone(&log), Arc::clone(&worker));
        let gpu = i % 2 == 0;
        let op = if gpu {
            Operation::asynchronous("gpu step", move |rc, done| {
                worker.store(rc.worker(), Ordering::Relaxed);
                log.lock().push(i);
                let dev = GpuDevice::get(rc.context().device_id()).unwrap();
                dev.when_done(move |r| done.finish(r.map_err(Into::into)));
            })
            .context(Context::gpu(1))
        } else {
            Operation::sync("cpu step", move |_| {
                log.lock().push(i);
                Ok(())
            })
        };
        engine.push(op.writes(&[&v])).unwrap();
    }
    engine.wait_for_var(&v).unwrap();
    assert_eq!(*log.lock(), (0..20).collect::<Vec<_>>());
    assert_eq!(worker.load(Ordering::Relaxed), (1 << 20) + 1);
}

#[test]
fn pushing_to_a_missing_gpu_is_a_clear_error() {
    emulator();
    let engine = Engine::new(EngineConfig::default().with_cpu_workers(1)).unwrap();
    let e = engine
        .push(
            Operation::sync("x", |_| Ok(()))
                .context(Context::gpu(9))
                .writes(&[&Var::new()]),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("gpu(9)") && e.to_string().contains("2 GPUs"),
        "{e}"
    );
}
