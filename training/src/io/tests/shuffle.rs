//! The generator and shuffles against C++, numpy and MXNet.

use crate::io::shuffle::Mt19937;

#[test]
fn mt19937_matches_the_standard() {
    // std::mt19937's default seed 5489: the 10000th output is 4123659995 (C++ [rand.predef]).
    let mut g = Mt19937::new(5489);
    assert_eq!(g.next_u32(), 3_499_211_612);
    let mut g = Mt19937::new(5489);
    let last = (0..10_000).map(|_| g.next_u32()).last();
    assert_eq!(last, Some(4_123_659_995));
}

#[test]
fn numpy_shuffle_matches_numpy() {
    // np.random.seed(s); a = np.arange(20); np.random.shuffle(a)
    let cases: [(u32, [usize; 20]); 3] = [
        (
            0,
            [
                18, 1, 19, 8, 10, 17, 6, 13, 4, 2, 5, 14, 9, 7, 16, 11, 3, 0, 15, 12,
            ],
        ),
        (
            1,
            [
                3, 16, 6, 10, 2, 14, 4, 17, 7, 1, 13, 0, 19, 18, 9, 15, 8, 12, 11, 5,
            ],
        ),
        (
            u32::MAX,
            [
                11, 17, 19, 15, 1, 5, 8, 16, 13, 18, 14, 9, 10, 6, 0, 4, 7, 12, 2, 3,
            ],
        ),
    ];
    for (seed, want) in cases {
        let mut a: Vec<usize> = (0..20).collect();
        Mt19937::new(seed).numpy_shuffle(&mut a);
        assert_eq!(a, want, "seed {seed}");
    }
}

/// `0..n` shuffled by `Mt19937::new(seed).libstdcxx_shuffle`.
fn libstdcxx_shuffled(n: usize, seed: u32) -> Vec<usize> {
    let mut a: Vec<usize> = (0..n).collect();
    Mt19937::new(seed).libstdcxx_shuffle(&mut a);
    a
}

#[test]
fn libstdcxx_shuffle_matches_mxnet_mnist_iter() {
    // The order of MXNet's MNISTIter(shuffle=True, seed=s) over 10000 examples, found by
    // matching its images to the file's.
    let a = libstdcxx_shuffled(10_000, 0);
    assert_eq!(
        a[..12],
        [
            7713, 3267, 1515, 3028, 4699, 1485, 7952, 752, 1705, 1066, 835, 9084
        ]
    );
    assert_eq!(a[a.len() - 5..], [6839, 8454, 7041, 9759, 9211]);
    let a = libstdcxx_shuffled(10_000, 5);
    assert_eq!(
        a[..12],
        [
            8986, 1581, 6306, 8676, 8577, 7667, 1882, 5898, 1832, 9694, 9241, 2899
        ]
    );
    assert_eq!(a[a.len() - 5..], [2977, 8409, 8556, 7767, 972]);
    // 60000 examples (Fashion-MNIST's training set), seed 0.
    let a = libstdcxx_shuffled(60_000, 0);
    assert_eq!(
        a[..8],
        [26990, 27744, 21904, 3028, 29287, 11021, 25046, 752]
    );
}

#[test]
fn shuffles_are_permutations() {
    for n in [0, 1, 2, 3, 17, 1000] {
        for seed in [0, 9] {
            let mut a: Vec<usize> = (0..n).collect();
            Mt19937::new(seed).numpy_shuffle(&mut a);
            let mut b: Vec<usize> = (0..n).collect();
            Mt19937::new(seed).libstdcxx_shuffle(&mut b);
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, (0..n).collect::<Vec<_>>());
            assert_eq!(b, (0..n).collect::<Vec<_>>());
        }
    }
}
