// KVStore merges on a GPU: out = a (accumulate = 0) or out += a (accumulate = 1), float32.
extern "C" __global__ void kvstore_sum_f32(float* out, const float* a, long long n, int accumulate) {
    MXR_FOR(i, n) { out[i] = accumulate ? out[i] + a[i] : a[i]; }
}
