// Unary math operators (negative ... softsign), clip, hard_sigmoid, and their backward
// operators, float32.
// Op codes (mxr_kernels::cpu::elementwise::UnaryOp / UnaryGrad order): 0 negative, 1 exp,
// 2 log, 3 sqrt, 4 square, 5 abs, 6 tanh, 7 sigmoid, 8 relu, 9 softrelu, 10 softsign.

// y = f(x) (y may be x).
extern "C" __global__ void unary_forward_f32(float* y, const float* x, long long n, int op) {
    MXR_FOR(i, n) {
        float v = x[i];
        float r;
        switch (op) {
        case 0: r = -v; break;
        case 1: r = expf(v); break;
        case 2: r = logf(v); break;
        case 3: r = sqrtf(v); break;
        case 4: r = v * v; break;
        case 5: r = fabsf(v); break;
        case 6: r = tanhf(v); break;
        case 7: r = 1.0f / (1.0f + expf(-v)); break;
        case 8: r = v <= 0.0f ? 0.0f : v; break;  // NaN passes through
        case 9: r = v > 20.0f ? v : log1pf(expf(v)); break;
        default: r = v / (1.0f + fabsf(v));
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
        if (op == 0) {
            r = -gv;
        } else {
            float u = v[i];
            switch (op) {
            case 1: r = gv * u; break;
            case 2: r = gv / u; break;
            case 3: r = gv / (2.0f * u); break;
            case 4: r = gv * (2.0f * u); break;
            case 5: r = u > 0.0f ? gv : (u < 0.0f ? -gv : 0.0f); break;
            case 6: r = gv * (1.0f - u * u); break;
            case 7: r = gv * (u * (1.0f - u)); break;
            case 8: r = u > 0.0f ? gv : 0.0f; break;
            case 9: r = gv * -expm1f(-u); break;
            default: {
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
