//! Combined-subreddit listings (`/r/a+b/new`, `/r/a+b/comments`) and the fake's stream.

use std::time::Duration;

use harbor_reddit::{ListingSource, thing};
use harbor_testkit::{FakeReddit, StreamRate, StreamSpec};

use crate::support::{client_for, corpus, ids};

#[tokio::test]
async fn combined_new_merges_members_newest_first_and_skips_unavailable() {
    let fake = FakeReddit::start(corpus(&["alpha", "beta"], 30))
        .await
        .expect("fake");
    let client = client_for(&fake);
    let subs = vec!["alpha".to_owned(), "secretclub".to_owned(), "beta".to_owned()];
    let source = ListingSource::combined(&subs, false);
    assert_eq!(source.state_key(), "r/alpha+secretclub+beta/new");
    let page = client.listing_page(&source, None, 100).await.expect("page");
    assert_eq!(page.things.len(), 60, "both members, the private one left out");
    let created: Vec<f64> = page
        .things
        .iter()
        .map(|t| thing::data(t)["created_utc"].as_f64().expect("created"))
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    let mut expected: Vec<String> = fake.post_ids("alpha");
    expected.extend(fake.post_ids("beta"));
    let mut got = ids(&page.things);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(fake.count("listing"), 1, "one call for every member");
}

#[tokio::test]
async fn streamed_comments_appear_in_the_comments_listing() {
    let fake = FakeReddit::start(corpus(&["alpha", "beta"], 5))
        .await
        .expect("fake");
    let client = client_for(&fake);
    fake.start_stream(StreamSpec {
        rates: vec![
            StreamRate {
                subreddit: "alpha".into(),
                posts_per_minute: 600.0,
                comments_per_minute: 1200.0,
            },
            StreamRate {
                subreddit: "beta".into(),
                posts_per_minute: 0.0,
                comments_per_minute: 600.0,
            },
        ],
        seed: 3,
        tick: Duration::from_millis(20),
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    fake.stop_stream();
    let appeared = fake.appearances();
    let posts: Vec<_> = appeared
        .iter()
        .filter(|a| a.fullname.starts_with("t3_"))
        .collect();
    let comments: Vec<_> = appeared
        .iter()
        .filter(|a| a.fullname.starts_with("t1_"))
        .collect();
    assert!(
        posts.len() >= 5 && posts.iter().all(|a| a.subreddit == "alpha"),
        "{posts:?}"
    );
    assert!(comments.len() >= 10, "{comments:?}");
    let subs = vec!["alpha".to_owned(), "beta".to_owned()];
    let page = client
        .listing_page(&ListingSource::combined(&subs, true), None, 100)
        .await
        .expect("comments");
    let names: Vec<String> = page
        .things
        .iter()
        .map(|t| format!("t1_{}", thing::id(t).expect("id")))
        .collect();
    assert!(page.things.iter().all(|t| thing::kind(t) == Some("t1")));
    let newest: Vec<String> = comments
        .iter()
        .rev()
        .take(names.len().min(20))
        .map(|a| a.fullname.clone())
        .collect();
    for n in &newest {
        assert!(names.contains(n), "streamed comment {n} is listed");
    }
    let created: Vec<f64> = page
        .things
        .iter()
        .map(|t| thing::data(t)["created_utc"].as_f64().expect("created"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    // New posts are visible in /new with their streamed creation time.
    let new = client
        .listing_page(&ListingSource::new_posts("alpha"), None, 100)
        .await
        .expect("new");
    let listed = ids(&new.things);
    for p in &posts {
        assert!(
            listed.contains(&p.fullname[3..].to_owned()),
            "{} listed",
            p.fullname
        );
    }
}
