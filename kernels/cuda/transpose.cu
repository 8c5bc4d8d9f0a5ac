// transpose (any permutation of the axes): y[i] = x[offset of i's index, permuted], for
// elements of 1, 2, 4 and 8 bytes (the kernel moves elements, whatever their dtype).
// tab: [output extents (rank)][the input stride of each output axis (rank)].
#define TRANSPOSE_KERNEL(NAME, T)                                                            \
    extern "C" __global__ void NAME(T* y, const T* x, const long long* tab, int rank,       \
                                    long long n) {                                          \
        MXR_FOR(i, n) {                                                                      \
            long long rest = i, off = 0;                                                     \
            for (int k = rank - 1; k >= 0; --k) {                                            \
                long long e = tab[k];                                                        \
                off += (rest % e) * tab[rank + k];                                           \
                rest /= e;                                                                   \
            }                                                                                \
            y[i] = x[off];                                                                   \
        }                                                                                    \
    }

TRANSPOSE_KERNEL(transpose_b1, unsigned char)
TRANSPOSE_KERNEL(transpose_b2, unsigned short)
TRANSPOSE_KERNEL(transpose_b4, unsigned int)
TRANSPOSE_KERNEL(transpose_b8, unsigned long long)
