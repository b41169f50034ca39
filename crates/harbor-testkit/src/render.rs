//! JSON shapes of the synthetic corpus, as Reddit renders them.

use serde_json::{Value, json};

use crate::config::RenderConfig;
use crate::corpus::{Comment, Post};

/// Reddit serves about this many items of any listing.
pub const LISTING_CAP: usize = 1000;

/// A `Listing` thing.
pub fn listing(children: Vec<Value>, after: Option<String>, before: Option<String>) -> Value {
    let dist = children.len();
    json!({"kind": "Listing", "data": {
        "after": after, "before": before, "dist": dist, "modhash": "", "geo_filter": "", "children": children,
    }})
}

/// One page of `items` (fullname, thing), honouring `after`/`before`/`limit` and the 1000 cap.
pub fn paginate(
    items: Vec<(String, Value)>,
    after: Option<&str>,
    before: Option<&str>,
    limit: usize,
) -> Value {
    let items: Vec<_> = items.into_iter().take(LISTING_CAP).collect();
    let limit = limit.clamp(1, 100);
    let (start, end) = if let Some(b) = before {
        let end = items.iter().position(|(n, _)| n == b).unwrap_or(0);
        (end.saturating_sub(limit), end)
    } else {
        let start = after
            .and_then(|a| items.iter().position(|(n, _)| n == a))
            .map_or(0, |i| i + 1);
        let start = if after.is_some() && start == 0 {
            items.len()
        } else {
            start
        };
        (start, (start + limit).min(items.len()))
    };
    let page = &items[start..end];
    let after = (end < items.len() && !page.is_empty()).then(|| page[page.len() - 1].0.clone());
    let before = (start > 0 && !page.is_empty()).then(|| page[0].0.clone());
    listing(page.iter().map(|(_, t)| t.clone()).collect(), after, before)
}

fn comment_thing(c: &Comment, depth: usize, replies: Value) -> Value {
    let mut data = c.data.clone();
    data["depth"] = json!(depth);
    data["replies"] = replies;
    json!({"kind": "t1", "data": data})
}

fn descendants(post: &Post, i: usize) -> usize {
    post.comments[i]
        .children
        .iter()
        .map(|&c| 1 + descendants(post, c))
        .sum()
}

fn more_stub(post: &Post, rest: &[usize], parent_id: &str, depth: usize) -> Value {
    let ids: Vec<&str> = rest.iter().map(|&i| post.comments[i].id.as_str()).collect();
    let count: usize = rest.iter().map(|&i| 1 + descendants(post, i)).sum();
    let first = ids.first().copied().unwrap_or("_");
    json!({"kind": "more", "data": {
        "count": count, "name": format!("t1_{first}"), "id": first, "parent_id": parent_id,
        "depth": depth, "children": ids,
    }})
}

fn continue_stub(parent_id: &str, depth: usize) -> Value {
    json!({"kind": "more", "data": {
        "count": 0, "name": "t1__", "id": "_", "parent_id": parent_id, "depth": depth, "children": [],
    }})
}

/// Renders `nodes` (siblings) at `depth` under `parent_id`, cutting as Reddit does.
fn render_level(
    post: &Post,
    nodes: &[usize],
    depth: usize,
    parent_id: &str,
    cfg: &RenderConfig,
) -> Vec<Value> {
    let shown = if depth == 0 {
        cfg.top_level_shown
    } else {
        cfg.replies_shown
    };
    let (visible, rest) = nodes.split_at(nodes.len().min(shown));
    let mut out: Vec<Value> = visible
        .iter()
        .map(|&i| render_comment(post, i, depth, cfg))
        .collect();
    if !rest.is_empty() {
        out.push(more_stub(post, rest, parent_id, depth));
    }
    out
}

fn render_comment(post: &Post, i: usize, depth: usize, cfg: &RenderConfig) -> Value {
    let c = &post.comments[i];
    let fullname = format!("t1_{}", c.id);
    let replies = if c.children.is_empty() {
        json!("")
    } else if depth + 1 >= cfg.max_depth {
        listing(vec![continue_stub(&fullname, depth + 1)], None, None)
    } else {
        listing(
            render_level(post, &c.children, depth + 1, &fullname, cfg),
            None,
            None,
        )
    };
    comment_thing(c, depth, replies)
}

/// `/comments/{id}` (root `None`) or `/comments/{id}/_/{comment}` (root = that comment's index).
pub fn thread(post: &Post, root: Option<usize>, cfg: &RenderConfig) -> Value {
    let head = listing(vec![json!({"kind": "t3", "data": post.data})], None, None);
    let comments = match root {
        None => render_level(post, &post.roots, 0, &format!("t3_{}", post.id()), cfg),
        Some(i) => vec![render_comment(post, i, 0, cfg)],
    };
    json!([head, listing(comments, None, None)])
}

/// `/api/morechildren`: the requested comments and `levels` levels below them, flat, with `more`
/// stubs for anything deeper.
pub fn more_children(post: &Post, requested: &[usize], cfg: &RenderConfig) -> Value {
    let mut things = Vec::new();
    let mut frontier: Vec<(usize, usize)> = requested.iter().map(|&i| (i, 0)).collect();
    while let Some((i, level)) = frontier.pop() {
        let c = &post.comments[i];
        things.push(comment_thing(c, c.depth, json!("")));
        if c.children.is_empty() {
            continue;
        }
        if level + 1 > cfg.morechildren_levels {
            things.push(more_stub(post, &c.children, &format!("t1_{}", c.id), c.depth + 1));
        } else {
            frontier.extend(c.children.iter().rev().map(|&ch| (ch, level + 1)));
        }
    }
    json!({"json": {"errors": [], "data": {"things": things}}})
}

/// `/r/{sub}/about`.
pub fn subreddit_about(name: &str, posts: usize, created: f64) -> Value {
    json!({"kind": "t5", "data": {
        "display_name": name, "name": format!("t5_{}", name.to_lowercase()), "id": name.to_lowercase(),
        "title": format!("r/{name}"), "public_description": format!("The {name} community"),
        "subscribers": 1000 + posts * 7, "created_utc": created, "over18": false,
        "subreddit_type": "public", "url": format!("/r/{name}/"),
    }})
}

/// `/user/{name}/about`.
pub fn user_about(name: &str, karma: usize) -> Value {
    json!({"kind": "t2", "data": {
        "name": name, "id": format!("u{}", name.len()), "created_utc": 1_600_000_000.0,
        "link_karma": karma * 10, "comment_karma": karma * 3, "is_suspended": false, "verified": true,
    }})
}
