// one_hot, float32: y (nidx, depth) is `on` where the index (truncated toward zero) is the
// column, `off` elsewhere (and everywhere for an index outside [0, depth) or NaN).
extern "C" __global__ void one_hot_f32(float* y, const float* idx, long long nidx,
                                       long long depth, float on, float off) {
    MXR_FOR(i, nidx * depth) {
        long long r = i / depth, c = i % depth;
        double v = (double)idx[r];
        bool hit = v > -1.0 && v < (double)depth && (long long)v == c;
        y[i] = hit ? on : off;
    }
}
