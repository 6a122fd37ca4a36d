// Row sums of an m×n tile, for the reductions (`DArray::sum`, `norm_fro`):
// sums[i] ← Σ_j x[i, j] (`row_sums`) or Σ_j x[i, j]² (`row_sums_squares`), j ascending,
// accumulated in double with IEEE operations and no contraction (__dadd_rn, __dmul_rn), one
// thread a row (a one-dimensional launch, grid-stride over rows: adjacent threads read
// adjacent elements of a column). The host adds the m row sums top to bottom. The CPU
// (`Backend::sum`) does the same additions in the same order: the results are bitwise equal
// (a NaN is a NaN on both, its payload may differ).

template <bool squares, typename T>
__device__ void row_sums(long long m, long long n, const T* x, long long ldx, double* sums) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < m;
         i += (long long)gridDim.x * blockDim.x) {
        double acc = 0.0;
        for (long long j = 0; j < n; ++j) {
            double v = (double)AT(x, i, j, ldx);
            acc = __dadd_rn(acc, squares ? __dmul_rn(v, v) : v);
        }
        sums[i] = acc;
    }
}

#define REDUCE(T, SFX)                                                                            \
    extern "C" __global__ void row_sums_##SFX(long long m, long long n, const T* x,               \
                                              long long ldx, double* sums) {                      \
        row_sums<false>(m, n, x, ldx, sums);                                                      \
    }                                                                                             \
    extern "C" __global__ void row_sums_squares_##SFX(long long m, long long n, const T* x,       \
                                                      long long ldx, double* sums) {              \
        row_sums<true>(m, n, x, ldx, sums);                                                       \
    }

REDUCE(double, f64)
REDUCE(float, f32)
