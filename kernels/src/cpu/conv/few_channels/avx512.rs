//! The AVX-512 kernels of [`super`]: the forward tile (two chunks by up to 12 output channels,
//! 24 zmm accumulators) and the weight-gradient tile (up to 5 output channels by 5 taps, 25
//! accumulators, with the 5 `dy` vectors of a chunk). The tile sizes are const generics, so
//! the loops over them unroll and the accumulators stay in registers; [`forward`] and
//! [`wgrad`] pick the instance for a run-time size.

use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_loadu_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::{Chunk, LANES};

/// One forward call: every chunk of one image, for one group of output channels.
///
/// For tap `t < taps`, the input of a chunk's first-row lanes `lo` is at
/// `x + chunk.x + offsets[t] + i` for lane `i`, that of its next-row lanes `hi` `shift` floats
/// further on; the weights of tap `t` are `w[t·FB .. t·FB + FB]`, the bias `bias[..FB]`; lane
/// `i` of output channel `f` is stored at `y + f·plane + chunk.out + i`.
#[derive(Debug)]
pub(crate) struct ForwardJob {
    pub(crate) x: *const f32,
    pub(crate) offsets: *const usize,
    pub(crate) taps: usize,
    pub(crate) shift: usize,
    pub(crate) w: *const f32,
    pub(crate) bias: *const f32,
    pub(crate) chunks: *const Chunk,
    pub(crate) n_chunks: usize,
    pub(crate) y: *mut f32,
    pub(crate) plane: usize,
}

/// One weight-gradient call: one tile over a block of images.
///
/// For image `n < images`, channel `f < FL` and chunk `c`, the `dy` lanes are at
/// `dy + n·dy_image + f·plane + c.out + i`; the input of tap `t < TL` at
/// `x + n·x_image + c.x + offsets[t] + i` (lanes `lo`) or `shift` floats further on (lanes
/// `hi`). `acc` holds `FL·TL` vectors of 16 floats, filter-major, read first unless `zero`.
#[derive(Debug)]
pub(crate) struct WgradJob {
    pub(crate) x: *const f32,
    pub(crate) x_image: usize,
    pub(crate) dy: *const f32,
    pub(crate) dy_image: usize,
    pub(crate) plane: usize,
    pub(crate) images: usize,
    pub(crate) offsets: *const usize,
    pub(crate) shift: usize,
    pub(crate) chunks: *const Chunk,
    pub(crate) n_chunks: usize,
    pub(crate) acc: *mut f32,
    pub(crate) zero: bool,
}

/// A chunk's input vector at `p`: lanes `lo` from `p`, lanes `hi` from `p + shift`, others 0.
///
/// # Safety
/// AVX-512F available; the unmasked lanes' addresses readable. Masked-off lanes are not
/// accessed (AVX-512 suppresses their faults), so `p` itself may point anywhere.
#[inline(always)]
unsafe fn chunk_input(p: *const f32, shift: usize, c: &Chunk) -> __m512 {
    // SAFETY: forwarded to the caller.
    unsafe {
        let v = _mm512_maskz_loadu_ps(c.lo, p);
        _mm512_mask_loadu_ps(v, c.hi, p.wrapping_add(shift))
    }
}

/// Runs a forward job for `fb` output channels (1 to 12).
///
/// # Safety
/// AVX-512F and FMA available; the job's pointers as [`ForwardJob`] documents.
pub(crate) unsafe fn forward(fb: usize, job: &ForwardJob) {
    macro_rules! pick {
        ($($n:literal)*) => {
            match fb {
                // SAFETY: forwarded to the caller.
                $($n => unsafe { forward_tile::<$n>(job) },)*
                _ => unreachable!("forward tiles have 1 to 12 output channels"),
            }
        };
    }
    pick!(1 2 3 4 5 6 7 8 9 10 11 12)
}

/// [`forward`] for `FB` output channels.
///
/// # Safety
/// As [`forward`].
#[target_feature(enable = "avx512f,fma")]
unsafe fn forward_tile<const FB: usize>(job: &ForwardJob) {
    // SAFETY: (the whole body) the caller guarantees that the job's arrays hold what
    // `ForwardJob` says: `n_chunks` chunks, `taps` offsets, `taps·FB` weights, `FB` biases,
    // and every unmasked lane's input and output address in bounds.
    unsafe {
        let bias: [__m512; FB] = std::array::from_fn(|f| _mm512_set1_ps(*job.bias.add(f)));
        let empty = Chunk::default();
        let mut j = 0;
        while j < job.n_chunks {
            let a = &*job.chunks.add(j);
            let b = if j + 1 < job.n_chunks {
                &*job.chunks.add(j + 1)
            } else {
                &empty
            };
            let mut acc0 = bias;
            let mut acc1 = bias;
            let xa = job.x.wrapping_add(a.x);
            let xb = job.x.wrapping_add(b.x);
            for t in 0..job.taps {
                let off = *job.offsets.add(t);
                let va = chunk_input(xa.wrapping_add(off), job.shift, a);
                let vb = chunk_input(xb.wrapping_add(off), job.shift, b);
                let wt = job.w.add(t * FB);
                for f in 0..FB {
                    let wv = _mm512_set1_ps(*wt.add(f));
                    acc0[f] = _mm512_fmadd_ps(wv, va, acc0[f]);
                    acc1[f] = _mm512_fmadd_ps(wv, vb, acc1[f]);
                }
            }
            let (ma, mb) = (a.lo | a.hi, b.lo | b.hi);
            for f in 0..FB {
                let yf = job.y.wrapping_add(f * job.plane);
                _mm512_mask_storeu_ps(yf.wrapping_add(a.out), ma, acc0[f]);
                _mm512_mask_storeu_ps(yf.wrapping_add(b.out), mb, acc1[f]);
            }
            j += 2;
        }
    }
}

/// Runs a weight-gradient job for `fl` output channels by `tl` taps (1 to 5 each).
///
/// # Safety
/// AVX-512F and FMA available; the job's pointers as [`WgradJob`] documents.
pub(crate) unsafe fn wgrad(fl: usize, tl: usize, job: &WgradJob) {
    macro_rules! pick {
        ($($f:literal $t:literal)*) => {
            match (fl, tl) {
                // SAFETY: forwarded to the caller.
                $(($f, $t) => unsafe { wgrad_tile::<$f, $t>(job) },)*
                _ => unreachable!("weight-gradient tiles have 1 to 5 channels and taps"),
            }
        };
    }
    pick!(
        1 1 1 2 1 3 1 4 1 5
        2 1 2 2 2 3 2 4 2 5
        3 1 3 2 3 3 3 4 3 5
        4 1 4 2 4 3 4 4 4 5
        5 1 5 2 5 3 5 4 5 5
    )
}

/// [`wgrad`] for `FL` output channels by `TL` taps.
///
/// # Safety
/// As [`wgrad`].
#[target_feature(enable = "avx512f,fma")]
unsafe fn wgrad_tile<const FL: usize, const TL: usize>(job: &WgradJob) {
    // SAFETY: (the whole body) the caller guarantees that the job's arrays hold what
    // `WgradJob` says: `FL·TL·16` accumulator floats, `TL` offsets, `n_chunks` chunks, and
    // every unmasked lane's `dy` and input address in bounds.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); TL]; FL];
        if !job.zero {
            for (f, row) in acc.iter_mut().enumerate() {
                for (t, a) in row.iter_mut().enumerate() {
                    *a = _mm512_loadu_ps(job.acc.add((f * TL + t) * LANES));
                }
            }
        }
        let offs: [usize; TL] = std::array::from_fn(|t| *job.offsets.add(t));
        for n in 0..job.images {
            let xn = job.x.wrapping_add(n * job.x_image);
            let dyn_ = job.dy.wrapping_add(n * job.dy_image);
            for j in 0..job.n_chunks {
                let c = &*job.chunks.add(j);
                let m = c.lo | c.hi;
                let g: [__m512; FL] = std::array::from_fn(|f| {
                    _mm512_maskz_loadu_ps(m, dyn_.wrapping_add(f * job.plane + c.out))
                });
                let xc = xn.wrapping_add(c.x);
                // Two chunks in three lie in one output row (for LeNet's 24-pixel rows): one
                // load per tap instead of two.
                if c.hi == 0 {
                    for t in 0..TL {
                        let v = _mm512_maskz_loadu_ps(c.lo, xc.wrapping_add(offs[t]));
                        for f in 0..FL {
                            acc[f][t] = _mm512_fmadd_ps(g[f], v, acc[f][t]);
                        }
                    }
                } else {
                    for t in 0..TL {
                        let v = chunk_input(xc.wrapping_add(offs[t]), job.shift, c);
                        for f in 0..FL {
                            acc[f][t] = _mm512_fmadd_ps(g[f], v, acc[f][t]);
                        }
                    }
                }
            }
        }
        for (f, row) in acc.iter().enumerate() {
            for (t, a) in row.iter().enumerate() {
                _mm512_storeu_ps(job.acc.add((f * TL + t) * LANES), *a);
            }
        }
    }
}
