// Same-shape binary element-wise operators (elemwise_add/sub/mul/div, the maximum and minimum)
// and `where`, with their backward operators, float32. Binary op codes: MXR_BINARY_*
// (mxr_kernels::cuda::codes::BinaryCode).

__device__ __forceinline__ float elemwise_apply(float a, float b, int op) {
    switch (op) {
    case MXR_BINARY_ADD: return a + b;
    case MXR_BINARY_SUB: return a - b;
    case MXR_BINARY_MUL: return a * b;
    // MXNet's maximum and minimum: a when it wins or is NaN, else b (a NaN on either side wins).
    case MXR_BINARY_MAX: return (a != a || a > b) ? a : b;
    case MXR_BINARY_MIN: return (a != a || a < b) ? a : b;
    default: return a / b;
    }
}

// The share of head gradient g that the maximum (max) or minimum sends to its left (left) or
// right operand: the left takes ties, the right the strict rest (MXNet's ge/lt, le/gt).
__device__ __forceinline__ float extreme_grad(int max, int left, float g, float a, float b) {
    bool picked = max ? (left ? a >= b : a < b) : (left ? a <= b : a > b);
    return picked ? g : 0.0f;
}

// out = a op b (out may be a or b: each item reads before it writes).
extern "C" __global__ void elemwise_binary_f32(float* out, const float* a, const float* b,
                                               long long n, int op) {
    MXR_FOR(i, n) { out[i] = elemwise_apply(a[i], b[i], op); }
}

// (da, db) = the gradients of a op b for head gradient g; a and b are read only for mul, div,
// max and min (add and sub may pass any valid address).
extern "C" __global__ void elemwise_binary_backward_f32(float* da, float* db, const float* g,
                                                        const float* a, const float* b,
                                                        long long n, int op) {
    MXR_FOR(i, n) {
        float gv = g[i];
        switch (op) {
        case MXR_BINARY_ADD: da[i] = gv; db[i] = gv; break;
        case MXR_BINARY_SUB: da[i] = gv; db[i] = -gv; break;
        case MXR_BINARY_MUL: da[i] = gv * b[i]; db[i] = gv * a[i]; break;
        case MXR_BINARY_MAX:
        case MXR_BINARY_MIN: {
            int max = op == MXR_BINARY_MAX;
            da[i] = extreme_grad(max, 1, gv, a[i], b[i]);
            db[i] = extreme_grad(max, 0, gv, a[i], b[i]);
            break;
        }
        default: {
            float av = a[i], bv = b[i];
            da[i] = gv / bv;
            db[i] = gv * (-av / (bv * bv));
        }
        }
    }
}

// Whether condition value k is non-zero (NaN counts as non-zero), for the condition's dtype
// code t: 0 float32, 1 float64, 2 int32, 3 int64, 4 uint8, 5 int8.
__device__ __forceinline__ bool elemwise_cond(const void* c, long long k, int t) {
    switch (t) {
    case 0: return ((const float*)c)[k] != 0.0f;
    case 1: return ((const double*)c)[k] != 0.0;
    case 2: return ((const int*)c)[k] != 0;
    case 3: return ((const long long*)c)[k] != 0;
    case 4: return ((const unsigned char*)c)[k] != 0;
    default: return ((const signed char*)c)[k] != 0;
    }
}

// out = cond != 0 ? x : y, one condition value (of dtype code ctype) per `row` elements.
extern "C" __global__ void elemwise_where_f32(float* out, const void* cond, int ctype,
                                              const float* x, const float* y, long long n,
                                              long long row) {
    MXR_FOR(i, n) { out[i] = elemwise_cond(cond, i / row, ctype) ? x[i] : y[i]; }
}

// (dx, dy) = (g where cond != 0 else 0, the rest), one condition value (of dtype code ctype)
// per `row` elements.
extern "C" __global__ void elemwise_where_backward_f32(float* dx, float* dy, const float* g,
                                                       const void* cond, int ctype, long long n,
                                                       long long row) {
    MXR_FOR(i, n) {
        float gv = g[i];
        bool keep = elemwise_cond(cond, i / row, ctype);
        dx[i] = keep ? gv : 0.0f;
        dy[i] = keep ? 0.0f : gv;
    }
}
