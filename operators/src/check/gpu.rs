//! Running an operator's GPU kernel on host data, and comparing it with its CPU kernel: how every
//! GPU kernel is tested (on a real GPU when there is one, else on the emulator).

use std::sync::Arc;

use mxr_engine::gpu::{self, GpuBuffer, GpuDevice};
use mxr_kernels::cpu::random::Rng;
use mxr_kernels::cuda::{DeviceSlice, memory};

use super::{HostTensor, infer_shapes, infer_types, run_seeded};
use crate::registry::{GpuOpContext, GpuTensor, Operator, Resource, Shape, gpu_error};
use crate::{Error, Result};

/// The device GPU tests run on: the real `gpu(0)` when there is one; otherwise an emulated one
/// (the emulator is switched on for the process), with a notice on stderr saying so. With
/// `MXR_REQUIRE_GPU=1`, a missing GPU is an error instead.
pub fn test_device() -> Result<Arc<GpuDevice>> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    let real = gpu::emulated_devices().is_none() && gpu::probe().is_ok_and(|n| n > 0);
    if real {
        return GpuDevice::get(0).map_err(|e| gpu_error("test_device", e.into()));
    }
    if std::env::var("MXR_REQUIRE_GPU").is_ok_and(|v| v == "1") && gpu::emulated_devices().is_none()
    {
        return Err(Error::Unsupported {
            op: "test_device".into(),
            what: format!(
                "MXR_REQUIRE_GPU=1 but no GPU is usable: {}",
                gpu::probe()
                    .err()
                    .map_or("0 devices".into(), |e| e.to_string())
            ),
        });
    }
    NOTICE.call_once(|| {
        eprintln!("notice: no GPU here; GPU kernels are checked on the mxr GPU emulator");
    });
    // Fails only if a real device was opened before, in which case `get` below uses it.
    let _ = gpu::emulate(2);
    GpuDevice::get(0).map_err(|e| gpu_error("test_device", e.into()))
}

/// Runs `op`'s GPU kernel on `dev` with host inputs; returns every output (hidden ones
/// included) and updates mutated inputs, as [`run_seeded`](super::run_seeded) does on the CPU.
/// Random operators draw from a host generator seeded with `seed`.
pub fn run_gpu_seeded(
    op: &dyn Operator,
    dev: &Arc<GpuDevice>,
    inputs: &mut [HostTensor],
    is_train: bool,
    seed: u64,
) -> Result<Vec<HostTensor>> {
    let name = op.name();
    let shapes: Vec<Shape> = inputs.iter().map(|t| Shape::known(t.shape())).collect();
    let (_, out_shapes) = infer_shapes(op, &shapes)?;
    let types: Vec<_> = inputs.iter().map(|t| Some(t.dtype())).collect();
    let (_, out_types) = infer_types(op, &types)?;
    let upload = |t: &HostTensor| -> Result<GpuBuffer> {
        let b = dev
            .alloc(t.bytes().len())
            .map_err(|e| gpu_error(name, e.into()))?;
        memory::write(dev, DeviceSlice::of_buffer(&b), t.bytes())
            .map_err(|e| gpu_error(name, e))?;
        Ok(b)
    };
    let in_bufs = inputs.iter().map(upload).collect::<Result<Vec<_>>>()?;
    let mut outputs = Vec::new();
    for (i, (shape, dtype)) in out_shapes.iter().zip(&out_types).enumerate() {
        let (Some(dims), Some(dtype)) = (shape.dims(), dtype) else {
            return Err(Error::Shape {
                op: name.into(),
                reason: format!("output {i} could not be inferred ({shape})"),
                inputs: String::new(),
            });
        };
        // Outputs start as NaN (floats; integers as their conversion of NaN): a kernel that
        // leaves an element unwritten shows up as a difference from the CPU.
        let mut t = HostTensor::zeros(&dims, *dtype);
        t.view_mut().fill(f64::NAN);
        outputs.push(t);
    }
    let mutated = op.mutate_inputs();
    let out_bufs = outputs
        .iter()
        .chain(mutated.iter().map(|&i| &inputs[i]))
        .map(upload)
        .collect::<Result<Vec<_>>>()?;
    let mut rng = Rng::seed(seed);
    let wants_rng = op.resources().contains(&Resource::Random);
    let mut ctx = GpuOpContext {
        is_train,
        device: dev,
        rng: wants_rng.then_some(&mut rng),
        needed: None,
        deferred: Vec::new(),
    };
    let mutated_tensors: Vec<HostTensor> = mutated.iter().map(|&i| inputs[i].clone()).collect();
    {
        let in_views: Vec<GpuTensor<'_>> = inputs
            .iter()
            .zip(&in_bufs)
            .map(|(t, b)| GpuTensor::new(name, t.shape(), t.dtype(), DeviceSlice::of_buffer(b)))
            .collect::<Result<_>>()?;
        let out_views: Vec<GpuTensor<'_>> = outputs
            .iter()
            .chain(&mutated_tensors)
            .zip(&out_bufs)
            .map(|(t, b)| GpuTensor::new(name, t.shape(), t.dtype(), DeviceSlice::of_buffer(b)))
            .collect::<Result<_>>()?;
        op.forward_gpu(&mut ctx, &in_views, &out_views)?;
    }
    dev.synchronize().map_err(|e| gpu_error(name, e.into()))?;
    // The buffers are alive (held above) while the deferred checks read them.
    for check in std::mem::take(&mut ctx.deferred) {
        check()?;
    }
    let n_out = outputs.len();
    for (k, b) in out_bufs.iter().enumerate() {
        let target = if k < n_out {
            &mut outputs[k]
        } else {
            &mut inputs[mutated[k - n_out]]
        };
        memory::read(dev, DeviceSlice::of_buffer(b), target.bytes_mut())
            .map_err(|e| gpu_error(name, e))?;
    }
    Ok(outputs)
}

/// Runs `op` on the CPU and on `dev` with the same inputs and compares every output (and every
/// mutated input) elementwise: `|gpu - cpu| <= atol + rtol * |cpu|`. The error names the op,
/// the output and the first differing element. Random operators are compared with the same
/// seed (GPU kernels draw from the host generator in the CPU kernel's order).
pub fn compare_with_cpu(
    op: &dyn Operator,
    dev: &Arc<GpuDevice>,
    inputs: &[HostTensor],
    is_train: bool,
    rtol: f64,
    atol: f64,
) -> Result<()> {
    let mut cpu_in = inputs.to_vec();
    let mut gpu_in = inputs.to_vec();
    let cpu = run_seeded(op, &mut cpu_in, is_train, 7)?;
    let gpu = run_gpu_seeded(op, dev, &mut gpu_in, is_train, 7)?;
    let mutated = op.mutate_inputs();
    let pairs = cpu
        .iter()
        .zip(&gpu)
        .enumerate()
        .map(|(k, (c, g))| (format!("output {k}"), c, g))
        .chain(
            mutated
                .iter()
                .map(|&i| (format!("mutated input {i}"), &cpu_in[i], &gpu_in[i])),
        );
    for (what, c, g) in pairs {
        if c.shape() != g.shape() {
            return Err(mismatch(
                op,
                &what,
                format!("shapes {:?} vs {:?}", c.shape(), g.shape()),
            ));
        }
        for (j, (x, y)) in c.to_f64().iter().zip(g.to_f64()).enumerate() {
            let same =
                (x.is_nan() && y.is_nan()) || x == &y || (y - x).abs() <= atol + rtol * x.abs();
            if !same {
                return Err(mismatch(
                    op,
                    &what,
                    format!("element {j}: cpu {x}, gpu {y}"),
                ));
            }
        }
    }
    Ok(())
}

fn mismatch(op: &dyn Operator, what: &str, detail: String) -> Error {
    Error::BadInput {
        op: op.name().to_string(),
        reason: format!("GPU and CPU differ in {what}: {detail}"),
    }
}
