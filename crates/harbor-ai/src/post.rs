//! A post to score, as read back from the destination, and its content hash (the cache key).

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

/// A comment under a post (the top comments by score are part of what is scored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Comment text.
    pub body: String,
    /// Comment score.
    pub score: i64,
}

/// A submission with what the scorers look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Reddit id (without `t3_`).
    pub id: String,
    /// Subreddit name.
    pub subreddit: String,
    /// Title.
    pub title: String,
    /// Self text (empty for link posts).
    pub body: String,
    /// Upvotes minus downvotes.
    pub score: i64,
    /// Number of comments Reddit reports.
    pub num_comments: i64,
    /// Share of upvotes (0-1), when known.
    pub upvote_ratio: Option<f64>,
    /// Top comments, best first.
    pub comments: Vec<Comment>,
}

impl Post {
    /// Hash of what a scorer reads as text: title, body and the top comments' text. Engagement
    /// numbers are left out on purpose: a vote does not make a post "changed" for the cache.
    pub fn content_hash(&self) -> String {
        let mut buf = Vec::with_capacity(self.title.len() + self.body.len() + 64);
        for part in [&self.title, &self.body] {
            buf.extend_from_slice(part.as_bytes());
            buf.push(0);
        }
        for c in &self.comments {
            buf.extend_from_slice(c.body.as_bytes());
            buf.push(0);
        }
        format!("{:032x}", xxh3_128(&buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_follows_text_not_votes() {
        let mut p = Post {
            id: "a".into(),
            title: "I hate invoicing".into(),
            body: "every month".into(),
            ..Default::default()
        };
        let h = p.content_hash();
        p.score = 999;
        assert_eq!(p.content_hash(), h);
        p.body.push('!');
        assert_ne!(p.content_hash(), h);
        // Field boundaries matter: moving text between title and body changes the hash.
        let q = Post {
            title: "I hate invoicingevery".into(),
            body: " month".into(),
            ..Default::default()
        };
        assert_ne!(q.content_hash(), h);
    }
}
