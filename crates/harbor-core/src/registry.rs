//! The Reddit field registry: types of the known fields of submissions, comments, redditors and
//! subreddits, so a column exists with the right type even when every value in a batch is null.

use crate::types::DataType;

use DataType::{Bigint as I, Bool as B, Double as D, Json as J, Text as T, Timestamp as TS};

/// Fields common to submissions and comments.
const CONTENT: &[(&str, DataType)] = &[
    ("id", T),
    ("name", T),
    ("created_utc", TS),
    ("created", D),
    ("author", T),
    ("author_fullname", T),
    ("author_flair_text", T),
    ("author_flair_css_class", T),
    ("author_flair_template_id", T),
    ("author_flair_background_color", T),
    ("author_flair_text_color", T),
    ("author_flair_type", T),
    ("author_premium", B),
    ("author_patreon_flair", B),
    ("author_is_blocked", B),
    ("subreddit", T),
    ("subreddit_id", T),
    ("subreddit_name_prefixed", T),
    ("subreddit_type", T),
    ("score", I),
    ("ups", I),
    ("downs", I),
    ("gilded", I),
    ("total_awards_received", I),
    ("top_awarded_type", T),
    ("permalink", T),
    ("stickied", B),
    ("locked", B),
    ("archived", B),
    ("distinguished", T),
    ("can_gild", B),
    ("can_mod_post", B),
    ("send_replies", B),
    ("no_follow", B),
    ("saved", B),
    ("likes", B),
    ("is_edited", B),
    ("edited_at", TS),
    ("approved_at_utc", TS),
    ("approved_by", T),
    ("banned_at_utc", TS),
    ("banned_by", T),
    ("mod_note", T),
    ("mod_reason_by", T),
    ("mod_reason_title", T),
    ("removal_reason", T),
    ("num_reports", I),
    ("report_reasons", J),
    ("retrieved_on", TS),
    ("retrieved_utc", TS),
    ("updated_utc", TS),
];

/// Fields of submissions (t3).
const SUBMISSION: &[(&str, DataType)] = &[
    ("title", T),
    ("selftext", T),
    ("selftext_html", T),
    ("url", T),
    ("url_overridden_by_dest", T),
    ("domain", T),
    ("thumbnail", T),
    ("thumbnail_height", I),
    ("thumbnail_width", I),
    ("num_comments", I),
    ("num_crossposts", I),
    ("upvote_ratio", D),
    ("over_18", B),
    ("spoiler", B),
    ("is_self", B),
    ("is_video", B),
    ("is_original_content", B),
    ("is_reddit_media_domain", B),
    ("is_meta", B),
    ("is_crosspostable", B),
    ("is_robot_indexable", B),
    ("is_created_from_ads_ui", B),
    ("media_only", B),
    ("pinned", B),
    ("hidden", B),
    ("clicked", B),
    ("visited", B),
    ("quarantine", B),
    ("hide_score", B),
    ("contest_mode", B),
    ("allow_live_comments", B),
    ("link_flair_text", T),
    ("link_flair_css_class", T),
    ("link_flair_template_id", T),
    ("link_flair_type", T),
    ("link_flair_text_color", T),
    ("link_flair_background_color", T),
    ("post_hint", T),
    ("removed_by", T),
    ("removed_by_category", T),
    ("suggested_sort", T),
    ("discussion_type", T),
    ("category", T),
    ("view_count", I),
    ("subreddit_subscribers", I),
    ("pwls", I),
    ("wls", I),
    ("content_categories", J),
    ("media_metadata", J),
    ("crosspost_parent", T),
    ("crosspost_parent_list", J),
    ("poll_data", J),
    ("gallery_data", J),
];

/// Fields the collector adds to submissions and comments (`removed_at` when a refresh finds the
/// content deleted or removed; the problem filter's tags). Typed when present, never pre-created.
const COLLECTED: &[(&str, DataType)] = &[("removed_at", TS), ("is_problem", B), ("problem_keywords", J)];

/// The collector's time series of post metrics (`submission_history`, append).
const SUBMISSION_HISTORY: &[(&str, DataType)] = &[
    ("id", T),
    ("observed_at", TS),
    ("score", I),
    ("num_comments", I),
    ("upvote_ratio", D),
];

/// Opportunity scores written by `harbor score` (harbor-ai), merged on `analysis_id`
/// (`<post_id>:<scorer_id>`, so one row per post and scorer).
const OPPORTUNITY_ANALYSIS: &[(&str, DataType)] = &[
    ("analysis_id", T),
    ("post_id", T),
    ("scorer_id", T),
    ("market_demand", D),
    ("pain_intensity", D),
    ("monetization_potential", D),
    ("market_gap", D),
    ("technical_feasibility", D),
    ("simplicity", D),
    ("final_score", D),
    ("evidence", J),
    ("app_name", T),
    ("problem_description", T),
    ("app_concept", T),
    ("core_functions", J),
    ("value_proposition", T),
    ("target_user", T),
    ("monetization_model", T),
    ("growth_justification", T),
    ("status", T),
    ("failure_reason", T),
    ("model", T),
    ("prompt_version", T),
    ("prompt_tokens", I),
    ("completion_tokens", I),
    ("cost_usd", D),
    ("content_hash", T),
    ("scored_at", TS),
];

/// Fields of comments (t1).
const COMMENT: &[(&str, DataType)] = &[
    ("body", T),
    ("body_html", T),
    ("link_id", T),
    ("parent_id", T),
    ("depth", I),
    ("controversiality", I),
    ("is_submitter", B),
    ("score_hidden", B),
    ("collapsed", B),
    ("collapsed_reason", T),
    ("collapsed_reason_code", T),
    ("collapsed_because_crowd_control", B),
    ("comment_type", T),
    ("unrepliable_reason", T),
    ("associated_award", J),
    ("link_title", T),
    ("link_author", T),
    ("link_permalink", T),
    ("link_url", T),
    ("num_comments", I),
    ("over_18", B),
];

/// Fields of redditors (t2).
const REDDITOR: &[(&str, DataType)] = &[
    ("id", T),
    ("name", T),
    ("created_utc", TS),
    ("created", D),
    ("link_karma", I),
    ("comment_karma", I),
    ("total_karma", I),
    ("awardee_karma", I),
    ("awarder_karma", I),
    ("is_gold", B),
    ("is_mod", B),
    ("is_employee", B),
    ("is_suspended", B),
    ("verified", B),
    ("has_verified_email", B),
    ("icon_img", T),
];

/// Fields of subreddits (t5).
const SUBREDDIT: &[(&str, DataType)] = &[
    ("id", T),
    ("name", T),
    ("display_name", T),
    ("display_name_prefixed", T),
    ("title", T),
    ("public_description", T),
    ("description", T),
    ("subscribers", I),
    ("active_user_count", I),
    ("accounts_active", I),
    ("created_utc", TS),
    ("created", D),
    ("over18", B),
    ("subreddit_type", T),
    ("lang", T),
    ("url", T),
    ("quarantine", B),
];

/// The registry of known fields for a root table, in column order.
pub fn fields(table: &str) -> Vec<(&'static str, DataType)> {
    match table {
        "submissions" => CONTENT.iter().chain(SUBMISSION).copied().collect(),
        "comments" => CONTENT.iter().chain(COMMENT).copied().collect(),
        "redditors" => REDDITOR.to_vec(),
        "subreddits" => SUBREDDIT.to_vec(),
        "submission_history" => SUBMISSION_HISTORY.to_vec(),
        "opportunity_analysis" => OPPORTUNITY_ANALYSIS.to_vec(),
        _ => Vec::new(),
    }
}

/// The registry type of one top-level field of a root table.
pub fn field_type(table: &str, field: &str) -> Option<DataType> {
    let lists: &[&[(&str, DataType)]] = match table {
        "submissions" => &[CONTENT, SUBMISSION, COLLECTED],
        "comments" => &[CONTENT, COMMENT, COLLECTED],
        "redditors" => &[REDDITOR],
        "subreddits" => &[SUBREDDIT],
        "submission_history" => &[SUBMISSION_HISTORY],
        "opportunity_analysis" => &[OPPORTUNITY_ANALYSIS],
        _ => &[],
    };
    lists
        .iter()
        .flat_map(|l| l.iter())
        .find(|(n, _)| *n == field)
        .map(|(_, t)| *t)
}

/// The table a Reddit thing kind (`t3`, `t1`, ...) is stored in.
pub fn table_for_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "t1" => "comments",
        "t2" => "redditors",
        "t3" => "submissions",
        "t4" => "messages",
        "t5" => "subreddits",
        "t6" => "awards",
        _ => return None,
    })
}

/// Tables whose primary key is `id` and whose default disposition is merge.
pub fn is_reddit_table(table: &str) -> bool {
    matches!(
        table,
        "submissions" | "comments" | "redditors" | "subreddits" | "messages"
    )
}

/// The problem-first filter's default keywords: the legacy collector's list (`struggle, problem,
/// frustrated, wish, can't, difficult, annoying, pain`) followed by their common inflections. The API
/// collector (`harbor_reddit::ProblemFilter`) and the dump filter (`harbor_dumps::KeywordFilter`)
/// both start from it.
pub const PROBLEM_KEYWORDS: &[&str] = &[
    "struggle",
    "problem",
    "frustrated",
    "wish",
    "can't",
    "difficult",
    "annoying",
    "pain",
    "struggling",
    "struggles",
    "problems",
    "frustrating",
    "frustration",
    "wishes",
    "cannot",
    "difficulty",
    "annoyed",
    "painful",
    "stuck",
    "tedious",
    "hate",
];
