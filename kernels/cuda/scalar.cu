// Operators with a scalar operand (_plus_scalar ... _power_scalar) and their backward
// operators, float32.
// Op codes: MXR_SCALAR_* (mxr_kernels::cuda::codes); the backward kernel takes mul (g*s),
// div (g/s), rdiv (g*(-s/x^2)) and power (g*(x^(s-1)*s)).

// out = x op s (out may be x).
extern "C" __global__ void scalar_forward_f32(float* out, const float* x, long long n, float s,
                                              int op) {
    MXR_FOR(i, n) {
        float v = x[i];
        float r;
        switch (op) {
        case MXR_SCALAR_PLUS: r = v + s; break;
        case MXR_SCALAR_MINUS: r = v - s; break;
        case MXR_SCALAR_RMINUS: r = s - v; break;
        case MXR_SCALAR_MUL: r = v * s; break;
        case MXR_SCALAR_DIV: r = v / s; break;
        case MXR_SCALAR_RDIV: r = s / v; break;
        default: r = powf(v, s);  // MXR_SCALAR_POWER
        }
        out[i] = r;
    }
}

// out = the input gradient for head gradient g; x is read only by rdiv and power.
extern "C" __global__ void scalar_backward_f32(float* out, const float* g, const float* x,
                                               long long n, float s, int op) {
    MXR_FOR(i, n) {
        float gv = g[i];
        float r;
        switch (op) {
        case MXR_SCALAR_MUL: r = gv * s; break;
        case MXR_SCALAR_DIV: r = gv / s; break;
        case MXR_SCALAR_RDIV: {
            float v = x[i];
            r = gv * (-s / (v * v));
            break;
        }
        default: r = gv * (powf(x[i], s - 1.0f) * s);  // MXR_SCALAR_POWER
        }
        out[i] = r;
    }
}
