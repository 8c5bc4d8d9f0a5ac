// Optimizer updates, float32, in the order of operations of the CPU kernels (MXNet 1.9.1's).
// Scalars combined once per call (1 − lr·wd, lr·wd, lr·rescale_grad) come from the host.

// MXNet's mshadow_op::clip: NaN passes through.
__device__ __forceinline__ float optimizer_clip(float x, float b) {
    return x > b ? b : (x < -b ? -b : x);
}

// sgd_update: out = decay·w − lr·clip(rescale·g, c) (c >= 0), else decay·w − step·g.
extern "C" __global__ void optimizer_sgd_f32(float* out, const float* w, const float* g,
                                             long long n, float decay, float lr, float rescale,
                                             float c, float step) {
    MXR_FOR(i, n) {
        if (c >= 0.0f) {
            out[i] = decay * w[i] - lr * optimizer_clip(rescale * g[i], c);
        } else {
            out[i] = decay * w[i] - step * g[i];
        }
    }
}

// sgd_mom_update and multi_sgd(_mom)_update: m' = momentum·m − lr_wd·w − lr·clip(rescale·g, c)
// (or − step·g without clipping), out = w + m'. With has_mom, m is read from and m' written to
// `mom`; without, m = 0 and `mom` is not touched.
extern "C" __global__ void optimizer_sgd_mom_f32(float* out, float* mom, const float* w,
                                                 const float* g, long long n, int has_mom,
                                                 float momentum, float lr_wd, float lr,
                                                 float rescale, float c, float step) {
    MXR_FOR(i, n) {
        float m = has_mom ? mom[i] : 0.0f;
        float wv = w[i];
        if (c >= 0.0f) {
            m = momentum * m - lr_wd * wv - lr * optimizer_clip(rescale * g[i], c);
        } else {
            m = momentum * m - lr_wd * wv - step * g[i];
        }
        if (has_mom) mom[i] = m;
        out[i] = wv + m;
    }
}

// adam_update: g' = clip(rescale·g + wd·w) (c >= 0), mean = β1·mean + (1−β1)·g',
// var = β2·var + (1−β2)·g'², out = w − lr·mean/(√var + ε).
extern "C" __global__ void optimizer_adam_f32(float* out, float* mean, float* var, const float* w,
                                              const float* g, long long n, float lr, float wd,
                                              float rescale, float c, float beta1, float beta2,
                                              float eps, float omb1, float omb2) {
    MXR_FOR(i, n) {
        float wv = w[i];
        float gv = g[i] * rescale + wv * wd;
        if (c >= 0.0f) gv = optimizer_clip(gv, c);
        float mv = beta1 * mean[i] + omb1 * gv;
        float vv = beta2 * var[i] + omb2 * gv * gv;
        mean[i] = mv;
        var[i] = vv;
        out[i] = wv - lr * mv / (sqrtf(vv) + eps);
    }
}
