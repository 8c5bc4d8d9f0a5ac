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

// kind: 0 sum, 1 mean, 2 max, 3 min (mxr_operators reduce::gpu). Sums are Kahan-compensated,
// as the CPU kernel's; max and min propagate NaN. One item per output element.
extern "C" __global__ void reduce_reduce_f32(float* y, const float* x, const long long* tab,
                                             int nk, int nr, long long nout, long long nred,
                                             int kind) {
    const long long* kext = tab;
    const long long* kstr = tab + nk;
    const long long* rext = tab + 2 * nk;
    const long long* rstr = tab + 2 * nk + nr;
    MXR_FOR(o, nout) {
        long long base = reduce_offset(o, kext, kstr, nk);
        if (kind <= 1) {
            float sum = 0.0f, comp = 0.0f;
            for (long long j = 0; j < nred; ++j) {
                float v = x[base + reduce_offset(j, rext, rstr, nr)];
                float yv = v - comp;
                float t = sum + yv;
                comp = (t - sum) - yv;
                sum = t;
            }
            y[o] = kind == 1 ? sum / (float)nred : sum;
        } else {
            float acc = kind == 2 ? -MXR_INF : MXR_INF;
            for (long long j = 0; j < nred; ++j) {
                float v = x[base + reduce_offset(j, rext, rstr, nr)];
                if (acc != acc) break;
                if (v != v || (kind == 2 ? v > acc : v < acc)) acc = v;
            }
            y[o] = acc;
        }
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

// dx[i] = x[i] == y[o] ? g[o] : 0 (every tied element gets the gradient).
extern "C" __global__ void reduce_extreme_grad_f32(float* dx, const float* x, const float* y,
                                                   const float* g, const long long* tab, int rank,
                                                   long long n) {
    MXR_FOR(i, n) {
        long long o = reduce_offset(i, tab, tab + rank, rank);
        dx[i] = x[i] == y[o] ? g[o] : 0.0f;
    }
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
        for (long long k = 1; k < n && best == best; ++k) {
            float v = row[k * inner];
            if (v != v || (largest ? v > best : v < best)) {
                best = v;
                index = k;
            }
        }
        y[i] = (float)index;
    }
}
