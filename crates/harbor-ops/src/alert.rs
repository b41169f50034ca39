//! Alert webhooks: a Slack-compatible message (`{"text": ..., "attachments": [...]}`) or a generic
//! JSON document, POSTed on failed runs and on triggered checks, with retries. Every text is passed
//! through [`redact_secrets`], and the webhook URL (whose path is often the secret) never appears in
//! logs or errors: only its scheme, host and port do.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, Result};
use crate::redact::{endpoint_of, redact_secrets};

/// The payload shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    /// Slack incoming-webhook JSON (also accepted by Mattermost, Rocket.Chat, Discord's `/slack`).
    #[default]
    Slack,
    /// `{"event", "pipeline", "title", "text", "fields", "at", "source"}`.
    Json,
}

/// `[alerts]` in `harbor.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// The webhook URL (keep it out of version control: `HARBOR_ALERTS__WEBHOOK`). None disables alerts.
    pub webhook: Option<String>,
    /// Payload shape.
    pub format: AlertFormat,
    /// Retries after the first attempt, on transport errors, 429 and 5xx.
    pub retries: u32,
    /// Seconds before the first retry; doubles each time.
    pub backoff_secs: f64,
    /// Seconds one attempt may take.
    pub timeout_secs: f64,
    /// Alert when a run fails.
    pub on_failed_run: bool,
    /// Alert when `harbor check` finds a rollback trigger.
    pub on_check: bool,
    /// Alerts by e-mail too (`[alerts.email]`), beside the webhook or instead of it.
    pub email: crate::alert_email::EmailConfig,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            webhook: None,
            format: AlertFormat::Slack,
            retries: 3,
            backoff_secs: 1.0,
            timeout_secs: 10.0,
            on_failed_run: true,
            on_check: true,
            email: Default::default(),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// `run_failed`, `check_triggered`, `rollback`.
    pub event: String,
    /// The pipeline.
    pub pipeline: String,
    /// One line.
    pub title: String,
    /// Details.
    pub text: String,
    /// Key facts (run id, command, trigger values).
    pub fields: BTreeMap<String, String>,
}

impl Alert {
    /// The alert for a failed run.
    pub fn run_failed(run: &crate::trace::RunRecord) -> Alert {
        let mut fields = BTreeMap::new();
        fields.insert("run_id".into(), run.run_id.clone());
        fields.insert("command".into(), run.command.clone());
        fields.insert("started_at".into(), run.started_at.clone());
        if let Some(s) = run.seconds {
            fields.insert("seconds".into(), format!("{s:.1}"));
        }
        Alert {
            event: "run_failed".into(),
            pipeline: run.pipeline.clone(),
            title: format!("harbor {} failed on pipeline {}", run.command, run.pipeline),
            text: run.error.clone().unwrap_or_else(|| "unknown error".into()),
            fields,
        }
    }

    /// The JSON body in the given format, secrets redacted.
    pub fn payload(&self, format: AlertFormat) -> serde_json::Value {
        let title = redact_secrets(&self.title);
        let text = redact_secrets(&self.text);
        let fields: BTreeMap<String, String> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), redact_secrets(v)))
            .collect();
        match format {
            AlertFormat::Slack => json!({
                "text": format!("{title}\n{text}"),
                "attachments": [{
                    "color": "danger",
                    "title": title,
                    "fields": fields.iter().map(|(k, v)| json!({"title": k, "value": v, "short": true})).collect::<Vec<_>>(),
                    "footer": format!("harbor · pipeline {}", self.pipeline),
                }],
            }),
            AlertFormat::Json => json!({
                "source": "harbor",
                "event": self.event,
                "pipeline": self.pipeline,
                "title": title,
                "text": text,
                "fields": fields,
                "at": chrono::Utc::now().to_rfc3339(),
            }),
        }
    }
}

/// Whether an attempt may be retried: transport errors, timeouts, 408, 429 and 5xx are transient.
fn transient_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// Sends an alert to the webhook and by e-mail, each if configured; one failing does not stop the
/// other. Returns the deliveries attempted (0 when alerts are off), or the first error.
pub fn send(cfg: &AlertConfig, alert: &Alert) -> Result<u32> {
    let timeout = Duration::from_secs_f64(cfg.timeout_secs.max(0.1));
    let hook = send_webhook(cfg, alert);
    let email = crate::alert_email::send(&cfg.email, alert, timeout);
    Ok(hook? + email?)
}

/// Sends an alert if a webhook is configured. Returns the attempts made (0 when it is not).
fn send_webhook(cfg: &AlertConfig, alert: &Alert) -> Result<u32> {
    let Some(url) = cfg.webhook.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Ok(0);
    };
    let endpoint = endpoint_of(url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs_f64(cfg.timeout_secs.max(0.1))))
        .http_status_as_error(false)
        .build()
        .into();
    let body = alert.payload(cfg.format).to_string();
    let mut delay = Duration::from_secs_f64(cfg.backoff_secs.max(0.0));
    let attempts = cfg.retries + 1;
    let mut last = String::new();
    let mut made = 0;
    for attempt in 1..=attempts {
        made = attempt;
        let mut wait = delay;
        match agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", concat!("harbor/", env!("CARGO_PKG_VERSION")))
            .send(body.as_str())
        {
            Ok(resp) if resp.status().is_success() => {
                tracing::info!(endpoint = %endpoint, event = %alert.event, attempt, "Alert delivered");
                return Ok(attempt);
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                last = format!("HTTP {status}");
                if !transient_status(status) {
                    break;
                }
                if let Some(secs) = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                {
                    wait = Duration::from_secs_f64(secs.clamp(0.0, 60.0));
                }
            }
            Err(e) => last = redact_secrets(&e.to_string()).replace(url, &endpoint),
        }
        if attempt < attempts {
            tracing::warn!(endpoint = %endpoint, attempt, error = %last, "Alert webhook failed, retrying");
            std::thread::sleep(wait);
            delay *= 2;
        } else {
            return Err(Error::Webhook {
                endpoint,
                message: last,
                attempts,
            });
        }
    }
    Err(Error::Webhook {
        endpoint,
        message: format!("{last} (not retried)"),
        attempts: made,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_both_shapes_and_no_secrets() {
        let mut fields = BTreeMap::new();
        fields.insert("destination".into(), "postgres://u:pw123@h/db".into());
        let a = Alert {
            event: "run_failed".into(),
            pipeline: "reddit".into(),
            title: "harbor load failed".into(),
            text: "cannot connect with password=pw123".into(),
            fields,
        };
        let slack = a.payload(AlertFormat::Slack);
        assert!(
            slack["text"]
                .as_str()
                .is_some_and(|t| t.contains("harbor load failed"))
        );
        assert_eq!(slack["attachments"][0]["fields"][0]["title"], "destination");
        let generic = a.payload(AlertFormat::Json);
        assert_eq!(generic["event"], "run_failed");
        for p in [slack, generic] {
            assert!(!p.to_string().contains("pw123"), "{p}");
        }
        assert!(transient_status(503) && transient_status(429) && !transient_status(404));
    }
}
