//! Agglomerative clustering on the neighbour graph with a centroid check.
//!
//! Edges are taken from the most similar down. An edge joins its two clusters only when the
//! cosine of the two clusters' summed vectors reaches the threshold: for clusters `A` and `B` that
//! is the mean pairwise similarity across them divided by the geometric mean of their inner
//! similarities, a normalized average linkage. So a chain of pairwise-similar posts cannot drag
//! two different problems into one cluster the way single linkage does, and the cost is one sparse
//! dot product per edge.
//!
//! Seeds are clusters given up front (the existing themes): they take in new posts, but two seeds
//! never merge, so a theme keeps its posts and its id from one run to the next.

use super::neighbours::Edge;
use super::vectors::{SparseVec, dot, normalize};

/// Options of the clustering.
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    /// Cosine two clusters' centroids need to be merged (0-1).
    pub threshold: f32,
    /// Terms a centroid keeps (the heaviest); bounds the cost of a merge check.
    pub centroid_terms: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            threshold: 0.3,
            centroid_terms: 256,
        }
    }
}

/// One cluster of documents.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Documents, ascending.
    pub members: Vec<u32>,
    /// The unit centroid (heaviest terms only).
    pub centroid: SparseVec,
    /// The seed it grew from, when it did.
    pub seed: Option<usize>,
}

struct Node {
    sum: SparseVec,
    norm: f32,
    size: u32,
    seed: Option<usize>,
}

fn add(a: &[(u32, f32)], b: &[(u32, f32)], cap: usize) -> SparseVec {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i >= a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            out.push((a[i].0, a[i].1 + b[j].1));
            i += 1;
            j += 1;
        }
    }
    if out.len() > cap {
        out.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        out.truncate(cap);
        out.sort_unstable_by_key(|x| x.0);
    }
    out
}

fn norm(v: &[(u32, f32)]) -> f32 {
    v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt()
}

struct Forest {
    parent: Vec<u32>,
    nodes: Vec<Option<Node>>,
}

impl Forest {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Joins `b` into `a` (both roots); the larger keeps being the root.
    fn join(&mut self, a: u32, b: u32, cap: usize) {
        let (na, nb) = match (self.nodes[a as usize].take(), self.nodes[b as usize].take()) {
            (Some(x), Some(y)) => (x, y),
            // Roots always hold their node; nothing to join otherwise.
            (x, y) => {
                self.nodes[a as usize] = x;
                self.nodes[b as usize] = y;
                return;
            }
        };
        let sum = add(&na.sum, &nb.sum, cap);
        let node = Node {
            norm: norm(&sum),
            sum,
            size: na.size + nb.size,
            seed: na.seed.or(nb.seed),
        };
        let (root, child) = if na.size >= nb.size { (a, b) } else { (b, a) };
        self.parent[child as usize] = root;
        self.nodes[root as usize] = Some(node);
    }
}

/// Clusters `vectors` along `edges` (sorted by decreasing similarity). `seeds` are groups of
/// documents that start as one cluster each and never merge with one another. Every document ends
/// in exactly one cluster (unlinked documents are clusters of one); clusters come back ordered by
/// their smallest member.
pub fn cluster(
    vectors: &[SparseVec],
    edges: &[Edge],
    seeds: &[Vec<u32>],
    opts: ClusterOptions,
) -> Vec<Cluster> {
    let n = vectors.len();
    let mut f = Forest {
        parent: (0..n as u32).collect(),
        nodes: vectors
            .iter()
            .map(|v| {
                Some(Node {
                    sum: v.clone(),
                    norm: norm(v),
                    size: 1,
                    seed: None,
                })
            })
            .collect(),
    };
    for (s, members) in seeds.iter().enumerate() {
        let Some(&first) = members.first() else {
            continue;
        };
        if let Some(node) = f.nodes[first as usize].as_mut() {
            node.seed = Some(s);
        }
        for &m in &members[1..] {
            let (a, b) = (f.find(first), f.find(m));
            if a != b {
                f.join(a, b, opts.centroid_terms);
            }
        }
    }
    for &(a, b, _) in edges {
        let (ra, rb) = (f.find(a), f.find(b));
        if ra == rb {
            continue;
        }
        let (Some(x), Some(y)) = (&f.nodes[ra as usize], &f.nodes[rb as usize]) else {
            continue;
        };
        if x.seed.is_some() && y.seed.is_some() {
            continue;
        }
        if x.norm == 0.0 || y.norm == 0.0 {
            continue;
        }
        if dot(&x.sum, &y.sum) / (x.norm * y.norm) >= opts.threshold {
            f.join(ra, rb, opts.centroid_terms);
        }
    }
    let mut by_root: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
    for d in 0..n as u32 {
        let r = f.find(d);
        by_root.entry(r).or_default().push(d);
    }
    let mut out: Vec<Cluster> = by_root
        .into_iter()
        .map(|(root, members)| {
            let node = f.nodes[root as usize].take();
            let (mut centroid, seed) = node.map(|n| (n.sum, n.seed)).unwrap_or_default();
            normalize(&mut centroid);
            Cluster {
                members,
                centroid,
                seed,
            }
        })
        .collect();
    out.sort_by_key(|c| c.members[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(mut v: SparseVec) -> SparseVec {
        normalize(&mut v);
        v
    }

    #[test]
    fn centroid_check_stops_chains() {
        // 0-1 close, 1-2 close, but 0 and 2 share nothing: single linkage would chain them all.
        let vs = vec![
            unit(vec![(0, 1.0), (1, 0.2)]),
            unit(vec![(0, 0.7), (1, 0.7)]),
            unit(vec![(1, 1.0), (2, 0.9)]),
        ];
        let e01 = dot(&vs[0], &vs[1]);
        let e12 = dot(&vs[1], &vs[2]);
        let edges = vec![(0, 1, e01), (1, 2, e12)];
        let c = cluster(
            &vs,
            &edges,
            &[],
            ClusterOptions {
                threshold: 0.5,
                ..Default::default()
            },
        );
        let groups: Vec<Vec<u32>> = c.iter().map(|c| c.members.clone()).collect();
        assert_eq!(groups, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn seeds_absorb_but_never_merge() {
        let vs = vec![unit(vec![(0, 1.0)]), unit(vec![(0, 1.0)]), unit(vec![(0, 1.0)])];
        let edges = vec![(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0)];
        let c = cluster(&vs, &edges, &[vec![0], vec![1]], ClusterOptions::default());
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].members, vec![0, 2]);
        assert_eq!(c[0].seed, Some(0));
        assert_eq!(c[1].members, vec![1]);
        assert_eq!(c[1].seed, Some(1));
    }
}
