// Reductions over axes (sum, mean, max, min), argmax/argmin, broadcasting back over reduced
// axes (broadcast_to, the gradients of sum and mean) and the gradient of max/min; float32.
//
// Axes are merged on the host (size-1 axes dropped, adjacent axes of the same role joined), and
// the layout arrives as a table of long longs (`tab`):
//  - reduce_reduce_f32: [kept extents (nk)][their input strides (nk)]
//                       [reduced extents (nr)][their input strides (nr)];
//  - reduce_broadcast_f32, reduce_extreme_grad_f32: [full extents (r)][reduced-array strides (r)],
//    the stride 0 along reduced axes.

// The offset of row-major item `i` of `ext[0..rank)` in an array with strides `stride`.
__device__ __forceinline__ long long reduce_offset(long long i, const long long* ext,
                                                   const long long* stride, int rank) {
    long long off = 0;
    for (int k = rank - 1; k >= 0; --k) {
        long long e = ext[k];
        off += (i % e) * stride[k];
        i /= e;
    }
    return off;
}

// Folds elements [j0, j1) of the reduced range of output `o` (sum and mean: a
// Kahan-compensated sum; max and min propagate NaN).
__device__ __forceinline__ float reduce_fold(const float* x, long long base, const long long* rext,
                                             const long long* rstr, int nr, long long j0,
                                             long long j1, int kind) {
    if (kind == MXR_REDUCE_SUM || kind == MXR_REDUCE_MEAN) {
        float sum = 0.0f, comp = 0.0f;
        for (long long j = j0; j < j1; ++j) {
            float v = x[base + reduce_offset(j, rext, rstr, nr)];
            float yv = v - comp;
            float t = sum + yv;
            comp = (t - sum) - yv;
            sum = t;
        }
        return sum;
    }
    float acc = kind == MXR_REDUCE_MAX ? -MXR_INF : MXR_INF;
    for (long long j = j0; j < j1 && acc == acc; ++j) {
        float v = x[base + reduce_offset(j, rext, rstr, nr)];
        if (v != v || (kind == MXR_REDUCE_MAX ? v > acc : v < acc)) acc = v;
    }
    return acc;
}

// kind: MXR_REDUCE_SUM, _MEAN (the sum divided by `count`), _MAX, _MIN
// (mxr_kernels::cuda::codes, from cpu::reduce::Reducer).
// One item per output element.
extern "C" __global__ void reduce_reduce_f32(float* y, const float* x, const long long* tab,
                                             int nk, int nr, long long nout, long long nred,
                                             int kind, float count) {
    const long long* rext = tab + 2 * nk;
    const long long* rstr = tab + 2 * nk + nr;
    MXR_FOR(o, nout) {
        long long base = reduce_offset(o, tab, tab + nk, nk);
        float v = reduce_fold(x, base, rext, rstr, nr, 0, nred, kind);
        y[o] = kind == MXR_REDUCE_MEAN ? v / count : v;
    }
}

// The first pass of a long reduction into few outputs: partial[o * nchunks + c] folds chunk c
// (`chunk` elements) of output o's reduced range (sums for sum and mean).
extern "C" __global__ void reduce_partial_f32(float* partial, const float* x, const long long* tab,
                                              int nk, int nr, long long nout, long long nred,
                                              long long chunk, long long nchunks, int kind) {
    const long long* rext = tab + 2 * nk;
    const long long* rstr = tab + 2 * nk + nr;
    MXR_FOR(i, nout * nchunks) {
        long long o = i / nchunks, c = i % nchunks;
        long long base = reduce_offset(o, tab, tab + nk, nk);
        long long j0 = c * chunk;
        long long j1 = j0 + chunk < nred ? j0 + chunk : nred;
        partial[i] = reduce_fold(x, base, rext, rstr, nr, j0, j1, kind);
    }
}

// The second pass: y[o] folds partial[o * nchunks .. (o + 1) * nchunks) (mean: / count).
extern "C" __global__ void reduce_combine_f32(float* y, const float* partial, long long nout,
                                              long long nchunks, int kind, float count) {
    const long long one = 1;
    MXR_FOR(o, nout) {
        float v = reduce_fold(partial, o * nchunks, &nchunks, &one, 1, 0, nchunks, kind);
        y[o] = kind == MXR_REDUCE_MEAN ? v / count : v;
    }
}

// y[i] = x[o(i)] over the n elements of the full array (o: the reduced element i belongs to);
// divided by `count` when `divide` (the gradient of mean).
extern "C" __global__ void reduce_broadcast_f32(float* y, const float* x, const long long* tab,
                                                int rank, long long n, int divide, float count) {
    MXR_FOR(i, n) {
        float v = x[reduce_offset(i, tab, tab + rank, rank)];
        y[i] = divide ? v / count : v;
    }
}

// broadcast_to for elements of 1, 2, 4 and 8 bytes (any dtype): y[i] = x[o(i)].
#define REDUCE_BROADCAST_BYTES(NAME, T)                                                      \
    extern "C" __global__ void NAME(T* y, const T* x, const long long* tab, int rank,       \
                                    long long n) {                                          \
        MXR_FOR(i, n) { y[i] = x[reduce_offset(i, tab, tab + rank, rank)]; }                 \
    }

REDUCE_BROADCAST_BYTES(reduce_broadcast_b1, unsigned char)
REDUCE_BROADCAST_BYTES(reduce_broadcast_b2, unsigned short)
REDUCE_BROADCAST_BYTES(reduce_broadcast_b4, unsigned int)
REDUCE_BROADCAST_BYTES(reduce_broadcast_b8, unsigned long long)

// dx[i] = x[i] == y[o] ? g[o] : 0 (every tied element gets the gradient).
extern "C" __global__ void reduce_extreme_grad_f32(float* dx, const float* x, const float* y,
                                                   const float* g, const long long* tab, int rank,
                                                   long long n) {
    MXR_FOR(i, n) {
        long long o = reduce_offset(i, tab, tab + rank, rank);
        dx[i] = x[i] == y[o] ? g[o] : 0.0f;
    }
}

// Whether v replaces best in argmax (largest) / argmin: the first NaN wins and stays.
__device__ __forceinline__ bool reduce_arg_better(float v, float best, int largest) {
    if (best != best) return false;
    return v != v || (largest ? v > best : v < best);
}

// The index (as a float) of the first largest (`largest`) or smallest element along the middle
// axis of an (outer, n, inner) array; NaN counts as the most extreme (the first NaN wins); an
// empty axis gives 0. One item per (outer, inner) pair.
extern "C" __global__ void reduce_arg_f32(float* y, const float* x, long long outer, long long n,
                                          long long inner, int largest) {
    MXR_FOR(i, outer * inner) {
        long long a = i / inner, b = i % inner;
        const float* row = x + a * n * inner + b;
        float best = n > 0 ? row[0] : 0.0f;
        long long index = 0;
        for (long long k = 1; k < n; ++k) {
            float v = row[k * inner];
            if (reduce_arg_better(v, best, largest)) {
                best = v;
                index = k;
            }
        }
        y[i] = (float)index;
    }
}

// The first pass of a long arg-reduction into few outputs: for output p and chunk c (`chunk`
// elements of the axis, none empty), the chunk's extreme value pval[p * nchunks + c] and its
// index along the axis, as a float (the output's type) pidx[...].
extern "C" __global__ void reduce_arg_partial_f32(float* pval, float* pidx, const float* x,
                                                  long long outer, long long n, long long inner,
                                                  long long chunk, long long nchunks,
                                                  int largest) {
    MXR_FOR(i, outer * inner * nchunks) {
        long long p = i / nchunks, c = i % nchunks;
        long long a = p / inner, b = p % inner;
        const float* row = x + a * n * inner + b;
        long long k0 = c * chunk;
        long long k1 = k0 + chunk < n ? k0 + chunk : n;
        float best = row[k0 * inner];
        long long index = k0;
        for (long long k = k0 + 1; k < k1; ++k) {
            float v = row[k * inner];
            if (reduce_arg_better(v, best, largest)) {
                best = v;
                index = k;
            }
        }
        pval[i] = best;
        pidx[i] = (float)index;
    }
}

// The second pass: the index of the first chunk holding the extreme (chunks in order, so the
// first index on ties, as one pass would find).
extern "C" __global__ void reduce_arg_combine_f32(float* y, const float* pval, const float* pidx,
                                                  long long nout, long long nchunks,
                                                  int largest) {
    MXR_FOR(o, nout) {
        const float* v = pval + o * nchunks;
        float best = v[0];
        long long at = 0;
        for (long long c = 1; c < nchunks; ++c) {
            if (reduce_arg_better(v[c], best, largest)) {
                best = v[c];
                at = c;
            }
        }
        y[o] = pidx[o * nchunks + at];
    }
}
