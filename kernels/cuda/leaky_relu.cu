// LeakyReLU (leaky, elu, selu, gelu, prelu, rrelu) and _backward_LeakyReLU, float32.
// Fixed-slope act codes: MXR_LEAKY_* (mxr_kernels::cuda::codes::LeakyCode): leaky (p = slope),
// elu (p = slope), selu (p = lambda, q = lambda*alpha forward / alpha backward), gelu.

__device__ __forceinline__ double leaky_relu_erf_cdf(double x) {
    return 0.5 * (1.0 + erf(x * 0.70710678118654752440));
}

// y = act(x) (y may be x).
extern "C" __global__ void leaky_relu_forward_f32(float* y, const float* x, long long n, int act,
                                                  float p, float q) {
    MXR_FOR(i, n) {
        float v = x[i];
        float r;
        switch (act) {
        case MXR_LEAKY_LEAKY: r = v > 0.0f ? v : p * v; break;
        case MXR_LEAKY_ELU: r = v > 0.0f ? v : p * expm1f(v); break;
        case MXR_LEAKY_SELU: r = v > 0.0f ? p * v : q * expm1f(v); break;
        default: {  // MXR_LEAKY_GELU
            double d = (double)v;
            r = (float)(d * leaky_relu_erf_cdf(d));
        }
        }
        y[i] = r;
    }
}

// dx = g * act'(.), from the output y (leaky, elu, selu: MXNet's formulas) or the input x (gelu).
extern "C" __global__ void leaky_relu_backward_f32(float* dx, const float* g, const float* x,
                                                   const float* y, long long n, int act, float p,
                                                   float q) {
    MXR_FOR(i, n) {
        float gv = g[i];
        float r;
        switch (act) {
        case MXR_LEAKY_LEAKY: r = y[i] > 0.0f ? gv : gv * p; break;
        case MXR_LEAKY_ELU: {
            float u = y[i];
            r = u > 0.0f ? gv : gv * (u + p);
            break;
        }
        case MXR_LEAKY_SELU: {
            float u = y[i];
            r = gv * (u > 0.0f ? p : p * (u + q));
            break;
        }
        default: {  // MXR_LEAKY_GELU
            double d = (double)x[i];
            // Phi(x) + x * phi(x)
            double pdf = exp(-0.5 * d * d) * 0.39894228040143267794;
            r = gv * (float)(leaky_relu_erf_cdf(d) + d * pdf);
        }
        }
        dx[i] = r;
    }
}

// PReLU: y = x > 0 ? x : gamma[(i / inner) % channels] * x.
extern "C" __global__ void leaky_relu_prelu_f32(float* y, const float* x, const float* gamma,
                                                long long n, long long inner,
                                                long long channels) {
    MXR_FOR(i, n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : gamma[(i / inner) % channels] * v;
    }
}

// PReLU's data gradient.
extern "C" __global__ void leaky_relu_prelu_backward_dx_f32(float* dx, const float* g,
                                                            const float* x, const float* gamma,
                                                            long long n, long long inner,
                                                            long long channels) {
    MXR_FOR(i, n) {
        dx[i] = x[i] > 0.0f ? g[i] : g[i] * gamma[(i / inner) % channels];
    }
}

// PReLU's gamma gradient: one item per channel c, summing g*x where x <= 0 block by block
// (blocks of `inner` elements, block k belonging to channel k % channels), in the CPU order.
extern "C" __global__ void leaky_relu_prelu_backward_dgamma_f32(float* dgamma, const float* g,
                                                                const float* x, long long n,
                                                                long long inner,
                                                                long long channels) {
    long long blocks = (n + inner - 1) / inner;
    MXR_FOR(c, channels) {
        float total = 0.0f;
        for (long long k = c; k < blocks; k += channels) {
            long long end = (k + 1) * inner < n ? (k + 1) * inner : n;
            float acc = 0.0f;
            for (long long j = k * inner; j < end; ++j) {
                float v = x[j];
                if (!(v > 0.0f)) acc += g[j] * v;
            }
            total += acc;
        }
        dgamma[c] = total;
    }
}

// RReLU with the slopes in mask: y = x > 0 ? x : mask * x.
extern "C" __global__ void leaky_relu_rrelu_f32(float* y, const float* x, const float* mask,
                                                long long n) {
    MXR_FOR(i, n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : mask[i] * v;
    }
}

// RReLU's data gradient: g where y > 0, else g * mask.
extern "C" __global__ void leaky_relu_rrelu_backward_f32(float* dx, const float* g,
                                                         const float* y, const float* mask,
                                                         long long n) {
    MXR_FOR(i, n) {
        float gv = g[i];
        dx[i] = y[i] > 0.0f ? gv : gv * mask[i];
    }
}
