// Seeded random tiles and the identity, with exactly the values of src/darray/random.rs
// and src/darray/constructors.rs: element (i, j) of the tile is global element
// (row0 + i, col0 + j) of the matrix, and depends only on the seed and that global index,
// so every tiling, and the CPU, give the same matrix. f32 tiles hold the f64 value rounded
// to nearest (Rust's `x as f32`, CUDA's `(float)x`).

typedef unsigned long long u64;

// SplitMix64's finaliser (random.rs `mix`).
__device__ inline u64 mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// 64 random bits for global element (i, j) of stream `stream` (random.rs `bits`).
__device__ inline u64 bits(u64 seed, u64 stream, u64 i, u64 j) {
    u64 key = mix(seed ^ mix(stream + 0x9e3779b97f4a7c15ull));
    u64 j_rot = (j << 32) | (j >> 32); // u64::rotate_left(32)
    return mix(key ^ mix(i * 0x9e3779b97f4a7c15ull ^ j_rot));
}

// Uniform in [0, 1): 53 bits times 2^-53, both exact, so bitwise equal to the CPU.
__device__ inline double uniform(u64 seed, u64 i, u64 j) {
    return (double)(bits(seed, 0, i, j) >> 11) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box–Muller, the CPU's expression term for term. `log` and `cos` are
// CUDA's (within 1 ulp), not the CPU's libm: a value may differ in its last bits.
__device__ inline double normal(u64 seed, u64 i, u64 j) {
    // (2^53 as f64 + 1.0) rounds to 2^53 on the CPU too: the same constant.
    double u1 = ((double)(bits(seed, 1, i, j) >> 11) + 1.0) * (1.0 / (9007199254740992.0 + 1.0));
    double u2 = (double)(bits(seed, 2, i, j) >> 11) * (1.0 / 9007199254740992.0);
    const double pi = 3.141592653589793; // std::f64::consts::PI
    return sqrt(-2.0 * log(u1)) * cos(2.0 * pi * u2);
}

// x ← uniform values of the matrix seeded `seed` at global offset (row0, col0).
template <typename T>
__device__ void rand_uniform(long long m, long long n, u64 seed, long long row0, long long col0,
                             T* x, long long ldx) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(x, i, j, ldx) = (T)uniform(seed, row0 + i, col0 + j); }
}

// x ← standard normal values of the matrix seeded `seed` at global offset (row0, col0).
template <typename T>
__device__ void rand_normal(long long m, long long n, u64 seed, long long row0, long long col0,
                            T* x, long long ldx) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(x, i, j, ldx) = (T)normal(seed, row0 + i, col0 + j); }
}

// x ← the tile at global offset (row0, col0) of the identity: ones on the global diagonal.
template <typename T>
__device__ void eye(long long m, long long n, long long row0, long long col0, T* x, long long ldx) {
    FOR_COLS(j, n) FOR_ROWS(i, m) { AT(x, i, j, ldx) = row0 + i == col0 + j ? T(1) : T(0); }
}

#define RANDOM(T, SFX)                                                                            \
    extern "C" __global__ void rand_uniform_##SFX(long long m, long long n, u64 seed,             \
                                                  long long row0, long long col0, T* x,           \
                                                  long long ldx) {                                \
        rand_uniform(m, n, seed, row0, col0, x, ldx);                                             \
    }                                                                                             \
    extern "C" __global__ void rand_normal_##SFX(long long m, long long n, u64 seed,              \
                                                 long long row0, long long col0, T* x,            \
                                                 long long ldx) {                                 \
        rand_normal(m, n, seed, row0, col0, x, ldx);                                              \
    }                                                                                             \
    extern "C" __global__ void eye_##SFX(long long m, long long n, long long row0,                \
                                         long long col0, T* x, long long ldx) {                   \
        eye(m, n, row0, col0, x, ldx);                                                            \
    }

RANDOM(double, f64)
RANDOM(float, f32)
