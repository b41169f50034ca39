//! Incremental listing walks: exactly the new posts, in the minimum number of calls.

use harbor_reddit::{ListingSource, Sort, StopReason, WalkOptions};
use harbor_testkit::FakeReddit;

use crate::support::{client_for, corpus, ids};

#[tokio::test]
async fn second_walk_costs_ceil_k_over_100_calls() {
    let fake = FakeReddit::start(corpus(&["alpha", "beta"], 250))
        .await
        .expect("fake");
    let client = client_for(&fake);
    let source = ListingSource::new_posts("alpha");
    let first = client
        .walk_listing(&source, None, &WalkOptions::default())
        .await
        .expect("first");
    assert_eq!(first.things.len(), 250);
    assert_eq!(first.pages, 3);
    let mut expected_first = fake.post_ids("alpha");
    expected_first.reverse();
    assert_eq!(ids(&first.things), expected_first);

    let mut cursor = first.cursor;
    for k in [0usize, 1, 37, 99, 100, 101, 200, 250] {
        let mut added = fake.add_posts("alpha", k);
        fake.add_posts("beta", 3); // other subreddits move too
        added.reverse();
        fake.reset_counts();
        let walk = client
            .walk_listing(&source, Some(&cursor), &WalkOptions::default())
            .await
            .expect("walk");
        let expected_calls = k.div_ceil(100) + usize::from(k % 100 == 0);
        assert_eq!(fake.count("listing") as usize, expected_calls, "k={k}");
        assert_eq!(walk.pages, expected_calls, "k={k}");
        assert_eq!(ids(&walk.things), added, "k={k}");
        assert_eq!(walk.stop, StopReason::Cursor);
        cursor = walk.cursor;
    }
}

#[tokio::test]
async fn lag_window_rereads_and_dedups() {
    let fake = FakeReddit::start(corpus(&["alpha"], 120)).await.expect("fake");
    let client = client_for(&fake);
    let source = ListingSource::new_posts("alpha");
    // Posts are 60 s apart: a 150 s lag re-reads the 2-3 newest known posts on each walk.
    let options = WalkOptions {
        lag_window_secs: 150.0,
        ..WalkOptions::default()
    };
    let first = client.walk_listing(&source, None, &options).await.expect("first");
    assert_eq!(first.things.len(), 120);
    assert!(first.cursor.boundary_ids.len() >= 3);
    let mut added = fake.add_posts("alpha", 98);
    added.reverse();
    fake.reset_counts();
    let walk = client
        .walk_listing(&source, Some(&first.cursor), &options)
        .await
        .expect("walk");
    assert_eq!(
        ids(&walk.things),
        added,
        "known posts inside the lag window are not returned again"
    );
    // 98 new + 3 re-read posts fill page 1; the page that passes the lag window is page 2.
    assert_eq!(fake.count("listing"), 2);
}

#[tokio::test]
async fn first_run_respects_limit_and_other_sorts_read_up_to_it() {
    let fake = FakeReddit::start(corpus(&["alpha"], 1200)).await.expect("fake");
    let client = client_for(&fake);
    let all = client
        .walk_listing(&ListingSource::new_posts("alpha"), None, &WalkOptions::default())
        .await
        .expect("walk");
    assert_eq!(all.things.len(), 1000, "Reddit serves about 1000 items");
    assert_eq!(all.pages, 10);
    let top = ListingSource::Subreddit {
        subreddit: "alpha".into(),
        sort: Sort::Top,
        time: None,
    };
    let limited = client
        .walk_listing(
            &top,
            None,
            &WalkOptions {
                limit: 150,
                ..WalkOptions::default()
            },
        )
        .await
        .expect("top");
    assert_eq!(limited.things.len(), 150);
    assert_eq!(limited.stop, StopReason::Limit);
    assert_eq!(limited.pages, 2);
}
