// Operators with a scalar operand (_plus_scalar ... _power_scalar) and their backward
// operators, float32.
// Forward op codes: 0 plus, 1 minus, 2 rminus, 3 mul, 4 div, 5 rdiv, 6 power.
// Backward op codes: 0 mul (g*s), 1 div (g/s), 2 rdiv (g*(-s/x^2)), 3 power (g*(x^(s-1)*s)).

// out = x op s (out may be x).
extern "C" __global__ void scalar_forward_f32(float* out, const float* x, long long n, float s,
                                              int op) {
    MXR_FOR(i, n) {
        float v = x[i];
        float r;
        switch (op) {
        case 0: r = v + s; break;
        case 1: r = v - s; break;
        case 2: r = s - v; break;
        case 3: r = v * s; break;
        case 4: r = v / s; break;
        case 5: r = s / v; break;
        default: r = powf(v, s);
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
        case 0: r = gv * s; break;
        case 1: r = gv / s; break;
        case 2: {
            float v = x[i];
            r = gv * (-s / (v * v));
            break;
        }
        default: r = gv * (powf(x[i], s - 1.0f) * s);
        }
        out[i] = r;
    }
}
