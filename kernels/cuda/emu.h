// mxr GPU emulator: lets kernel sources written for NVRTC compile as host C++. Each kernel is
// called once with a 1x1 grid, so its grid-stride loop (MXR_FOR) visits every item in order.
#define MXR_EMU 1
#include <cmath>
#include <cstring>

struct mxr_dim3 {
    unsigned int x, y, z;
};
static const mxr_dim3 threadIdx = {0, 0, 0};
static const mxr_dim3 blockIdx = {0, 0, 0};
static const mxr_dim3 blockDim = {1, 1, 1};
static const mxr_dim3 gridDim = {1, 1, 1};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

#define MXR_INF INFINITY
#define MXR_NAN NAN

static inline float atomicAdd(float* p, float v) {
    float old = *p;
    *p = old + v;
    return old;
}
static inline double atomicAdd(double* p, double v) {
    double old = *p;
    *p = old + v;
    return old;
}
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
