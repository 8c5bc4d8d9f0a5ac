// BatchNorm and its backward, float32. Data is viewed as (outer, len, inner) with len the
// channel axis; per-channel reductions are one item per channel looping over outer*inner, in
// double like the CPU kernels.

// Training statistics: mean, invstd = 1/sqrt(var + eps) (biased var), and the moving
// statistics updated in place: moving = moving*momentum + batch*(1 - momentum).
extern "C" __global__ void batch_norm_stats_f32(float* mean, float* invstd, float* mmean,
                                                float* mvar, const float* x, long long outer,
                                                long long len, long long inner, double eps,
                                                double momentum) {
    MXR_FOR(c, len) {
        double count = (double)(outer * inner);
        double s = 0.0;
        for (long long o = 0; o < outer; ++o)
            for (long long k = 0; k < inner; ++k) s += (double)x[(o * len + c) * inner + k];
        double m = count > 0.0 ? s / count : 0.0;
        double q = 0.0;
        for (long long o = 0; o < outer; ++o)
            for (long long k = 0; k < inner; ++k) {
                double d = (double)x[(o * len + c) * inner + k] - m;
                q += d * d;
            }
        float mf = (float)m;
        float vf = (float)(count > 0.0 ? q / count : 0.0);
        mean[c] = mf;
        invstd[c] = (float)(1.0 / sqrt((double)vf + eps));
        float keep = (float)momentum, take = (float)(1.0 - momentum);
        mmean[c] = mmean[c] * keep + mf * take;
        mvar[c] = mvar[c] * keep + vf * take;
    }
}

// Inference statistics: mean = moving_mean, invstd = 1/sqrt(moving_var + eps).
extern "C" __global__ void batch_norm_global_f32(float* mean, float* invstd, const float* mmean,
                                                 const float* mvar, long long len, double eps) {
    MXR_FOR(c, len) {
        mean[c] = mmean[c];
        invstd[c] = (float)(1.0 / sqrt((double)mvar[c] + eps));
    }
}

// y = (x - mean) * (invstd * gamma) + beta; gamma null means ones (fix_gamma).
extern "C" __global__ void batch_norm_normalize_f32(float* y, const float* x, const float* mean,
                                                    const float* invstd, const float* gamma,
                                                    const float* beta, long long n,
                                                    long long len, long long inner,
                                                    int has_gamma) {
    MXR_FOR(i, n) {
        long long c = (i / inner) % len;
        float a = has_gamma ? invstd[c] * gamma[c] : invstd[c];
        y[i] = (x[i] - mean[c]) * a + beta[c];
    }
}

// Per channel: dbeta = sum g, dgamma = sum g*(x - mean) * invstd (0 with fix_gamma), and the
// data-gradient coefficients coef[3c..3c+3] = (a, b, c) with dx = g*a + (x - mean)*b + c.
extern "C" __global__ void batch_norm_backward_stats_f32(
    float* dgamma, float* dbeta, float* coef, const float* g, const float* x, const float* mean,
    const float* invstd, const float* gamma, long long outer, long long len, long long inner,
    int has_gamma, int batch_stats) {
    MXR_FOR(c, len) {
        double m = (double)mean[c];
        double sg = 0.0, sgx = 0.0;
        for (long long o = 0; o < outer; ++o)
            for (long long k = 0; k < inner; ++k) {
                long long i = (o * len + c) * inner + k;
                double gv = (double)g[i];
                sg += gv;
                sgx += gv * ((double)x[i] - m);
            }
        double is = (double)invstd[c];
        dbeta[c] = (float)sg;
        dgamma[c] = has_gamma ? (float)(sgx * is) : 0.0f;
        double a = is * (has_gamma ? (double)gamma[c] : 1.0);
        double count = (double)(outer * inner);
        float fb = 0.0f, fc = 0.0f;
        if (batch_stats && count > 0.0) {
            fb = (float)(-is * is * (sgx / count) * a);
            fc = (float)(-(sg / count) * a);
        }
        coef[3 * c] = (float)a;
        coef[3 * c + 1] = fb;
        coef[3 * c + 2] = fc;
    }
}

// dx = g*a + (x - mean)*b + c with the per-channel coefficients.
extern "C" __global__ void batch_norm_backward_data_f32(float* dx, const float* g, const float* x,
                                                        const float* mean, const float* coef,
                                                        long long n, long long len,
                                                        long long inner) {
    MXR_FOR(i, n) {
        long long c = (i / inner) % len;
        dx[i] = g[i] * coef[3 * c] + (x[i] - mean[c]) * coef[3 * c + 1] + coef[3 * c + 2];
    }
}
