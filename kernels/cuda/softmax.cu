// softmax / log_softmax along an axis and their backward, float32. The data is viewed as
// (outer, len, inner) around the axis; one work item per lane (outer, inner) loops over the axis
// (max, sum of exponentials, outputs), in the order of the CPU kernel (mxr_kernels::cpu::softmax).

// The lane's valid length from a length array of dtype flag `ltype` (mxr_kernels::DType: 0 f32,
// 1 f64, 3 u8, 4 i32, 5 i8, 6 i64): non-positive and NaN lengths are 0, at most `len`.
__device__ __forceinline__ long long softmax_lane_length(const unsigned char* lengths, int ltype,
                                                         long long lane, long long len) {
    double v;
    switch (ltype) {
    case 0: v = (double)((const float*)lengths)[lane]; break;
    case 1: v = ((const double*)lengths)[lane]; break;
    case 3: v = (double)lengths[lane]; break;
    case 4: v = (double)((const int*)lengths)[lane]; break;
    case 5: v = (double)((const signed char*)lengths)[lane]; break;
    default: v = (double)((const long long*)lengths)[lane]; break;
    }
    if (!(v > 0.0)) return 0;
    if (v >= (double)len) return len;
    return (long long)v;
}

// y = softmax(x / t) (log: log_softmax) along the axis, max-subtracted. With `lengths` (non-null
// only for softmax), a lane's positions past its length are 0 and excluded.
extern "C" __global__ void softmax_forward_f32(float* y, const float* x, long long outer,
                                               long long len, long long inner, float t, int log,
                                               const unsigned char* lengths, int ltype) {
    MXR_FOR(lane, outer * inner) {
        long long o = lane / inner, i = lane % inner;
        const float* xl = x + o * len * inner + i;
        float* yl = y + o * len * inner + i;
        long long n = lengths ? softmax_lane_length(lengths, ltype, lane, len) : len;
        float m = 0.0f;
        if (n > 0) {
            m = xl[0];
            for (long long j = 1; j < n; ++j) m = fmaxf(m, xl[j * inner]);
        }
        float s = 0.0f;
        for (long long j = 0; j < n; ++j) {
            float z = (xl[j * inner] - m) / t;
            float e = expf(z);
            s += e;
            yl[j * inner] = log ? z : e;
        }
        for (long long j = n; j < len; ++j) yl[j * inner] = 0.0f;
        if (log) {
            float ls = logf(s);
            for (long long j = 0; j < n; ++j) yl[j * inner] -= ls;
        } else if (inner == 1 || s > 0.0f) {
            // (the CPU kernel's strided path divides only by a positive sum)
            for (long long j = 0; j < n; ++j) yl[j * inner] /= s;
        }
    }
}

// dx = y·(g − Σ g·y)/t (softmax) or (g − exp(y)·Σ g)/t (log_softmax), from the output y.
extern "C" __global__ void softmax_backward_f32(float* dx, const float* g, const float* y,
                                                long long outer, long long len, long long inner,
                                                float t, int log) {
    MXR_FOR(lane, outer * inner) {
        long long base = (lane / inner) * len * inner + lane % inner;
        float s = 0.0f;
        for (long long j = 0; j < len; ++j) {
            long long at = base + j * inner;
            s += log ? g[at] : g[at] * y[at];
        }
        for (long long j = 0; j < len; ++j) {
            long long at = base + j * inner;
            dx[at] = log ? (g[at] - expf(y[at]) * s) / t : y[at] * (g[at] - s) / t;
        }
    }
}
