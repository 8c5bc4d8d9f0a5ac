// one_hot, float32 output: y (nidx, depth) is `on` where the index (truncated toward zero) is
// the column, `off` elsewhere (and everywhere for an index outside [0, depth) or NaN). Indices
// of float32, float64, int32, int64, uint8 or int8 (one kernel per type, suffixed with it).
#define ONE_HOT_KERNEL(SUFFIX, IT)                                                           \
    extern "C" __global__ void one_hot_idx_##SUFFIX(float* y, const IT* idx, long long nidx, \
                                                    long long depth, float on, float off) {  \
        MXR_FOR(i, nidx * depth) {                                                           \
            long long r = i / depth, c = i % depth;                                          \
            double v = (double)idx[r];                                                       \
            bool hit = v > -1.0 && v < (double)depth && (long long)v == c;                   \
            y[i] = hit ? on : off;                                                           \
        }                                                                                    \
    }

ONE_HOT_KERNEL(f32, float)
ONE_HOT_KERNEL(f64, double)
ONE_HOT_KERNEL(i32, int)
ONE_HOT_KERNEL(i64, long long)
ONE_HOT_KERNEL(u8, unsigned char)
ONE_HOT_KERNEL(i8, signed char)
