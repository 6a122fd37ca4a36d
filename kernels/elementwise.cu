// Elementwise kernels on m×n tiles, each operand with its own leading dimension. The
// output may be one of the inputs (same pointer, same ld): every element is read, then
// written, by one thread. IEEE operations in the CPU's order and no fused multiply-add
// (NVRTC runs with --fmad=false), so the results equal the CPU's bitwise.

enum BinaryOp { Add, Sub, Mul, Div };

template <BinaryOp op, typename T>
__device__ T apply(T x, T y) {
    return op == Add ? x + y : op == Sub ? x - y : op == Mul ? x * y : x / y;
}

// c ← a op b.
template <BinaryOp op, typename T>
__device__ void binary(long long m, long long n, const T* a, long long lda, const T* b,
                       long long ldb, T* c, long long ldc) {
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        AT(c, i, j, ldc) = apply<op>(AT(a, i, j, lda), AT(b, i, j, ldb));
    }
}

// c ← a op alpha.
template <BinaryOp op, typename T>
__device__ void binary_scalar(long long m, long long n, const T* a, long long lda, T alpha, T* c,
                              long long ldc) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(c, i, j, ldc) = apply<op>(AT(a, i, j, lda), alpha); }
}

// y ← alpha·x + beta·y (y is read even when beta is 0, as the CPU's `alpha * x + beta * y`).
template <typename T>
__device__ void axpby(long long m, long long n, T alpha, const T* x, long long ldx, T beta, T* y,
                      long long ldy) {
    FOR_COLS(j, n) FOR_ROWS(i, m) {
        AT(y, i, j, ldy) = alpha * AT(x, i, j, ldx) + beta * AT(y, i, j, ldy);
    }
}

// x ← alpha·x.
template <typename T>
__device__ void scale(long long m, long long n, T alpha, T* x, long long ldx) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(x, i, j, ldx) *= alpha; }
}

// x ← value everywhere.
template <typename T>
__device__ void fill(long long m, long long n, T value, T* x, long long ldx) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(x, i, j, ldx) = value; }
}

// dst ← src (LAPACK lacpy, whole tile); the two must not overlap.
template <typename T>
__device__ void copy(long long m, long long n, const T* src, long long lds, T* dst, long long ldd) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(dst, i, j, ldd) = AT(src, i, j, lds); }
}

#define ELEMENTWISE(T, SFX)                                                                       \
    extern "C" __global__ void add_##SFX(long long m, long long n, const T* a, long long lda,     \
                                         const T* b, long long ldb, T* c, long long ldc) {       \
        binary<Add>(m, n, a, lda, b, ldb, c, ldc);                                               \
    }                                                                                             \
    extern "C" __global__ void sub_##SFX(long long m, long long n, const T* a, long long lda,     \
                                         const T* b, long long ldb, T* c, long long ldc) {       \
        binary<Sub>(m, n, a, lda, b, ldb, c, ldc);                                               \
    }                                                                                             \
    extern "C" __global__ void hadamard_##SFX(long long m, long long n, const T* a,              \
                                              long long lda, const T* b, long long ldb, T* c,    \
                                              long long ldc) {                                    \
        binary<Mul>(m, n, a, lda, b, ldb, c, ldc);                                               \
    }                                                                                             \
    extern "C" __global__ void div_##SFX(long long m, long long n, const T* a, long long lda,     \
                                         const T* b, long long ldb, T* c, long long ldc) {       \
        binary<Div>(m, n, a, lda, b, ldb, c, ldc);                                               \
    }                                                                                             \
    extern "C" __global__ void add_scalar_##SFX(long long m, long long n, const T* a,            \
                                                long long lda, T alpha, T* c, long long ldc) {   \
        binary_scalar<Add>(m, n, a, lda, alpha, c, ldc);                                         \
    }                                                                                             \
    extern "C" __global__ void sub_scalar_##SFX(long long m, long long n, const T* a,            \
                                                long long lda, T alpha, T* c, long long ldc) {   \
        binary_scalar<Sub>(m, n, a, lda, alpha, c, ldc);                                         \
    }                                                                                             \
    extern "C" __global__ void mul_scalar_##SFX(long long m, long long n, const T* a,            \
                                                long long lda, T alpha, T* c, long long ldc) {   \
        binary_scalar<Mul>(m, n, a, lda, alpha, c, ldc);                                         \
    }                                                                                             \
    extern "C" __global__ void div_scalar_##SFX(long long m, long long n, const T* a,            \
                                                long long lda, T alpha, T* c, long long ldc) {   \
        binary_scalar<Div>(m, n, a, lda, alpha, c, ldc);                                         \
    }                                                                                             \
    extern "C" __global__ void axpby_##SFX(long long m, long long n, T alpha, const T* x,        \
                                           long long ldx, T beta, T* y, long long ldy) {          \
        axpby(m, n, alpha, x, ldx, beta, y, ldy);                                                 \
    }                                                                                             \
    extern "C" __global__ void scale_##SFX(long long m, long long n, T alpha, T* x,              \
                                           long long ldx) {                                       \
        scale(m, n, alpha, x, ldx);                                                               \
    }                                                                                             \
    extern "C" __global__ void fill_##SFX(long long m, long long n, T value, T* x,               \
                                          long long ldx) {                                        \
        fill(m, n, value, x, ldx);                                                                \
    }                                                                                             \
    extern "C" __global__ void copy_##SFX(long long m, long long n, const T* src, long long lds,  \
                                          T* dst, long long ldd) {                                \
        copy(m, n, src, lds, dst, ldd);                                                           \
    }

ELEMENTWISE(double, f64)
ELEMENTWISE(float, f32)
