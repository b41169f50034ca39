//! Agreement of a grouping with known labels: adjusted Rand index and purity.

use std::collections::HashMap;

fn pairs(n: u64) -> f64 {
    (n as f64) * (n.saturating_sub(1) as f64) / 2.0
}

fn contingency(truth: &[usize], pred: &[usize]) -> HashMap<(usize, usize), u64> {
    let mut m = HashMap::new();
    for (&t, &p) in truth.iter().zip(pred) {
        *m.entry((t, p)).or_default() += 1;
    }
    m
}

/// Adjusted Rand index of two labelings of the same items (Hubert and Arabie): 1 for identical
/// partitions, about 0 for a random one, negative for worse than random.
pub fn adjusted_rand_index(truth: &[usize], pred: &[usize]) -> f64 {
    assert_eq!(truth.len(), pred.len(), "both labelings cover the same items");
    let n = truth.len() as u64;
    let table = contingency(truth, pred);
    let mut rows: HashMap<usize, u64> = HashMap::new();
    let mut cols: HashMap<usize, u64> = HashMap::new();
    let mut index = 0.0;
    for (&(t, p), &c) in &table {
        index += pairs(c);
        *rows.entry(t).or_default() += c;
        *cols.entry(p).or_default() += c;
    }
    let a: f64 = rows.values().map(|&c| pairs(c)).sum();
    let b: f64 = cols.values().map(|&c| pairs(c)).sum();
    let expected = if n < 2 { 0.0 } else { a * b / pairs(n) };
    let max = (a + b) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// Purity: the share of items that belong to the most common true label of their cluster.
pub fn purity(truth: &[usize], pred: &[usize]) -> f64 {
    assert_eq!(truth.len(), pred.len(), "both labelings cover the same items");
    if truth.is_empty() {
        return 1.0;
    }
    let mut best: HashMap<usize, u64> = HashMap::new();
    for (&(_, p), &c) in &contingency(truth, pred) {
        let b = best.entry(p).or_default();
        *b = (*b).max(c);
    }
    best.values().sum::<u64>() as f64 / truth.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_partitions_score_one_whatever_the_names() {
        let t = [0, 0, 1, 1, 2, 2];
        let p = [5, 5, 3, 3, 9, 9];
        assert!((adjusted_rand_index(&t, &p) - 1.0).abs() < 1e-12);
        assert_eq!(purity(&t, &p), 1.0);
    }

    #[test]
    fn known_value() {
        // The classic example (scikit-learn's docs): ARI 0.24242..., purity 5/6.
        let t = [0, 0, 0, 1, 1, 1];
        let p = [0, 0, 1, 1, 2, 2];
        assert!((adjusted_rand_index(&t, &p) - 0.242_424_242).abs() < 1e-6);
        assert!((purity(&t, &p) - 5.0 / 6.0).abs() < 1e-12);
        // Everything in one cluster: ARI 0, purity of the majority.
        let one = [0; 6];
        assert!(adjusted_rand_index(&t, &one).abs() < 1e-12);
        assert_eq!(purity(&t, &one), 0.5);
    }
}
