/* ScaLAPACK peer for mosaic's distributed factorizations: pdpotrf (Cholesky), pdgetrf (LU
 * with partial pivoting) or pdgeqrf (QR) of an n x n matrix, 2-D block-cyclic over a P x Q
 * process grid with nb x nb blocks (the layout of mosaic::distributed::Grid).
 *
 *   mpirun -np 2 ./pdfact_bench ROUTINE [n=4096] [nb=256] [P=1] [Q=2] [reps=3]
 *   ROUTINE: potrf | getrf | geqrf
 *
 * Matrices, from the global indices only (so any grid gives the same matrix):
 *   potrf: a(i,j) = 1/(1+|i-j|), a(i,i) = n (symmetric, diagonally dominant: SPD);
 *   getrf, geqrf: a(i,j) uniform in [-0.5, 0.5) from a hash of (i, j).
 * Each rep refills the matrix (not timed), then times the factorization between two
 * barriers. Afterwards one solve checks the factors: b = A*ones (pdgemv), then pdpotrs,
 * pdgetrs, or pdormqr (b <- Q^T b) and pdtrsm (R x = b); prints max|x - 1|.
 * One line per rep and a summary line, from rank 0:
 *   scalapack routine=pdgetrf n=4096 nb=256 grid=1x2 best=... median=... gflops=... check=...
 */
#include <mpi.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void Cblacs_pinfo(int *me, int *np);
extern void Cblacs_get(int ctxt, int what, int *val);
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ctxt);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
                      const int *icsrc, const int *ctxt, const int *lld, int *info);
extern void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca,
                     int *info);
extern void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia,
                     const int *ja, const int *desca, double *b, const int *ib, const int *jb, const int *descb,
                     int *info);
extern void pdgetrf_(const int *m, const int *n, double *a, const int *ia, const int *ja, const int *desca,
                     int *ipiv, int *info);
extern void pdgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *ia,
                     const int *ja, const int *desca, const int *ipiv, double *b, const int *ib, const int *jb,
                     const int *descb, int *info);
extern void pdgeqrf_(const int *m, const int *n, double *a, const int *ia, const int *ja, const int *desca,
                     double *tau, double *work, const int *lwork, int *info);
extern void pdormqr_(const char *side, const char *trans, const int *m, const int *n, const int *k,
                     const double *a, const int *ia, const int *ja, const int *desca, const double *tau,
                     double *c, const int *ic, const int *jc, const int *descc, double *work, const int *lwork,
                     int *info);
extern void pdtrsm_(const char *side, const char *uplo, const char *transa, const char *diag, const int *m,
                    const int *n, const double *alpha, const double *a, const int *ia, const int *ja,
                    const int *desca, double *b, const int *ib, const int *jb, const int *descb);
extern void pdgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
                    const int *ia, const int *ja, const int *desca, const double *x, const int *ix,
                    const int *jx, const int *descx, const int *incx, const double *beta, double *y,
                    const int *iy, const int *jy, const int *descy, const int *incy);

enum routine { POTRF, GETRF, GEQRF };

/* Uniform in [-0.5, 0.5) from (i, j): splitmix64 of the pair. */
static double hashed(long long i, long long j) {
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull ^ ((uint64_t)j + 0x632be59bd9b4e019ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0 - 0.5;
}

static double element(enum routine r, int n, int i, int j) {
    if (r == POTRF) return i == j ? (double)n : 1.0 / (1.0 + abs(i - j));
    return hashed(i, j);
}

/* The local part of A (mloc x nloc, leading dimension lld) on grid position (myrow, mycol). */
static void fill(enum routine r, double *a, int n, int nb, int mloc, int nloc, int myrow, int mycol, int P,
                 int Q, int lld) {
    for (int jl = 0; jl < nloc; jl++) {
        int jg = ((jl / nb) * Q + mycol) * nb + jl % nb;
        for (int il = 0; il < mloc; il++) {
            int ig = ((il / nb) * P + myrow) * nb + il % nb;
            a[(size_t)jl * lld + il] = element(r, n, ig, jg);
        }
    }
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const char *name = argc > 1 ? argv[1] : "potrf";
    enum routine r = !strcmp(name, "getrf") ? GETRF : !strcmp(name, "geqrf") ? GEQRF : POTRF;
    int n = argc > 2 ? atoi(argv[2]) : 4096, nb = argc > 3 ? atoi(argv[3]) : 256;
    int P = argc > 4 ? atoi(argv[4]) : 1, Q = argc > 5 ? atoi(argv[5]) : 2;
    int reps = argc > 6 ? atoi(argv[6]) : 3;
    int me, np;
    Cblacs_pinfo(&me, &np);
    if (P * Q != np || reps < 1) {
        if (me == 0) fprintf(stderr, "grid %dx%d needs %d processes, have %d\n", P, Q, P * Q, np);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int ctxt, nprow, npcol, myrow, mycol, info = 0, izero = 0, ione = 1;
    Cblacs_get(-1, 0, &ctxt);
    Cblacs_gridinit(&ctxt, "Row", P, Q);
    Cblacs_gridinfo(ctxt, &nprow, &npcol, &myrow, &mycol);
    int mloc = numroc_(&n, &nb, &myrow, &izero, &nprow), nloc = numroc_(&n, &nb, &mycol, &izero, &npcol);
    int lld = mloc > 1 ? mloc : 1, desca[9], descb[9];
    descinit_(desca, &n, &n, &nb, &nb, &izero, &izero, &ctxt, &lld, &info);
    descinit_(descb, &n, &ione, &nb, &nb, &izero, &izero, &ctxt, &lld, &info);
    double *a = malloc(sizeof(double) * (size_t)lld * (nloc > 0 ? nloc : 1));
    double *tau = malloc(sizeof(double) * (size_t)(nloc > 0 ? nloc : 1));
    int *ipiv = malloc(sizeof(int) * (size_t)(mloc + nb));
    double query, *work = NULL;
    int lwork = -1;
    if (r == GEQRF) { /* the larger of pdgeqrf's and pdormqr's workspaces */
        pdgeqrf_(&n, &n, a, &ione, &ione, desca, tau, &query, &lwork, &info);
        int need = (int)query;
        double *b0 = malloc(sizeof(double) * (size_t)lld);
        pdormqr_("L", "T", &n, &ione, &n, a, &ione, &ione, desca, tau, b0, &ione, &ione, descb, &query, &lwork,
                 &info);
        free(b0);
        lwork = need > (int)query ? need : (int)query;
        work = malloc(sizeof(double) * (size_t)lwork);
    }
    double *times = malloc(sizeof(double) * (size_t)reps);
    const char *routine = r == POTRF ? "pdpotrf" : r == GETRF ? "pdgetrf" : "pdgeqrf";
    double flops = r == POTRF ? (double)n * n * n / 3.0 : r == GETRF ? 2.0 * n * n * n / 3.0 : 4.0 * n * n * n / 3.0;
    for (int k = 0; k < reps; k++) {
        fill(r, a, n, nb, mloc, nloc, myrow, mycol, nprow, npcol, lld);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (r == POTRF) pdpotrf_("L", &n, a, &ione, &ione, desca, &info);
        else if (r == GETRF) pdgetrf_(&n, &n, a, &ione, &ione, desca, ipiv, &info);
        else pdgeqrf_(&n, &n, a, &ione, &ione, desca, tau, work, &lwork, &info);
        MPI_Barrier(MPI_COMM_WORLD);
        times[k] = MPI_Wtime() - t0;
        if (info != 0) {
            fprintf(stderr, "rank %d: %s info=%d\n", me, routine, info);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
        if (me == 0)
            printf("rep %d: %s n=%d nb=%d grid=%dx%d seconds=%.4f gflops=%.2f\n", k, routine, n, nb, nprow, npcol,
                   times[k], flops / times[k] / 1e9);
    }
    /* The check: b = A*1, then solve with the factors. */
    double *ones = malloc(sizeof(double) * (size_t)lld), *b = malloc(sizeof(double) * (size_t)lld);
    fill(r, a, n, nb, mloc, nloc, myrow, mycol, nprow, npcol, lld);
    for (int i = 0; i < mloc; i++) ones[i] = 1.0, b[i] = 0.0;
    double one = 1.0, zero = 0.0;
    pdgemv_("N", &n, &n, &one, a, &ione, &ione, desca, ones, &ione, &ione, descb, &ione, &zero, b, &ione, &ione,
            descb, &ione);
    if (r == POTRF) {
        pdpotrf_("L", &n, a, &ione, &ione, desca, &info);
        pdpotrs_("L", &n, &ione, a, &ione, &ione, desca, b, &ione, &ione, descb, &info);
    } else if (r == GETRF) {
        pdgetrf_(&n, &n, a, &ione, &ione, desca, ipiv, &info);
        pdgetrs_("N", &n, &ione, a, &ione, &ione, desca, ipiv, b, &ione, &ione, descb, &info);
    } else {
        pdgeqrf_(&n, &n, a, &ione, &ione, desca, tau, work, &lwork, &info);
        pdormqr_("L", "T", &n, &ione, &n, a, &ione, &ione, desca, tau, b, &ione, &ione, descb, work, &lwork, &info);
        pdtrsm_("L", "U", "N", "N", &n, &ione, &one, a, &ione, &ione, desca, b, &ione, &ione, descb);
    }
    /* b is distributed like column 0: only process column 0 holds it. */
    double err = 0.0, gerr;
    if (mycol == 0)
        for (int i = 0; i < mloc; i++) err = fmax(err, fabs(b[i] - 1.0));
    MPI_Reduce(&err, &gerr, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (me == 0) {
        qsort(times, (size_t)reps, sizeof(double), by_value);
        double median = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
        printf("scalapack routine=%s n=%d nb=%d grid=%dx%d reps=%d best=%.4f median=%.4f gflops=%.2f "
               "check=%.2e %s\n",
               routine, n, nb, nprow, npcol, reps, times[0], median, flops / median / 1e9, gerr,
               info == 0 && gerr < 1e-6 ? "ok" : "FAILED");
    }
    free(a), free(tau), free(ipiv), free(work), free(times), free(ones), free(b);
    Cblacs_gridexit(ctxt);
    MPI_Finalize();
    return 0;
}
