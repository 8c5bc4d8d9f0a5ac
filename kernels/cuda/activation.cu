// Activation (MXNet's Activation op) and its backward, float32.
// act codes: MXR_ACT_* (mxr_kernels::cuda::codes::ActCode).

__device__ __forceinline__ float activation_apply(float x, int act) {
    switch (act) {
    case MXR_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case MXR_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case MXR_ACT_TANH: return tanhf(x);
    case MXR_ACT_SOFTRELU: return x > 20.0f ? x : log1pf(expf(x));
    default: return x / (1.0f + fabsf(x));
    }
}

// y = act(x)
extern "C" __global__ void activation_forward_f32(float* y, const float* x, long long n, int act) {
    MXR_FOR(i, n) { y[i] = activation_apply(x[i], act); }
}

// dx = g * act'(.), from the output y (relu, sigmoid, tanh, softrelu) or the input x (softsign).
extern "C" __global__ void activation_backward_f32(float* dx, const float* g, const float* v,
                                                   long long n, int act) {
    MXR_FOR(i, n) {
        float gv = g[i], u = v[i];
        float d;
        switch (act) {
        case MXR_ACT_RELU: d = u > 0.0f ? gv : 0.0f; break;
        case MXR_ACT_SIGMOID: d = gv * (u * (1.0f - u)); break;
        case MXR_ACT_TANH: d = gv * (1.0f - u * u); break;
        case MXR_ACT_SOFTRELU: d = gv * -expm1f(-u); break;
        default: {
            float a = 1.0f + fabsf(u);
            d = gv / (a * a);
        }
        }
        dx[i] = d;
    }
}
