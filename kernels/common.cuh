// Shared by every kernel module: `compile` (src/backend/cuda/kernels.rs) puts this text in
// front of each `*.cu` file, followed by a `#line 1 "<file>.cu"` directive, so that compile
// errors still name the right file and line. NVRTC's built-in headers only: no includes.
//
// Conventions of every kernel:
// - Tiles are column-major: element (i, j) of a tile `a` with leading dimension `lda`
//   (in elements, `lda >= m`) is `a[i + j * lda]`. Sizes and indices are `long long`.
// - Unless a kernel says otherwise, its loops are grid-stride in both dimensions (rows over
//   x, columns over y), so any launch shape covers the whole tile; (32, 8) threads per
//   block with a grid of ceil(m / 32) × min(ceil(n / 8), 65535) blocks is a good default.
// - Each kernel is written once, as a template, and instantiated as `extern "C"` symbols
//   suffixed by the element type: `<name>_f64` (double) and `<name>_f32` (float).

// Rows of an m-row tile handled by this thread: i = x index, stepping by the grid's width.
#define FOR_ROWS(i, m)                                                                     \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (m);            \
         i += (long long)gridDim.x * blockDim.x)

// Columns of an n-column tile handled by this thread: j = y index, stepping by the grid's height.
#define FOR_COLS(j, n)                                                                     \
    for (long long j = (long long)blockIdx.y * blockDim.y + threadIdx.y; j < (n);            \
         j += (long long)gridDim.y * blockDim.y)

// Element (i, j) of the column-major tile `p` with leading dimension `ld`.
#define AT(p, i, j, ld) ((p)[(i) + (j) * (ld)])
