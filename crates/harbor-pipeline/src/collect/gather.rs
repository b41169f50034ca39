//! The network half of a collection run: walk listings from their cursors, refresh recent posts,
//! fetch comment trees that are new or grew, and about pages, one subreddit at a time. Nothing is
//! written here; each subreddit yields a batch of things plus the state that goes with them.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use harbor_core::state::PipelineState;
use harbor_core::testhook::pause_point;
use harbor_reddit::{
    CallStats, Error as RedditError, FilterMode, ListingCursor, ListingSource, RedditClient, thing,
};
use serde_json::Value;

use super::annotate::{history_row, is_removed, mark_removed, num_comments, tag_problem};
use super::options::{CollectOptions, DEFAULT_REFRESH_WINDOW_SECS};
use super::report::{CollectEvent, ProblemPost, SubredditReport, SubredditStatus, TOP_PROBLEM_POSTS};
use super::tracked::{Tracked, TrackedPost};

/// Everything collected from one subreddit, ready to be normalized.
#[derive(Debug, Clone, Default)]
pub struct SubredditBatch {
    /// Things in load order: about page, posts, comments, history rows, redditors.
    pub things: Vec<Value>,
    /// State values to commit with them (cursors, tracked posts).
    pub state: Vec<(String, Value)>,
    /// The subreddit's problem posts with the most engagement (for the report).
    pub problem_posts: Vec<ProblemPost>,
}

/// The network half of a run.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Batches of the collected subreddits.
    pub batches: Vec<SubredditBatch>,
    /// One report per subreddit, in run order.
    pub reports: Vec<SubredditReport>,
    /// API calls of this run.
    pub stats: CallStats,
    /// Seconds spent.
    pub seconds: f64,
}

/// The state key of a listing cursor, e.g. `reddit/r/rust/new`.
pub fn cursor_key(source: &ListingSource) -> String {
    format!("reddit/{}", source.state_key())
}

/// Errors that stop the whole run rather than one subreddit: every other subreddit would fail alike.
fn is_fatal(e: &RedditError) -> bool {
    match e {
        RedditError::Config(_) | RedditError::UserAgent { .. } | RedditError::OAuth { .. } => true,
        RedditError::RetriesExhausted { last, .. } => is_fatal(last),
        RedditError::Status { status, .. } => *status == 401,
        _ => false,
    }
}

/// Collects every subreddit of `opts`, starting from the cursors in `state`.
pub async fn gather(
    client: &RedditClient,
    state: &PipelineState,
    opts: &CollectOptions,
    progress: &(dyn Fn(&CollectEvent) + Sync),
) -> crate::Result<Gathered> {
    let started = Instant::now();
    let before = client.stats();
    let mut out = Gathered::default();
    let total = opts.subreddits.len();
    for (i, sub) in opts.subreddits.iter().enumerate() {
        progress(&CollectEvent::Subreddit {
            name: sub.clone(),
            index: i + 1,
            total,
        });
        let mut report = SubredditReport {
            subreddit: sub.clone(),
            ..Default::default()
        };
        let result = gather_subreddit(client, state, opts, sub, &mut report, progress).await;
        // Crash tests kill the process here, with one subreddit gathered and nothing written.
        pause_point("collect");
        match result {
            Ok(batch) => out.batches.push(batch),
            Err(e) if is_fatal(&e) => {
                return Err(crate::Error::Reddit {
                    context: format!("r/{sub}"),
                    source: e,
                });
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(subreddit = %sub, error = %e, "Subreddit unavailable, skipped");
                progress(&CollectEvent::Unavailable {
                    subreddit: sub.clone(),
                    reason: e.to_string(),
                });
                report = SubredditReport {
                    subreddit: sub.clone(),
                    status: SubredditStatus::Unavailable,
                    message: Some(e.to_string()),
                    ..Default::default()
                };
            }
            Err(e) => {
                let error = error_chain(&e);
                tracing::error!(subreddit = %sub, %error, "Collecting subreddit failed");
                progress(&CollectEvent::Failed {
                    subreddit: sub.clone(),
                    error: error.clone(),
                });
                report = SubredditReport {
                    subreddit: sub.clone(),
                    status: SubredditStatus::Failed,
                    message: Some(error),
                    ..Default::default()
                };
            }
        }
        out.reports.push(report);
    }
    out.stats = client.stats().since(&before);
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(&format!(": {cause}"));
        src = cause.source();
    }
    s
}

/// Posts in first-seen order, each once (the latest version wins).
#[derive(Default)]
struct Posts {
    things: Vec<Value>,
    index: HashMap<String, usize>,
}

impl Posts {
    fn upsert(&mut self, post: Value) -> bool {
        let Some(name) = thing::fullname(&post) else {
            return false;
        };
        match self.index.get(&name) {
            Some(&i) => {
                self.things[i] = post;
                false
            }
            None => {
                self.index.insert(name, self.things.len());
                self.things.push(post);
                true
            }
        }
    }
}

async fn gather_subreddit(
    client: &RedditClient,
    state: &PipelineState,
    opts: &CollectOptions,
    sub: &str,
    report: &mut SubredditReport,
    progress: &(dyn Fn(&CollectEvent) + Sync),
) -> Result<SubredditBatch, RedditError> {
    let now = opts.now();
    let mut batch = SubredditBatch::default();
    if opts.subreddit_about {
        batch.things.push(client.subreddit_about(sub).await?);
    }
    let mut tracked = Tracked::from_state(state, sub);
    let mut posts = Posts::default();
    let mut new_names = HashSet::new();
    for spec in &opts.listings {
        let source = spec.source(sub);
        let key = cursor_key(&source);
        // Only a time-ordered listing can stop at a cursor; the others are read up to the limit.
        let incremental = source.is_time_ordered();
        let cursor: Option<ListingCursor> = state
            .get(&key)
            .filter(|_| incremental)
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let walk = client.walk_listing(&source, cursor.as_ref(), &opts.walk).await?;
        report.listing_pages += walk.pages;
        let mut new = 0;
        for t in walk.things.into_iter().filter(|t| thing::kind(t) == Some("t3")) {
            let Some(name) = thing::fullname(&t) else { continue };
            if posts.upsert(t) && !tracked.posts.contains_key(&name) {
                new += 1;
                new_names.insert(name);
            }
        }
        report.new_posts += new;
        progress(&CollectEvent::Listing {
            subreddit: sub.to_owned(),
            listing: spec.to_string(),
            new,
            pages: walk.pages,
        });
        if incremental {
            batch
                .state
                .push((key, serde_json::to_value(&walk.cursor).unwrap_or(Value::Null)));
        }
    }

    if opts.refresh_window_secs > 0.0 {
        let listed: HashSet<String> = posts.index.keys().cloned().collect();
        let due = tracked.due_for_refresh(now - opts.refresh_window_secs, &listed);
        if !due.is_empty() {
            let refreshed = client.info(&due).await?;
            report.refreshed = refreshed.things.len();
            report.info_calls = refreshed.calls;
            report.vanished = refreshed.missing.len();
            for name in &refreshed.missing {
                tracked.posts.remove(name);
            }
            for t in refreshed.things {
                posts.upsert(t);
            }
            progress(&CollectEvent::Refresh {
                subreddit: sub.to_owned(),
                posts: report.refreshed,
                calls: report.info_calls,
            });
        }
    }

    // The problem filter; in mode `only`, new posts that do not match are dropped before any
    // comment is fetched for them.
    let mut kept = Vec::with_capacity(posts.things.len());
    for mut post in posts.things {
        let name = thing::fullname(&post).unwrap_or_default();
        if let Some(f) = &opts.filter {
            let is_problem = tag_problem(&mut post, &f.filter);
            report.problem_posts += usize::from(is_problem);
            if f.mode == FilterMode::Only && !is_problem && !tracked.posts.contains_key(&name) {
                report.filtered_out += 1;
                continue;
            }
        }
        kept.push((name, post));
    }

    let mut comments = Vec::new();
    if let Some(copts) = &opts.comments {
        let todo: Vec<usize> = kept
            .iter()
            .enumerate()
            .filter(|(_, (name, post))| {
                let previous = tracked.posts.get(name).and_then(|p| p.comments_at);
                let current = num_comments(post);
                // A post without comments needs no call; its count is remembered below.
                current > 0 && harbor_reddit::needs_comment_refetch(previous, current)
            })
            .map(|(i, _)| i)
            .collect();
        let mut fetched_at: HashMap<usize, u64> = HashMap::new();
        for (done, &i) in todo.iter().enumerate() {
            let (name, post) = &kept[i];
            match client.comment_tree(name, copts).await {
                Ok(tree) => {
                    report.comment_threads += 1;
                    report.comments += tree.comments.len();
                    comments.extend(tree.comments);
                    fetched_at.insert(i, num_comments(post));
                }
                // The post went away between the listing and this call; keep the rest.
                Err(e) if e.is_unavailable() => {
                    tracing::warn!(post = %name, error = %e, "Thread unavailable")
                }
                Err(e) => return Err(e),
            }
            if (done + 1) % 25 == 0 || done + 1 == todo.len() {
                progress(&CollectEvent::Comments {
                    subreddit: sub.to_owned(),
                    done: done + 1,
                    total: todo.len(),
                });
            }
        }
        for (i, (name, post)) in kept.iter().enumerate() {
            let entry = tracked.posts.entry(name.clone()).or_insert(TrackedPost {
                created_utc: thing::created_utc(post).unwrap_or(now),
                comments_at: None,
                removed_at: None,
            });
            if let Some(n) = fetched_at.get(&i) {
                entry.comments_at = Some(*n);
            } else if num_comments(post) == 0 {
                entry.comments_at = Some(0);
            }
        }
    }

    let mut history = Vec::new();
    for (name, post) in &mut kept {
        let entry = tracked.posts.entry(name.clone()).or_insert(TrackedPost {
            created_utc: thing::created_utc(post).unwrap_or(now),
            comments_at: None,
            removed_at: None,
        });
        if is_removed(post) {
            let at = *entry.removed_at.get_or_insert(now);
            mark_removed(post, at, opts.purge_removed);
            report.removed += 1;
        }
        if opts.history {
            history.push(history_row(post, now));
        }
    }
    for c in &mut comments {
        if is_removed(c) {
            mark_removed(c, now, opts.purge_removed);
            report.removed += 1;
        }
    }

    let mut redditors = Vec::new();
    if opts.redditor_about {
        let mut seen = HashSet::new();
        for (name, post) in &kept {
            let Some(author) = thing::data(post).get("author").and_then(Value::as_str) else {
                continue;
            };
            if author == "[deleted]" || !new_names.contains(name) || !seen.insert(author.to_owned()) {
                continue;
            }
            match client.user_about(author).await {
                Ok(v) => redditors.push(v),
                Err(e) if e.is_unavailable() => {
                    tracing::info!(user = %author, error = %e, "Redditor unavailable")
                }
                Err(e) => return Err(e),
            }
        }
        report.redditors = redditors.len();
    }

    tracked.prune(now - opts.refresh_window_secs.max(DEFAULT_REFRESH_WINDOW_SECS));
    batch.problem_posts = ProblemPost::top(
        kept.iter().filter_map(|(_, p)| ProblemPost::of(p)),
        TOP_PROBLEM_POSTS,
    );
    batch.things.extend(kept.into_iter().map(|(_, p)| p));
    batch.things.extend(comments);
    batch.things.extend(history);
    batch.things.extend(redditors);
    batch.state.push((Tracked::key(sub), tracked.to_value()));
    Ok(batch)
}
