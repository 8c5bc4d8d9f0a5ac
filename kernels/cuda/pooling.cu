// Pooling (max / avg / sum over 1-, 2- or 3-D windows) and its backward, float32.
// Geometry table g (long long[16]): planes, input[3], output[3], kernel[3], stride[3], pad[3]
// (lower-rank poolings lifted to 3-D with leading size-1 axes, as the CPU kernels do).
// kind: MXR_POOL_MAX, _AVG or _SUM (mxr_kernels::cuda::codes::PoolCode); cip: avg counts the
// padding (count_include_pad).

// The clipped window of output index o along one axis: [lo, hi) in the input, and its size
// counting the padding (the CPU kernels' Window).
__device__ __forceinline__ void pooling_window(long long o, long long size, long long k,
                                               long long s, long long p, long long* lo,
                                               long long* hi, long long* padded) {
    long long start = o * s - p;
    long long end = start + k;
    if (end > size + p) end = size + p;
    long long l = start < 0 ? 0 : (start > size ? size : start);
    long long h = end < l ? l : (end > size ? size : end);
    *lo = l;
    *hi = h;
    *padded = end - start > 0 ? end - start : 0;
}

// Decomposes output element i into its plane and window bounds.
__device__ __forceinline__ void pooling_locate(const long long* g, long long i, long long* plane,
                                               long long* lo, long long* hi, long long* count,
                                               int cip) {
    long long o2 = i % g[6];
    long long t = i / g[6];
    long long o1 = t % g[5];
    t /= g[5];
    long long o0 = t % g[4];
    *plane = t / g[4];
    long long o[3] = {o0, o1, o2};
    long long padded = 1, inside = 1;
    for (int d = 0; d < 3; ++d) {
        long long pd;
        pooling_window(o[d], g[1 + d], g[7 + d], g[10 + d], g[13 + d], &lo[d], &hi[d], &pd);
        padded *= pd;
        inside *= hi[d] - lo[d];
    }
    *count = cip ? padded : inside;
}

// y[i] = the window's max / mean / sum; one item per output element.
extern "C" __global__ void pooling_forward_f32(float* y, const float* x, const long long* g,
                                               long long n, int kind, int cip) {
    MXR_FOR(i, n) {
        long long plane, lo[3], hi[3], count;
        pooling_locate(g, i, &plane, lo, hi, &count, cip);
        const float* xp = x + plane * g[1] * g[2] * g[3];
        float acc = kind == MXR_POOL_MAX ? -3.40282347e+38f : 0.0f;
        for (long long d = lo[0]; d < hi[0]; ++d)
            for (long long h = lo[1]; h < hi[1]; ++h)
                for (long long w = lo[2]; w < hi[2]; ++w) {
                    float v = xp[(d * g[2] + h) * g[3] + w];
                    if (kind == MXR_POOL_MAX) {
                        if (v > acc) acc = v;
                    } else {
                        acc += v;
                    }
                }
        if (kind == MXR_POOL_AVG) acc = count == 0 ? 0.0f : acc / (float)count;
        y[i] = acc;
    }
}

// dx (zeroed by the caller) += each output's gradient: max to the first element of the window
// (in scan order) equal to the output, avg/sum spread over the window; one item per output
// element, atomicAdd since windows overlap.
extern "C" __global__ void pooling_backward_f32(float* dx, const float* gy, const float* x,
                                                const float* y, const long long* g, long long n,
                                                int kind, int cip) {
    MXR_FOR(i, n) {
        long long plane, lo[3], hi[3], count;
        pooling_locate(g, i, &plane, lo, hi, &count, cip);
        long long base = plane * g[1] * g[2] * g[3];
        float grad = gy[i];
        if (kind == MXR_POOL_MAX) {
            float target = y[i];
            long long at = -1;
            for (long long d = lo[0]; d < hi[0] && at < 0; ++d)
                for (long long h = lo[1]; h < hi[1] && at < 0; ++h)
                    for (long long w = lo[2]; w < hi[2]; ++w) {
                        long long k = base + (d * g[2] + h) * g[3] + w;
                        if (x[k] == target) {
                            at = k;
                            break;
                        }
                    }
            if (at >= 0) atomicAdd(&dx[at], grad);
        } else {
            if (kind == MXR_POOL_AVG) {
                if (count == 0) continue;
                grad = grad / (float)count;
            }
            for (long long d = lo[0]; d < hi[0]; ++d)
                for (long long h = lo[1]; h < hi[1]; ++h)
                    for (long long w = lo[2]; w < hi[2]; ++w)
                        atomicAdd(&dx[base + (d * g[2] + h) * g[3] + w], grad);
        }
    }
}
