//! `call: openapi` end to end: fetch the stand-in's Swagger 2.0 document, resolve operations,
//! send them.

use serde_json::{Map, Value, json};

use baton_core::http::{HttpCall, build_request, read_response};
use baton_core::openapi::resolve_operation;
use baton_model::error_types::StandardError;
use baton_model::types::OutputFormat;

use crate::support::{expect_document, expect_failure, expect_response, setup};

const DOCUMENT_URI: &str = "https://petstore.swagger.io/v2/swagger.json";

fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("parameters must be an object, got {other}"),
    }
}

fn operation_call(method: String, uri: String, headers: Vec<(String, String)>, body: Option<Value>) -> HttpCall {
    let headers: Map<String, Value> = headers.into_iter().map(|(name, value)| (name, Value::String(value))).collect();
    HttpCall {
        method,
        uri,
        headers: Some(Value::Object(headers)),
        query: None,
        body,
        redirect: false,
        credentials: None,
    }
}

#[tokio::test]
async fn find_pets_by_status_through_the_swagger_document() {
    let (stand_in, executor) = setup().await;
    let document = expect_document(executor.fetch_document(DOCUMENT_URI, &[]).await);
    assert_eq!(document["swagger"], "2.0");
    assert_eq!(document["host"], stand_in.addr.to_string());

    let operation =
        resolve_operation(&document, DOCUMENT_URI, "findPetsByStatus", &params(json!({"status": "available"})))
            .unwrap();
    assert_eq!(operation.method, "GET");
    assert_eq!(operation.uri, format!("{}/v2/pet/findByStatus?status=available", stand_in.base_url()));
    let request =
        build_request(operation_call(operation.method, operation.uri, operation.headers, operation.body)).unwrap();
    let response = expect_response(executor.send(&request, "k").await);
    let content = read_response(&request, &response, OutputFormat::Content).unwrap();
    assert_eq!(content.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn get_pet_by_id_as_response_and_add_pet_with_a_body() {
    let (_stand_in, executor) = setup().await;
    let document = expect_document(executor.fetch_document(DOCUMENT_URI, &[]).await);

    let operation = resolve_operation(&document, DOCUMENT_URI, "getPetById", &params(json!({"petId": 1}))).unwrap();
    let request =
        build_request(operation_call(operation.method, operation.uri, operation.headers, operation.body)).unwrap();
    let response = expect_response(executor.send(&request, "k").await);
    let output = read_response(&request, &response, OutputFormat::Response).unwrap();
    assert_eq!(output["statusCode"], 200);
    assert_eq!(output["request"]["method"], "GET");
    assert_eq!(output["request"]["headers"]["Accept"], "application/json");
    assert_eq!((output["content"]["id"].clone(), output["content"]["status"].clone()), (json!(1), json!("available")));

    let pet = json!({"name": "rex", "photoUrls": [], "status": "pending"});
    let operation = resolve_operation(&document, DOCUMENT_URI, "addPet", &params(json!({"body": pet}))).unwrap();
    assert_eq!(operation.method, "POST");
    let request =
        build_request(operation_call(operation.method, operation.uri, operation.headers, operation.body)).unwrap();
    let response = expect_response(executor.send(&request, "k").await);
    let content = read_response(&request, &response, OutputFormat::Content).unwrap();
    assert_eq!((content["name"].clone(), content["id"].clone()), (json!("rex"), json!(11)));

    let err = resolve_operation(&document, DOCUMENT_URI, "getPetById", &Map::new()).unwrap_err();
    assert!(err.is(StandardError::Validation));
}

#[tokio::test]
async fn documents_may_be_yaml_and_failures_are_reported() {
    let (_stand_in, executor) = setup().await;
    let yaml = expect_document(executor.fetch_document("https://petstore.swagger.io/v2/swagger.yaml", &[]).await);
    let json = expect_document(executor.fetch_document(DOCUMENT_URI, &[]).await);
    assert_eq!(yaml, json);

    let err = expect_failure(executor.fetch_document("https://petstore.swagger.io/v2/missing.json", &[]).await);
    assert!(err.is(StandardError::Communication));
    assert_eq!(err.status, 404);

    let err = expect_failure(executor.fetch_document("https://petstore.swagger.io/v2/pet/findByStatus", &[]).await);
    assert_eq!(err.status, 502);
}
