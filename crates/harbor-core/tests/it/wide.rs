//! The column budget, objects kept as one JSON column, and case-colliding keys.

use harbor_core::normalize::{NormalizeOptions, ResolveStats, ResolvedTable, SourceRef, resolve};
use harbor_core::schema::{C_OVERFLOW, JsonReason};
use harbor_core::{Cell, Schema};
use serde_json::{Map, Value, json};

use crate::fixtures::api_bodies;

fn opts(budget: usize) -> NormalizeOptions {
    let mut o = NormalizeOptions::default();
    o.routing.default_table = Some("things".into());
    o.flatten.primary_keys.insert("things".into(), "id".into());
    o.flatten.budget.default = budget;
    o.resolve.budget.default = budget;
    o
}

/// Resolves `records` as one chunk per element of `chunks` (record counts), in order.
fn load(
    o: &NormalizeOptions,
    schema: &mut Schema,
    records: Vec<Value>,
    stats: &mut ResolveStats,
) -> Vec<ResolvedTable> {
    let o = o.with_schema(schema);
    let chunk = o.flatten(records.into_iter().enumerate().map(|(i, r)| {
        (
            r,
            SourceRef {
                file: 0,
                line: i as u64 + 1,
            },
        )
    }));
    resolve(chunk, schema, &o.resolve, "L", stats).expect("resolve")
}

fn cell<'a>(tables: &'a [ResolvedTable], table: &str, column: &str, row: usize) -> Option<&'a Cell> {
    let t = tables.iter().find(|t| t.name == table)?;
    let i = t.columns.iter().position(|c| c.name == column)?;
    t.values[i].get(row)
}

fn json_of(c: Option<&Cell>) -> Value {
    match c {
        Some(Cell::Json(s)) => serde_json::from_str(s).expect("valid JSON"),
        other => panic!("not a JSON cell: {other:?}"),
    }
}

#[test]
fn an_object_keyed_by_ids_is_one_json_column_for_good() {
    let mut by_id = Map::new();
    for i in 0..50 {
        by_id.insert(
            format!("t3_{i}x"),
            json!({"score": i, "title": format!("post {i}")}),
        );
    }
    let o = opts(1000);
    let mut schema = Schema::default();
    let mut stats = ResolveStats::default();
    let tables = load(
        &o,
        &mut schema,
        vec![json!({"id": "a", "name": "x", "votes": Value::Object(by_id.clone())})],
        &mut stats,
    );
    let t = &schema.tables["things"];
    assert_eq!(
        t.column("votes").map(|c| c.data_type),
        Some(harbor_core::DataType::Json)
    );
    assert!(t.columns.len() < 10, "{} columns", t.columns.len());
    assert_eq!(json_of(cell(&tables, "things", "votes", 0)), Value::Object(by_id));
    assert_eq!(
        stats.json_columns,
        vec![("things".into(), "votes".into(), JsonReason::IdKeys)]
    );
    // A later load with a small object at the same path keeps it as JSON (from the schema), and
    // so does a later chunk of the same load (folded back by phase two).
    let before = schema.tables["things"].columns.len();
    let small = json!({"id": "b", "votes": {"t3_zz": {"score": 1}}});
    let tables = load(&o, &mut schema, vec![small], &mut ResolveStats::default());
    assert_eq!(
        json_of(cell(&tables, "things", "votes", 0)),
        json!({"t3_zz": {"score": 1}})
    );
    assert_eq!(schema.tables["things"].columns.len(), before);
    let mut fresh = o.clone();
    fresh.flatten.json_paths.clear();
    let chunk = fresh.flatten([(
        json!({"id": "c", "votes": {"t3_yy": {"score": 2}}}),
        SourceRef::default(),
    )]);
    let tables = resolve(
        chunk,
        &mut schema,
        &fresh.resolve,
        "L",
        &mut ResolveStats::default(),
    )
    .expect("resolve");
    assert_eq!(
        json_of(cell(&tables, "things", "votes", 0)),
        json!({"t3_yy": {"score": 2}})
    );
    assert_eq!(schema.tables["things"].columns.len(), before);
}

#[test]
fn a_small_ordinary_object_stays_columns() {
    let o = opts(1000);
    let mut schema = Schema::default();
    load(
        &o,
        &mut schema,
        vec![json!({"id": "a", "media": {"w": 1, "h": 2, "2019": 3, "t3_x": 4}})],
        &mut ResolveStats::default(),
    );
    let t = &schema.tables["things"];
    assert!(t.column("media__w").is_some() && t.column("media___2019").is_some());
    assert!(t.json_paths.is_empty());
}

/// Every leaf of a record is either in its own column or in the row's overflow object.
fn wide_record(keys: usize) -> (Value, Map<String, Value>) {
    let mut m = Map::new();
    for i in 0..keys {
        m.insert(format!("field_{i:05}"), json!(i));
    }
    let mut rec = m.clone();
    rec.insert("id".into(), json!("w1"));
    (Value::Object(rec), m)
}

#[test]
fn a_record_wider_than_the_budget_overflows_into_one_json_column() {
    for keys in [2_000, 20_000] {
        let (rec, fields) = wide_record(keys);
        let o = opts(1000);
        let mut schema = Schema::default();
        let mut stats = ResolveStats::default();
        let tables = load(&o, &mut schema, vec![rec], &mut stats);
        let t = &schema.tables["things"];
        assert_eq!(t.columns.len(), 1000, "{keys} keys");
        let overflow = json_of(cell(&tables, "things", C_OVERFLOW, 0));
        let overflow = overflow.as_object().expect("object");
        for (k, v) in &fields {
            let in_column = cell(&tables, "things", k, 0).map(|c| c == &Cell::Int(v.as_i64().unwrap_or(-1)));
            assert!(in_column == Some(true) || overflow.get(k) == Some(v), "{k} lost");
        }
        assert_eq!(
            stats.overflowed["things"].len() + 1000 - 4,
            keys + 1,
            "{keys} keys"
        );
        // The next record with the same keys reuses the columns and overflows the same keys.
        let (rec, _) = wide_record(keys);
        let tables = load(&o, &mut schema, vec![rec], &mut ResolveStats::default());
        assert_eq!(schema.tables["things"].columns.len(), 1000);
        assert_eq!(
            json_of(cell(&tables, "things", C_OVERFLOW, 0))
                .as_object()
                .map(Map::len),
            Some(overflow.len())
        );
    }
}

#[test]
fn a_record_keyed_by_ids_keeps_the_ids_in_the_overflow_column() {
    let mut rec = Map::new();
    rec.insert("id".into(), json!("r1"));
    rec.insert("title".into(), json!("t"));
    let mut ids = Map::new();
    for i in 0..20_000 {
        ids.insert(format!("{i}"), json!({"n": i}));
    }
    rec.extend(ids.clone());
    let mut stats = ResolveStats::default();
    let mut schema = Schema::default();
    let tables = load(&opts(1000), &mut schema, vec![Value::Object(rec)], &mut stats);
    assert!(schema.tables["things"].columns.len() < 10);
    assert_eq!(
        json_of(cell(&tables, "things", C_OVERFLOW, 0)),
        Value::Object(ids)
    );
    assert_eq!(cell(&tables, "things", "title", 0), Some(&Cell::Text("t".into())));
    assert_eq!(
        stats.json_columns,
        vec![("things".into(), C_OVERFLOW.into(), JsonReason::IdKeys)]
    );
}

#[test]
fn case_colliding_keys_get_the_same_names_in_any_order() {
    let a = json!({"id": "1", "Foo": 1, "foo": 2, "FOO": 3, "fooBar": 4, "FooBar": 5});
    let names = |records: Vec<Value>| {
        let mut schema = Schema::default();
        load(&opts(1000), &mut schema, records, &mut ResolveStats::default());
        let t = &schema.tables["things"];
        let mut pairs: Vec<(String, String)> = t
            .names
            .iter()
            .filter(|(r, _)| !r.starts_with("_harbor"))
            .map(|(r, n)| (r.to_owned(), n.to_owned()))
            .collect();
        pairs.sort();
        pairs
    };
    let forward = names(vec![a.clone()]);
    let mut reversed_obj: Map<String, Value> = a.as_object().cloned().unwrap_or_default();
    let keys: Vec<String> = reversed_obj.keys().cloned().collect();
    let mut rev = Map::new();
    for k in keys.iter().rev() {
        rev.insert(k.clone(), reversed_obj.remove(k).unwrap_or_default());
    }
    let one_per_record: Vec<Value> = keys
        .iter()
        .rev()
        .filter(|k| *k != "id")
        .enumerate()
        .map(|(i, k)| json!({"id": format!("{i}"), k.clone(): 0}))
        .collect();
    assert_eq!(names(vec![Value::Object(rev)]), forward);
    assert_eq!(names(one_per_record), forward);
    let get = |raw: &str| {
        forward
            .iter()
            .find(|(r, _)| r == raw)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("foo"), "foo");
    assert_eq!(get("fooBar"), "foo_bar");
    assert!(get("Foo").starts_with("foo_") && get("FOO").starts_with("foo_") && get("Foo") != get("FOO"));
    assert!(get("FooBar").starts_with("foo_bar_"));
}

#[test]
fn names_already_in_a_schema_keep_their_mapping() {
    // A schema written before spelling-derived names: `Foo` got `foo`, `foo` got `foo_2`.
    let mut schema = Schema::default();
    load(
        &opts(1000),
        &mut schema,
        vec![json!({"id": "1", "Foo": 1})],
        &mut ResolveStats::default(),
    );
    let t = schema.tables.get_mut("things").expect("things");
    let stored = t.names.get("Foo").map(str::to_owned).expect("named");
    let json = schema.to_json();
    let mut schema = Schema::from_json(&json).expect("schema");
    let tables = load(
        &opts(1000),
        &mut schema,
        vec![json!({"id": "2", "Foo": 7, "foo": 8})],
        &mut ResolveStats::default(),
    );
    assert_eq!(schema.tables["things"].names.get("Foo"), Some(stored.as_str()));
    assert_eq!(cell(&tables, "things", &stored, 0), Some(&Cell::Int(7)));
    assert_eq!(cell(&tables, "things", "foo", 0), Some(&Cell::Int(8)));
}

#[test]
fn real_reddit_objects_are_never_taken_for_id_keyed_or_wide() {
    let mut checked = 0;
    for (path, body) in api_bodies() {
        let o = NormalizeOptions::default();
        let chunk = o.flatten([(body, SourceRef::default())]);
        let mut schema = Schema::default();
        let mut stats = ResolveStats::default();
        resolve(chunk, &mut schema, &o.resolve, "L", &mut stats).expect("resolve");
        assert!(stats.json_columns.is_empty(), "{path}: {:?}", stats.json_columns);
        assert!(stats.overflowed.is_empty(), "{path}");
        checked += 1;
    }
    assert!(checked > 40);
}
