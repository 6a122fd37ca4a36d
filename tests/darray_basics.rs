//! DArray foundation: partitions and tile index maps (against brute force), constructors,
//! conversions with ragged edges and mixed partitions, reproducible random matrices.

use mosaic::prelude::*;
use ndarray::Array2;
use proptest::prelude::*;

fn sample(rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| (i * 1000 + j) as f64 + 0.25)
}

#[test]
fn ragged_blocks_shape_grid_and_ranges() {
    let a = DArray::from_ndarray(&sample(1000, 700), Blocks(256, 256));
    assert_eq!(a.shape(), (1000, 700));
    assert_eq!(a.block_size(), (256, 256));
    assert_eq!(a.tile_grid(), (4, 3));
    assert_eq!(a.tile_range(3, 2), (768..1000, 512..700));
    assert_eq!(a.tile(3, 2).shape(), (232, 188));
    // Power-of-two-ish tile heights get a padded leading dimension (PERF.md).
    assert_eq!(a.tile(0, 0).leading_dim(), 264);
    assert_eq!(a.tile(3, 0).leading_dim(), 232);
    assert_eq!(a.to_ndarray(), sample(1000, 700));
}

#[test]
fn a_tile_larger_than_the_matrix_is_the_matrix() {
    let a = DArray::from_ndarray(&sample(5, 3), Blocks(100, 100));
    assert_eq!(a.tile_grid(), (1, 1));
    assert_eq!(a.block_size(), (5, 3));
    assert_eq!(a.to_ndarray(), sample(5, 3));
}

#[test]
#[should_panic(expected = "tile sizes must be positive")]
fn zero_tile_size_is_refused() {
    let _ = DArray::<f64>::zeros(Blocks(0, 4), 8, 8);
}

#[test]
#[should_panic(expected = "outside the 2×2 tile grid")]
fn tile_outside_the_grid_panics() {
    let a = DArray::<f64>::zeros(Blocks(2, 2), 4, 4);
    let _ = a.tile(2, 0);
}

#[test]
fn empty_matrices() {
    let a = DArray::<f64>::zeros(AutoBlocks, 0, 5);
    assert_eq!(a.shape(), (0, 5));
    assert_eq!(a.to_ndarray().dim(), (0, 5));
    let b = DArray::<f32>::rand(Blocks(4, 4), 3, 0);
    assert_eq!(b.to_ndarray().dim(), (3, 0));
}

#[test]
fn constant_constructors() {
    assert!(DArray::<f64>::zeros(Blocks(3, 2), 7, 5)
        .to_ndarray()
        .iter()
        .all(|&x| x == 0.0));
    assert!(DArray::<f32>::ones(Blocks(3, 2), 7, 5)
        .to_ndarray()
        .iter()
        .all(|&x| x == 1.0));
    let i = DArray::<f64>::eye(Blocks(3, 3), 8).to_ndarray();
    assert_eq!(i, Array2::eye(8));
}

#[test]
fn seeded_random_matrices_do_not_depend_on_the_tiling() {
    let a = DArray::<f64>::rand_seeded(Blocks(7, 3), 50, 40, 42).to_ndarray();
    let b = DArray::<f64>::rand_seeded(AutoBlocks, 50, 40, 42).to_ndarray();
    let c = DArray::<f64>::rand_seeded(Blocks(50, 1), 50, 40, 43).to_ndarray();
    assert_eq!(a, b);
    assert_ne!(a, c, "another seed gives another matrix");
    assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
    let mean = a.mean().unwrap();
    assert!((mean - 0.5).abs() < 0.05, "mean of 2000 uniforms: {mean}");
    // Unseeded calls differ.
    assert_ne!(
        DArray::<f64>::rand(AutoBlocks, 4, 4).to_ndarray(),
        DArray::<f64>::rand(AutoBlocks, 4, 4).to_ndarray()
    );
}

#[test]
fn normal_random_matrices_have_unit_variance() {
    let x = DArray::<f64>::randn_seeded(Blocks(64, 64), 200, 100, 9).to_ndarray();
    let mean = x.mean().unwrap();
    let var = x.mapv(|v| (v - mean).powi(2)).mean().unwrap();
    assert!(
        mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
        "mean {mean}, variance {var}"
    );
    let y = DArray::<f32>::randn(AutoBlocks, 10, 1).to_ndarray();
    assert!(y.iter().all(|v| v.is_finite()));
}

#[test]
fn auto_blocks_one_tile_when_small_several_per_worker_when_large() {
    let small = DArray::<f64>::zeros(AutoBlocks, 200, 200);
    assert_eq!(small.tile_grid(), (1, 1));
    let large = DArray::<f64>::zeros(AutoBlocks, 2048, 2048);
    let want = 2 * mosaic::num_threads();
    assert!(
        large.tile_grid().0 >= want.min(16),
        "{:?} for {} workers",
        large.tile_grid(),
        mosaic::num_threads()
    );
    assert_eq!(large.block_size().0, large.block_size().1, "square tiles");
    // Never one slab per processor: tiles are square, not full-height columns.
    assert!(large.block_size().0 < 2048);
}

#[test]
fn auto_blocks_cuts_large_matrices_of_either_type_in_the_same_tiles_of_at_most_256() {
    let workers = mosaic::num_threads();
    for n in [300, 1024, 1536, 2048, 4096, 8192] {
        let single = DArray::<f32>::zeros(AutoBlocks, n, n).block_size();
        let double = DArray::<f64>::zeros(AutoBlocks, n, n).block_size();
        assert_eq!(single, double, "{n}: the same tiles for f32 and f64");
        assert!(double.0 <= 256 && double.0 == double.1, "{n}: {double:?}");
        // 256 (Cholesky's and LU's working tile) wherever it still gives every worker
        // two tiles per dimension.
        if n / 256 >= 2 * workers {
            assert_eq!(double.0, 256, "{n} with {workers} workers");
        }
    }
}

#[test]
fn tiles_are_task_accesses() {
    let a = DArray::<f64>::ones(Blocks(2, 2), 4, 4);
    let sum = spawn((In(a.tile(1, 1)),), |(t,)| t.sum()).wait().unwrap();
    assert_eq!(sum, 4.0);
    spawn((InOut(a.tile(0, 1)),), |(mut t,)| t *= 3.0);
    let m = a.to_ndarray();
    assert_eq!(m[(0, 2)], 3.0);
    assert_eq!(m[(2, 2)], 1.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Partitions and index maps against brute force: every element lands in exactly the
    /// tile `locate` names, at the offset it names, and the round trip is exact.
    #[test]
    fn partitions_and_index_maps(rows in 0usize..40, cols in 0usize..40, br in 1usize..50, bc in 1usize..50) {
        let m = sample(rows, cols);
        let a = DArray::from_ndarray(&m, Blocks(br, bc));
        let (gr, gc) = a.tile_grid();
        prop_assert_eq!(gr, rows.div_ceil(br.min(rows.max(1))).max(1));
        prop_assert_eq!(gc, cols.div_ceil(bc.min(cols.max(1))).max(1));
        let tiles: Vec<Vec<Array2<f64>>> =
            (0..gr).map(|i| (0..gc).map(|j| a.tile(i, j).to_ndarray().unwrap()).collect()).collect();
        let mut covered = 0;
        for (i, row) in tiles.iter().enumerate() {
            for (j, tile) in row.iter().enumerate() {
                let (r, c) = a.tile_range(i, j);
                prop_assert_eq!(tile.dim(), (r.len(), c.len()));
                covered += r.len() * c.len();
            }
        }
        prop_assert_eq!(covered, rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                let ((ti, tj), (ii, jj)) = a.locate(i, j);
                let (r, c) = a.tile_range(ti, tj);
                prop_assert!(r.contains(&i) && c.contains(&j));
                prop_assert_eq!((r.start + ii, c.start + jj), (i, j));
                prop_assert_eq!(tiles[ti][tj][(ii, jj)], m[(i, j)]);
            }
        }
        prop_assert_eq!(a.to_ndarray(), m.clone());
        // Re-cut under another partition: same matrix.
        let b = DArray::from_ndarray(&a.to_ndarray(), Blocks(bc, br));
        prop_assert_eq!(b.to_ndarray(), m);
    }
}

/// Regression: views of empty arrays (and empty slices, and empty tiles) used to trip
/// `ndarray`'s stride checks inside the task, failing it.
#[test]
fn regression_empty_views_are_constructible() {
    let mut a = Array2::<f64>::zeros((0, 5));
    let mut v = ndarray::Array1::<f64>::zeros(4);
    datadeps(|s| {
        let h = s.write(&mut a);
        let x = s.write(&mut v);
        s.spawn((InOut(h), InOut(x.slice(ndarray::s![2..2]))), |(m, e)| {
            (m.len(), e.len())
        })
        .wait()
    })
    .map(|lens| assert_eq!(lens, (0, 0)))
    .unwrap();
    let t = Tile::<f64>::zeros(3, 0);
    assert_eq!(t.to_ndarray().unwrap().dim(), (3, 0));
}
