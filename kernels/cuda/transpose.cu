// transpose (any permutation of the axes), float32: y[i] = x[offset of i's index, permuted].
// tab: [output extents (rank)][the input stride of each output axis (rank)].
extern "C" __global__ void transpose_f32(float* y, const float* x, const long long* tab, int rank,
                                         long long n) {
    MXR_FOR(i, n) {
        long long rest = i, off = 0;
        for (int k = rank - 1; k >= 0; --k) {
            long long e = tab[k];
            off += (rest % e) * tab[rank + k];
            rest /= e;
        }
        y[i] = x[off];
    }
}
