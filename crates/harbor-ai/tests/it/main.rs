//! The LLM scorer against the fake LLM endpoint of harbor-testkit: wire format, schema fallback,
//! retries, malformed answers, the cost cap and PII masking.

mod themes;

use std::time::Duration;

use harbor_ai::{
    Limits, LlmScorer, LlmSettings, Masker, PiiOptions, Post, PriceTable, RunOptions, Scorer, StructuredMode,
    score_posts,
};
use harbor_testkit::llm::{ALWAYS_500, MALFORMED_ALWAYS, MALFORMED_ONCE};
use harbor_testkit::{FakeLlm, FakeLlmConfig};

fn settings(fake: &FakeLlm) -> LlmSettings {
    LlmSettings {
        base_url: fake.base_url(),
        api_key: Some("sk-test-secret".to_owned().into()),
        min_delay_ms: 1,
        max_delay_ms: 5,
        max_retries: 3,
        ..LlmSettings::default()
    }
}

fn posts(n: usize) -> Vec<Post> {
    (0..n)
        .map(|i| Post {
            id: format!("p{i}"),
            subreddit: "smallbusiness".into(),
            title: format!("I struggle with invoices, case {i}"),
            body: "It takes hours every week.".into(),
            score: 10,
            num_comments: 3,
            ..Default::default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_answers_with_usage_and_cost() {
    let fake = FakeLlm::start(FakeLlmConfig::default()).await.expect("fake");
    let scorer = LlmScorer::new(&settings(&fake), &PriceTable::default(), None).expect("scorer");
    assert_eq!(scorer.id(), "llm:anthropic/claude-haiku-4.5:opportunity-v1");
    let (out, r) = score_posts(&scorer, posts(5), RunOptions::default()).await;
    assert_eq!((r.scored, r.failed, r.left_unscored), (5, 0, 0));
    assert_eq!(fake.request_count(), 5);
    let req = &fake.requests()[0];
    assert!(req.authorized);
    assert_eq!(req.body["response_format"]["type"], "json_schema");
    assert_eq!(req.body["model"], "anthropic/claude-haiku-4.5");
    assert!(
        !fake.log_text().contains("sk-test-secret"),
        "the key is only in the header"
    );
    // Tokens come from the API's usage; the cost from the price table ($1 / $5 per million).
    let a = &out[0];
    assert!(a.usage.prompt_tokens > 0 && a.usage.completion_tokens > 0);
    let expected = (a.usage.prompt_tokens as f64 * 1.0 + a.usage.completion_tokens as f64 * 5.0) / 1e6;
    assert!((a.cost_usd - expected).abs() < 1e-12);
    assert_eq!(
        r.prompt_tokens,
        out.iter().map(|a| a.usage.prompt_tokens).sum::<u64>()
    );
    // Deterministic: the same post gets the same answer.
    let (again, _) = score_posts(&scorer, posts(1), RunOptions::default()).await;
    assert_eq!(again[0].outcome, out[0].outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_validated_text_when_response_format_is_rejected() {
    let fake = FakeLlm::start(FakeLlmConfig {
        reject_response_format: true,
        ..Default::default()
    })
    .await
    .expect("fake");
    let scorer = LlmScorer::new(&settings(&fake), &PriceTable::default(), None).expect("scorer");
    let (_, r) = score_posts(
        &scorer,
        posts(3),
        RunOptions {
            concurrency: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.scored, 3);
    assert_eq!(
        scorer.stats().schema_fallbacks,
        1,
        "switches once, then stays in text mode"
    );
    assert_eq!(fake.count_status(400), 1);
    let last = fake.requests().pop().expect("requests");
    assert!(last.body.get("response_format").is_none());
    let system = last.body["messages"][0]["content"].as_str().unwrap_or("");
    assert!(
        system.contains("JSON schema"),
        "the schema is in the prompt instead"
    );

    let strict = LlmScorer::new(
        &LlmSettings {
            structured: StructuredMode::JsonSchema,
            ..settings(&fake)
        },
        &PriceTable::default(),
        None,
    )
    .expect("scorer");
    let (out, r) = score_posts(&strict, posts(1), RunOptions::default()).await;
    assert_eq!(r.failed, 1, "json_schema only: the 400 is a recorded failure");
    assert!(matches!(&out[0].outcome, harbor_ai::Outcome::Failed { reason } if reason.contains("HTTP 400")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_scored_or_failed_and_counts_add_up() {
    let fake = FakeLlm::start(FakeLlmConfig {
        every_nth_429: Some(4),
        every_nth_500: Some(7),
        ..Default::default()
    })
    .await
    .expect("fake");
    // Enough retries that only the deliberate failures fail, whatever the interleaving.
    let s = LlmSettings {
        max_retries: 10,
        ..settings(&fake)
    };
    let scorer = LlmScorer::new(&s, &PriceTable::default(), None).expect("scorer");
    let mut ps = posts(30);
    ps[3].body.push_str(MALFORMED_ONCE);
    ps[5].body.push_str(MALFORMED_ALWAYS);
    ps[8].body.push_str(ALWAYS_500);
    let (out, r) = score_posts(
        &scorer,
        ps,
        RunOptions {
            concurrency: 4,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(out.len(), 30, "no post is dropped");
    assert_eq!(r.scored + r.failed, 30);
    assert_eq!(
        r.failed, 2,
        "malformed twice and always-500 fail; the rest succeed after retries"
    );
    let reason = |id: &str| match &out.iter().find(|a| a.post_id == id).expect("result").outcome {
        harbor_ai::Outcome::Failed { reason } => reason.clone(),
        harbor_ai::Outcome::Scored { .. } => String::new(),
    };
    assert!(
        reason("p5").contains("did not match the schema after a retry"),
        "{}",
        reason("p5")
    );
    // The last error is kept (a 500, or a 429 that hit one of its retries).
    assert!(reason("p8").starts_with("HTTP "), "{}", reason("p8"));
    assert_eq!(
        reason("p3"),
        "",
        "a malformed answer is retried once with the error"
    );
    let st = scorer.stats();
    assert_eq!(st.requests as usize, fake.request_count());
    assert_eq!(st.requests, r.requests);
    assert_eq!(st.http_429 as usize, fake.count_status(429));
    assert_eq!(st.http_5xx as usize, fake.count_status(500));
    assert!(st.http_429 > 0 && st.http_5xx > 0 && st.retries > 0);
    assert_eq!(st.malformed, 3, "p3 once, p5 twice");
    assert_eq!(
        st.requests,
        30 + st.retries + 2,
        "one request per post, plus retries, plus the two malformed re-asks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_cap_stops_within_one_request() {
    let fake = FakeLlm::start(FakeLlmConfig {
        latency: Duration::from_millis(5),
        ..Default::default()
    })
    .await
    .expect("fake");
    let scorer = LlmScorer::new(&settings(&fake), &PriceTable::default(), None).expect("scorer");
    let (one, _) = score_posts(&scorer, posts(1), RunOptions::default()).await;
    let per_post = one[0].cost_usd;
    let cap = per_post * 10.5;
    fake.clear();
    let (out, r) = score_posts(
        &scorer,
        posts(50),
        RunOptions {
            concurrency: 4,
            limits: Limits {
                max_cost_usd: Some(cap),
                max_tokens: None,
            },
        },
    )
    .await;
    assert!(
        r.cost_usd <= cap + per_post,
        "spent {} with cap {cap}",
        r.cost_usd
    );
    assert!(r.left_unscored > 0 && r.stopped.as_deref().is_some_and(|s| s.contains("cost cap")));
    assert_eq!(r.scored + r.failed + r.left_unscored, 50);
    assert_eq!(out.len() as u64, r.scored + r.failed);
    assert_eq!(fake.request_count() as u64, r.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_text_is_all_the_llm_sees() {
    let fake = FakeLlm::start(FakeLlmConfig::default()).await.expect("fake");
    let masker = Masker::new(&PiiOptions::default(), b"k");
    let scorer = LlmScorer::new(&settings(&fake), &PriceTable::default(), Some(masker)).expect("scorer");
    let mut p = posts(1);
    p[0].body = "Email me at jane@example.com or call 555-123-4567, thanks u/janedoe".into();
    let (_, r) = score_posts(&scorer, p, RunOptions::default()).await;
    assert_eq!(r.scored, 1);
    let log = fake.log_text();
    for secret in ["jane@example.com", "555-123-4567", "janedoe"] {
        assert!(!log.contains(secret), "{secret} reached the LLM");
    }
    assert!(log.contains("[email]") && log.contains("[phone]"));
}

/// A fake that answers every request with `status` and echoes the request headers (the key
/// included), like a proxy in front of a provider.
async fn echo_endpoint(status: u16) -> FakeLlm {
    FakeLlm::start(FakeLlmConfig {
        echo_error: Some(status),
        ..Default::default()
    })
    .await
    .expect("fake")
}

fn echo_settings(base_url: String) -> LlmSettings {
    LlmSettings {
        base_url,
        api_key: Some("sk-live-9d8c7b6a5f4e3d2c1b0a".to_owned().into()),
        min_delay_ms: 1,
        max_delay_ms: 5,
        max_retries: 3,
        ..LlmSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_key_stops_the_run_with_a_clear_error() {
    for status in [401u16, 403] {
        let fake = echo_endpoint(status).await;
        let url = fake.base_url();
        let scorer =
            LlmScorer::new(&echo_settings(url.clone()), &PriceTable::default(), None).expect("scorer");
        let opts = RunOptions {
            concurrency: 4,
            ..RunOptions::default()
        };
        let (out, r) = score_posts(&scorer, posts(60), opts).await;
        let sent = fake.request_count();
        assert!(
            sent <= 4,
            "HTTP {status}: {sent} requests after the key was refused"
        );
        let err = r.error.clone().expect("the run reports an error");
        assert!(
            err.contains("HARBOR_LLM_API_KEY") && err.contains(&format!("HTTP {status}")),
            "{err}"
        );
        assert!(
            err.contains(url.trim_end_matches("/v1")) && !err.contains("sk-live"),
            "{err}"
        );
        // Nothing is recorded as the posts' failure: a run with a good key scores them all.
        assert!(out.is_empty(), "{out:?}");
        assert_eq!((r.scored, r.failed, r.left_unscored), (0, 0, 60));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_keys_never_reach_the_failure_reason() {
    let fake = echo_endpoint(400).await;
    let scorer =
        LlmScorer::new(&echo_settings(fake.base_url()), &PriceTable::default(), None).expect("scorer");
    let (out, r) = score_posts(&scorer, posts(2), RunOptions::default()).await;
    assert_eq!(r.failed, 2);
    assert!(r.error.is_none());
    for a in &out {
        let harbor_ai::Outcome::Failed { reason } = &a.outcome else {
            panic!("not failed: {a:?}")
        };
        assert!(reason.starts_with("HTTP 400"), "{reason}");
        for secret in ["9d8c7b6a5f4e3d2c1b0a", "sk-live", "zz9plural"] {
            assert!(!reason.contains(secret), "{secret} in {reason}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_spend_no_budget() {
    // Nothing listens on the port: every call fails after its retries, nothing is billed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let scorer = LlmScorer::new(
        &echo_settings(format!("http://127.0.0.1:{port}/v1")),
        &PriceTable::default(),
        None,
    )
    .expect("scorer");
    let one = scorer.estimate(&posts(1)[0]).0;
    let opts = RunOptions {
        concurrency: 4,
        limits: Limits {
            max_tokens: Some(one * 2),
            max_cost_usd: None,
        },
    };
    let (_, r) = score_posts(&scorer, posts(12), opts).await;
    assert_eq!(r.stopped, None, "failed calls used up the budget");
    assert_eq!((r.failed, r.left_unscored), (12, 0));
    assert_eq!(r.prompt_tokens + r.completion_tokens, 0);
}
