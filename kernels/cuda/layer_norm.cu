// LayerNorm and its backward, float32, over the (outer, len, inner) view around the normalised
// axis: lane k = (o, i) holds x[(o·len + j)·inner + i] for j < len; mean and std are one per
// lane, gamma and beta (and their gradients) one per j. Two-pass statistics, as the CPU kernel.

// forward: one item per lane: mean, std = sqrt(mean((x - mean)^2) + eps), and
// y = (x - mean)·gamma/std + beta along the lane.
extern "C" __global__ void layer_norm_forward_f32(float* y, float* mean, float* std,
                                                  const float* x, const float* gamma,
                                                  const float* beta, long long outer,
                                                  long long len, long long inner, float eps) {
    MXR_FOR(k, outer * inner) {
        long long base = (k / inner) * len * inner + k % inner;
        float sum = 0.0f;
        for (long long j = 0; j < len; ++j) sum += x[base + j * inner];
        float m = sum / (float)len;
        float sq = 0.0f;
        for (long long j = 0; j < len; ++j) {
            float d = x[base + j * inner] - m;
            sq += d * d;
        }
        float s = sqrtf(sq / (float)len + eps);
        mean[k] = m;
        std[k] = s;
        for (long long j = 0; j < len; ++j) {
            long long at = base + j * inner;
            y[at] = (x[at] - m) * gamma[j] / s + beta[j];
        }
    }
}

// backward of the data: one item per lane (len > 0): with n = (x - mean)/std and
// t = g·gamma/std, dx = t - mean(t) - n·mean(t·n) along the lane.
extern "C" __global__ void layer_norm_backward_data_f32(float* dx, const float* g,
                                                        const float* x, const float* gamma,
                                                        const float* mean, const float* std,
                                                        long long outer, long long len,
                                                        long long inner) {
    MXR_FOR(k, outer * inner) {
        long long base = (k / inner) * len * inner + k % inner;
        float m = mean[k], s = std[k];
        float sum_t = 0.0f, sum_tn = 0.0f;
        for (long long j = 0; j < len; ++j) {
            long long at = base + j * inner;
            float t = g[at] * gamma[j] / s;
            sum_t += t;
            sum_tn += t * ((x[at] - m) / s);
        }
        float mean_t = sum_t / (float)len, mean_tn = sum_tn / (float)len;
        for (long long j = 0; j < len; ++j) {
            long long at = base + j * inner;
            dx[at] = g[at] * gamma[j] / s - mean_t - (x[at] - m) / s * mean_tn;
        }
    }
}

// backward of gamma and beta: one item per j < len, summing over every lane:
// dgamma[j] = sum g·(x - mean)/std, dbeta[j] = sum g.
extern "C" __global__ void layer_norm_backward_params_f32(float* dgamma, float* dbeta,
                                                          const float* g, const float* x,
                                                          const float* mean, const float* std,
                                                          long long outer, long long len,
                                                          long long inner) {
    MXR_FOR(j, len) {
        float dg = 0.0f, db = 0.0f;
        for (long long k = 0; k < outer * inner; ++k) {
            long long at = (k / inner) * len * inner + j * inner + k % inner;
            dg += g[at] * ((x[at] - mean[k]) / std[k]);
            db += g[at];
        }
        dgamma[j] = dg;
        dbeta[j] = db;
    }
}
