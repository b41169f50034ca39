//! Alert e-mail over SMTP (lettre), beside the webhook: the same alert as a plain-text message,
//! its text passed through [`redact_secrets`]; the SMTP URL (which carries the password) never
//! appears in logs or errors, only its scheme, host and port do.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{Message, SmtpTransport, Transport};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::error::{Error, Result};
use crate::redact::{endpoint_of, redact_secrets};

/// `[alerts.email]` in `harbor.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// The SMTP server: `smtps://user:password@smtp.example.com:465` (implicit TLS),
    /// `smtp://user:password@smtp.example.com:587?tls=required` (STARTTLS) or `smtp://127.0.0.1:25`
    /// (a local relay, no TLS). Keep it out of version control: `HARBOR_ALERTS__EMAIL__SMTP_URL`.
    /// None disables e-mail.
    pub smtp_url: Option<String>,
    /// Sender address, e.g. `harbor <harbor@example.com>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

impl EmailConfig {
    /// Whether e-mail is configured.
    pub fn enabled(&self) -> bool {
        self.smtp_url.as_deref().is_some_and(|u| !u.trim().is_empty())
    }
}

/// The message of an alert: subject `[harbor] <title>`, the text and the fields, redacted.
fn message(cfg: &EmailConfig, alert: &Alert) -> std::result::Result<Message, String> {
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| format!("[alerts.email] from = {:?}: {e}", cfg.from))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(redact_secrets(&format!("[harbor] {}", alert.title)))
        .header(ContentType::TEXT_PLAIN);
    if cfg.to.is_empty() {
        return Err("[alerts.email] to is empty: name at least one recipient".into());
    }
    for to in &cfg.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| format!("[alerts.email] to = {to:?}: {e}"))?;
        builder = builder.to(mailbox);
    }
    let mut body = format!("{}\n\n", alert.text);
    for (k, v) in &alert.fields {
        body.push_str(&format!("{k}: {v}\n"));
    }
    body.push_str(&format!(
        "\nevent: {}\npipeline: {}\n",
        alert.event, alert.pipeline
    ));
    builder
        .body(redact_secrets(&body))
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// Sends the alert by e-mail if `[alerts.email]` is configured. Returns the messages sent (0 or 1).
pub fn send(cfg: &EmailConfig, alert: &Alert, timeout: Duration) -> Result<u32> {
    let Some(url) = cfg.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Ok(0);
    };
    let endpoint = endpoint_of(url);
    let fail = |message: String| Error::Email {
        endpoint: endpoint.clone(),
        message: redact_secrets(&message).replace(url, &endpoint),
    };
    let msg = message(cfg, alert).map_err(fail)?;
    let transport = SmtpTransport::from_url(url)
        .map_err(|e| fail(format!("invalid SMTP URL: {e}")))?
        .timeout(Some(timeout))
        .build();
    transport.send(&msg).map_err(|e| fail(e.to_string()))?;
    tracing::info!(endpoint = %endpoint, event = %alert.event, recipients = cfg.to.len(), "Alert e-mail sent");
    Ok(1)
}
