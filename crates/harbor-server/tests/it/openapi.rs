//! The OpenAPI document is reviewed through a snapshot; the served one is the same document.

use harbor_server::ApiDoc;
use utoipa::OpenApi;

use crate::harness::Api;

#[test]
fn openapi_snapshot() {
    let doc = serde_json::to_string_pretty(&ApiDoc::openapi()).expect("json");
    insta::assert_snapshot!("openapi", doc);
}

#[tokio::test]
async fn served_document_matches() {
    let api = Api::new();
    let (_, v) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(v, serde_json::to_value(ApiDoc::openapi()).expect("json"));
    assert_eq!(v["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

/// Generators (openapi-typescript, schemathesis) need one unique `operationId` per operation.
#[test]
fn operation_ids_are_unique() {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("item").values() {
            ids.push(op["operationId"].as_str().expect("operationId").to_owned());
        }
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}
