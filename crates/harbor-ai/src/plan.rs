//! The cache: which posts need scoring, given what `opportunity_analysis` already holds.
//!
//! A result is keyed by (post id, scorer id) and remembers the content hash it was computed from.
//! A post is scored again only when its content hash changed, its last attempt failed, or the user
//! asks for a rescore; so a re-run over unchanged posts sends nothing to an LLM.

use std::collections::HashMap;

use crate::post::Post;

/// What is stored for one post under one scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    /// The content hash the stored result was computed from.
    pub content_hash: String,
    /// Whether the stored result is a score (`false`: a recorded failure).
    pub scored: bool,
    /// Whether it is a result `harbor import` brought over from a legacy database (kept until a
    /// rescore is asked for, whatever the content hash).
    pub imported: bool,
}

/// Posts split by what to do with them.
#[derive(Debug, Default)]
pub struct Plan {
    /// Never scored by this scorer.
    pub new: Vec<Post>,
    /// Scored before, but the text changed (or the last attempt failed, or a rescore was asked).
    pub changed: Vec<Post>,
    /// Scored from the same content: nothing to do.
    pub cached: usize,
}

impl Plan {
    /// New and changed posts, in that order.
    pub fn todo(self) -> Vec<Post> {
        let mut v = self.new;
        v.extend(self.changed);
        v
    }
}

/// Splits `posts` against the stored results of one scorer (keyed by post id).
pub fn plan(posts: Vec<Post>, existing: &HashMap<String, Existing>, rescore: bool) -> Plan {
    let mut out = Plan::default();
    for p in posts {
        match existing.get(&p.id) {
            None => out.new.push(p),
            Some(e) if e.imported && e.scored && !rescore => out.cached += 1,
            Some(e) if rescore || !e.scored || e.content_hash != p.content_hash() => out.changed.push(p),
            Some(_) => out.cached += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, title: &str) -> Post {
        Post {
            id: id.into(),
            title: title.into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_new_changed_and_failed_posts_are_scored() {
        let a = post("a", "same");
        let b = post("b", "edited");
        let mut existing = HashMap::new();
        existing.insert(
            "a".to_owned(),
            Existing {
                content_hash: a.content_hash(),
                scored: true,
                imported: false,
            },
        );
        existing.insert(
            "b".to_owned(),
            Existing {
                content_hash: post("b", "before the edit").content_hash(),
                scored: true,
                imported: false,
            },
        );
        existing.insert(
            "d".to_owned(),
            Existing {
                content_hash: post("d", "x").content_hash(),
                scored: false,
                imported: false,
            },
        );
        let posts = vec![a.clone(), b, post("c", "new"), post("d", "x")];
        let p = plan(posts.clone(), &existing, false);
        assert_eq!(p.cached, 1);
        let ids: Vec<String> = p.todo().into_iter().map(|p| p.id).collect();
        assert_eq!(ids, vec!["c", "b", "d"]);
        assert_eq!(plan(posts, &existing, true).cached, 0);
    }

    #[test]
    fn imported_results_are_kept_until_a_rescore() {
        let a = post("a", "imported from the legacy pipeline");
        let mut existing = HashMap::new();
        existing.insert(
            "a".to_owned(),
            Existing {
                content_hash: "imported".into(),
                scored: true,
                imported: true,
            },
        );
        let p = plan(vec![a.clone()], &existing, false);
        assert_eq!((p.new.len(), p.changed.len(), p.cached), (0, 0, 1));
        let p = plan(vec![a], &existing, true);
        assert_eq!((p.new.len(), p.changed.len(), p.cached), (0, 1, 0));
    }
}
