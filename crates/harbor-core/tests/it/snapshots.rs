//! Snapshots of the schema inferred from real recorded responses, so a change in naming or typing is
//! reviewed.

use std::fmt::Write;

use harbor_core::Schema;
use serde_json::Value;

use crate::fixtures::{fixtures_dir, normalize};

fn render(schema: &Schema) -> String {
    let mut out = String::new();
    for t in schema.tables.values() {
        let key = t.primary_key.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "{} ({}, key {key}, parent {})",
            t.name,
            t.disposition.name(),
            t.parent.as_deref().unwrap_or("-")
        );
        for c in &t.columns {
            let extra = match (&c.variant_of, c.placeholder) {
                (Some(v), _) => format!(" variant_of={v}"),
                (_, true) => " placeholder".to_owned(),
                _ => String::new(),
            };
            let _ = writeln!(out, "  {} {}{extra}", c.name, c.data_type);
        }
    }
    out
}

fn body(rel: &str) -> Value {
    let v: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join(rel)).expect("fixture")).expect("json");
    v["body"].clone()
}

#[test]
fn schema_of_a_2020_subreddit_listing() {
    let (_, schema) = normalize(body("api/asyncpraw/listings/r_askreddit_new_2020-07.json"));
    insta::assert_snapshot!(render(&schema));
}

#[test]
fn schema_of_a_comment_thread() {
    let (_, schema) = normalize(body("api/asyncpraw/comments/thread_2gmzqe_small_2023-11.json"));
    insta::assert_snapshot!(render(&schema));
}

#[test]
fn schema_of_a_2026_popular_listing() {
    let (_, schema) = normalize(body("api/praw/listings/r_popular_hot_2026-04.json"));
    insta::assert_snapshot!(render(&schema));
}
