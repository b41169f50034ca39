//! [`FakeLlm`]: a stand-in for an OpenAI-compatible chat completions endpoint (OpenRouter, OpenAI,
//! Ollama, vLLM) on 127.0.0.1.
//!
//! It answers `POST /chat/completions` (and `/v1/chat/completions`) in the real wire format, with
//! `usage`, after a configurable latency. The answer is derived from the prompt only (a hash of the
//! user message), so the same post always gets the same scores. Faults: every n-th request can get a
//! 429 or 500, prompts containing a marker can always fail or answer malformed JSON (once or always),
//! and the endpoint can reject `response_format` like models without structured output do. Every
//! request is logged for assertions (what was sent, how many calls, which status).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A prompt containing this always gets HTTP 500.
pub const ALWAYS_500: &str = "FAKE_LLM_ALWAYS_500";
/// A prompt containing this gets a malformed answer on every attempt.
pub const MALFORMED_ALWAYS: &str = "FAKE_LLM_MALFORMED_ALWAYS";
/// A prompt containing this gets a malformed answer on the first attempt only (the retry that quotes
/// the validation error gets a valid answer).
pub const MALFORMED_ONCE: &str = "FAKE_LLM_MALFORMED_ONCE";

/// How the fake behaves.
#[derive(Debug, Clone, Default)]
pub struct FakeLlmConfig {
    /// Delay before every answer.
    pub latency: Duration,
    /// Every n-th request (counting all requests, 1-based) gets 429 with `Retry-After: 0`.
    pub every_nth_429: Option<u64>,
    /// Every n-th request gets 500.
    pub every_nth_500: Option<u64>,
    /// Answer 400 to requests with `response_format` (a model without structured output).
    pub reject_response_format: bool,
    /// Answer every request with this status and a body echoing the request headers (the API key
    /// included), like a misconfigured proxy in front of a provider that refuses the key.
    pub echo_error: Option<u16>,
    /// Scripted answers: when the first user message contains `.0`, the answer's content is `.1`
    /// (the first match wins), instead of the opportunity answer derived from the prompt.
    pub scripted: Vec<(String, String)>,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// The JSON body.
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// The `Authorization` header was present.
    pub authorized: bool,
}

#[derive(Debug, Default)]
struct Shared {
    config: FakeLlmConfig,
    log: Mutex<Vec<LoggedRequest>>,
}

/// A running fake LLM endpoint. Stops when dropped.
#[derive(Debug)]
pub struct FakeLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    /// Starts the fake on `127.0.0.1` with a random port, inside the current tokio runtime.
    pub async fn start(config: FakeLlmConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/chat/completions", post(handle))
            .route("/v1/chat/completions", post(handle))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake llm stopped: {e}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// Base URL for `HARBOR_LLM_BASE_URL` (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Vec<LoggedRequest>> {
        self.shared.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log().clone()
    }

    /// Number of requests received.
    pub fn request_count(&self) -> usize {
        self.log().len()
    }

    /// Requests answered with `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.log().iter().filter(|r| r.status == status).count()
    }

    /// Everything the fake was sent, as one text (for "this never reached the LLM" checks).
    pub fn log_text(&self) -> String {
        self.log()
            .iter()
            .map(|r| r.body.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Forgets the log.
    pub fn clear(&self) {
        self.log().clear();
    }
}

/// Tokens as the fake counts them: one per four characters, rounded up.
pub fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn hash(text: &str) -> u64 {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The answer the fake gives for a user message: scores and profile derived from its hash.
pub fn answer_for(user: &str) -> Value {
    let h = hash(user);
    let dim = |i: u32| ((h >> (i * 7)) % 101) as f64;
    let n = 1 + (h % 3) as usize;
    let functions: Vec<String> = ["Capture", "Remind", "Report"]
        .iter()
        .take(n)
        .map(|f| format!("{f} step {}", h % 97))
        .collect();
    json!({
        "market_demand": dim(0), "pain_intensity": dim(1), "monetization_potential": dim(2),
        "market_gap": dim(3), "technical_feasibility": dim(4),
        "app_name": format!("Fixly {}", h % 1000),
        "problem_description": "People lose time on a repetitive task.",
        "app_concept": "A small app that does the task for them.",
        "core_functions": functions,
        "value_proposition": "Saves an hour a week.",
        "target_user": "Small business owners",
        "monetization_model": "Subscription",
        "growth_justification": "Many posts describe the same pain.",
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "code": status.as_u16()}}),
    )
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let cfg = &shared.config;
    if !cfg.latency.is_zero() {
        tokio::time::sleep(cfg.latency).await;
    }
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let authorized = headers.contains_key("authorization");
    let n = {
        let log = shared.log.lock().unwrap_or_else(|p| p.into_inner());
        log.len() as u64 + 1
    };
    let messages: Vec<(String, String)> = parsed["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| {
                    (
                        x["role"].as_str().unwrap_or("").to_owned(),
                        x["content"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let first_user = messages
        .iter()
        .find(|(r, _)| r == "user")
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    let structured = parsed.get("response_format").is_some_and(|v| !v.is_null());
    let (status, response) = if let Some(code) = cfg.echo_error {
        let echoed: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
        let body = json!({"error": {"message": "invalid api key", "code": code,
            "request_headers": echoed, "debug": "upstream /v1/chat/completions?api_key=zz9plural9x"}});
        (code, json_response(status, &body))
    } else if messages.is_empty() {
        (400, error(StatusCode::BAD_REQUEST, "messages are required"))
    } else if cfg.every_nth_429.is_some_and(|k| n % k == 0) {
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate limited");
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
        (429, r)
    } else if cfg.every_nth_500.is_some_and(|k| n % k == 0) || first_user.contains(ALWAYS_500) {
        (500, error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
    } else if structured && cfg.reject_response_format {
        (
            400,
            error(
                StatusCode::BAD_REQUEST,
                "response_format json_schema is not supported by this model",
            ),
        )
    } else {
        let retry = messages.iter().any(|(r, _)| r == "assistant");
        let malformed =
            first_user.contains(MALFORMED_ALWAYS) || (first_user.contains(MALFORMED_ONCE) && !retry);
        let scripted = cfg
            .scripted
            .iter()
            .find(|(needle, _)| first_user.contains(needle.as_str()))
            .map(|(_, answer)| answer.clone());
        let content = if let Some(answer) = scripted {
            answer
        } else if malformed {
            // Valid JSON, wrong shape: a dimension out of range and no core functions.
            json!({"market_demand": 250, "app_name": "Broken"}).to_string()
        } else if structured {
            answer_for(&first_user).to_string()
        } else {
            format!(
                "Here is my analysis:\n```json\n{}\n```",
                serde_json::to_string_pretty(&answer_for(&first_user)).unwrap_or_default()
            )
        };
        let prompt_tokens: u64 = messages.iter().map(|(_, c)| tokens(c) + 4).sum();
        let completion_tokens = tokens(&content);
        let body = json!({
            "id": format!("chatcmpl-fake-{n}"),
            "object": "chat.completion",
            "created": 1_700_000_000u64,
            "model": parsed["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens},
        });
        (200, json_response(StatusCode::OK, &body))
    };
    shared
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(LoggedRequest {
            body: parsed,
            status,
            authorized,
        });
    response
}
