// Creation operators (ones_like; the sampled values of _random_uniform / _random_normal are
// drawn on the host and copied), float32.

// out[i] = v.
extern "C" __global__ void init_fill_f32(float* out, long long n, float v) {
    MXR_FOR(i, n) { out[i] = v; }
}
