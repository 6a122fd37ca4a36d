// Row interchanges, as LAPACK laswp (incx = 1) and src/linalg/lu/ apply a panel's pivots:
// for k = k1, k1 + 1, …, k2 - 1, in that order, swap rows k and ipiv[k] - base.
// - base 0: 0-based pivots local to the tile or stack (LAPACK's, from 0);
// - base 1: cuSOLVER's 1-based pivots (`laswp_i32_*`: `int` pivots);
// - base row0: mosaic's global pivots of a panel whose first row is global row row0, applied
//   to the stack of tiles starting at that row (k1 = 0, k2 = the panel's width).
// Sequential over k, parallel over columns: one thread per column, grid-stride along x
// (blockDim.y = gridDim.y = 1). `ipiv` is in device memory (`long long`, or `int` for
// the `_i32` kernels).

// Swaps of an m×n tile (rows k and ipiv[k] - base must be below m).
template <typename T, typename I>
__device__ void laswp(long long n, T* a, long long lda, long long k1, long long k2, const I* ipiv,
                      long long base) {
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < n;
         j += (long long)gridDim.x * blockDim.x) {
        T* col = a + j * lda;
        for (long long k = k1; k < k2; ++k) {
            long long p = (long long)ipiv[k] - base;
            if (p != k) {
                T t = col[k];
                col[k] = col[p];
                col[p] = t;
            }
        }
    }
}

// Swaps of a stack of tiles (all n columns wide, tile t holding rows t·tb to t·tb + tb - 1
// of the stack, at tiles[t] with leading dimension lds[t]), as the CPU's laswp on a column
// of tiles: a pivot row may lie in another tile than row k.
template <typename T, typename I>
__device__ void laswp_tiles(long long n, T* const* tiles, const long long* lds, long long tb,
                            long long k1, long long k2, const I* ipiv, long long base) {
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < n;
         j += (long long)gridDim.x * blockDim.x) {
        for (long long k = k1; k < k2; ++k) {
            long long p = (long long)ipiv[k] - base;
            if (p != k) {
                T* x = &AT(tiles[k / tb], k % tb, j, lds[k / tb]);
                T* y = &AT(tiles[p / tb], p % tb, j, lds[p / tb]);
                T t = *x;
                *x = *y;
                *y = t;
            }
        }
    }
}

#define LASWP(T, SFX, I, ISFX)                                                                    \
    extern "C" __global__ void laswp_##ISFX##SFX(long long n, T* a, long long lda, long long k1,  \
                                                 long long k2, const I* ipiv, long long base) {   \
        laswp(n, a, lda, k1, k2, ipiv, base);                                                     \
    }                                                                                             \
    extern "C" __global__ void laswp_tiles_##ISFX##SFX(long long n, T* const* tiles,              \
                                                       const long long* lds, long long tb,        \
                                                       long long k1, long long k2, const I* ipiv, \
                                                       long long base) {                          \
        laswp_tiles(n, tiles, lds, tb, k1, k2, ipiv, base);                                       \
    }

LASWP(double, f64, long long, )
LASWP(float, f32, long long, )
LASWP(double, f64, int, i32_)
LASWP(float, f32, int, i32_)
