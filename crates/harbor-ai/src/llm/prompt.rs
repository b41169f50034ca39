//! Versioned prompt files (`crates/harbor-ai/prompts/<version>.md`), compiled into the binary so a
//! scorer id always names the exact text that was sent.

use crate::error::{Error, Result};
use crate::post::Post;

/// The prompts shipped with this build: (version, file text).
const PROMPTS: &[(&str, &str)] = &[("opportunity-v1", include_str!("../../prompts/opportunity-v1.md"))];

/// A prompt: the system message and the user template.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// The version (file name without `.md`).
    pub version: String,
    system: String,
    user: String,
}

impl Prompt {
    /// Loads a shipped prompt by version.
    pub fn load(version: &str) -> Result<Prompt> {
        let Some((_, text)) = PROMPTS.iter().find(|(v, _)| *v == version) else {
            let known: Vec<&str> = PROMPTS.iter().map(|(v, _)| *v).collect();
            return Err(Error::Config(format!(
                "unknown prompt {version:?}; this build has {}",
                known.join(", ")
            )));
        };
        let text = match text.find("-->") {
            Some(i) if text.starts_with("<!--") => &text[i + 3..],
            _ => text,
        };
        let (system, user) = text
            .split_once("=== user ===")
            .ok_or_else(|| Error::Config(format!("prompt {version} has no `=== user ===` line")))?;
        Ok(Prompt {
            version: version.to_owned(),
            system: system.trim().to_owned(),
            user: user.trim().to_owned(),
        })
    }

    /// The system message.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The user message for a post (its text already masked when masking is on).
    pub fn user(&self, post: &Post) -> String {
        let comments = if post.comments.is_empty() {
            "(none)".to_owned()
        } else {
            post.comments
                .iter()
                .map(|c| format!("- ({} points) {}", c.score, c.body.trim()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let body = if post.body.trim().is_empty() {
            "(no text)"
        } else {
            post.body.trim()
        };
        // Placeholders are replaced once each, in an order where inserted text cannot contain a
        // later placeholder's braces being interpreted: body and comments go last.
        self.user
            .replace("{subreddit}", &post.subreddit)
            .replace("{score}", &post.score.to_string())
            .replace("{num_comments}", &post.num_comments.to_string())
            .replace("{title}", post.title.trim())
            .replacen("{body}", body, 1)
            .replacen("{comments}", &comments, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_prompt_renders_a_post() {
        let p = Prompt::load("opportunity-v1").expect("shipped");
        assert!(p.system().starts_with("You are a product analyst"));
        let u = p.user(&Post {
            subreddit: "smallbusiness".into(),
            title: "Invoices hurt".into(),
            ..Default::default()
        });
        assert!(u.contains("r/smallbusiness") && u.contains("Title: Invoices hurt") && u.contains("(none)"));
        assert!(Prompt::load("nope").is_err());
    }
}
