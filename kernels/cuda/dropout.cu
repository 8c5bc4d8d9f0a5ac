// Dropout and its backward, float32; the mask is drawn on the host (see mxr_operators dropout).

// y = a * b (the output data * mask, and the gradient ograd * mask).
extern "C" __global__ void dropout_mul_f32(float* y, const float* a, const float* b,
                                           long long n) {
    MXR_FOR(i, n) { y[i] = a[i] * b[i]; }
}

// y = v (the mask of ones when inactive).
extern "C" __global__ void dropout_fill_f32(float* y, float v, long long n) {
    MXR_FOR(i, n) { y[i] = v; }
}
