//! The deterministic synthetic corpus: subreddits, posts and comment trees.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::config::CorpusConfig;

/// SplitMix64: tiny, deterministic, good enough for test data.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Base-36 rendering of an id counter, like Reddit ids.
pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// A comment in a post's tree.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub id: String,
    pub children: Vec<usize>,
    pub depth: usize,
    pub data: Value,
}

/// A post with its comments.
#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub subreddit: String,
    pub data: Value,
    pub comments: Vec<Comment>,
    /// Top-level comment indices.
    pub roots: Vec<usize>,
}

impl Post {
    pub(crate) fn id(&self) -> &str {
        self.data["id"].as_str().unwrap_or_default()
    }

    #[cfg(test)]
    pub(crate) fn created(&self) -> f64 {
        self.data["created_utc"].as_f64().unwrap_or_default()
    }
}

const PROBLEM_TITLES: &[&str] = &[
    "I struggle to keep my invoices in order",
    "So frustrated with backups that fail silently",
    "Is there a tool for this? Tracking inventory is a pain",
    "I wish scheduling shifts were not so difficult",
    "Can't find a decent way to share passwords with my team",
    "Annoying problem: my home server keeps losing DNS",
];
const NEUTRAL_TITLES: &[&str] = &[
    "Show-off: my new setup",
    "Weekly discussion thread",
    "Release notes for version",
    "What are you working on this week?",
    "A small guide to getting started",
    "Photos from the meetup",
];

/// All posts, indexed by subreddit and by id.
#[derive(Debug, Default)]
pub(crate) struct Corpus {
    pub posts: Vec<Post>,
    pub post_index: HashMap<String, usize>,
    /// comment id -> (post index, comment index)
    pub comment_index: HashMap<String, (usize, usize)>,
    /// lower-cased subreddit -> post indices in creation order
    pub subreddits: BTreeMap<String, Vec<usize>>,
    pub display_names: HashMap<String, String>,
    config: CorpusConfig,
    rng: Option<Rng>,
    next_post: u64,
    next_comment: u64,
    clock: f64,
}

impl Corpus {
    /// Generates the corpus of `config`.
    pub(crate) fn generate(config: &CorpusConfig) -> Self {
        let mut corpus = Corpus {
            config: config.clone(),
            rng: Some(Rng::new(config.seed)),
            next_post: 1_000_000,
            next_comment: 60_000_000,
            clock: config.start_utc,
            ..Corpus::default()
        };
        for sub in &config.subreddits {
            corpus.subreddits.entry(sub.to_lowercase()).or_default();
            corpus.display_names.insert(sub.to_lowercase(), sub.clone());
        }
        // Interleave subreddits so that every subreddit's posts spread over the same time span.
        for _ in 0..config.posts_per_subreddit {
            for sub in &config.subreddits {
                corpus.add_post(sub);
            }
        }
        corpus
    }

    /// Adds one post (with its comments) to `subreddit`, newer than everything so far.
    pub(crate) fn add_post(&mut self, subreddit: &str) -> String {
        self.add_post_with(subreddit, None)
    }

    /// Adds a post created at `created` (the corpus clock moves to it if it is later) without
    /// comments: the comments of a streamed post arrive later, through [`Corpus::add_comment`].
    pub(crate) fn add_post_at(&mut self, subreddit: &str, created: f64) -> String {
        self.add_post_with(subreddit, Some(created))
    }

    fn add_post_with(&mut self, subreddit: &str, at: Option<f64>) -> String {
        let key = subreddit.to_lowercase();
        let display = self
            .display_names
            .entry(key.clone())
            .or_insert_with(|| subreddit.to_owned())
            .clone();
        let mut rng = self.rng.take().unwrap_or_else(|| Rng::new(self.config.seed));
        match at {
            Some(t) => self.clock = self.clock.max(t),
            None => self.clock += self.config.spacing_secs,
        }
        let n = self.next_post;
        self.next_post += 1;
        let id = base36(n);
        let problem = rng.unit() < self.config.problem_ratio;
        let pool = if problem { PROBLEM_TITLES } else { NEUTRAL_TITLES };
        let title = format!("{} #{n}", pool[rng.below(pool.len())]);
        let selftext = if problem {
            "Every week I lose hours on this. Has anyone found something that works?".to_owned()
        } else {
            "Sharing in case it is useful to someone.".to_owned()
        };
        let ordinal = self.posts.len() + 1;
        let big = self.config.big_thread_every > 0 && ordinal.is_multiple_of(self.config.big_thread_every);
        let count = if at.is_some() {
            0
        } else if big {
            self.config.big_thread_comments
        } else {
            rng.below(self.config.max_comments + 1)
        };
        let author = format!("user_{}", rng.below(40));
        let created = self.clock;
        let data = json!({
            "id": id, "name": format!("t3_{id}"), "title": title, "selftext": selftext,
            "author": author, "subreddit": display, "subreddit_name_prefixed": format!("r/{display}"),
            "created_utc": created, "created": created, "score": rng.below(500) as i64,
            "upvote_ratio": 0.5 + rng.below(50) as f64 / 100.0, "num_comments": count,
            "edited": false, "is_self": true, "over_18": false, "stickied": false,
            "permalink": format!("/r/{display}/comments/{id}/post_{id}/"),
            "url": format!("https://www.reddit.com/r/{display}/comments/{id}/post_{id}/"),
            "link_flair_text": Value::Null, "removed_by_category": Value::Null,
        });
        let mut post = Post {
            subreddit: display.clone(),
            data,
            comments: Vec::new(),
            roots: Vec::new(),
        };
        for i in 0..count {
            let parent = if big && i > 0 && i < 14 {
                Some(i - 1) // a deep chain that needs "continue this thread"
            } else if post.comments.is_empty() || rng.below(10) < 4 {
                None
            } else {
                Some(rng.below(post.comments.len()))
            };
            self.push_comment(&mut post, parent, &mut rng, created);
        }
        let index = self.posts.len();
        self.post_index.insert(id.clone(), index);
        for (ci, c) in post.comments.iter().enumerate() {
            self.comment_index.insert(c.id.clone(), (index, ci));
        }
        self.posts.push(post);
        self.subreddits.entry(key).or_default().push(index);
        self.rng = Some(rng);
        id
    }

    /// Adds a comment created at `created` to the post at index `post` (a reply to one of its
    /// comments or top-level) and raises its `num_comments`. Returns the comment's fullname.
    pub(crate) fn add_comment(&mut self, post: usize, created: f64) -> String {
        let mut rng = self.rng.take().unwrap_or_else(|| Rng::new(self.config.seed));
        let mut p = std::mem::replace(
            &mut self.posts[post],
            Post {
                subreddit: String::new(),
                data: Value::Null,
                comments: Vec::new(),
                roots: Vec::new(),
            },
        );
        let parent = if p.comments.is_empty() || rng.below(2) == 0 {
            None
        } else {
            Some(rng.below(p.comments.len()))
        };
        self.push_comment(&mut p, parent, &mut rng, created);
        let index = p.comments.len() - 1;
        let c = &mut p.comments[index];
        // Streamed comments carry their real creation time (push_comment offsets it from the post).
        c.data["created_utc"] = json!(created);
        let id = c.id.clone();
        p.data["num_comments"] = json!(p.comments.len());
        self.comment_index.insert(id.clone(), (post, index));
        self.posts[post] = p;
        self.clock = self.clock.max(created);
        self.rng = Some(rng);
        format!("t1_{id}")
    }

    /// Comments of the posts of `subreddits`, newest first (`created_utc`, then creation order), as
    /// `/r/{a+b}/comments` lists them.
    pub(crate) fn newest_comments(&self, subreddits: &[usize]) -> Vec<(String, Value)> {
        let mut all: Vec<(f64, u64, String, Value)> = subreddits
            .iter()
            .flat_map(|&p| self.posts[p].comments.iter())
            .map(|c| {
                let created = c.data["created_utc"].as_f64().unwrap_or(0.0);
                let seq = u64::from_str_radix(&c.id, 36).unwrap_or(0);
                (
                    created,
                    seq,
                    format!("t1_{}", c.id),
                    json!({"kind": "t1", "data": c.data}),
                )
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        all.into_iter().map(|(_, _, n, v)| (n, v)).collect()
    }

    fn push_comment(&mut self, post: &mut Post, parent: Option<usize>, rng: &mut Rng, created: f64) {
        let n = self.next_comment;
        self.next_comment += 1;
        let id = base36(n);
        let index = post.comments.len();
        let depth = parent.map_or(0, |p| post.comments[p].depth + 1);
        let parent_id = match parent {
            Some(p) => format!("t1_{}", post.comments[p].id),
            None => format!("t3_{}", post.id()),
        };
        let data = json!({
            "id": id, "name": format!("t1_{id}"), "parent_id": parent_id,
            "link_id": format!("t3_{}", post.id()), "author": format!("user_{}", rng.below(40)),
            "body": format!("Comment {n}: {}", if rng.below(5) == 0 { "same problem here, so annoying" } else { "thanks for sharing" }),
            "created_utc": created + 30.0 + index as f64, "score": rng.below(50) as i64,
            "subreddit": post.subreddit, "edited": false, "depth": depth, "replies": "",
        });
        post.comments.push(Comment {
            id,
            children: Vec::new(),
            depth,
            data,
        });
        match parent {
            Some(p) => post.comments[p].children.push(index),
            None => post.roots.push(index),
        }
    }

    /// `created_utc` of the newest post (the corpus clock).
    pub(crate) fn clock(&self) -> f64 {
        self.clock
    }

    /// Post indices of a subreddit (creation order), if it exists.
    pub(crate) fn subreddit_posts(&self, subreddit: &str) -> Option<&Vec<usize>> {
        self.subreddits.get(&subreddit.to_lowercase())
    }

    /// Fullname lookup for `/api/info`.
    pub(crate) fn thing_by_fullname(&self, fullname: &str) -> Option<Value> {
        let (prefix, id) = fullname.split_once('_')?;
        match prefix {
            "t3" => self
                .post_index
                .get(id)
                .map(|&i| json!({"kind": "t3", "data": self.posts[i].data})),
            "t1" => self
                .comment_index
                .get(id)
                .map(|&(p, c)| json!({"kind": "t1", "data": self.posts[p].comments[c].data})),
            _ => None,
        }
    }

    /// Applies `f` to a post's data (to simulate edits, score changes, deletions).
    pub(crate) fn edit_post(&mut self, id: &str, f: impl FnOnce(&mut Value)) -> bool {
        match self.post_index.get(id) {
            Some(&i) => {
                f(&mut self.posts[i].data);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_ordered() {
        let cfg = CorpusConfig {
            posts_per_subreddit: 20,
            ..CorpusConfig::default()
        };
        let a = Corpus::generate(&cfg);
        let b = Corpus::generate(&cfg);
        assert_eq!(a.posts.len(), 60);
        assert_eq!(a.posts[7].data, b.posts[7].data);
        assert!(a.posts.windows(2).all(|w| w[0].created() < w[1].created()));
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
