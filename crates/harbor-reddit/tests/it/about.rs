//! About pages (cached) and unavailable subreddits.

use harbor_reddit::ProblemFilter;
use harbor_testkit::FakeReddit;

use crate::support::{client_for, corpus, fixtures};

#[tokio::test]
async fn about_pages_are_cached_and_unavailable_subreddits_reported() {
    let fake = FakeReddit::start(corpus(&["Rust"], 20)).await.expect("fake");
    let client = client_for(&fake);
    let about = client.subreddit_about("rust").await.expect("about");
    assert_eq!(about["kind"], "t5");
    client.subreddit_about("RUST").await.expect("cached");
    assert_eq!(fake.count("subreddit_about"), 1);
    for (sub, status) in [("secretclub", 403), ("bannedsub", 404), ("doesnotexist", 404)] {
        let err = client.subreddit_about(sub).await.expect_err(sub);
        assert!(err.is_unavailable(), "{sub}: {err}");
        assert_eq!(err.status(), Some(status), "{sub}");
    }
    let user = client.user_about("fake_user").await.expect("user");
    assert_eq!(user["kind"], "t2");
    client.user_about("fake_user").await.expect("cached");
    assert_eq!(fake.count("user_about"), 1);
}

#[tokio::test]
async fn recorded_about_pages_replay() {
    let fake = FakeReddit::start(harbor_testkit::FakeConfig {
        corpus: None,
        ..Default::default()
    })
    .await
    .expect("fake");
    fake.replay_dir(&fixtures().join("api/asyncpraw/about"))
        .expect("fixtures");
    let client = client_for(&fake);
    let sub = client.subreddit_about("redditdev").await.expect("redditdev");
    assert_eq!(sub["data"]["display_name"], "redditdev");
    let user = client.user_about("spez").await.expect("spez");
    assert_eq!(user["data"]["name"], "spez");
}

#[test]
fn problem_filter_on_recorded_posts() {
    let text =
        std::fs::read_to_string(fixtures().join("api/asyncpraw/listings/r_askreddit_new_2020-07.json"))
            .expect("fixture");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let filter = ProblemFilter::default();
    let posts = json["body"]["data"]["children"].as_array().expect("children");
    let tagged: Vec<_> = posts.iter().map(|p| filter.matches_thing(p)).collect();
    assert_eq!(tagged.len(), 100);
    // Every match really contains the keyword (case-insensitively) in title or body.
    for (post, kws) in posts.iter().zip(&tagged) {
        let d = &post["data"];
        let text = format!(
            "{} {}",
            d["title"].as_str().unwrap_or(""),
            d["selftext"].as_str().unwrap_or("")
        )
        .to_lowercase()
        .replace('\u{2019}', "'");
        for kw in kws {
            assert!(text.contains(kw.as_str()), "{kw} not in {text}");
        }
    }
}
