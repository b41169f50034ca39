//! Fields the collector adds to things before they are normalized: problem tags, `removed_at`
//! (with optional purge), and `submission_history` rows.

use harbor_reddit::{ProblemFilter, removal, thing};
use serde_json::{Value, json};

/// Text and identity fields blanked when removed content is purged.
const PURGED_FIELDS: &[&str] = &[
    "title",
    "selftext",
    "selftext_html",
    "body",
    "body_html",
    "author",
    "author_fullname",
    "url",
];

/// The mutable `data` object of a thing.
fn data_mut(thing: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    if thing.get("data").is_some() {
        thing.get_mut("data")?.as_object_mut()
    } else {
        thing.as_object_mut()
    }
}

/// `num_comments` of a post (0 when absent).
pub fn num_comments(post: &Value) -> u64 {
    thing::data(post)
        .get("num_comments")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Sets `is_problem` and `problem_keywords` on a post; returns whether it is a problem post.
pub fn tag_problem(post: &mut Value, filter: &ProblemFilter) -> bool {
    let keywords = filter.matches_thing(post);
    let is_problem = !keywords.is_empty();
    if let Some(d) = data_mut(post) {
        d.insert("is_problem".into(), Value::Bool(is_problem));
        d.insert("problem_keywords".into(), json!(keywords));
    }
    is_problem
}

/// Whether the thing is deleted or removed.
pub fn is_removed(thing: &Value) -> bool {
    removal(thing).is_some()
}

/// Sets `removed_at` (epoch seconds) and, with `purge`, blanks the content fields.
pub fn mark_removed(thing: &mut Value, at: f64, purge: bool) {
    if let Some(d) = data_mut(thing) {
        d.insert("removed_at".into(), json!(at));
        if purge {
            for f in PURGED_FIELDS {
                if d.contains_key(*f) {
                    d.insert((*f).to_owned(), Value::Null);
                }
            }
        }
    }
}

/// A `submission_history` row: the post's metrics as observed at `observed_at`.
pub fn history_row(post: &Value, observed_at: f64) -> Value {
    let d = thing::data(post);
    json!({
        "kind": "submission_history",
        "data": {
            "id": d.get("id"),
            "subreddit": d.get("subreddit"),
            "observed_at": observed_at,
            "score": d.get("score"),
            "num_comments": d.get("num_comments"),
            "upvote_ratio": d.get("upvote_ratio"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_marks_and_records_history() {
        let mut post = json!({"kind":"t3","data":{"id":"a","title":"So frustrated","selftext":"[removed]",
            "author":"x","score":5,"num_comments":3,"upvote_ratio":0.9,"subreddit":"rust"}});
        assert!(tag_problem(&mut post, &ProblemFilter::default()));
        assert_eq!(post["data"]["problem_keywords"], json!(["frustrated"]));
        assert!(is_removed(&post));
        mark_removed(&mut post, 10.0, true);
        assert_eq!(post["data"]["removed_at"], json!(10.0));
        assert!(post["data"]["title"].is_null() && post["data"]["author"].is_null());
        let h = history_row(&post, 20.0);
        assert_eq!(h["kind"], "submission_history");
        assert_eq!(h["data"]["num_comments"], 3);
        assert_eq!(num_comments(&post), 3);
        let mut calm = json!({"kind":"t3","data":{"title":"Release notes","selftext":"hi"}});
        assert!(!tag_problem(&mut calm, &ProblemFilter::default()));
        assert_eq!(calm["data"]["is_problem"], false);
    }
}
