//! `/api/v1/themes` and `/api/v1/themes/{id}` on every engine: ranking by growth, filters,
//! pagination, a theme with its members and weekly counts, and the errors.

use axum::http::StatusCode;

use crate::harness::{Api, Engine};

on_every_engine!(
    themes_rank_filter_and_page,
    a_theme_with_members_and_weeks,
    theme_errors
);

async fn themes_rank_filter_and_page(engine: Engine) {
    let api = Api::on(engine);
    let all = api.get("/api/v1/themes").await;
    let items = all["items"].as_array().expect("items");
    let ids: Vec<&str> = items.iter().filter_map(|t| t["id"].as_str()).collect();
    // Fastest-growing first.
    assert_eq!(
        ids,
        [
            "th-00000000000000a1",
            "th-00000000000000b2",
            "th-00000000000000c3"
        ]
    );
    let first = &items[0];
    assert_eq!(
        first["terms"],
        serde_json::json!(["invoices", "struggle", "track"])
    );
    assert_eq!(first["recent_weeks"].as_array().map(Vec::len), Some(12));
    assert_eq!(first["examples"][0]["post_id"], "p006");
    assert_eq!(first["subreddit_counts"][0]["subreddit"], "SaaS");
    assert_eq!(
        first["posts"].as_i64(),
        Some(api.count("SELECT count(*) FROM theme_members WHERE theme_id = 'th-00000000000000a1'"))
    );
    assert_eq!(first["growth"], 20.0);
    assert!(all["next_cursor"].is_null());

    // A subreddit filter goes through the members.
    let saas = api.get("/api/v1/themes?subreddit=SAAS").await;
    let ids: Vec<&str> = saas["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["th-00000000000000a1"]);
    let big = api.get("/api/v1/themes?min_posts=4").await;
    assert_eq!(big["items"].as_array().map(Vec::len), Some(2));

    // Pages of one follow each other without repeats.
    let p1 = api.get("/api/v1/themes?limit=1").await;
    let cursor = p1["next_cursor"].as_str().expect("cursor");
    let p2 = api.get(&format!("/api/v1/themes?limit=1&cursor={cursor}")).await;
    assert_eq!(p2["items"][0]["id"], "th-00000000000000b2");
}

async fn a_theme_with_members_and_weeks(engine: Engine) {
    let api = Api::on(engine);
    let t = api.get("/api/v1/themes/th-00000000000000a1").await;
    assert_eq!(t["id"], "th-00000000000000a1");
    assert_eq!(t["name"], "invoices, struggle, track");
    let members = t["members"].as_array().expect("members");
    assert_eq!(members.len() as i64, t["posts"].as_i64().expect("posts"));
    assert!(members.iter().all(|m| m["subreddit"] == "SaaS"));
    // Most central first.
    let sims: Vec<f64> = members.iter().filter_map(|m| m["similarity"].as_f64()).collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
    assert!(
        members[0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://www.reddit.com/"))
    );
    let weeks = t["weeks"].as_array().expect("weeks");
    let overall: i64 = weeks
        .iter()
        .filter(|w| w["subreddit"].is_null())
        .filter_map(|w| w["posts"].as_i64())
        .sum();
    assert_eq!(overall, members.len() as i64, "weekly counts add up to the posts");
    // Overall weeks first, oldest first.
    assert!(weeks[0]["subreddit"].is_null());
    let all_weeks: Vec<&str> = weeks
        .iter()
        .filter(|w| w["subreddit"].is_null())
        .filter_map(|w| w["week"].as_str())
        .collect();
    assert!(all_weeks.windows(2).all(|w| w[0] < w[1]), "{all_weeks:?}");
    assert!(weeks.iter().any(|w| w["subreddit"] == "SaaS"));
}

async fn theme_errors(engine: Engine) {
    let api = Api::on(engine);
    assert_eq!(
        api.error("/api/v1/themes/th-00000000000000ff").await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    assert_eq!(
        api.error("/api/v1/themes/x%27%20OR%201%3D1").await,
        (StatusCode::BAD_REQUEST, "invalid_parameter".into())
    );
    assert_eq!(
        api.error("/api/v1/themes?min_posts=0").await,
        (StatusCode::BAD_REQUEST, "invalid_parameter".into())
    );
    assert_eq!(
        api.error("/api/v1/themes?sort=name").await,
        (StatusCode::BAD_REQUEST, "invalid_parameter".into())
    );
}
