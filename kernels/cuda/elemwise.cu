// Same-shape binary element-wise operators (elemwise_add/sub/mul/div) and `where`, with their
// backward operators, float32. Binary op codes: 0 add, 1 sub, 2 mul, 3 div.

__device__ __forceinline__ float elemwise_apply(float a, float b, int op) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
    }
}

// out = a op b (out may be a or b: each item reads before it writes).
extern "C" __global__ void elemwise_binary_f32(float* out, const float* a, const float* b,
                                               long long n, int op) {
    MXR_FOR(i, n) { out[i] = elemwise_apply(a[i], b[i], op); }
}

// (da, db) = the gradients of a op b for head gradient g; a and b are read only for mul and
// div (add and sub may pass any valid address).
extern "C" __global__ void elemwise_binary_backward_f32(float* da, float* db, const float* g,
                                                        const float* a, const float* b,
                                                        long long n, int op) {
    MXR_FOR(i, n) {
        float gv = g[i];
        switch (op) {
        case 0: da[i] = gv; db[i] = gv; break;
        case 1: da[i] = gv; db[i] = -gv; break;
        case 2: da[i] = gv * b[i]; db[i] = gv * a[i]; break;
        default: {
            float av = a[i], bv = b[i];
            da[i] = gv / bv;
            db[i] = gv * (-av / (bv * bv));
        }
        }
    }
}

// out = cond != 0 ? x : y, one condition value per `row` elements.
extern "C" __global__ void elemwise_where_f32(float* out, const float* cond, const float* x,
                                              const float* y, long long n, long long row) {
    MXR_FOR(i, n) { out[i] = cond[i / row] != 0.0f ? x[i] : y[i]; }
}

// (dx, dy) = (g where cond != 0 else 0, the rest), one condition value per `row` elements.
extern "C" __global__ void elemwise_where_backward_f32(float* dx, float* dy, const float* g,
                                                       const float* cond, long long n,
                                                       long long row) {
    MXR_FOR(i, n) {
        float gv = g[i];
        bool keep = cond[i / row] != 0.0f;
        dx[i] = keep ? gv : 0.0f;
        dy[i] = keep ? 0.0f : gv;
    }
}
