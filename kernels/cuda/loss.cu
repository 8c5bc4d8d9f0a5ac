// Loss layers' kernels, float32: SoftmaxOutput's gradient (its forward is softmax.cu's kernel),
// the regression outputs and MakeLoss.

// A label truncated to an integer as Rust's `as i64` does (saturating, NaN → 0): MXNet's
// static_cast<int> on sane values, without C's undefined behaviour on the others.
__device__ __forceinline__ long long loss_trunc(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return 9223372036854775807LL;
    if (v <= -9223372036854775808.0) return -9223372036854775807LL - 1;
    return (long long)v;
}

// Counts, over the lanes' labels: stats[0] += labels that are neither `ignore` nor a class index
// in [0, classes); stats[1] += labels that are not `ignore`. `stats` starts zeroed.
extern "C" __global__ void loss_softmax_output_check_f32(double* stats, const float* label,
                                                         long long lanes, long long classes,
                                                         long long ignore) {
    MXR_FOR(i, lanes) {
        double v = (double)label[i];
        long long k = loss_trunc(v);
        if (k != ignore) {
            atomicAdd(stats + 1, 1.0);
            if (!(v >= 0.0 && v < (double)classes)) atomicAdd(stats, 1.0);
        }
    }
}

// dx = (y − target)·scale (× y with times_output), target = hit for the labelled class, miss for
// the others; 0 for an ignored label (use_ignore). Classes along the middle axis of
// (outer, classes, inner), one label per lane: label[o·inner + i].
extern "C" __global__ void loss_softmax_output_grad_f32(float* dx, const float* y,
                                                        const float* label, long long outer,
                                                        long long classes, long long inner,
                                                        int use_ignore, long long ignore,
                                                        float hit, float miss, float scale,
                                                        int times_output, const double* stats,
                                                        int per_valid) {
    // With per_valid (normalization 'valid'), the scale is divided by the number of labels that
    // are not ignored, counted on the device by loss_softmax_output_check_f32 (at least 1).
    if (per_valid) scale = (float)((double)scale / fmax(stats[1], 1.0));
    long long block = classes * inner;
    MXR_FOR(e, outer * block) {
        long long o = e / block, j = (e % block) / inner, i = e % inner;
        long long k = loss_trunc((double)label[o * inner + i]);
        float yv = y[e];
        float v = (use_ignore && k == ignore) ? 0.0f : (yv - (j == k ? hit : miss)) * scale;
        if (times_output) v *= yv;
        dx[e] = v;
    }
}

// Probability labels (shaped like the output): dx = (y − label)·scale (× y with times_output).
extern "C" __global__ void loss_softmax_output_prob_f32(float* dx, const float* y,
                                                        const float* label, long long n,
                                                        float scale, int times_output) {
    MXR_FOR(i, n) {
        float yv = y[i];
        float v = (yv - label[i]) * scale;
        dx[i] = times_output ? v * yv : v;
    }
}

// LogisticRegressionOutput's forward: y = 1 / (1 + exp(−x)).
extern "C" __global__ void loss_sigmoid_f32(float* y, const float* x, long long n) {
    MXR_FOR(i, n) { y[i] = 1.0f / (1.0f + expf(-x[i])); }
}

// The regression outputs' gradient: dx = (out − label)·scale, or with mae sign(out − label)·scale
// (−1 on a tie, as MXNet).
extern "C" __global__ void loss_regression_backward_f32(float* dx, const float* label,
                                                        const float* out, long long n,
                                                        float scale, int mae) {
    MXR_FOR(i, n) {
        float d = out[i] - label[i];
        if (mae) d = d > 0.0f ? 1.0f : -1.0f;
        dx[i] = d * scale;
    }
}

// count[0] += the elements of x greater than thresh (count starts zeroed).
extern "C" __global__ void loss_count_above_f32(double* count, const float* x, long long n,
                                                float thresh) {
    MXR_FOR(i, n) {
        if (x[i] > thresh) atomicAdd(count, 1.0);
    }
}

// MakeLoss's gradient: dx = grad_scale / norm, norm = max(count[0], 1) when `count` is non-null.
extern "C" __global__ void loss_make_loss_grad_f32(float* dx, long long n, double grad_scale,
                                                   double norm, const double* count) {
    MXR_FOR(i, n) {
        double d = count ? (count[0] > 1.0 ? count[0] : 1.0) : norm;
        dx[i] = (float)(grad_scale / d);
    }
}
