// Embedding and its backward: float32 weight and gradients; indices of float32, float64,
// int32, int64, uint8 or int8 (one kernel pair per index type, suffixed with it).

// The weight row of index value v: NaN and v < 1 give 0, v >= last gives last, else v truncated
// (as the CPU kernel, which clips instead of failing).
__device__ __forceinline__ long long embedding_row(double v, long long last) {
    if (!(v >= 1.0)) return 0;
    if (v >= (double)last) return last;
    return (long long)v;
}

// forward: y (nidx, d) = rows of w (input_dim, d) picked by idx (nidx); one item per output
// element. backward: dw (input_dim, d, zeroed before) += rows of g (nidx, d) at the rows idx
// picks (atomicAdd: indices may repeat).
#define EMBEDDING_KERNELS(SUFFIX, IT)                                                        \
    extern "C" __global__ void embedding_forward_idx_##SUFFIX(                               \
        float* y, const IT* idx, const float* w, long long nidx, long long d,                \
        long long input_dim) {                                                               \
        MXR_FOR(i, nidx * d) {                                                               \
            long long r = i / d, c = i % d;                                                  \
            y[i] = w[embedding_row((double)idx[r], input_dim - 1) * d + c];                  \
        }                                                                                    \
    }                                                                                        \
    extern "C" __global__ void embedding_backward_idx_##SUFFIX(                              \
        float* dw, const float* g, const IT* idx, long long nidx, long long d,               \
        long long input_dim) {                                                               \
        MXR_FOR(i, nidx * d) {                                                               \
            long long r = i / d, c = i % d;                                                  \
            atomicAdd(&dw[embedding_row((double)idx[r], input_dim - 1) * d + c], g[i]);      \
        }                                                                                    \
    }

EMBEDDING_KERNELS(f32, float)
EMBEDDING_KERNELS(f64, double)
EMBEDDING_KERNELS(i32, int)
EMBEDDING_KERNELS(i64, long long)
EMBEDDING_KERNELS(u8, unsigned char)
EMBEDDING_KERNELS(i8, signed char)
