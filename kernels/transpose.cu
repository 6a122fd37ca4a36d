// Out-of-place transpose: dst (n×m) ← srcᵀ (src is m×n); they must not overlap.
//
// Launch contract (unlike the grid-stride kernels): blockDim.x == 32 and blockDim.y a
// divisor of 32 (8 is the usual choice); any grid, each block walking 32×32 sub-tiles in a
// grid-stride loop. A sub-tile goes through shared memory padded to 32×33, so that both the
// column reads of src and the column writes of dst are coalesced without bank conflicts.

#define TILE_DIM 32

template <typename T>
__device__ void transpose(long long m, long long n, const T* src, long long lds, T* dst,
                          long long ldd) {
    __shared__ T tile[TILE_DIM][TILE_DIM + 1];
    // The loop bounds depend on the block only, so every thread of a block reaches the
    // same __syncthreads() calls.
    for (long long j0 = (long long)blockIdx.y * TILE_DIM; j0 < n;
         j0 += (long long)gridDim.y * TILE_DIM) {
        for (long long i0 = (long long)blockIdx.x * TILE_DIM; i0 < m;
             i0 += (long long)gridDim.x * TILE_DIM) {
            // Read src[i0 + tx, j0 + k] (consecutive threads: consecutive rows).
            for (int k = threadIdx.y; k < TILE_DIM; k += blockDim.y) {
                long long i = i0 + threadIdx.x, j = j0 + k;
                if (i < m && j < n) tile[k][threadIdx.x] = AT(src, i, j, lds);
            }
            __syncthreads();
            // Write dst[j0 + tx, i0 + k] = src[i0 + k, j0 + tx] (consecutive rows of dst).
            for (int k = threadIdx.y; k < TILE_DIM; k += blockDim.y) {
                long long i = i0 + k, j = j0 + threadIdx.x;
                if (i < m && j < n) AT(dst, j, i, ldd) = tile[threadIdx.x][k];
            }
            __syncthreads(); // before the next sub-tile overwrites `tile`
        }
    }
}

#define TRANSPOSE(T, SFX)                                                                         \
    extern "C" __global__ void transpose_##SFX(long long m, long long n, const T* src,            \
                                               long long lds, T* dst, long long ldd) {            \
        transpose(m, n, src, lds, dst, ldd);                                                      \
    }

TRANSPOSE(double, f64)
TRANSPOSE(float, f32)
