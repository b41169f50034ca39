//! Sparse TF-IDF vectors, L2-normalized, so a dot product is a cosine similarity.
//!
//! Term frequency is sublinear (`1 + ln tf`) over weighted fields (the title counts twice, top
//! comments half); IDF is smoothed (`ln((1 + n) / (1 + df)) + 1`). Terms seen in one document only,
//! or in more than half of them, are dropped: they cannot link two posts, and would only dilute
//! every similarity of the documents that have them (the second rule from 200 documents on).

use std::collections::HashMap;

use rayon::prelude::*;

use super::tokenize::Tokenizer;

/// A sparse unit vector: `(term, weight)` sorted by term.
pub type SparseVec = Vec<(u32, f32)>;

/// The text of one document, by field.
#[derive(Debug, Clone, Default)]
pub struct DocText<'a> {
    /// Title (weight 2).
    pub title: &'a str,
    /// Body (weight 1).
    pub body: &'a str,
    /// Top comments (weight 0.5 each).
    pub comments: Vec<&'a str>,
}

/// The vectors of a corpus and its vocabulary.
#[derive(Debug, Default)]
pub struct Corpus {
    /// One unit vector per document (empty when no kept term).
    pub vectors: Vec<SparseVec>,
    /// Stem of each term id.
    pub stems: Vec<String>,
    /// The most frequent surface word of each term id (for names).
    pub words: Vec<String>,
    /// Document frequency of each term id.
    pub df: Vec<u32>,
}

/// The dot product of two sorted sparse vectors.
pub fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0f32);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

/// Scales `v` to unit length (no-op for the zero vector).
pub fn normalize(v: &mut [(u32, f32)]) {
    let n = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if n > 0.0 {
        for (_, w) in v.iter_mut() {
            *w /= n;
        }
    }
}

/// Surface words seen per stem (each counted once per document), for names.
type Surface = HashMap<String, HashMap<String, u32>>;

/// Term counts of one document, `(stem, weighted count)`; its surface words go to `surface`.
fn count(tok: &Tokenizer, doc: &DocText<'_>, surface: &mut Surface) -> Vec<(String, f32)> {
    let mut tf: HashMap<String, f32> = HashMap::new();
    let mut add = |text: &str, weight: f32| {
        tok.each(text, |stem, word| {
            if !tf.contains_key(&stem) {
                *surface
                    .entry(stem.clone())
                    .or_default()
                    .entry(word.to_lowercase())
                    .or_default() += 1;
            }
            *tf.entry(stem).or_default() += weight;
        });
    };
    add(doc.title, 2.0);
    add(doc.body, 1.0);
    for c in &doc.comments {
        add(c, 0.5);
    }
    // Sorted, so term ids (given in order of first appearance) are the same in every process.
    let mut v: Vec<(String, f32)> = tf.into_iter().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    v
}

fn merge_surface(mut a: Surface, b: Surface) -> Surface {
    for (stem, words) in b {
        let into = a.entry(stem).or_default();
        for (w, n) in words {
            *into.entry(w).or_default() += n;
        }
    }
    a
}

impl Corpus {
    /// Builds the vectors of `docs` (tokenized in parallel; each thread keeps its own surface-word
    /// counts, merged at the end, so no per-document word list is held).
    pub fn build(docs: &[DocText<'_>]) -> Self {
        let tok = Tokenizer::default();
        let (mut indexed, mut surface_by_stem) = docs
            .par_iter()
            .enumerate()
            .fold(
                || (Vec::new(), Surface::new()),
                |(mut v, mut surface), (i, d)| {
                    v.push((i, count(&tok, d, &mut surface)));
                    (v, surface)
                },
            )
            .reduce(
                || (Vec::new(), Surface::new()),
                |(mut a, sa), (b, sb)| {
                    a.extend(b);
                    (a, merge_surface(sa, sb))
                },
            );
        indexed.sort_unstable_by_key(|(i, _)| *i);
        let counts: Vec<Vec<(String, f32)>> = indexed.into_iter().map(|(_, c)| c).collect();
        let n = docs.len();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut stems: Vec<String> = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        for tf in &counts {
            for (stem, _) in tf {
                let id = *ids.entry(stem.clone()).or_insert_with(|| {
                    stems.push(stem.clone());
                    df.push(0);
                    (stems.len() - 1) as u32
                });
                df[id as usize] += 1;
            }
        }
        // The "more than half" rule needs enough documents to mean anything.
        let max_df = if n >= 200 { (n / 2) as u32 } else { u32::MAX };
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| {
                if d < 2 || d > max_df {
                    0.0
                } else {
                    (((1 + n) as f32) / ((1 + d) as f32)).ln() + 1.0
                }
            })
            .collect();
        let vectors = counts
            .into_par_iter()
            .map(|tf| {
                let mut v: SparseVec = tf
                    .into_iter()
                    .filter_map(|(stem, c)| {
                        let id = ids[&stem];
                        let w = idf[id as usize];
                        (w > 0.0).then(|| (id, (1.0 + c.ln().max(0.0)) * w))
                    })
                    .collect();
                v.sort_unstable_by_key(|(id, _)| *id);
                normalize(&mut v);
                v
            })
            .collect();
        let words = stems
            .iter()
            .map(|stem| {
                surface_by_stem
                    .remove(stem)
                    .unwrap_or_default()
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                    .map(|(w, _)| w)
                    .unwrap_or_else(|| stem.clone())
            })
            .collect();
        Corpus {
            vectors,
            stems,
            words,
            df,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str) -> DocText<'_> {
        DocText {
            title,
            ..Default::default()
        }
    }

    #[test]
    fn similar_posts_are_closer_than_unrelated_ones() {
        let docs = [
            doc("backups fail silently every night"),
            doc("my nightly backup failed silently again"),
            doc("invoices from clients are always late"),
            doc("clients pay invoices late"),
        ];
        let c = Corpus::build(&docs);
        let v = &c.vectors;
        for x in v.iter().filter(|x| !x.is_empty()) {
            assert!((dot(x, x) - 1.0).abs() < 1e-5);
        }
        assert!(dot(&v[0], &v[1]) > 0.5, "{}", dot(&v[0], &v[1]));
        assert_eq!(dot(&v[0], &v[2]), 0.0);
        assert!(dot(&v[2], &v[3]) > 0.5);
        let backup = c.stems.iter().position(|s| s == "backup").expect("stem");
        assert_eq!(c.df[backup], 2);
        assert_eq!(c.words[backup], "backup");
    }
}
