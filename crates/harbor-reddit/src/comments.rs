//! Complete comment trees: `/comments/{id}`, then `/api/morechildren` (up to 100 ids a call, ids of
//! several "load more" stubs batched together) and "continue this thread" fetches
//! (`/comments/{id}/_/{comment}`) until no stub is left or the call budget is spent.
//!
//! The result is flat: every comment once, `replies` replaced by `""`, `parent_id` as Reddit sent it
//! and `depth` recomputed from the parents (continue-thread answers count depth from their root).

use std::collections::{HashMap, VecDeque};

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Call, RedditClient};
use crate::error::{Error, Result};
use crate::stats::Endpoint;
use crate::thing;

/// Most ids `/api/morechildren` accepts in one call.
pub const MORECHILDREN_BATCH: usize = 100;

/// How much of a thread to fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommentOptions {
    /// Comment sort (`confidence`, `new`, `top`, `old`...).
    pub sort: String,
    /// Comments requested with the thread (Reddit serves at most about 500).
    pub limit: usize,
    /// Calls allowed after the first one to expand "load more" stubs, like PRAW's
    /// `replace_more(limit)`; `None` expands everything, `Some(0)` keeps the first answer only.
    pub max_more_calls: Option<usize>,
}

impl Default for CommentOptions {
    fn default() -> Self {
        Self {
            sort: "confidence".into(),
            limit: 500,
            max_more_calls: None,
        }
    }
}

/// A fetched thread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentTree {
    /// The submission (`t3` thing) as returned with the thread.
    pub submission: Option<Value>,
    /// Every comment (`t1` things), each once, parents before children.
    pub comments: Vec<Value>,
    /// `more` stubs left unexpanded because the call budget ran out.
    pub unexpanded: Vec<Value>,
    /// HTTP calls made (thread + morechildren + continue-thread), retries excluded.
    pub calls: usize,
}

/// Whether a post's comments should be fetched (again): when new, or when `num_comments` grew.
pub fn needs_comment_refetch(previous_num_comments: Option<u64>, current_num_comments: u64) -> bool {
    previous_num_comments.is_none_or(|prev| current_num_comments > prev)
}

#[derive(Default)]
struct Forest {
    comments: Vec<Value>,
    index: HashMap<String, usize>,
    mores: VecDeque<Value>,
}

impl Forest {
    /// Adds the comments and stubs of a thing, a list of things or a Listing, recursively.
    fn absorb(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|t| self.absorb(t)),
            Value::Object(_) => match thing::kind(value) {
                Some("Listing") => {
                    if let Some(children) = thing::listing_children(value) {
                        children.iter().for_each(|t| self.absorb(t));
                    }
                }
                Some("t1") => {
                    let Some(name) = thing::fullname(value) else {
                        return;
                    };
                    let replies = thing::data(value)
                        .get("replies")
                        .filter(|r| r.is_object())
                        .cloned();
                    if !self.index.contains_key(&name) {
                        let mut flat = value.clone();
                        if let Some(d) = flat.get_mut("data").and_then(Value::as_object_mut) {
                            d.insert("replies".into(), Value::String(String::new()));
                        }
                        self.index.insert(name, self.comments.len());
                        self.comments.push(flat);
                    }
                    if let Some(replies) = replies {
                        self.absorb(&replies);
                    }
                }
                Some("more") => self.mores.push_back(value.clone()),
                _ => {}
            },
            _ => {}
        }
    }

    /// Sets `data.depth` from the parent chain.
    fn fix_depths(&mut self) {
        let parents: Vec<Option<usize>> = self
            .comments
            .iter()
            .map(|c| {
                let parent = thing::data(c).get("parent_id").and_then(Value::as_str)?;
                self.index.get(parent).copied()
            })
            .collect();
        let mut depth: Vec<Option<u64>> = vec![None; self.comments.len()];
        for start in 0..self.comments.len() {
            let mut chain = vec![start];
            let mut base = 0;
            while let Some(&i) = chain.last() {
                if let Some(d) = depth[i] {
                    base = d + 1;
                    chain.pop();
                    break;
                }
                match parents[i] {
                    Some(p) if !chain.contains(&p) => chain.push(p),
                    _ => break,
                }
            }
            for (offset, &i) in chain.iter().rev().enumerate() {
                depth[i] = Some(base + offset as u64);
            }
        }
        for (c, d) in self.comments.iter_mut().zip(depth) {
            if let (Some(obj), Some(d)) = (c.get_mut("data").and_then(Value::as_object_mut), d) {
                obj.insert("depth".into(), Value::from(d));
            }
        }
    }
}

fn is_continue_thread(more: &Value) -> bool {
    thing::id(more) == Some("_")
}

fn more_children(more: &Value) -> Vec<String> {
    thing::data(more)
        .get("children")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl RedditClient {
    /// Fetches the complete comment tree of a post (`abc` or `t3_abc`).
    pub async fn comment_tree(&self, post_id: &str, options: &CommentOptions) -> Result<CommentTree> {
        let id = thing::bare_id(post_id).to_owned();
        let link_id = thing::post_fullname(&id);
        let mut forest = Forest::default();
        let first = self
            .thread(&format!("/comments/{id}"), Endpoint::Comments, options)
            .await?;
        let submission = first
            .first()
            .and_then(thing::listing_children)
            .and_then(|c| c.first())
            .cloned();
        first[1..].iter().for_each(|v| forest.absorb(v));
        let mut calls = 1;
        let mut budget = options.max_more_calls;
        while !forest.mores.is_empty() && budget != Some(0) {
            if let Some(b) = budget.as_mut() {
                *b -= 1;
            }
            calls += 1;
            let regular = forest.mores.iter().position(|m| !is_continue_thread(m));
            match regular {
                Some(_) => {
                    let ids = take_batch(&mut forest);
                    if ids.is_empty() {
                        calls -= 1;
                        if let Some(b) = budget.as_mut() {
                            *b += 1;
                        }
                        continue;
                    }
                    let things = self.more_children(&link_id, &ids, &options.sort).await?;
                    things.iter().for_each(|v| forest.absorb(v));
                }
                None => {
                    let Some(more) = forest.mores.pop_front() else {
                        break;
                    };
                    let parent = thing::data(&more)
                        .get("parent_id")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let path = format!("/comments/{id}/_/{}", thing::bare_id(parent));
                    let answer = self.thread(&path, Endpoint::ContinueThread, options).await?;
                    answer[1..].iter().for_each(|v| forest.absorb(v));
                }
            }
        }
        forest.fix_depths();
        Ok(CommentTree {
            submission,
            comments: forest.comments,
            unexpanded: forest.mores.into(),
            calls,
        })
    }

    async fn thread(&self, path: &str, endpoint: Endpoint, options: &CommentOptions) -> Result<Vec<Value>> {
        let query = [
            ("limit", options.limit.to_string()),
            ("sort", options.sort.clone()),
        ];
        let value = self
            .send(Call {
                endpoint,
                method: Method::GET,
                path,
                query: &query,
                form: None,
            })
            .await?;
        match value {
            Value::Array(parts) if parts.len() >= 2 => Ok(parts),
            _ => Err(Error::Shape {
                request: format!("GET {path}"),
                what: "expected [submission listing, comment listing]".into(),
            }),
        }
    }

    /// One `/api/morechildren` call for up to 100 comment ids of `link_id`; returns the flat things.
    pub async fn more_children(&self, link_id: &str, ids: &[String], sort: &str) -> Result<Vec<Value>> {
        let form = [
            ("api_type", "json".to_owned()),
            ("link_id", link_id.to_owned()),
            ("children", ids.join(",")),
            ("sort", sort.to_owned()),
            ("limit_children", "false".to_owned()),
        ];
        let path = "/api/morechildren";
        let call = Call {
            endpoint: Endpoint::MoreChildren,
            method: Method::POST,
            path,
            query: &[],
            form: Some(&form),
        };
        let value = self.send(call).await?;
        let json = value.get("json");
        if let Some(errors) = json
            .and_then(|j| j.get("errors"))
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            return Err(Error::Shape {
                request: format!("POST {path} ({link_id})"),
                what: format!("errors {errors:?}"),
            });
        }
        json.and_then(|j| j.get("data"))
            .and_then(|d| d.get("things"))
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| Error::Shape {
                request: format!("POST {path} ({link_id})"),
                what: "no json.data.things".into(),
            })
    }
}

/// Takes up to 100 not-yet-known ids from the regular stubs at the front of the queue; a stub with
/// more ids than fit is put back with the rest.
fn take_batch(forest: &mut Forest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut keep = VecDeque::new();
    while let Some(more) = forest.mores.pop_front() {
        if is_continue_thread(&more) || ids.len() >= MORECHILDREN_BATCH {
            keep.push_back(more);
            continue;
        }
        let mut children = more_children(&more);
        children.retain(|c| !forest.index.contains_key(&format!("t1_{c}")) && !ids.contains(c));
        let room = MORECHILDREN_BATCH - ids.len();
        if children.len() > room {
            let rest: Vec<Value> = children.split_off(room).into_iter().map(Value::String).collect();
            let mut stub = more.clone();
            if let Some(d) = stub.get_mut("data").and_then(Value::as_object_mut) {
                d.insert("count".into(), Value::from(rest.len()));
                d.insert("children".into(), Value::Array(rest));
            }
            keep.push_back(stub);
        }
        ids.extend(children);
    }
    forest.mores = keep;
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refetch_only_when_grown() {
        assert!(needs_comment_refetch(None, 0));
        assert!(needs_comment_refetch(Some(3), 4));
        assert!(!needs_comment_refetch(Some(4), 4));
        assert!(!needs_comment_refetch(Some(5), 4));
    }
}
