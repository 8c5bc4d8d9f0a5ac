// mxr: included before every kernel source, by NVRTC (GPU) and by the emulator (C++ on the host,
// after emu.h). Kernel rules, so that both can compile and run every kernel:
//  - entry points are `extern "C" __global__` with names unique across all files, prefixed by the
//    file stem (`elemwise_add_f32`);
//  - arguments are pointers (float*, const float*, ...), long long, int, unsigned int, float or
//    double; sizes and indices are long long;
//  - every kernel is a grid-stride loop over independent work items (MXR_FOR): correct for any
//    grid and block size, no __syncthreads, no __shared__, no warp intrinsics; an item may use
//    atomicAdd on floats when items scatter into shared outputs;
//  - only the math of both CUDA and C++: expf, logf, tanhf, sqrtf, fabsf, fmaxf, fminf, powf,
//    floorf, ceilf, erff, log1pf, expm1f, rsqrtf (and the double versions), MXR_INF, MXR_NAN;
//    no std::, no CUDA headers.
#ifndef MXR_EMU
#define MXR_INF __int_as_float(0x7f800000)
#define MXR_NAN __int_as_float(0x7fffffff)
#endif

// Grid-stride loop: `i` takes every value of [0, n) exactly once across the whole launch.
#define MXR_FOR(i, n)                                                              \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)
