// Per-block partial reductions of an m×n tile: block b = blockIdx.x + blockIdx.y·gridDim.x
// writes partials[b], the reduction of the elements its threads visit in the grid-stride
// loops; the caller combines the gridDim.x·gridDim.y partials (on the host, or with the same
// kernel over the partials as a 1-column tile). Any grid; blockDim.x·blockDim.y ≤ 1024.
// Sums accumulate in double for both element types, as the CPU's `sum` and `norm_fro` do;
// for a given launch shape the order is fixed (each thread in loop order, then a tree in
// shared memory), so the result is deterministic, though not the CPU's sequential sum.

#define MAX_THREADS 1024

enum SumOf { Values, Squares };

// The tree: on return, s[0] holds the sum of s[0..nt) (pairs at distance 1, 2, 4, …).
template <typename T, typename F>
__device__ void tree(T* s, unsigned tid, unsigned nt, F combine) {
    for (unsigned d = 1; d < nt; d *= 2) {
        __syncthreads();
        if (tid % (2 * d) == 0 && tid + d < nt) s[tid] = combine(s[tid], s[tid + d]);
    }
    __syncthreads();
}

// partials[b] ← Σ x (Values) or Σ x² (Squares) over block b's elements, in double.
template <SumOf what, typename T>
__device__ void block_sum(long long m, long long n, const T* x, long long ldx, double* partials) {
    __shared__ double s[MAX_THREADS];
    unsigned tid = threadIdx.x + threadIdx.y * blockDim.x, nt = blockDim.x * blockDim.y;
    double acc = 0.0;
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        double v = (double)AT(x, i, j, ldx);
        acc += what == Squares ? v * v : v;
    }
    s[tid] = acc;
    tree(s, tid, nt, [](double a, double b) { return a + b; });
    if (tid == 0) partials[blockIdx.x + blockIdx.y * gridDim.x] = s[0];
}

// max(a, b) that propagates NaN (a NaN in the tile gives a NaN result).
template <typename T>
__device__ inline T max_nan(T a, T b) {
    return (a != a || a > b) ? a : b;
}

__device__ inline double absval(double x) { return fabs(x); }
__device__ inline float absval(float x) { return fabsf(x); }

// partials[b] ← max |x| over block b's elements (0 for a block with none; NaN propagates).
template <typename T>
__device__ void block_max_abs(long long m, long long n, const T* x, long long ldx, T* partials) {
    __shared__ T s[MAX_THREADS];
    unsigned tid = threadIdx.x + threadIdx.y * blockDim.x, nt = blockDim.x * blockDim.y;
    T acc = T(0);
    FOR_COLS(j, n) FOR_ROWS(i, m) { acc = max_nan(absval(AT(x, i, j, ldx)), acc); }
    s[tid] = acc;
    tree(s, tid, nt, [](T a, T b) { return max_nan(a, b); });
    if (tid == 0) partials[blockIdx.x + blockIdx.y * gridDim.x] = s[0];
}

#define REDUCE(T, SFX)                                                                            \
    extern "C" __global__ void sum_##SFX(long long m, long long n, const T* x, long long ldx,      \
                                         double* partials) {                                      \
        block_sum<Values>(m, n, x, ldx, partials);                                                \
    }                                                                                             \
    extern "C" __global__ void sum_squares_##SFX(long long m, long long n, const T* x,            \
                                                 long long ldx, double* partials) {               \
        block_sum<Squares>(m, n, x, ldx, partials);                                               \
    }                                                                                             \
    extern "C" __global__ void max_abs_##SFX(long long m, long long n, const T* x, long long ldx,  \
                                             T* partials) {                                       \
        block_max_abs(m, n, x, ldx, partials);                                                    \
    }

REDUCE(double, f64)
REDUCE(float, f32)
