//! Ranks whose programs differ (feature `mpi`; `.ci/run` runs it on 1 and 2 ranks with
//! `MOSAIC_MPI_DIVERGENCE_TIMEOUT=2`). Its own binary: after a divergence the ranks'
//! numbering of objects no longer agrees, so nothing distributed can run after it.
#![cfg(feature = "mpi")]

use mosaic::distributed;
use mosaic::prelude::*;

#[test]
fn ranks_whose_programs_differ_get_diverged_not_a_hang() {
    let w = distributed::init().unwrap();
    let a = DArray::<f64>::rand_seeded(Blocks(10, 10), 20, 20, 1);
    if w.rank() == 1 {
        // Rank 1 alone makes one more matrix: four more tiles and tasks than rank 0.
        drop(&a * 2.0);
    }
    let product = (&a * &a).try_to_ndarray();
    if w.size() == 1 {
        let local = distributed::local(|| {
            let a = DArray::<f64>::rand_seeded(Blocks(10, 10), 20, 20, 1);
            (&a * &a).to_ndarray()
        });
        assert_eq!(product.unwrap(), local, "one rank cannot diverge");
        return;
    }
    // The first task where the programs differ is rank 1's scaling (`*`), where rank 0 has
    // the product's first task; both ranks name it, each with its own task there.
    match product {
        Err(mosaic::Error::Diverged { task, name, detail }) => {
            assert!(task > 0, "{detail}");
            if w.rank() == 1 {
                assert_eq!(name, "*", "{detail}");
                assert!(detail.contains("is `*` on this rank"), "{detail}");
            } else {
                assert_ne!(name, "*", "{detail}");
                assert!(detail.contains("`*` on rank 1"), "{detail}");
            }
        }
        other => panic!("rank {}: expected Diverged, got {other:?}", w.rank()),
    }
}
