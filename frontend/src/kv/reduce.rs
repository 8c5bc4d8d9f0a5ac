//! The KVStore's merge: one engine operation that sums several arrays into another in one pass
//! (MXNet's `CommCPU::Reduce`, without its copies into a merge buffer).

use mxr_kernels::DType;
use mxr_kernels::cpu::elementwise::Num;
use mxr_kernels::cpu::sum::{copy_streaming, sum_n, sum_n_f16};
use smallvec::SmallVec;

use crate::Result;
use crate::dispatch::host;
use crate::nd::NDArray;

/// Below this many bytes written, the sum runs on one thread (a spawned helper costs ~20 µs).
const SPLIT_MIN_BYTES: usize = 1 << 20;

/// At most this many threads share one sum (MXNet: `MXNET_KVSTORE_REDUCTION_NTHREADS` = 4).
const MAX_THREADS: usize = 4;

/// Pushes `out = Σ sources` as one engine operation reading the sources' vars and writing
/// `out`'s. Shapes and dtypes were checked by the caller; no source shares storage with `out`.
pub(crate) fn push_sum(name: &'static str, sources: &[&NDArray], out: &NDArray) -> Result<()> {
    if !out.context().is_cpu() || sources.iter().any(|a| !a.context().is_cpu()) {
        return super::gpu_sum::push_sum(name, sources, out);
    }
    let dtype = out.dtype();
    let threads = if out.byte_range().len() >= SPLIT_MIN_BYTES {
        host::cpu_workers(out).clamp(1, MAX_THREADS)
    } else {
        1
    };
    host::push_host(name, sources, out, move |sources, out| {
        sum_bytes(dtype, sources, out, threads);
        Ok(())
    })
}

/// From this many bytes on, a pull copies with streaming stores (see [`push_pull_copy`]).
const STREAM_MIN_BYTES: usize = 1 << 20;

/// Pushes `out = stored` (a pull) as one engine operation reading `stored`'s var and writing
/// `out`'s. Big copies use streaming stores: the outputs of a broadcast then do not evict the
/// pushed values and the stored value from the caches (measured with W7: one key of 1e6 floats
/// pushed from 4 arrays and pulled into 4 is bound by memory traffic once the 36 MB working
/// set exceeds the 32 MB L3).
pub(crate) fn push_pull_copy(stored: &NDArray, out: &NDArray) -> Result<()> {
    let bytes = out.byte_range().len();
    let on_cpu = stored.context().is_cpu() && out.context().is_cpu();
    if bytes < STREAM_MIN_BYTES || out.shares_storage_with(stored) || !on_cpu {
        return out.assign(stored);
    }
    host::push_host("kvstore_pull", &[stored], out, |src, dst| {
        copy_streaming(src[0], dst);
        Ok(())
    })
}

/// `out = Σ sources` on raw element bytes of `dtype`, split over up to `threads` threads.
pub(crate) fn sum_bytes(dtype: DType, sources: &[&[u8]], out: &mut [u8], threads: usize) {
    fn typed<T: Num + bytemuck::Pod>(sources: &[&[u8]], out: &mut [u8], threads: usize) {
        // Buffers are 64-byte aligned and views start at whole elements: the casts cannot fail.
        let src: SmallVec<[&[T]; 4]> = sources.iter().map(|s| bytemuck::cast_slice(s)).collect();
        split(&src, bytemuck::cast_slice_mut(out), threads, sum_n::<T>);
    }
    match dtype {
        DType::F32 => typed::<f32>(sources, out, threads),
        DType::F64 => typed::<f64>(sources, out, threads),
        DType::I32 => typed::<i32>(sources, out, threads),
        DType::I64 => typed::<i64>(sources, out, threads),
        DType::U8 => typed::<u8>(sources, out, threads),
        DType::I8 => typed::<i8>(sources, out, threads),
        DType::F16 => {
            let src: SmallVec<[&[mxr_kernels::f16]; 4]> =
                sources.iter().map(|s| bytemuck::cast_slice(s)).collect();
            split(&src, bytemuck::cast_slice_mut(out), threads, sum_n_f16);
        }
    }
}

/// Runs `f` on `threads` contiguous parts of the output (and the matching parts of the
/// sources), the first on this thread.
fn split<T: Sync + Send>(
    sources: &[&[T]],
    out: &mut [T],
    threads: usize,
    f: fn(&[&[T]], &mut [T]),
) {
    if threads <= 1 {
        f(sources, out);
        return;
    }
    // Parts of whole cache lines (16 f32), so threads never write one line.
    let part = out.len().div_ceil(threads).next_multiple_of(16);
    std::thread::scope(|scope| {
        let mut first = None;
        for (k, o) in out.chunks_mut(part).enumerate() {
            let start = k * part;
            let srcs: SmallVec<[&[T]; 4]> =
                sources.iter().map(|s| &s[start..start + o.len()]).collect();
            if k == 0 {
                first = Some((srcs, o));
            } else {
                scope.spawn(move || f(&srcs, o));
            }
        }
        if let Some((srcs, o)) = first {
            f(&srcs, o);
        }
    });
}
