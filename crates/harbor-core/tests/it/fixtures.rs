//! The normalizer on every recorded Listing, comments and info response.

use std::collections::BTreeSet;

use harbor_core::normalize::{NormalizeOptions, ResolveStats, ResolvedTable, SourceRef, resolve};
use harbor_core::{Cell, Schema};
use serde_json::Value;

pub use harbor_testkit::fixtures::{api_bodies, fixtures_dir, thing_ids};

pub fn normalize(body: Value) -> (Vec<ResolvedTable>, Schema) {
    let opts = NormalizeOptions::default();
    let chunk = opts.flatten([(body, SourceRef::default())]);
    let mut schema = Schema::default();
    let mut stats = ResolveStats::default();
    let tables = resolve(chunk, &mut schema, &opts.resolve, "L1", &mut stats).expect("resolve");
    (tables, schema)
}

fn ids_of(tables: &[ResolvedTable], table: &str) -> Vec<String> {
    let Some(t) = tables.iter().find(|t| t.name == table) else {
        return Vec::new();
    };
    let idx = t.columns.iter().position(|c| c.name == "id").expect("id column");
    t.values[idx]
        .iter()
        .map(|c| match c {
            Cell::Text(s) => s.clone(),
            other => panic!("id is {other:?}"),
        })
        .collect()
}

#[test]
fn every_fixture_things_become_rows() {
    let bodies = api_bodies();
    assert!(bodies.len() > 40, "found only {} fixture bodies", bodies.len());
    let mut checked = 0;
    for (path, body) in bodies {
        let (mut t3, mut t1) = (BTreeSet::new(), BTreeSet::new());
        thing_ids(&body, "t3", &mut t3);
        thing_ids(&body, "t1", &mut t1);
        let (tables, _) = normalize(body);
        let sub_ids = ids_of(&tables, "submissions");
        let com_ids = ids_of(&tables, "comments");
        assert_eq!(sub_ids.iter().cloned().collect::<BTreeSet<_>>(), t3, "{path}");
        assert_eq!(com_ids.iter().cloned().collect::<BTreeSet<_>>(), t1, "{path}");
        checked += usize::from(!t3.is_empty() || !t1.is_empty());
    }
    assert!(checked > 30, "only {checked} fixtures had things");
}

#[test]
fn edited_becomes_edited_at_and_never_true() {
    let body = serde_json::json!([
        {"kind": "t1", "data": {"id": "a", "body": "x", "parent_id": "t3_z", "edited": false}},
        {"kind": "t1", "data": {"id": "b", "body": "y", "parent_id": "t3_z", "edited": 1700000000.5}},
    ]);
    let (tables, schema) = normalize(body);
    let t = tables.iter().find(|t| t.name == "comments").expect("comments");
    let col = |n: &str| t.columns.iter().position(|c| c.name == n).expect(n);
    assert_eq!(
        t.values[col("edited_at")],
        vec![Cell::Null, Cell::Timestamp(1_700_000_000_500_000)]
    );
    assert_eq!(
        t.values[col("is_edited")],
        vec![Cell::Bool(false), Cell::Bool(true)]
    );
    assert!(schema.tables["comments"].column("edited").is_none());
}

#[test]
fn nested_replies_become_comment_rows_with_parent_ids() {
    let body = serde_json::json!({"kind": "t1", "data": {"id": "a", "body": "x", "parent_id": "t3_z",
        "replies": {"kind": "Listing", "data": {"children": [
            {"kind": "t1", "data": {"id": "b", "body": "y", "parent_id": "t1_a", "replies": ""}},
            {"kind": "more", "data": {"id": "c", "children": ["c"]}}]}}}});
    let (tables, _) = normalize(body);
    assert_eq!(ids_of(&tables, "comments"), vec!["a", "b"]);
    let t = &tables[0];
    let p = t
        .columns
        .iter()
        .position(|c| c.name == "parent_id")
        .expect("parent_id");
    assert_eq!(
        t.values[p],
        vec![Cell::Text("t3_z".into()), Cell::Text("t1_a".into())]
    );
}
