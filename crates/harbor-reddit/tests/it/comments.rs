//! Complete comment trees: the recorded n49rw expansion and synthetic threads.

use std::collections::{HashMap, HashSet};

use harbor_reddit::CommentOptions;
use harbor_reddit::thing;
use harbor_testkit::{FakeConfig, FakeReddit};
use serde_json::Value;

use crate::support::{client_for, corpus, fixtures};

/// Every t1 (id -> parent_id) found anywhere in a JSON value.
fn collect_t1(value: &Value, out: &mut HashMap<String, String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_t1(v, out)),
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("t1") {
                let d = &map["data"];
                out.insert(
                    d["id"].as_str().expect("id").to_owned(),
                    d["parent_id"].as_str().expect("parent").to_owned(),
                );
            }
            map.values().for_each(|v| collect_t1(v, out));
        }
        _ => {}
    }
}

fn check_tree(comments: &[Value], expected: &HashMap<String, String>) {
    let got: Vec<&str> = comments.iter().map(|c| thing::id(c).expect("id")).collect();
    let unique: HashSet<&str> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "a comment came out twice");
    let expected_ids: HashSet<&str> = expected.keys().map(String::as_str).collect();
    let missing: Vec<_> = expected_ids.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&expected_ids).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for c in comments {
        let d = thing::data(c);
        let id = d["id"].as_str().expect("id");
        assert_eq!(
            d["parent_id"].as_str(),
            Some(expected[id].as_str()),
            "parent of {id}"
        );
        assert_eq!(d["replies"], Value::String(String::new()), "flattened {id}");
    }
}

#[tokio::test]
async fn n49rw_full_expansion_yields_every_comment_once() {
    let dir = fixtures().join("api/asyncpraw/thread_n49rw_full_expansion");
    let fake = FakeReddit::start(FakeConfig {
        corpus: None,
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let loaded = fake.replay_dir(&dir).expect("fixtures");
    assert_eq!(loaded, 17);
    let mut expected = HashMap::new();
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        let json: Value = serde_json::from_str(&text).expect("json");
        collect_t1(&json["body"], &mut expected);
    }
    assert!(expected.len() > 1400, "{}", expected.len());

    let client = client_for(&fake);
    let tree = client
        .comment_tree("n49rw", &CommentOptions::default())
        .await
        .expect("tree");
    check_tree(&tree.comments, &expected);
    assert!(tree.unexpanded.is_empty());
    assert_eq!(
        thing::id(tree.submission.as_ref().expect("submission")),
        Some("n49rw")
    );
    // The 13 stubs PRAW expanded one call each fit in one batched morechildren call.
    assert_eq!(fake.count("morechildren"), 1);
    assert_eq!(fake.count("continue_thread"), 3);
    assert_eq!(fake.count("comments"), 1);
    // Depth is recomputed from the parents (continue-thread answers restart at 0).
    let by_id: HashMap<&str, &Value> = tree
        .comments
        .iter()
        .map(|c| (thing::id(c).expect("id"), thing::data(c)))
        .collect();
    for d in by_id.values() {
        let parent = d["parent_id"].as_str().expect("parent");
        let depth = d["depth"].as_u64().expect("depth");
        match parent.strip_prefix("t1_") {
            Some(p) => assert_eq!(depth, by_id[p]["depth"].as_u64().expect("d") + 1),
            None => assert_eq!(depth, 0),
        }
    }
}

#[tokio::test]
async fn synthetic_big_thread_is_complete_and_limit_stops_expansion() {
    let fake = FakeReddit::start(corpus(&["alpha"], 50)).await.expect("fake");
    let post = fake.post_ids("alpha")[49].clone(); // every 50th post has a big, deep thread
    let expected_ids = fake.comment_ids(&post);
    assert!(expected_ids.len() >= 150);
    let client = client_for(&fake);
    let tree = client
        .comment_tree(&post, &CommentOptions::default())
        .await
        .expect("tree");
    let mut expected = HashMap::new();
    let info = client
        .info(&expected_ids.iter().map(|i| format!("t1_{i}")).collect::<Vec<_>>())
        .await
        .expect("info");
    for t in &info.things {
        let d = thing::data(t);
        expected.insert(
            d["id"].as_str().expect("id").to_owned(),
            d["parent_id"].as_str().expect("p").to_owned(),
        );
    }
    check_tree(&tree.comments, &expected);
    assert!(fake.count("continue_thread") >= 1, "{:?}", fake.counts());
    assert!(fake.count("morechildren") >= 1);

    let partial = client
        .comment_tree(
            &post,
            &CommentOptions {
                max_more_calls: Some(0),
                ..CommentOptions::default()
            },
        )
        .await
        .expect("partial");
    assert!(partial.comments.len() < tree.comments.len());
    assert!(!partial.unexpanded.is_empty());
    assert_eq!(partial.calls, 1);
}
