// Convolution (1-3-D, channels first) by im2col + GEMM, and its backward, float32.
// Geometry table g (long long[19]): channels, input[3], kernel[3], stride[3], pad[3],
// dilate[3], output[3] (lower ranks lifted to 3-D with leading size-1 axes).

// The input position of output index o and tap t along axis d, or -1 outside the input.
__device__ __forceinline__ long long convolution_at(const long long* g, int d, long long o,
                                                    long long t) {
    long long v = o * g[7 + d] - g[10 + d] + t * g[13 + d];
    return v >= 0 && v < g[1 + d] ? v : -1;
}

// col[(c*taps + t)*out_sp + p] = x[c, input position of (p, t)] or 0 in the padding.
extern "C" __global__ void convolution_im2col_f32(float* col, const float* x, const long long* g,
                                                  long long n) {
    long long taps = g[4] * g[5] * g[6], out_sp = g[16] * g[17] * g[18];
    long long in_sp = g[1] * g[2] * g[3];
    MXR_FOR(i, n) {
        long long p = i % out_sp, row = i / out_sp;
        long long t = row % taps, c = row / taps;
        long long tw = t % g[6], th = (t / g[6]) % g[5], td = t / (g[6] * g[5]);
        long long ow = p % g[18], oh = (p / g[18]) % g[17], od = p / (g[18] * g[17]);
        long long id = convolution_at(g, 0, od, td), ih = convolution_at(g, 1, oh, th),
                  iw = convolution_at(g, 2, ow, tw);
        col[i] = (id < 0 || ih < 0 || iw < 0) ? 0.0f
                                              : x[c * in_sp + (id * g[2] + ih) * g[3] + iw];
    }
}

// The inverse gather: dx[c, pos] = sum over (tap, output) pairs that read pos of dcol.
// One item per input element.
extern "C" __global__ void convolution_col2im_f32(float* dx, const float* col, const long long* g,
                                                  long long n) {
    long long taps = g[4] * g[5] * g[6], out_sp = g[16] * g[17] * g[18];
    long long in_sp = g[1] * g[2] * g[3];
    MXR_FOR(i, n) {
        long long c = i / in_sp, q = i % in_sp;
        long long pos[3] = {q / (g[2] * g[3]), (q / g[3]) % g[2], q % g[3]};
        float acc = 0.0f;
        for (long long t = 0; t < taps; ++t) {
            long long tap[3] = {t / (g[6] * g[5]), (t / g[6]) % g[5], t % g[6]};
            long long o[3] = {0, 0, 0};
            int ok = 1;
            for (int d = 0; d < 3 && ok; ++d) {
                long long v = pos[d] + g[10 + d] - tap[d] * g[13 + d];
                if (v < 0 || v % g[7 + d] != 0 || v / g[7 + d] >= g[16 + d]) ok = 0;
                else o[d] = v / g[7 + d];
            }
            if (ok) acc += col[(c * taps + t) * out_sp + (o[0] * g[17] + o[1]) * g[18] + o[2]];
        }
        dx[i] = acc;
    }
}

// y[i] += b[(i / out_sp) % filters].
extern "C" __global__ void convolution_add_bias_f32(float* y, const float* b, long long n,
                                                    long long filters, long long out_sp) {
    MXR_FOR(i, n) { y[i] += b[(i / out_sp) % filters]; }
}

// db[f] = sum over batch and positions of gy[b, f, p]; one item per filter.
extern "C" __global__ void convolution_bias_grad_f32(float* db, const float* gy, long long batch,
                                                     long long filters, long long out_sp) {
    MXR_FOR(f, filters) {
        float acc = 0.0f;
        for (long long b = 0; b < batch; ++b)
            for (long long p = 0; p < out_sp; ++p) acc += gy[(b * filters + f) * out_sp + p];
        db[f] = acc;
    }
}
