//! Every recorded auth and status case of prawcore, served by the fake, gets the behaviour its
//! status calls for.

use std::time::{Duration, Instant};

use harbor_reddit::{AuthFlow, Error, RedditClient, RedditConfig};
use harbor_testkit::{FakeReddit, Fault, Recorded};
use secrecy::SecretString;
use serde_json::Value;

use crate::support::{client_for, config_for, corpus, fixtures};

fn recording(rel: &str) -> Fault {
    let path = fixtures().join("api/prawcore").join(rel);
    Fault::Recorded(Box::new(Recorded::load(&path).expect("fixture")))
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Retried, then the real answer.
    Retry,
    /// Token refreshed once, then the real answer.
    Refresh,
    /// Success with this JSON null-ness.
    Ok { null: bool },
    /// Terminal error with this status, one request.
    Terminal(u16),
    /// Terminal redirect error.
    Redirect,
}

const API_CASES: &[(&str, Expect)] = &[
    ("errors/401_invalid_token_www_authenticate.json", Expect::Refresh),
    ("errors/401_unauthorized_message.json", Expect::Refresh),
    (
        "errors/403_forbidden_user_gilded_given.json",
        Expect::Terminal(403),
    ),
    ("errors/403_insufficient_scope.json", Expect::Terminal(403)),
    ("errors/404_wiki_page_not_created.json", Expect::Terminal(404)),
    ("errors/409_wiki_edit_conflict.json", Expect::Terminal(409)),
    ("errors/413_too_large_html.json", Expect::Terminal(413)),
    ("errors/414_uri_too_long_plaintext.json", Expect::Terminal(414)),
    ("errors/415_unsupported_media_type.json", Expect::Terminal(415)),
    (
        "errors/451_unavailable_for_legal_reasons.json",
        Expect::Terminal(451),
    ),
    ("errors/500_internal_server_error.json", Expect::Retry),
    ("errors/502_bad_gateway.json", Expect::Retry),
    ("errors/503_service_unavailable.json", Expect::Retry),
    ("errors/504_gateway_timeout.json", Expect::Retry),
    ("errors/520_cloudflare_unknown_error.json", Expect::Retry),
    ("errors/522_cloudflare_connection_timed_out.json", Expect::Retry),
    ("status/200_truncated_json_body.json", Expect::Retry),
    ("status/200_zero_byte_body.json", Expect::Ok { null: true }),
    ("status/201_created.json", Expect::Ok { null: false }),
    ("status/202_accepted.json", Expect::Ok { null: false }),
    ("status/204_no_content.json", Expect::Ok { null: true }),
    ("status/205_unexpected_status.json", Expect::Terminal(205)),
    ("status/301_redirect_t_bird.json", Expect::Redirect),
    ("status/302_redirect_r_random_html.json", Expect::Redirect),
];

#[tokio::test]
async fn recorded_api_statuses() {
    let fake = FakeReddit::start(corpus(&["rust"], 5)).await.expect("fake");
    let client = client_for(&fake);
    let path = "/r/rust/about";
    client
        .get_json(path, &[])
        .await
        .expect("warm-up fetches the token");
    for (file, expect) in API_CASES {
        fake.reset_counts();
        let before = client.stats();
        fake.inject(recording(file));
        let result = client.get_json(path, &[]).await;
        let stats = client.stats().since(&before);
        let sent = fake.count("subreddit_about");
        match expect {
            Expect::Retry => {
                let v = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(v["kind"], "t5", "{file}");
                assert_eq!((sent, stats.retries), (2, 1), "{file}");
            }
            Expect::Refresh => {
                result.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!((sent, stats.token_refreshes, stats.retries), (2, 1, 0), "{file}");
            }
            Expect::Ok { null } => {
                let v = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(v == Value::Null, *null, "{file}: {v}");
                assert_eq!(sent, 1, "{file}");
            }
            Expect::Terminal(status) => {
                let err = result.expect_err(file);
                assert_eq!(err.status(), Some(*status), "{file}: {err}");
                assert!(err.to_string().contains("GET /r/rust/about"), "{file}: {err}");
                assert_eq!((sent, stats.retries), (1, 0), "{file}");
            }
            Expect::Redirect => {
                let err = result.expect_err(file);
                assert!(matches!(err, Error::Redirect { .. }), "{file}: {err}");
                assert_eq!(sent, 1, "{file}");
            }
        }
    }
}

#[tokio::test]
async fn recorded_429_honours_retry_after() {
    let fake = FakeReddit::start(corpus(&["rust"], 5)).await.expect("fake");
    let client = client_for(&fake);
    client.get_json("/r/rust/about", &[]).await.expect("warm-up");
    fake.inject(recording("errors/429_html_with_retry_after.json")); // Retry-After: 4
    let start = Instant::now();
    client.get_json("/r/rust/about", &[]).await.expect("retried");
    assert!(start.elapsed() >= Duration::from_secs(4), "{:?}", start.elapsed());
    assert_eq!(client.stats().rate_limited, 1);
}

fn config_with(fake: &FakeReddit, auth: AuthFlow) -> RedditConfig {
    RedditConfig {
        auth,
        ..config_for(fake)
    }
}

#[tokio::test]
async fn every_grant_type_works() {
    let fake = FakeReddit::start(corpus(&["rust"], 5)).await.expect("fake");
    let fc = fake.config().clone();
    let flows = [
        AuthFlow::ApplicationOnly,
        AuthFlow::Password {
            username: fc.username.clone(),
            password: SecretString::from(fc.password.clone()),
        },
        AuthFlow::RefreshToken {
            refresh_token: SecretString::from(fc.refresh_token.clone()),
        },
    ];
    for flow in flows {
        let client = RedditClient::new(config_with(&fake, flow.clone())).expect("client");
        client
            .get_json("/r/rust/about", &[])
            .await
            .unwrap_or_else(|e| panic!("{flow:?}: {e}"));
    }
    // Wrong password: Reddit answers HTTP 200 {"error":"invalid_grant"}.
    let wrong = AuthFlow::Password {
        username: fc.username.clone(),
        password: SecretString::from("nope".to_owned()),
    };
    let err = RedditClient::new(config_with(&fake, wrong))
        .expect("client")
        .get_json("/r/rust/about", &[])
        .await;
    assert!(
        matches!(err, Err(Error::OAuth { ref error, .. }) if error == "invalid_grant"),
        "{err:?}"
    );
    // A bad client secret is a terminal 401 from the token endpoint.
    let mut bad = config_for(&fake);
    bad.client_secret = SecretString::from("wrong".to_owned());
    let err = RedditClient::new(bad)
        .expect("client")
        .get_json("/r/rust/about", &[])
        .await
        .expect_err("401");
    assert!(
        matches!(err, Error::OAuth { ref error, .. } if error == "http 401"),
        "{err}"
    );
    // No User-Agent: refused before any request.
    let mut no_ua = config_for(&fake);
    no_ua.user_agent = String::new();
    assert!(matches!(RedditClient::new(no_ua), Err(Error::UserAgent { .. })));
}

#[tokio::test]
async fn recorded_token_answers() {
    let fake = FakeReddit::start(corpus(&["rust"], 5)).await.expect("fake");
    let terminal = [
        ("auth/token__invalid_grant__status200.json", "invalid_grant"),
        (
            "auth/token__unauthorized_client__status200.json",
            "unauthorized_client",
        ),
        ("auth/token__bad_device_id__status200.json", "invalid_request"),
        ("auth/token__refresh_invalid__400.json", "http 400"),
    ];
    for (file, code) in terminal {
        fake.reset_counts();
        fake.inject_token(recording(file));
        let err = client_for(&fake)
            .get_json("/r/rust/about", &[])
            .await
            .expect_err(file);
        assert!(
            matches!(err, Error::OAuth { ref error, .. } if error == code),
            "{file}: {err}"
        );
        assert_eq!(fake.count("token"), 1, "{file}: no retry");
        assert_eq!(fake.api_requests(), 0, "{file}");
    }
    // Successful recordings carry a redacted token the fake does not know: the API answers 401,
    // the client refreshes once and goes on.
    for file in [
        "auth/token__client_credentials.json",
        "auth/token__password_grant.json",
        "auth/token__refresh_token_grant.json",
        "auth/token__installed_client_device_id.json",
    ] {
        fake.reset_counts();
        fake.inject_token(recording(file));
        let client = client_for(&fake);
        client
            .get_json("/r/rust/about", &[])
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((fake.count("token"), fake.unauthorized_sent()), (2, 1), "{file}");
    }
    // 429 from the token endpoint (JSON, no Retry-After): retried.
    fake.reset_counts();
    fake.inject_token(recording("errors/429_token_endpoint_json_no_retry_after.json"));
    let client = client_for(&fake);
    client.get_json("/r/rust/about", &[]).await.expect("retried");
    assert_eq!(fake.count("token"), 2);
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test]
async fn token_expiry_mid_run_refreshes_once() {
    let fake = FakeReddit::start(corpus(&["rust"], 5)).await.expect("fake");
    let client = client_for(&fake);
    client.get_json("/r/rust/about", &[]).await.expect("first");
    fake.expire_tokens();
    client.get_json("/r/rust/about", &[]).await.expect("after expiry");
    assert_eq!(client.stats().token_refreshes, 2);
    assert_eq!(fake.unauthorized_sent(), 1);
}
