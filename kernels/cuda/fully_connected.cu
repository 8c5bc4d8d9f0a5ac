// FullyConnected's bias kernels, float32 (the products are cuBLAS GEMMs: mxr_kernels::cuda::blas).

// y (rows × h) ← b broadcast over the rows; the GEMM then adds x·Wᵀ (beta = 1).
extern "C" __global__ void fully_connected_bias_rows_f32(float* y, const float* b, long long rows,
                                                         long long h) {
    MXR_FOR(i, rows * h) { y[i] = b[i % h]; }
}

// db[j] = Σ_r g[r, j] (g is rows × h): one item per column, summing the rows in order.
extern "C" __global__ void fully_connected_bias_grad_f32(float* db, const float* g, long long rows,
                                                         long long h) {
    MXR_FOR(j, h) {
        float s = 0.0f;
        for (long long r = 0; r < rows; ++r) s += g[r * h + j];
        db[j] = s;
    }
}
