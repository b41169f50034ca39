//! The offline, deterministic scorer: phrases and engagement to the five dimensions plus simplicity.
//!
//! Every number it produces can be traced to the evidence stored beside it: the matched phrases per
//! dimension and the engagement figures used. The rules themselves live in [`rules`].

pub mod rules;

use harbor_reddit::ProblemFilter;
use serde_json::json;

use crate::analysis::{Analysis, Dimensions, Outcome, Profile, Usage, final_score, now_secs, simplicity};
use crate::post::Post;
use crate::scorer::{ScoreFuture, Scorer};
use rules::{
    BUSINESS, BUSINESS_SUBREDDITS, ECHO, EMPHASIS, FUNCTIONS, GAP, HARD, PAIN, PAY, PROBLEM_POINTS,
    RULES_VERSION, SOFTWARE, normalize,
};

/// The heuristic scorer.
#[derive(Debug, Clone)]
pub struct HeuristicScorer {
    filter: ProblemFilter,
    id: String,
}

impl Default for HeuristicScorer {
    fn default() -> Self {
        Self::new(ProblemFilter::default())
    }
}

fn clamp(x: f64) -> f64 {
    (x.clamp(0.0, 100.0) * 100.0).round() / 100.0
}

impl HeuristicScorer {
    /// A heuristic scorer using `filter` for the problem keywords of pain intensity.
    pub fn new(filter: ProblemFilter) -> Self {
        Self {
            filter,
            id: format!("heuristic-{RULES_VERSION}"),
        }
    }

    /// Scores a post (synchronously; the [`Scorer`] impl wraps this).
    pub fn score_post(&self, post: &Post) -> Analysis {
        let title = normalize(&post.title);
        let body = normalize(&post.body);
        let own = format!("{title}\n{body}");
        let comments: Vec<String> = post.comments.iter().map(|c| normalize(&c.body)).collect();
        let all = format!("{own}\n{}", comments.join("\n"));

        // Market demand: engagement plus echoing comments.
        let upvotes = post.score.max(0) as f64;
        let ncomments = post.num_comments.max(0) as f64;
        let up_pts = (30.0 * (1.0 + upvotes).log10()).min(60.0);
        let com_pts = (25.0 * (1.0 + ncomments).log10()).min(50.0);
        let echo: Vec<&str> = comments.iter().flat_map(|c| ECHO.matches(c)).collect();
        let echoing = comments.iter().filter(|c| !ECHO.matches(c).is_empty()).count();
        let market_demand = clamp(up_pts + com_pts + ECHO.score(echoing));

        // Pain intensity: problem keywords, strong phrases, emphasis.
        let keywords = self.filter.matches(&title, &body);
        let pain = PAIN.matches(&own);
        let emphasis = EMPHASIS.is_match(&own);
        let (kw_pts, kw_cap) = PROBLEM_POINTS;
        let pain_intensity = clamp(
            (keywords.len() as f64 * kw_pts).min(kw_cap)
                + PAIN.score(pain.len())
                + if emphasis { 7.0 } else { 0.0 },
        );

        // Monetization: paying words, business context, business subreddits.
        let pay = PAY.matches(&all);
        let business = BUSINESS.matches(&all);
        let business_sub = BUSINESS_SUBREDDITS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&post.subreddit));
        let monetization_potential = clamp(
            10.0 + PAY.score(pay.len())
                + BUSINESS.score(business.len())
                + if business_sub { 20.0 } else { 0.0 },
        );

        // Market gap: existing solutions fall short.
        let gap = GAP.matches(&all);
        let market_gap = clamp(20.0 + GAP.score(gap.len()));

        // Technical feasibility: software-native work up, hard territory down.
        let software = SOFTWARE.matches(&own);
        let hard = HARD.matches(&own);
        let technical_feasibility = clamp(70.0 + SOFTWARE.score(software.len()) - HARD.score(hard.len()));

        // Core functions and simplicity.
        let functions: Vec<&str> = FUNCTIONS
            .iter()
            .filter(|(_, rule)| !rule.matches(&own).is_empty())
            .map(|(name, _)| *name)
            .collect();
        let core: Vec<String> = functions.iter().take(3).map(|f| (*f).to_owned()).collect();
        let simple = simplicity(functions.len());

        let dimensions = Dimensions {
            market_demand,
            pain_intensity,
            monetization_potential,
            market_gap,
            technical_feasibility,
        };
        let evidence = json!({
            "market_demand": {"score": post.score, "num_comments": post.num_comments,
                "upvote_points": round2(up_pts), "comment_points": round2(com_pts),
                "echoing_comments": echoing, "echo_phrases": dedup(echo)},
            "pain_intensity": {"problem_keywords": keywords, "pain_phrases": pain, "emphasis": emphasis},
            "monetization_potential": {"pay_phrases": pay, "business_phrases": business,
                "business_subreddit": business_sub},
            "market_gap": {"gap_phrases": gap},
            "technical_feasibility": {"software_phrases": software, "hard_phrases": hard},
            "simplicity": {"function_families": functions},
        });
        let profile = Profile {
            problem_description: Some(truncate(post.title.trim(), 300)),
            core_functions: core,
            ..Default::default()
        };
        Analysis {
            post_id: post.id.clone(),
            scorer_id: self.id.clone(),
            content_hash: post.content_hash(),
            outcome: Outcome::Scored {
                final_score: final_score(&dimensions, simple),
                dimensions,
                simplicity: simple,
                evidence,
                profile: Box::new(profile),
            },
            model: None,
            prompt_version: Some(RULES_VERSION.to_owned()),
            usage: Usage::default(),
            cost_usd: 0.0,
            scored_at: now_secs(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl Scorer for HeuristicScorer {
    fn id(&self) -> &str {
        &self.id
    }

    fn score<'a>(&'a self, post: &'a Post) -> ScoreFuture<'a> {
        let a = self.score_post(post);
        Box::pin(std::future::ready(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::Comment;

    fn post() -> Post {
        Post {
            id: "abc".into(),
            subreddit: "smallbusiness".into(),
            title: "I hate doing invoices manually every month".into(),
            body: "It's a nightmare. Is there a tool that can automate invoicing and remind clients? \
                   I would pay $20/month."
                .into(),
            score: 120,
            num_comments: 45,
            upvote_ratio: Some(0.97),
            comments: vec![
                Comment {
                    body: "Same here, following".into(),
                    score: 30,
                },
                Comment {
                    body: "QuickBooks is too expensive for this".into(),
                    score: 12,
                },
            ],
        }
    }

    #[test]
    fn same_post_same_score() {
        let s = HeuristicScorer::default();
        let a = s.score_post(&post());
        let b = s.score_post(&post());
        assert_eq!(a.outcome, b.outcome);
        assert_eq!(a.content_hash, b.content_hash);
        assert_eq!(a.scorer_id, "heuristic-v1");
    }

    #[test]
    fn evidence_explains_the_dimensions() {
        let a = HeuristicScorer::default().score_post(&post());
        let Outcome::Scored {
            dimensions: d,
            simplicity,
            final_score,
            evidence,
            profile,
        } = a.outcome
        else {
            panic!("not scored");
        };
        assert_eq!(
            evidence["pain_intensity"]["pain_phrases"],
            json!(["hate", "nightmare", "manually"])
        );
        assert_eq!(evidence["pain_intensity"]["problem_keywords"], json!(["hate"]));
        // 15 (one keyword) + 36 (three phrases) = 51
        assert_eq!(d.pain_intensity, 51.0);
        assert_eq!(evidence["market_demand"]["echoing_comments"], json!(1));
        assert!(evidence["market_gap"]["gap_phrases"]
            .as_array()
            .is_some_and(|g| g.contains(&json!("is there a tool")) && g.contains(&json!("too expensive"))));
        assert_eq!(
            evidence["monetization_potential"]["business_subreddit"],
            json!(true)
        );
        // automate, remind, bill -> three function families.
        assert_eq!(profile.core_functions, vec!["remind", "automate", "bill"]);
        assert_eq!(simplicity, 70.0);
        let expected = crate::final_score(&d, simplicity);
        assert_eq!(final_score, expected);
        assert!(
            final_score > 40.0,
            "a strong problem post passes the LLM threshold: {final_score}"
        );
    }

    #[test]
    fn a_bland_post_scores_low() {
        let p = Post {
            id: "x".into(),
            subreddit: "pics".into(),
            title: "My cat".into(),
            body: String::new(),
            ..Default::default()
        };
        let a = HeuristicScorer::default().score_post(&p);
        assert!(a.final_score().is_some_and(|f| f < 40.0), "{:?}", a.final_score());
    }
}
