//! Batch refresh through /api/info and deletion detection.

use harbor_reddit::{Removal, removal, thing};
use harbor_testkit::FakeReddit;
use serde_json::{Value, json};

use crate::support::{client_for, corpus, fixtures};

#[tokio::test]
async fn refresh_of_n_posts_costs_ceil_n_over_100_calls() {
    let fake = FakeReddit::start(corpus(&["alpha"], 260)).await.expect("fake");
    let client = client_for(&fake);
    let all: Vec<String> = fake
        .post_ids("alpha")
        .iter()
        .map(|id| format!("t3_{id}"))
        .collect();
    for n in [1usize, 99, 100, 101, 260] {
        fake.reset_counts();
        let refreshed = client.info(&all[..n]).await.expect("info");
        assert_eq!(fake.count("info") as usize, n.div_ceil(100), "n={n}");
        assert_eq!(refreshed.calls, n.div_ceil(100));
        assert_eq!(refreshed.things.len(), n);
        assert!(refreshed.missing.is_empty());
    }
}

#[tokio::test]
async fn refresh_sees_edits_and_deletions() {
    let fake = FakeReddit::start(corpus(&["alpha"], 10)).await.expect("fake");
    let client = client_for(&fake);
    let posts = fake.post_ids("alpha");
    assert!(fake.edit_post(&posts[0], |d| {
        d["author"] = json!("[deleted]");
        d["selftext"] = json!("[deleted]");
    }));
    assert!(fake.edit_post(&posts[1], |d| {
        d["selftext"] = json!("[removed]");
        d["removed_by_category"] = json!("moderator");
        d["score"] = json!(12345);
    }));
    let names: Vec<String> = posts
        .iter()
        .take(3)
        .map(|id| format!("t3_{id}"))
        .chain(["t3_zzzzzzz".to_owned()])
        .collect();
    let refreshed = client.info(&names).await.expect("info");
    let by_id = |id: &str| {
        refreshed
            .things
            .iter()
            .find(|t| thing::id(t) == Some(id))
            .expect("present")
    };
    assert_eq!(removal(by_id(&posts[0])), Some(Removal::Deleted));
    assert_eq!(removal(by_id(&posts[1])), Some(Removal::Removed));
    assert_eq!(thing::data(by_id(&posts[1]))["score"], 12345);
    assert_eq!(removal(by_id(&posts[2])), None);
    assert_eq!(refreshed.missing, vec!["t3_zzzzzzz".to_owned()]);
}

#[test]
fn recorded_deleted_and_removed_comments_are_detected() {
    let first_child = |rel: &str| -> Value {
        let text = std::fs::read_to_string(fixtures().join("api/praw/info").join(rel)).expect("fixture");
        let json: Value = serde_json::from_str(&text).expect("json");
        json["body"]["data"]["children"][0].clone()
    };
    assert_eq!(
        removal(&first_child("info_t1_deleted_comment.json")),
        Some(Removal::Deleted)
    );
    // Recorded by a moderator account: the removed comment is still served with its body and no
    // removal marker, so nothing may be flagged.
    assert_eq!(removal(&first_child("info_t1_removed_comment.json")), None);
}
