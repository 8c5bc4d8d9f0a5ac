// Embedding and its backward, float32 (indices, weight and gradients).

// The weight row of index value v: NaN and v < 1 give 0, v >= last gives last, else v truncated
// (as the CPU kernel, which clips instead of failing).
__device__ __forceinline__ long long embedding_row(float v, long long last) {
    double d = (double)v;
    if (!(d >= 1.0)) return 0;
    if (d >= (double)last) return last;
    return (long long)d;
}

// y (nidx, d) = rows of w (input_dim, d) picked by idx (nidx). One item per output element.
extern "C" __global__ void embedding_forward_f32(float* y, const float* idx, const float* w,
                                                 long long nidx, long long d, long long input_dim) {
    MXR_FOR(i, nidx * d) {
        long long r = i / d, c = i % d;
        y[i] = w[embedding_row(idx[r], input_dim - 1) * d + c];
    }
}

// dw (input_dim, d, zeroed before) += rows of g (nidx, d) at the rows idx picks (atomicAdd:
// indices may repeat).
extern "C" __global__ void embedding_backward_f32(float* dw, const float* g, const float* idx,
                                                  long long nidx, long long d,
                                                  long long input_dim) {
    MXR_FOR(i, nidx * d) {
        long long r = i / d, c = i % d;
        atomicAdd(&dw[embedding_row(idx[r], input_dim - 1) * d + c], g[i]);
    }
}
