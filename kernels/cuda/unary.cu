// Unary math operators (negative ... softsign), clip, hard_sigmoid, and their backward
// operators, float32.
// Op codes: MXR_UNARY_* (mxr_kernels::cuda::codes; UnaryOp and UnaryGrad share them).

// y = f(x) (y may be x).
extern "C" __global__ void unary_forward_f32(float* y, const float* x, long long n, int op) {
    MXR_FOR(i, n) {
        float v = x[i];
        float r;
        switch (op) {
        case MXR_UNARY_NEGATIVE: r = -v; break;
        case MXR_UNARY_EXP: r = expf(v); break;
        case MXR_UNARY_LOG: r = logf(v); break;
        case MXR_UNARY_SQRT: r = sqrtf(v); break;
        case MXR_UNARY_SQUARE: r = v * v; break;
        case MXR_UNARY_ABS: r = fabsf(v); break;
        case MXR_UNARY_TANH: r = tanhf(v); break;
        case MXR_UNARY_SIGMOID: r = 1.0f / (1.0f + expf(-v)); break;
        case MXR_UNARY_RELU: r = v <= 0.0f ? 0.0f : v; break;  // NaN passes through
        case MXR_UNARY_SOFTRELU: r = v > 20.0f ? v : log1pf(expf(v)); break;
        default: r = v / (1.0f + fabsf(v));  // MXR_UNARY_SOFTSIGN
        }
        y[i] = r;
    }
}

// out = g * f'(.), from the forward input or output v (as UnaryGrad::uses_output says).
extern "C" __global__ void unary_backward_f32(float* out, const float* g, const float* v,
                                              long long n, int op) {
    MXR_FOR(i, n) {
        float gv = g[i];
        float r;
        if (op == MXR_UNARY_NEGATIVE) {
            r = -gv;
        } else {
            float u = v[i];
            switch (op) {
            case MXR_UNARY_EXP: r = gv * u; break;
            case MXR_UNARY_LOG: r = gv / u; break;
            case MXR_UNARY_SQRT: r = gv / (2.0f * u); break;
            case MXR_UNARY_SQUARE: r = gv * (2.0f * u); break;
            case MXR_UNARY_ABS: r = u > 0.0f ? gv : (u < 0.0f ? -gv : 0.0f); break;
            case MXR_UNARY_TANH: r = gv * (1.0f - u * u); break;
            case MXR_UNARY_SIGMOID: r = gv * (u * (1.0f - u)); break;
            case MXR_UNARY_RELU: r = u > 0.0f ? gv : 0.0f; break;
            case MXR_UNARY_SOFTRELU: r = gv * -expm1f(-u); break;
            default: {  // MXR_UNARY_SOFTSIGN
                float d = 1.0f + fabsf(u);
                r = gv / (d * d);
            }
            }
        }
        out[i] = r;
    }
}

// y = clip(x, lo, hi); NaN passes through (y may be x).
extern "C" __global__ void unary_clip_f32(float* y, const float* x, long long n, float lo,
                                          float hi) {
    MXR_FOR(i, n) {
        float v = x[i];
        y[i] = v > hi ? hi : (v < lo ? lo : v);
    }
}

// dx = g where lo <= x <= hi (or x is NaN), else 0.
extern "C" __global__ void unary_clip_backward_f32(float* dx, const float* g, const float* x,
                                                   long long n, float lo, float hi) {
    MXR_FOR(i, n) {
        float v = x[i];
        dx[i] = (v > hi || v < lo) ? 0.0f : g[i];
    }
}

// y = max(0, min(1, alpha * x + beta)); NaN passes through (y may be x).
extern "C" __global__ void unary_hard_sigmoid_f32(float* y, const float* x, long long n,
                                                  float alpha, float beta) {
    MXR_FOR(i, n) {
        float r = alpha * x[i] + beta;
        r = 1.0f < r ? 1.0f : r;
        y[i] = 0.0f > r ? 0.0f : r;
    }
}

// dx = g * alpha where 0 < alpha * x + beta < 1, else 0.
extern "C" __global__ void unary_hard_sigmoid_backward_f32(float* dx, const float* g,
                                                           const float* x, long long n,
                                                           float alpha, float beta) {
    MXR_FOR(i, n) {
        float r = alpha * x[i] + beta;
        dx[i] = (r > 0.0f && r < 1.0f) ? g[i] * alpha : 0.0f;
    }
}
