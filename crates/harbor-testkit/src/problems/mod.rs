//! A labelled set of problem posts for measuring themes: 32 distinct problems, each written in
//! many differently worded posts, plus unrelated posts.
//!
//! A post of a problem is put together from that problem's own vocabulary: several names for the
//! thing it is about, several ways of saying what goes wrong, situational details and asks, in
//! different sentence shapes (a question title, a rant, a story, a request), with filler that every
//! problem shares (which pulls different problems together, as real posts do). Two posts of one
//! problem often share only one or two content words. Deterministic for a seed.

/// One generated post.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPost {
    /// Post id (`e<seed>x<n>`, unique per seed).
    pub id: String,
    /// The problem it describes; `None` for an unrelated post.
    pub label: Option<usize>,
    /// Subreddit.
    pub subreddit: String,
    /// Author.
    pub author: String,
    /// Creation time (Unix seconds).
    pub created_utc: f64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
}

mod vocabulary;

use vocabulary::{FILLER, PROBLEMS, Problem, UNRELATED};

/// Deterministic pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How many unrelated topics [`generate`] has.
pub fn unrelated_count() -> usize {
    UNRELATED.len()
}

/// How many problems [`generate`] writes about.
pub fn problem_count() -> usize {
    PROBLEMS.len()
}

fn write_post(p: &Problem, rng: &mut Rng) -> (String, String) {
    let thing = rng.pick(p.things);
    let trouble = rng.pick(p.troubles);
    let ask = rng.pick(p.asks);
    let detail = rng.pick(p.details);
    let title = match rng.below(5) {
        0 => format!("My {thing} {trouble}"),
        1 => format!("{} - {}", capitalize(ask.trim_end_matches('?')), thing),
        2 => format!(
            "Why does my {thing} always {}?",
            trouble.split(' ').next().unwrap_or(trouble)
        ),
        3 => format!("Rant: {thing} that {trouble}"),
        _ => capitalize(detail.trim_end_matches('.')),
    };
    let mut body = Vec::new();
    if rng.below(3) == 0 {
        body.push(rng.pick(FILLER).to_owned());
    }
    match rng.below(3) {
        0 => {
            body.push(format!(
                "Every time, the {} {}.",
                rng.pick(p.things),
                rng.pick(p.troubles)
            ));
            body.push(detail.to_owned());
        }
        1 => {
            body.push(detail.to_owned());
            body.push(rng.pick(p.details).to_owned());
        }
        _ => body.push(format!(
            "So the {} {} again. {}",
            rng.pick(p.things),
            rng.pick(p.troubles),
            detail
        )),
    }
    body.push(ask.to_owned());
    if rng.below(2) == 0 {
        body.push(rng.pick(FILLER).to_owned());
    }
    (title, body.join(" "))
}

/// Generates `per_problem` posts for each problem and `unrelated` unrelated posts, created over
/// `weeks` weeks ending at `end` (Unix seconds); at most [`unrelated_count`] unrelated posts, one per
/// topic. Ids are unique for a `seed`; a problem's posts
/// spread over its three subreddits.
pub fn generate(seed: u64, per_problem: usize, unrelated: usize, weeks: u32, end: f64) -> Vec<LabelledPost> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1));
    let span = f64::from(weeks.max(1)) * 7.0 * 86_400.0;
    let mut out = Vec::new();
    let mut n = 0u64;
    let next_id = |n: &mut u64| {
        *n += 1;
        format!("e{seed}x{n}")
    };
    for (label, p) in PROBLEMS.iter().enumerate() {
        for _ in 0..per_problem {
            let (title, body) = write_post(p, &mut rng);
            out.push(LabelledPost {
                id: next_id(&mut n),
                label: Some(label),
                subreddit: p.subs[rng.below(3)].to_owned(),
                author: format!("user{}", rng.below(5_000)),
                created_utc: (end - span + (rng.next() % 1_000_000) as f64 / 1_000_000.0 * span).floor(),
                title,
                body,
            });
        }
    }
    for topic in UNRELATED.iter().take(unrelated) {
        out.push(LabelledPost {
            id: next_id(&mut n),
            label: None,
            subreddit: "casualconversation".to_owned(),
            author: format!("user{}", rng.below(5_000)),
            created_utc: (end - span + (rng.next() % 1_000_000) as f64 / 1_000_000.0 * span).floor(),
            title: (*topic).to_owned(),
            body: rng.pick(FILLER).to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_labelled_and_varied() {
        let a = generate(7, 10, 20, 8, 1_796_601_600.0);
        assert_eq!(a, generate(7, 10, 20, 8, 1_796_601_600.0));
        assert_eq!(a.len(), PROBLEMS.len() * 10 + 20);
        assert!(PROBLEMS.len() >= 30);
        // Posts of one problem are not copies of each other.
        let titles: std::collections::HashSet<&str> = a
            .iter()
            .filter(|p| p.label == Some(0))
            .map(|p| p.title.as_str())
            .collect();
        assert!(titles.len() >= 7, "{titles:?}");
    }
}
