// pick and its backward: float32 data, indices of float32, float64, int32, int64, uint8 or int8
// (one kernel pair per index type, suffixed with it). The data is (outer, len, inner) around the
// axis, the indices and picked values (outer, inner); len > 0.

// The position index value v picks: v truncated toward zero (NaN as 0, huge values saturated),
// then clipped into [0, len) or, with wrap, taken modulo len (as the CPU kernel).
__device__ __forceinline__ long long pick_position(double v, long long len, int wrap) {
    double t = v != v ? 0.0 : fmax(fmin(v, 9.0e18), -9.0e18);
    long long j = (long long)t;
    if (wrap) {
        j %= len;
        return j < 0 ? j + len : j;
    }
    return j < 0 ? 0 : (j >= len ? len - 1 : j);
}

// One item per lane k = (o, i), at position p = (o, pos(idx[k]), i) of the whole array.
// forward: out[k] = in[p] (out: the lanes, in: the data). backward: out[p] = in[k] (out: the
// data's gradient, zeroed before; in: the head gradient); one position per lane, so no two
// items write the same element.
#define PICK_KERNEL(SUFFIX, IT)                                                                \
    extern "C" __global__ void pick_idx_##SUFFIX(float* out, const IT* idx, const float* in,   \
                                                 long long outer, long long len,               \
                                                 long long inner, int wrap, int backward) {    \
        MXR_FOR(k, outer * inner) {                                                            \
            long long o = k / inner, i = k % inner;                                            \
            long long p = (o * len + pick_position((double)idx[k], len, wrap)) * inner + i;    \
            if (backward) {                                                                    \
                out[p] = in[k];                                                                \
            } else {                                                                           \
                out[k] = in[p];                                                                \
            }                                                                                  \
        }                                                                                      \
    }

PICK_KERNEL(f32, float)
PICK_KERNEL(f64, double)
PICK_KERNEL(i32, int)
PICK_KERNEL(i64, long long)
PICK_KERNEL(u8, unsigned char)
PICK_KERNEL(i8, signed char)
