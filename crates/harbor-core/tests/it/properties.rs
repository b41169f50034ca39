//! Property tests of the normalizer and identifier normalization.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use harbor_core::naming::{
    DEFAULT_MAX_IDENTIFIER_LEN, NameMap, name_segment, normalize_identifier, normalize_segment,
};
use harbor_core::normalize::{NormalizeOptions, ResolveStats, ResolvedTable, SourceRef, resolve};
use harbor_core::schema::{C_ID, C_LIST_IDX, C_PARENT_ID};
use harbor_core::{Cell, Schema};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id".to_owned()),
        Just("score".to_owned()),
        Just("Title".to_owned()),
        Just("author_flairText".to_owned()),
        "[a-zA-Z][a-zA-Z0-9_ ]{0,8}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| Value::from(i64::from(i))),
        (-1e6f64..1e6).prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "[a-z ]{0,6}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), json_value(), 1..6).prop_map(|m| m.into_iter().collect())
}

/// Every scalar leaf of `v` as (table path, column path, value) in the flattener's terms.
fn leaves(table: &[String], col: &[String], v: &Value, out: &mut Vec<(Vec<String>, Vec<String>, Value)>) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                let mut c = col.to_vec();
                c.push(k.clone());
                leaves(table, &c, x, out);
            }
        }
        Value::Array(items) => {
            let mut t = table.to_vec();
            t.extend(col.iter().cloned());
            for x in items {
                match x {
                    Value::Object(_) => leaves(&t, &[], x, out),
                    Value::Array(_) => out.push((t.clone(), vec!["value".into()], x.clone())),
                    other => leaves(&t, &["value".into()], other, out),
                }
            }
        }
        scalar => out.push((table.to_vec(), col.to_vec(), scalar.clone())),
    }
}

fn cell_matches(cell: &Cell, v: &Value) -> bool {
    match (cell, v) {
        (Cell::Bool(a), Value::Bool(b)) => a == b,
        (Cell::Int(a), Value::Number(n)) => n.as_i64() == Some(*a) || n.as_f64() == Some(*a as f64),
        (Cell::Float(a), Value::Number(n)) => n.as_f64() == Some(*a),
        (Cell::Text(a), Value::String(b)) => a == b,
        (Cell::Json(a), v) => serde_json::from_str::<Value>(a).ok().as_ref() == Some(v),
        _ => false,
    }
}

fn run(records: Vec<Map<String, Value>>) -> (Vec<ResolvedTable>, Schema) {
    let mut opts = NormalizeOptions::default();
    opts.routing.default_table = Some("things".into());
    opts.flatten.primary_keys.clear();
    let input = records.into_iter().enumerate().map(|(i, r)| {
        (
            Value::Object(r),
            SourceRef {
                file: 0,
                line: i as u64 + 1,
            },
        )
    });
    let chunk = opts.flatten(input);
    let mut schema = Schema::default();
    let tables = resolve(
        chunk,
        &mut schema,
        &opts.resolve,
        "L",
        &mut ResolveStats::default(),
    )
    .expect("resolve");
    (tables, schema)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_scalar_leaf_is_stored_exactly_once(records in prop::collection::vec(record(), 1..5)) {
        let mut expected = Vec::new();
        for r in &records {
            leaves(&["things".into()], &[], &Value::Object(r.clone()), &mut expected);
        }
        let (tables, _) = run(records);
        // Count every non-null data cell; each expected leaf must match one stored cell of a column
        // whose path matches, and the totals must agree (so nothing is stored twice).
        let stored: usize = tables.iter().map(|t| t.columns.iter().zip(&t.values)
            .filter(|(c, _)| !c.system)
            .map(|(_, v)| v.iter().filter(|c| **c != Cell::Null).count()).sum::<usize>()).sum();
        prop_assert_eq!(stored, expected.len());
        let mut pool: Vec<(String, String, Cell)> = tables.iter().flat_map(|t| t.columns.iter().zip(&t.values)
            .filter(|(c, _)| !c.system)
            .flat_map(move |(c, v)| v.iter().filter(|x| **x != Cell::Null).map(move |x| (t.name.clone(), c.name.clone(), x.clone()))))
            .collect();
        for (tpath, cpath, v) in expected {
            let tname = tpath.iter().enumerate().map(|(i, s)| if i == 0 { normalize_segment(s) } else { name_segment(s) }).collect::<Vec<_>>().join("__");
            let cname = cpath.iter().map(|s| name_segment(s)).collect::<Vec<_>>().join("__");
            // Exact names first; a collision suffix (`_2`) or a variant (`__v_text`) only when none match.
            let pos = pool
                .iter()
                .position(|(t, c, cell)| t == &tname && (c == &cname || c.starts_with(&format!("{cname}__v_"))) && cell_matches(cell, &v))
                .or_else(|| pool.iter().position(|(t, c, cell)| t.starts_with(&tname) && (c.starts_with(&cname) || c == &harbor_core::naming::shorten(&cname, DEFAULT_MAX_IDENTIFIER_LEN)) && cell_matches(cell, &v)));
            prop_assert!(pos.is_some(), "leaf {tname}.{cname} = {v} not found");
            pool.swap_remove(pos.unwrap_or_default());
        }
    }

    #[test]
    fn child_rows_point_at_existing_parents_in_list_order(records in prop::collection::vec(record(), 1..5)) {
        let (tables, schema) = run(records);
        let text = |c: &Cell| match c { Cell::Text(s) => s.clone(), other => panic!("id {other:?}") };
        let ids: BTreeMap<&str, HashSet<String>> = tables.iter().map(|t| {
            let i = t.columns.iter().position(|c| c.name == C_ID).expect("id");
            (t.name.as_str(), t.values[i].iter().map(text).collect())
        }).collect();
        for t in &tables {
            let Some(parent) = &schema.tables[&t.name].parent else { continue };
            let p = t.columns.iter().position(|c| c.name == C_PARENT_ID).expect("parent id");
            let l = t.columns.iter().position(|c| c.name == C_LIST_IDX).expect("list idx");
            let mut last: BTreeMap<String, i64> = BTreeMap::new();
            for (pid, idx) in t.values[p].iter().zip(&t.values[l]) {
                let pid = text(pid);
                prop_assert!(ids[parent.as_str()].contains(&pid), "orphan row in {}", t.name);
                let Cell::Int(i) = idx else { panic!("list idx {idx:?}") };
                let prev = last.insert(pid, *i);
                prop_assert_eq!(*i, prev.map_or(0, |x| x + 1), "list order broken in {}", t.name);
            }
        }
    }

    #[test]
    fn schema_merging_only_widens(a in prop::collection::vec(record(), 1..4), b in prop::collection::vec(record(), 1..4)) {
        let (_, s1) = run(a.clone());
        let mut all = a;
        all.extend(b);
        let (_, s2) = run(all);
        for (name, t) in &s1.tables {
            let t2 = &s2.tables[name];
            for c in &t.columns {
                let c2 = t2.column(&c.name).expect("column kept");
                prop_assert!(c.data_type == c2.data_type || c.placeholder, "{}.{} narrowed", name, c.name);
            }
        }
        let mut merged = s1.clone();
        merged.merge(&s2);
        for (name, t) in &s2.tables {
            for c in &t.columns {
                prop_assert!(merged.tables[name].column(&c.name).is_some());
            }
        }
        prop_assert!(s2.version >= s1.version);
    }

    #[test]
    fn identifier_normalization_is_idempotent(raw in "\\PC{0,80}") {
        let once = normalize_identifier(&raw, DEFAULT_MAX_IDENTIFIER_LEN);
        prop_assert_eq!(normalize_identifier(&once, DEFAULT_MAX_IDENTIFIER_LEN), once.clone());
        prop_assert!(once.len() <= DEFAULT_MAX_IDENTIFIER_LEN);
    }

    #[test]
    fn assigned_names_are_collision_free(raws in prop::collection::btree_set("[a-zA-Z_ ]{0,70}", 1..40)) {
        let mut map = NameMap::default();
        let mut seen = BTreeSet::new();
        for r in &raws {
            let n = map.assign(r, &normalize_identifier(r, usize::MAX), DEFAULT_MAX_IDENTIFIER_LEN);
            prop_assert!(n.len() <= DEFAULT_MAX_IDENTIFIER_LEN);
            prop_assert!(seen.insert(n.clone()), "{} assigned twice", n);
        }
    }
}
