//! Nearest neighbours of every document without comparing all pairs: an inverted index from
//! term to the documents that weigh it most, queried with each document's heaviest terms, then the
//! exact cosine of the best candidates.
//!
//! Work per document is bounded by `query_terms * posting_cap`, so the whole graph costs
//! O(n * query_terms * posting_cap) instead of O(n^2), and it runs on every core (rayon).

use rayon::prelude::*;

use super::vectors::{SparseVec, dot};

/// Limits of the neighbour search.
#[derive(Debug, Clone, Copy)]
pub struct KnnOptions {
    /// Neighbours kept per document.
    pub k: usize,
    /// A document is looked up by this many of its heaviest terms.
    pub query_terms: usize,
    /// A term's posting list keeps this many documents (the ones that weigh it most).
    pub posting_cap: usize,
    /// Candidates whose exact cosine is computed, per document.
    pub candidates: usize,
    /// Edges below this cosine are not kept.
    pub min_similarity: f32,
}

impl Default for KnnOptions {
    fn default() -> Self {
        Self {
            k: 12,
            query_terms: 16,
            posting_cap: 400,
            candidates: 48,
            min_similarity: 0.05,
        }
    }
}

/// An undirected edge `(a, b, cosine)` with `a < b`.
pub type Edge = (u32, u32, f32);

/// The k-nearest-neighbour graph of `vectors`, as edges sorted by decreasing similarity (ties by
/// ids, so the order never depends on thread timing). Only documents for which `query` is true
/// look for neighbours (among all documents): an incremental run asks for the new posts only.
pub fn knn_edges(
    vectors: &[SparseVec],
    terms: usize,
    opts: KnnOptions,
    query: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<Edge> {
    let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); terms];
    for (d, v) in vectors.iter().enumerate() {
        for &(t, w) in v {
            postings[t as usize].push((d as u32, w));
        }
    }
    postings.par_iter_mut().for_each(|p| {
        if p.len() > opts.posting_cap {
            p.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            p.truncate(opts.posting_cap);
        }
    });
    let n = vectors.len();
    let mut edges: Vec<Edge> = (0..n)
        .into_par_iter()
        .filter(|&d| query(d))
        .map_init(
            || (vec![0.0f32; n], Vec::<u32>::new()),
            |(acc, touched), d| {
                let v = &vectors[d];
                let mut query: Vec<(u32, f32)> = v.clone();
                query.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                query.truncate(opts.query_terms);
                for &(t, w) in &query {
                    for &(o, ow) in &postings[t as usize] {
                        if o as usize == d {
                            continue;
                        }
                        let slot = &mut acc[o as usize];
                        if *slot == 0.0 {
                            touched.push(o);
                        }
                        *slot += w * ow;
                    }
                }
                let mut cands: Vec<(u32, f32)> = touched.iter().map(|&o| (o, acc[o as usize])).collect();
                for &o in touched.iter() {
                    acc[o as usize] = 0.0;
                }
                touched.clear();
                if cands.len() > opts.candidates {
                    cands.select_nth_unstable_by(opts.candidates, |a, b| {
                        b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
                    });
                    cands.truncate(opts.candidates);
                }
                let mut exact: Vec<(u32, f32)> = cands
                    .into_iter()
                    .map(|(o, _)| (o, dot(v, &vectors[o as usize])))
                    .filter(|(_, s)| *s >= opts.min_similarity)
                    .collect();
                exact.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                exact.truncate(opts.k);
                exact
                    .into_iter()
                    .map(|(o, s)| {
                        let (a, b) = if (d as u32) < o {
                            (d as u32, o)
                        } else {
                            (o, d as u32)
                        };
                        (a, b, s)
                    })
                    .collect::<Vec<Edge>>()
            },
        )
        .flatten()
        .collect();
    edges.par_sort_unstable_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)).then(x.1.cmp(&y.1)));
    edges.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_close_pairs_and_sorts_them() {
        let mut vs: Vec<SparseVec> = vec![
            vec![(0, 1.0)],
            vec![(0, 0.8), (1, 0.6)],
            vec![(2, 1.0)],
            vec![(2, 0.6), (3, 0.8)],
            vec![],
        ];
        for v in &mut vs {
            super::super::vectors::normalize(v);
        }
        let e = knn_edges(&vs, 4, KnnOptions::default(), &|_| true);
        // Asking from one side finds the same pair.
        assert_eq!(knn_edges(&vs, 4, KnnOptions::default(), &|d| d == 1).len(), 1);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!((e[0].0, e[0].1), (0, 1));
        assert!((e[0].2 - 0.8).abs() < 1e-6);
        assert_eq!((e[1].0, e[1].1), (2, 3));
    }
}
