//! Response and request bodies of the API (the OpenAPI schemas).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A Reddit submission.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Submission {
    /// Reddit id (base 36, without `t3_`).
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Body text (self posts).
    pub selftext: Option<String>,
    /// Subreddit name.
    pub subreddit: Option<String>,
    /// Author name.
    pub author: Option<String>,
    /// Score.
    pub score: Option<i64>,
    /// Number of comments.
    pub num_comments: Option<i64>,
    /// Creation time (RFC 3339, UTC).
    pub created_utc: Option<String>,
    /// Permalink path on reddit.com.
    pub permalink: Option<String>,
    /// Link URL.
    pub url: Option<String>,
    /// Whether the problem filter matched.
    pub is_problem: Option<bool>,
}

/// A page of submissions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionPage {
    /// The submissions, newest first.
    pub items: Vec<Submission>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A comment with its replies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommentNode {
    /// Reddit id (without `t1_`).
    pub id: String,
    /// Parent fullname (`t1_...` or `t3_...`).
    pub parent_id: Option<String>,
    /// Author name.
    pub author: Option<String>,
    /// Text.
    pub body: Option<String>,
    /// Score.
    pub score: Option<i64>,
    /// Creation time (RFC 3339, UTC).
    pub created_utc: Option<String>,
    /// Replies, oldest first.
    #[schema(no_recursion)]
    pub replies: Vec<CommentNode>,
}

/// A submission with its comment tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionDetail {
    /// The submission.
    pub submission: Submission,
    /// Top-level comments with their replies.
    pub comments: Vec<CommentNode>,
    /// Number of comments in the tree.
    pub comment_count: u64,
}

/// A subreddit with what the dataset holds of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubredditSummary {
    /// Subreddit name.
    pub name: String,
    /// Submissions stored.
    pub submissions: i64,
    /// Submissions the problem filter matched.
    pub problem_submissions: i64,
    /// Oldest stored submission (RFC 3339).
    pub first_post: Option<String>,
    /// Newest stored submission (RFC 3339).
    pub last_post: Option<String>,
}

/// A list of subreddits.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubredditList {
    /// Subreddits by number of submissions, largest first.
    pub items: Vec<SubredditSummary>,
}

/// One sentence of an opportunity's evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    /// What it explains: a dimension (`market_demand`, `pain_intensity`, `monetization_potential`,
    /// `market_gap`, `technical_feasibility`, `simplicity`) or another key of the evidence
    /// (`growth_justification` of an LLM answer, `imported`).
    pub dimension: String,
    /// The sentence, e.g. "135 points, 12 comments; 3 comments echo it ('same problem')".
    pub text: String,
}

/// A scored opportunity: the analysis of a post and the post itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct Opportunity {
    /// Submission id.
    pub post_id: String,
    /// Scorer id (scorer, model and prompt version).
    pub scorer_id: String,
    /// Weighted final score, 0-100.
    pub final_score: Option<f64>,
    /// Market demand, 0-100.
    pub market_demand: Option<f64>,
    /// Pain intensity, 0-100.
    pub pain_intensity: Option<f64>,
    /// Monetization potential, 0-100.
    pub monetization_potential: Option<f64>,
    /// Market gap, 0-100.
    pub market_gap: Option<f64>,
    /// Technical feasibility, 0-100.
    pub technical_feasibility: Option<f64>,
    /// Simplicity, 0-100.
    pub simplicity: Option<f64>,
    /// Why the post scored what it did (matched phrases, engagement numbers), as stored.
    pub evidence: Option<serde_json::Value>,
    /// The evidence as a short sentence per dimension (empty without evidence).
    pub reasons: Vec<Reason>,
    /// Suggested app name.
    pub app_name: Option<String>,
    /// The problem in a sentence.
    pub problem_description: Option<String>,
    /// The app concept.
    pub app_concept: Option<String>,
    /// Core functions (1-3).
    pub core_functions: Option<serde_json::Value>,
    /// Value proposition.
    pub value_proposition: Option<String>,
    /// Target user.
    pub target_user: Option<String>,
    /// Monetization model.
    pub monetization_model: Option<String>,
    /// Model that scored (for LLM scorers).
    pub model: Option<String>,
    /// When it was scored (RFC 3339).
    pub scored_at: Option<String>,
    /// Post title.
    pub title: Option<String>,
    /// Subreddit.
    pub subreddit: Option<String>,
    /// Permalink.
    pub permalink: Option<String>,
    /// Post score.
    pub score: Option<i64>,
    /// Post comment count.
    pub num_comments: Option<i64>,
    /// Post creation time (RFC 3339).
    pub created_utc: Option<String>,
}

/// A page of opportunities.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpportunityPage {
    /// Opportunities, best first.
    pub items: Vec<Opportunity>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The trace of one run (a `_harbor_runs` row, or a run the server started that is still going).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Run {
    /// Run id.
    pub run_id: String,
    /// Command (`load`, `collect`, `run`, ...).
    pub command: Option<String>,
    /// Pipeline name.
    pub pipeline: Option<String>,
    /// Start (RFC 3339).
    pub started_at: Option<String>,
    /// End (RFC 3339); absent while running.
    pub finished_at: Option<String>,
    /// `running`, `ok` or `failed`.
    pub status: String,
    /// Duration in seconds.
    pub seconds: Option<f64>,
    /// Seconds per stage.
    pub stages: Option<serde_json::Value>,
    /// API calls per endpoint.
    pub api_calls: Option<serde_json::Value>,
    /// API calls in total.
    pub api_calls_total: Option<i64>,
    /// HTTP 429 answers.
    pub http_429: Option<i64>,
    /// Retried requests.
    pub retries: Option<i64>,
    /// Rows per table.
    pub rows: Option<serde_json::Value>,
    /// Rows in total.
    pub rows_total: Option<i64>,
    /// Bytes read.
    pub bytes: Option<i64>,
    /// Rejected records.
    pub rejects: Option<i64>,
    /// Error message of a failed run.
    pub error: Option<String>,
    /// LLM tokens used.
    pub llm_tokens: Option<i64>,
    /// LLM cost in USD.
    pub llm_cost_usd: Option<f64>,
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    /// Runs, newest first.
    pub items: Vec<Run>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What `POST /api/v1/runs` starts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The command; `load` loads files from the server's inbox directory.
    pub command: RunCommand,
    /// Files to load, relative to the inbox directory (no `..`, no absolute paths).
    #[serde(default)]
    pub files: Vec<String>,
    /// Table for bare objects.
    #[serde(default)]
    pub table: Option<String>,
    /// Load files again even if they were loaded before.
    #[serde(default)]
    pub force: bool,
}

/// Commands a run can execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunCommand {
    /// `harbor load` on files in the inbox.
    Load,
}

/// The answer to `POST /api/v1/runs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    /// Follow it with `GET /api/v1/runs/{run_id}`.
    pub run_id: String,
    /// Always `running`.
    pub status: String,
}

/// One recent load.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadInfo {
    /// Load id.
    pub load_id: String,
    /// Pipeline.
    pub pipeline: Option<String>,
    /// Commit time (RFC 3339).
    pub inserted_at: Option<String>,
    /// Rows loaded.
    pub rows: Option<i64>,
}

/// Health of the dataset and the pipeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// Pipeline name.
    pub pipeline: String,
    /// Destination (no credentials).
    pub destination: String,
    /// Rows per data table.
    pub tables: BTreeMap<String, i64>,
    /// Recent loads, newest first.
    pub loads: Vec<LoadInfo>,
    /// The latest run, if any.
    pub last_run: Option<Run>,
    /// Failed runs in the last 24 hours.
    pub failed_runs_24h: i64,
    /// A run started through the API that is still going.
    pub active_run: Option<String>,
    /// Server uptime in seconds.
    pub uptime_seconds: f64,
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
