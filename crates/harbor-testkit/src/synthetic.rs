//! Answers from the synthetic corpus.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::config::FakeConfig;
use crate::corpus::{Corpus, Post};
use crate::render;
use crate::reply::Reply;

const SORTS: [&str; 5] = ["new", "hot", "top", "rising", "controversial"];

fn not_found() -> Reply {
    Reply::error(404, None, "Not Found")
}

/// Private/banned/missing check for a subreddit.
fn unavailable(corpus: &Corpus, config: &FakeConfig, sub: &str) -> Option<Reply> {
    let is = |list: &[String]| list.iter().any(|s| s.eq_ignore_ascii_case(sub));
    if is(&config.private_subreddits) {
        return Some(Reply::error(403, Some("private"), "Forbidden"));
    }
    if is(&config.banned_subreddits) {
        return Some(Reply::error(404, Some("banned"), "Not Found"));
    }
    corpus.subreddit_posts(sub).is_none().then(not_found)
}

fn post_thing(post: &Post) -> (String, Value) {
    (
        format!("t3_{}", post.id()),
        json!({"kind": "t3", "data": post.data}),
    )
}

/// The posts of `/r/{sub}` or of a combined `/r/{a+b+c}` (creation order), or the reply for an
/// unavailable subreddit. Members that are private, banned or missing are left out of a combined
/// listing, as Reddit does; a listing none of whose members is available answers like its first.
fn listed_posts(corpus: &Corpus, config: &FakeConfig, sub: &str) -> Result<Vec<usize>, Reply> {
    let members: Vec<&str> = sub.split('+').filter(|s| !s.is_empty()).collect();
    if members.len() <= 1 {
        return match unavailable(corpus, config, sub) {
            Some(r) => Err(r),
            None => Ok(corpus.subreddit_posts(sub).cloned().unwrap_or_default()),
        };
    }
    let mut idx: Vec<usize> = members
        .iter()
        .filter(|m| unavailable(corpus, config, m).is_none())
        .flat_map(|m| corpus.subreddit_posts(m).cloned().unwrap_or_default())
        .collect();
    if idx.is_empty() {
        return Err(unavailable(corpus, config, members[0]).unwrap_or_else(not_found));
    }
    // Post indices are global creation order, so sorting merges the members' timelines.
    idx.sort_unstable();
    idx.dedup();
    Ok(idx)
}

/// Orders post indices by a listing sort.
fn sorted(corpus: &Corpus, mut idx: Vec<usize>, sort: &str) -> Vec<usize> {
    let score = |i: usize| corpus.posts[i].data["score"].as_i64().unwrap_or(0);
    match sort {
        "top" => idx.sort_by_key(|&i| (std::cmp::Reverse(score(i)), std::cmp::Reverse(i))),
        "hot" => idx.sort_by_key(|&i| std::cmp::Reverse(score(i) + i as i64 * 2)),
        "controversial" => idx.sort_by_key(|&i| (i * 7919) % 1009),
        _ => idx.reverse(), // new, rising, relevance: newest first
    }
    idx
}

fn page(things: Vec<(String, Value)>, query: &HashMap<String, String>) -> Reply {
    let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
    let body = render::paginate(
        things,
        query.get("after").map(String::as_str),
        query.get("before").map(String::as_str),
        limit,
    );
    Reply::json(200, &body)
}

/// Answers an API path from the corpus.
pub(crate) fn answer(
    corpus: &Corpus,
    config: &FakeConfig,
    path: &str,
    query: &HashMap<String, String>,
    form: &HashMap<String, String>,
) -> Reply {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["r", sub, "about"] => match unavailable(corpus, config, sub) {
            Some(r) => r,
            None => {
                let posts = corpus.subreddit_posts(sub).map_or(0, Vec::len);
                let name = corpus
                    .display_names
                    .get(&sub.to_lowercase())
                    .map_or(*sub, String::as_str);
                Reply::json(200, &render::subreddit_about(name, posts, 1_500_000_000.0))
            }
        },
        ["r", sub, "search"] => match unavailable(corpus, config, sub) {
            Some(r) => r,
            None => {
                let q = query.get("q").map(|q| q.to_lowercase()).unwrap_or_default();
                let words: Vec<&str> = q.split_whitespace().collect();
                let idx: Vec<usize> = corpus
                    .subreddit_posts(sub)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&i| {
                        let d = &corpus.posts[i].data;
                        let text = format!(
                            "{} {}",
                            d["title"].as_str().unwrap_or(""),
                            d["selftext"].as_str().unwrap_or("")
                        )
                        .to_lowercase();
                        words.iter().all(|w| text.contains(w))
                    })
                    .collect();
                let sort = query.get("sort").map_or("relevance", String::as_str);
                page(
                    sorted(corpus, idx, sort)
                        .into_iter()
                        .map(|i| post_thing(&corpus.posts[i]))
                        .collect(),
                    query,
                )
            }
        },
        ["r", sub, "comments"] => match listed_posts(corpus, config, sub) {
            Err(r) => r,
            Ok(idx) => page(corpus.newest_comments(&idx), query),
        },
        ["r", sub] | ["r", sub, _] if segs.len() == 2 || SORTS.contains(&segs[2]) => {
            match listed_posts(corpus, config, sub) {
                Err(r) => r,
                Ok(idx) => {
                    let sort = segs.get(2).copied().unwrap_or("hot");
                    page(
                        sorted(corpus, idx, sort)
                            .into_iter()
                            .map(|i| post_thing(&corpus.posts[i]))
                            .collect(),
                        query,
                    )
                }
            }
        }
        ["user", name, "about"] => {
            let karma = corpus
                .posts
                .iter()
                .filter(|p| p.data["author"] == json!(name))
                .count();
            if karma == 0 && !name.eq_ignore_ascii_case(&config.username) {
                return not_found();
            }
            Reply::json(200, &render::user_about(name, karma))
        }
        ["user", name, "submitted"] => {
            let idx = (0..corpus.posts.len())
                .filter(|&i| corpus.posts[i].data["author"] == json!(name))
                .collect();
            page(
                sorted(corpus, idx, "new")
                    .into_iter()
                    .map(|i| post_thing(&corpus.posts[i]))
                    .collect(),
                query,
            )
        }
        ["user", name, "comments"] => {
            let mut things: Vec<(f64, String, Value)> = corpus
                .posts
                .iter()
                .flat_map(|p| p.comments.iter())
                .filter(|c| c.data["author"] == json!(name))
                .map(|c| {
                    let created = c.data["created_utc"].as_f64().unwrap_or(0.0);
                    (
                        created,
                        format!("t1_{}", c.id),
                        json!({"kind": "t1", "data": c.data}),
                    )
                })
                .collect();
            things.sort_by(|a, b| b.0.total_cmp(&a.0));
            page(things.into_iter().map(|(_, n, t)| (n, t)).collect(), query)
        }
        ["comments", id] | ["comments", id, _] | ["r", _, "comments", id] | ["r", _, "comments", id, _] => {
            match corpus.post_index.get(*id) {
                Some(&p) => Reply::json(200, &render::thread(&corpus.posts[p], None, &config.render)),
                None => not_found(),
            }
        }
        ["comments", id, _, cid] | ["r", _, "comments", id, _, cid] => {
            let found = corpus.post_index.get(*id).and_then(|&p| {
                corpus
                    .comment_index
                    .get(*cid)
                    .filter(|(cp, _)| *cp == p)
                    .map(|&(_, c)| (p, c))
            });
            match found {
                Some((p, c)) => Reply::json(200, &render::thread(&corpus.posts[p], Some(c), &config.render)),
                None => not_found(),
            }
        }
        ["api", "morechildren"] => more_children(corpus, config, query, form),
        ["api", "info"] => {
            let ids = query.get("id").map(String::as_str).unwrap_or("");
            let names: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
            if names.len() > 100 {
                return Reply::error(400, Some("TOO_MANY_IDS"), "Bad Request");
            }
            let things = names.iter().filter_map(|n| corpus.thing_by_fullname(n)).collect();
            Reply::json(200, &render::listing(things, None, None))
        }
        _ => not_found(),
    }
}

fn more_children(
    corpus: &Corpus,
    config: &FakeConfig,
    query: &HashMap<String, String>,
    form: &HashMap<String, String>,
) -> Reply {
    let field = |k: &str| form.get(k).or_else(|| query.get(k)).cloned().unwrap_or_default();
    let link = field("link_id");
    let children = field("children");
    let ids: Vec<&str> = children.split(',').filter(|s| !s.is_empty()).collect();
    if ids.len() > 100 {
        return Reply::error(400, Some("TOO_MANY_CHILDREN"), "Bad Request");
    }
    let Some(&p) = corpus.post_index.get(link.trim_start_matches("t3_")) else {
        return Reply::error(400, Some("INVALID_LINK"), "Bad Request");
    };
    let post = &corpus.posts[p];
    let requested: Vec<usize> = ids
        .iter()
        .filter_map(|id| {
            corpus
                .comment_index
                .get(*id)
                .filter(|(cp, _)| *cp == p)
                .map(|&(_, c)| c)
        })
        .collect();
    Reply::json(200, &render::more_children(post, &requested, &config.render))
}
