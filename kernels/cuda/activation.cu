// Activation (MXNet's Activation op) and its backward, float32.
// act codes: 0 relu, 1 sigmoid, 2 tanh, 3 softrelu, 4 softsign (mxr_kernels::cuda::ActCode).

__device__ __forceinline__ float activation_apply(float x, int act) {
    switch (act) {
    case 0: return x > 0.0f ? x : 0.0f;
    case 1: return 1.0f / (1.0f + expf(-x));
    case 2: return tanhf(x);
    case 3: return x > 20.0f ? x : log1pf(expf(x));
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
        case 0: d = u > 0.0f ? gv : 0.0f; break;
        case 1: d = gv * (u * (1.0f - u)); break;
        case 2: d = gv * (1.0f - u * u); break;
        case 3: d = gv * -expm1f(-u); break;
        default: {
            float a = 1.0f + fabsf(u);
            d = gv / (a * a);
        }
        }
        dx[i] = d;
    }
}
