// NumPy-broadcasting binary operators (broadcast_add/sub/mul/div/maximum/minimum) and their
// backward operators, float32. Shapes are right-aligned and padded to `ndim` axes on the host.

// out = a op b (op: MXR_BINARY_*) over the broadcast shape.
// table: out_dim[ndim], a_stride[ndim], b_stride[ndim] (stride 0 along a broadcast axis).
extern "C" __global__ void broadcast_binary_f32(float* out, const float* a, const float* b,
                                                const long long* table, int ndim, long long n,
                                                int op) {
    const long long* dim = table;
    const long long* sa = table + ndim;
    const long long* sb = table + 2 * ndim;
    MXR_FOR(i, n) {
        long long rest = i, ia = 0, ib = 0;
        for (int d = ndim - 1; d >= 0; --d) {
            long long c = rest % dim[d];
            rest /= dim[d];
            ia += c * sa[d];
            ib += c * sb[d];
        }
        float x = a[ia], y = b[ib], r;
        switch (op) {
        case MXR_BINARY_ADD: r = x + y; break;
        case MXR_BINARY_SUB: r = x - y; break;
        case MXR_BINARY_MUL: r = x * y; break;
        // MXNet's maximum and minimum: x when it wins or is NaN, else y.
        case MXR_BINARY_MAX: r = (x != x || x > y) ? x : y; break;
        case MXR_BINARY_MIN: r = (x != x || x < y) ? x : y; break;
        default: r = x / y;
        }
        out[i] = r;
    }
}

// One operand's gradient, summed over its broadcast axes: one item per element of d (m items),
// looping over the reduced positions of the head gradient g.
// table: self_dim[ndim] (the operand's padded dims), red_dim[ndim] (the output dim where the
// operand is broadcast, else 1), g_stride[ndim], a_stride[ndim], b_stride[ndim].
// op: 0 g, 1 -g, 2 g*b, 3 g*a, 4 g/b, 5 g*(-a/b^2), and g where 6 a >= b, 7 a < b, 8 a <= b,
// 9 a > b (the maximum's and minimum's left and right shares); a and b are read by ops 2..9.
extern "C" __global__ void broadcast_reduce_f32(float* d, const float* g, const float* a,
                                                const float* b, const long long* table,
                                                int ndim, long long m, int op) {
    const long long* self_dim = table;
    const long long* red_dim = table + ndim;
    const long long* sg = table + 2 * ndim;
    const long long* sa = table + 3 * ndim;
    const long long* sb = table + 4 * ndim;
    long long reduced = 1;
    for (int k = 0; k < ndim; ++k) reduced *= red_dim[k];
    MXR_FOR(i, m) {
        long long rest = i, og = 0, oa = 0, ob = 0;
        for (int k = ndim - 1; k >= 0; --k) {
            long long c = rest % self_dim[k];
            rest /= self_dim[k];
            og += c * sg[k];
            oa += c * sa[k];
            ob += c * sb[k];
        }
        float acc = 0.0f;
        for (long long j = 0; j < reduced; ++j) {
            long long r = j, jg = og, ja = oa, jb = ob;
            for (int k = ndim - 1; k >= 0; --k) {
                long long c = r % red_dim[k];
                r /= red_dim[k];
                jg += c * sg[k];
                ja += c * sa[k];
                jb += c * sb[k];
            }
            float gv = g[jg], v;
            switch (op) {
            case 0: v = gv; break;
            case 1: v = -gv; break;
            case 2: v = gv * b[jb]; break;
            case 3: v = gv * a[ja]; break;
            case 4: v = gv / b[jb]; break;
            case 6: v = a[ja] >= b[jb] ? gv : 0.0f; break;
            case 7: v = a[ja] < b[jb] ? gv : 0.0f; break;
            case 8: v = a[ja] <= b[jb] ? gv : 0.0f; break;
            case 9: v = a[ja] > b[jb] ? gv : 0.0f; break;
            default: {
                float x = a[ja], y = b[jb];
                v = gv * (-x / (y * y));
            }
            }
            acc += v;
        }
        d[i] = acc;
    }
}
