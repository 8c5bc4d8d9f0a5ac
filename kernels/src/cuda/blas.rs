//! Matrix products on a GPU: cuBLAS on CUDA devices, the CPU GEMM on the emulator.
//!
//! The interface is row-major, as [`crate::cpu::gemm`]'s: `C = alpha·op(A)·op(B) + beta·C` with
//! `op(A)` `m × k`, `op(B)` `k × n`, `C` `m × n` and leading dimensions in elements. cuBLAS is
//! column-major, so the call computes `Cᵀ = op(B)ᵀ·op(A)ᵀ`, which is the same memory.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::cublas::{CudaBlas, result as cublas, sys as cublas_sys};
use mxr_engine::gpu::{Backend, GpuDevice};
use parking_lot::Mutex;

use super::{DeviceSlice, GpuError};
use crate::cpu::gemm;

/// One cuBLAS handle per device (a handle is not safe for concurrent use: hence the mutex).
static HANDLES: Mutex<Option<HashMap<u32, Arc<Mutex<CudaBlas>>>>> = Mutex::new(None);

fn handle(dev: &GpuDevice) -> Result<Arc<Mutex<CudaBlas>>, GpuError> {
    let ordinal = dev.context().device_id();
    let mut handles = HANDLES.lock();
    let map = handles.get_or_insert_with(HashMap::new);
    if let Some(h) = map.get(&ordinal) {
        return Ok(Arc::clone(h));
    }
    let driver = |reason: String| GpuError::Driver {
        context: dev.context(),
        what: "creating a cuBLAS handle".into(),
        reason,
    };
    // SAFETY: only tries to load the library and reports whether it could.
    if !unsafe { cublas_sys::is_culib_present() } {
        return Err(driver(
            "libcublas.so could not be loaded (install the CUDA toolkit's cuBLAS, or \
             `pip install nvidia-cublas-cu12` and add its lib folder to LD_LIBRARY_PATH)"
                .into(),
        ));
    }
    let (_, stream) = dev
        .cuda()
        .ok_or_else(|| driver("not a CUDA device".into()))?;
    let blas = CudaBlas::new(Arc::clone(stream)).map_err(|e| driver(format!("{e:?}")))?;
    let h = Arc::new(Mutex::new(blas));
    map.insert(ordinal, Arc::clone(&h));
    Ok(h)
}

/// A strided batch of row-major single-precision products (see the module docs), queued on the
/// device's compute stream. `batch == 1` is a plain GEMM; strides are in elements.
///
/// Each slice must hold the matrices the sizes, leading dimensions and strides describe (their
/// extents are checked), and `c` must not overlap `a` or `b`; an error otherwise.
#[allow(
    clippy::too_many_arguments,
    reason = "the BLAS gemm_batch_strided signature"
)]
pub fn sgemm_strided_batched(
    dev: &GpuDevice,
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: DeviceSlice<'_, f32>,
    lda: usize,
    stride_a: usize,
    b: DeviceSlice<'_, f32>,
    ldb: usize,
    stride_b: usize,
    beta: f32,
    c: DeviceSlice<'_, f32>,
    ldc: usize,
    stride_c: usize,
    batch: usize,
) -> Result<(), GpuError> {
    if m == 0 || n == 0 || batch == 0 {
        return Ok(());
    }
    let extent = |rows: usize, cols: usize, ld: usize, stride: usize| {
        (batch - 1) * stride + (rows - 1) * ld + cols
    };
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if trans_b { (n, k) } else { (k, n) };
    let a_len = if k == 0 {
        0
    } else {
        extent(ar, ac, lda, stride_a)
    };
    let b_len = if k == 0 {
        0
    } else {
        extent(br, bc, ldb, stride_b)
    };
    let c_len = extent(m, n, ldc, stride_c);
    const K: &str = "sgemm";
    let a = a
        .range(0, a_len)
        .map_err(|_| too_short("a", a.len(), a_len))?;
    let b = b
        .range(0, b_len)
        .map_err(|_| too_short("b", b.len(), b_len))?;
    let c = c
        .range(0, c_len)
        .map_err(|_| too_short("c", c.len(), c_len))?;
    if c.overlaps(&a) || c.overlaps(&b) {
        return Err(GpuError::Argument {
            kernel: K.into(),
            reason: "the product overlaps an operand".into(),
        });
    }
    let (a, b, c) = (a.ptr(), b.ptr(), c.ptr());
    match dev.backend() {
        Backend::Emulated => {
            // SAFETY: on the emulator device pointers are host addresses; the slices vouch for
            // live memory of at least the matrices' extents (checked above), `c` overlaps
            // neither input (checked above), and no other work runs on emulated memory while
            // this call does (emulated work runs when queued, in dependency order).
            let (a, b, c) = unsafe {
                (
                    std::slice::from_raw_parts(a.0 as *const f32, a_len),
                    std::slice::from_raw_parts(b.0 as *const f32, b_len),
                    std::slice::from_raw_parts_mut(c.0 as *mut f32, c_len),
                )
            };
            gemm::batched_gemm(
                trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                stride_c, batch, 1,
            )
            .map_err(|e| GpuError::Emulator {
                reason: format!("gemm: {e}"),
            })
        }
        Backend::Cuda => {
            let int = |v: usize, what: &str| {
                i32::try_from(v).map_err(|_| GpuError::Driver {
                    context: dev.context(),
                    what: "cublasSgemmStridedBatched".into(),
                    reason: format!("{what} = {v} exceeds cuBLAS's 32-bit sizes"),
                })
            };
            let op = |t: bool| {
                if t {
                    cublas_sys::cublasOperation_t::CUBLAS_OP_T
                } else {
                    cublas_sys::cublasOperation_t::CUBLAS_OP_N
                }
            };
            let h = handle(dev)?;
            let guard = h.lock();
            dev.bind()?;
            // SAFETY: column-major view of the row-major problem (module docs): swapping the
            // operands and m/n computes Cᵀ = op(B)ᵀ op(A)ᵀ in the same memory. Pointers and
            // extents are checked above (the slices vouch for the memory); alpha/beta are read before the call returns.
            unsafe {
                cublas::sgemm_strided_batched(
                    *guard.handle(),
                    op(trans_b),
                    op(trans_a),
                    int(n, "n")?,
                    int(m, "m")?,
                    int(k, "k")?,
                    &alpha,
                    b.0 as *const f32,
                    int(ldb, "ldb")?,
                    stride_b as i64,
                    a.0 as *const f32,
                    int(lda, "lda")?,
                    stride_a as i64,
                    &beta,
                    c.0 as *mut f32,
                    int(ldc, "ldc")?,
                    stride_c as i64,
                    int(batch, "batch")?,
                )
            }
            .map_err(|e| GpuError::Driver {
                context: dev.context(),
                what: "cublasSgemmStridedBatched".into(),
                reason: format!("{e:?}"),
            })
        }
    }
}

/// One row-major single-precision product: [`sgemm_strided_batched`] with a batch of one.
#[allow(clippy::too_many_arguments, reason = "the BLAS gemm signature")]
pub fn sgemm(
    dev: &GpuDevice,
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: DeviceSlice<'_, f32>,
    lda: usize,
    b: DeviceSlice<'_, f32>,
    ldb: usize,
    beta: f32,
    c: DeviceSlice<'_, f32>,
    ldc: usize,
) -> Result<(), GpuError> {
    sgemm_strided_batched(
        dev, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1,
    )
}

fn too_short(arg: &str, len: usize, needed: usize) -> GpuError {
    GpuError::Argument {
        kernel: "sgemm".into(),
        reason: format!("`{arg}` holds {len} floats, the product touches {needed}"),
    }
}
