// Triangular parts of m×n tiles.

// a[i, j] ← value where i < j (the strictly upper part, in the tile's own indices), e.g.
// zeros above a Cholesky factor. The rest of the tile is neither read nor written.
template <typename T>
__device__ void laset_upper(long long m, long long n, T value, T* a, long long lda) {
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        if (i < j) AT(a, i, j, lda) = value;
    }
}

// a[i, j] ← value where i > j (the strictly lower part); the rest is untouched.
template <typename T>
__device__ void laset_lower(long long m, long long n, T value, T* a, long long lda) {
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        if (i > j) AT(a, i, j, lda) = value;
    }
}

// dst[i, j] ← src[i, j] where the element is on or below the global diagonal, element
// (i, j) being global (row0 + i, col0 + j): row0 + i >= col0 + j. dst keeps its other
// elements (linalg/tiling.rs `copy_lower`).
template <typename T>
__device__ void copy_lower(long long m, long long n, const T* src, long long lds, T* dst,
                           long long ldd, long long row0, long long col0) {
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        if (row0 + i >= col0 + j) AT(dst, i, j, ldd) = AT(src, i, j, lds);
    }
}

// dst[i, j] ← src[i, j] on and above the diagonal (i <= j), 0 below it: a triangle copied
// out whole (QR's ttmqr on a GPU) without reading src's strictly lower part, which may
// belong to another task.
template <typename T>
__device__ void copy_upper(long long m, long long n, const T* src, long long lds, T* dst,
                           long long ldd) {
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        AT(dst, i, j, ldd) = i <= j ? AT(src, i, j, lds) : T(0);
    }
}

#define TRIANGLE(T, SFX)                                                                          \
    extern "C" __global__ void laset_upper_##SFX(long long m, long long n, T value, T* a,         \
                                                 long long lda) {                                 \
        laset_upper(m, n, value, a, lda);                                                         \
    }                                                                                             \
    extern "C" __global__ void laset_lower_##SFX(long long m, long long n, T value, T* a,         \
                                                 long long lda) {                                 \
        laset_lower(m, n, value, a, lda);                                                         \
    }                                                                                             \
    extern "C" __global__ void copy_lower_##SFX(long long m, long long n, const T* src,           \
                                                long long lds, T* dst, long long ldd,             \
                                                long long row0, long long col0) {                 \
        copy_lower(m, n, src, lds, dst, ldd, row0, col0);                                         \
    }                                                                                             \
    extern "C" __global__ void copy_upper_##SFX(long long m, long long n, const T* src,           \
                                                long long lds, T* dst, long long ldd) {           \
        copy_upper(m, n, src, lds, dst, ldd);                                                     \
    }

TRIANGLE(double, f64)
TRIANGLE(float, f32)
