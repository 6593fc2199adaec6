//! The pure half of `call: openapi`: find an operation in a fetched OpenAPI description and turn
//! the call's `parameters` into a concrete request (`dsl-reference.md#openapi-call`).
//!
//! Both Swagger 2.0 (the CTK's petstore document) and OpenAPI 3.x are supported.
//!
//! Parameters are matched by name against the operation's declared parameters (path-level and
//! operation-level, `$ref`s to `#/...` resolved):
//! - `path` values replace `{name}` in the path template (percent-encoded, arrays comma-joined);
//! - `query` values are appended to the URI (Swagger `collectionFormat`, OpenAPI 3 `style`/`explode`);
//! - `header` values become headers, OpenAPI 3 `cookie` values one `Cookie` header;
//! - Swagger 2.0 `formData` is not supported (an error when a value is given or required).
//!
//! The body rule, for a Swagger 2.0 `in: body` parameter or an OpenAPI 3 `requestBody`: the value
//! named by the body parameter (2.0) or by `x-codegen-request-body-name` (3.x) when the call gives
//! it; otherwise every call parameter that is not a declared path/query/header/cookie/formData
//! parameter, as one object (so `parameters: {name: doggie, status: available}` is the body of
//! `addPet`); no body when nothing is left.

use serde_json::{Map, Value};
use url::Url;

use baton_model::error_types::StandardError;

use crate::error::WorkflowError;
use crate::http::{percent_encode, stringify};

/// An operation resolved against concrete parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedOperation {
    /// Upper-case method.
    pub method: String,
    /// Absolute URI with path parameters substituted and query parameters appended.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// How deep `$ref` chains may go before we call them cyclic.
const MAX_REF_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Swagger2,
    OpenApi3,
}

/// Resolves `operation_id` in `document` (fetched from `document_uri`) with the call's evaluated
/// `parameters`. See the module documentation for how parameters are placed.
///
/// Errors: an unknown operation or an unsupported document is a configuration error; a missing
/// required parameter is a validation error (400) naming it.
pub fn resolve_operation(
    document: &Value,
    document_uri: &str,
    operation_id: &str,
    parameters: &Map<String, Value>,
) -> Result<ResolvedOperation, WorkflowError> {
    let version = detect_version(document)?;
    let (path, method, path_item, operation) = find_operation(document, operation_id)?;
    let declared = declared_parameters(document, path_item, operation)?;

    let missing = |name: &str| {
        WorkflowError::standard(
            StandardError::Validation,
            format!("missing required parameter \"{name}\" of operation \"{operation_id}\""),
        )
    };

    let mut path_values = Map::new();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let mut cookies = Vec::new();
    let mut body_parameter = None;
    for parameter in &declared {
        let value = parameters.get(&parameter.name).filter(|value| !value.is_null());
        if parameter.location == "body" {
            body_parameter = Some(parameter);
            continue;
        }
        let Some(value) = value else {
            if parameter.required || parameter.location == "path" {
                return Err(missing(&parameter.name));
            }
            continue;
        };
        match parameter.location.as_str() {
            "path" => {
                path_values.insert(parameter.name.clone(), value.clone());
            }
            "query" => add_query(&mut query, version, parameter, value),
            "header" => headers.push((parameter.name.clone(), join_simple(value))),
            "cookie" if version == Version::OpenApi3 => {
                cookies.push(format!("{}={}", parameter.name, join_simple(value)));
            }
            "formData" if version == Version::Swagger2 => {
                return Err(WorkflowError::standard(
                    StandardError::Configuration,
                    format!(
                        "parameter \"{}\" of operation \"{operation_id}\" is formData, which is not supported",
                        parameter.name
                    ),
                ));
            }
            other => {
                return Err(WorkflowError::standard(
                    StandardError::Configuration,
                    format!(
                        "parameter \"{}\" of operation \"{operation_id}\" is in unsupported location \"{other}\"",
                        parameter.name
                    ),
                ));
            }
        }
    }
    if !cookies.is_empty() {
        headers.push(("Cookie".to_owned(), cookies.join("; ")));
    }

    let body = match version {
        Version::Swagger2 => match body_parameter {
            Some(parameter) => {
                let body = parameters
                    .get(&parameter.name)
                    .filter(|value| !value.is_null())
                    .cloned()
                    .or_else(|| leftover(parameters, &declared));
                if body.is_none() && parameter.required {
                    return Err(missing(&parameter.name));
                }
                body
            }
            None => None,
        },
        Version::OpenApi3 => match operation.get("requestBody") {
            Some(request_body) => {
                let request_body = resolve_ref(document, request_body)?;
                let body_name = operation.get("x-codegen-request-body-name").and_then(Value::as_str);
                let body = body_name
                    .and_then(|name| parameters.get(name))
                    .filter(|value| !value.is_null())
                    .cloned()
                    .or_else(|| leftover(parameters, &declared));
                if body.is_none() && request_body.get("required").and_then(Value::as_bool) == Some(true) {
                    return Err(missing(body_name.unwrap_or("requestBody")));
                }
                body
            }
            None => None,
        },
    };

    if produces_json(document, version, operation) {
        headers.push(("Accept".to_owned(), "application/json".to_owned()));
    }
    if body.is_some() && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }

    let base = match version {
        Version::Swagger2 => swagger2_base(document, document_uri)?,
        Version::OpenApi3 => openapi3_base(document, document_uri, path_item, operation)?,
    };
    let full = format!("{}{}", base.trim_end_matches('/'), substitute_path(path, &path_values));
    let mut url = Url::parse(&full).map_err(|err| {
        WorkflowError::standard(
            StandardError::Configuration,
            format!("operation \"{operation_id}\" resolves to an invalid URI \"{full}\": {err}"),
        )
    })?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &query {
            pairs.append_pair(name, value);
        }
    }

    Ok(ResolvedOperation { method: method.to_ascii_uppercase(), uri: url.to_string(), headers, body })
}

#[derive(Debug)]
struct Parameter<'a> {
    name: String,
    location: String,
    required: bool,
    spec: &'a Value,
}

fn detect_version(document: &Value) -> Result<Version, WorkflowError> {
    let version_field = |key: &str| document.get(key).and_then(Value::as_str).unwrap_or("");
    if version_field("swagger").starts_with("2.") {
        return Ok(Version::Swagger2);
    }
    if version_field("openapi").starts_with("3.") {
        return Ok(Version::OpenApi3);
    }
    Err(WorkflowError::standard(
        StandardError::Configuration,
        "document is neither a Swagger 2.0 nor an OpenAPI 3.x description",
    ))
}

type FoundOperation<'a> = (&'a str, &'static str, &'a Value, &'a Value);

fn find_operation<'a>(document: &'a Value, operation_id: &str) -> Result<FoundOperation<'a>, WorkflowError> {
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, path_item) in paths {
            let path_item = resolve_ref(document, path_item)?;
            for method in METHODS {
                let Some(operation) = path_item.get(method) else {
                    continue;
                };
                if operation.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    return Ok((path, method, path_item, operation));
                }
            }
        }
    }
    Err(WorkflowError::standard(
        StandardError::Configuration,
        format!("operation \"{operation_id}\" is not in the OpenAPI document"),
    ))
}

/// Path-level then operation-level parameters; an operation-level one replaces a path-level one
/// with the same name and location.
fn declared_parameters<'a>(
    document: &'a Value,
    path_item: &'a Value,
    operation: &'a Value,
) -> Result<Vec<Parameter<'a>>, WorkflowError> {
    let mut res: Vec<Parameter<'a>> = Vec::new();
    for owner in [path_item, operation] {
        let Some(list) = owner.get("parameters").and_then(Value::as_array) else {
            continue;
        };
        for item in list {
            let spec = resolve_ref(document, item)?;
            let (Some(name), Some(location)) =
                (spec.get("name").and_then(Value::as_str), spec.get("in").and_then(Value::as_str))
            else {
                return Err(WorkflowError::standard(
                    StandardError::Configuration,
                    "OpenAPI parameter without \"name\" or \"in\"",
                ));
            };
            let parameter = Parameter {
                name: name.to_owned(),
                location: location.to_owned(),
                required: spec.get("required").and_then(Value::as_bool).unwrap_or(false),
                spec,
            };
            res.retain(|it| !(it.name == parameter.name && it.location == parameter.location));
            res.push(parameter);
        }
    }
    Ok(res)
}

/// Follows local `$ref`s (`#/...`).
fn resolve_ref<'a>(document: &'a Value, value: &'a Value) -> Result<&'a Value, WorkflowError> {
    let mut current = value;
    for _ in 0..MAX_REF_DEPTH {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return Ok(current);
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(WorkflowError::standard(
                StandardError::Configuration,
                format!("external OpenAPI reference \"{reference}\" is not supported"),
            ));
        };
        current = document.pointer(pointer).ok_or_else(|| {
            WorkflowError::standard(
                StandardError::Configuration,
                format!("OpenAPI reference \"{reference}\" points nowhere"),
            )
        })?;
    }
    Err(WorkflowError::standard(StandardError::Configuration, "OpenAPI references form a cycle"))
}

fn add_query(query: &mut Vec<(String, String)>, version: Version, parameter: &Parameter<'_>, value: &Value) {
    let name = &parameter.name;
    match version {
        Version::Swagger2 => {
            let Value::Array(items) = value else {
                query.push((name.clone(), stringify(value)));
                return;
            };
            let format = parameter.spec.get("collectionFormat").and_then(Value::as_str).unwrap_or("csv");
            let separator = match format {
                "multi" => {
                    query.extend(items.iter().map(|item| (name.clone(), stringify(item))));
                    return;
                }
                "ssv" => " ",
                "tsv" => "\t",
                "pipes" => "|",
                _ => ",",
            };
            query.push((name.clone(), items.iter().map(stringify).collect::<Vec<_>>().join(separator)));
        }
        Version::OpenApi3 => {
            let style = parameter.spec.get("style").and_then(Value::as_str).unwrap_or("form");
            let explode = parameter.spec.get("explode").and_then(Value::as_bool).unwrap_or(style == "form");
            match (value, style) {
                (Value::Array(items), _) if explode => {
                    query.extend(items.iter().map(|item| (name.clone(), stringify(item))));
                }
                (Value::Array(items), _) => {
                    let separator = match style {
                        "spaceDelimited" => " ",
                        "pipeDelimited" => "|",
                        _ => ",",
                    };
                    query.push((name.clone(), items.iter().map(stringify).collect::<Vec<_>>().join(separator)));
                }
                (Value::Object(entries), "deepObject") => {
                    query.extend(entries.iter().map(|(key, item)| (format!("{name}[{key}]"), stringify(item))));
                }
                (Value::Object(entries), _) if explode => {
                    query.extend(entries.iter().map(|(key, item)| (key.clone(), stringify(item))));
                }
                (Value::Object(_), _) => query.push((name.clone(), join_simple(value))),
                _ => query.push((name.clone(), stringify(value))),
            }
        }
    }
}

/// OpenAPI `simple` style: arrays and objects comma-joined.
fn join_simple(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().map(stringify).collect::<Vec<_>>().join(","),
        Value::Object(entries) => {
            entries.iter().flat_map(|(key, item)| [key.clone(), stringify(item)]).collect::<Vec<_>>().join(",")
        }
        other => stringify(other),
    }
}

fn substitute_path(template: &str, values: &Map<String, Value>) -> String {
    let substituted = crate::http::substitute_braces(template, |name, res| {
        match values.get(name) {
            Some(value) => res.push_str(&percent_encode(&join_simple(value)).replace("%2C", ",")),
            None => {
                res.push('{');
                res.push_str(name);
                res.push('}');
            }
        }
        Ok::<(), std::convert::Infallible>(())
    });
    match substituted {
        Ok(path) => path,
        Err(never) => match never {},
    }
}

/// The call parameters that are not declared non-body parameters, if any.
fn leftover(parameters: &Map<String, Value>, declared: &[Parameter<'_>]) -> Option<Value> {
    let rest: Map<String, Value> = parameters
        .iter()
        .filter(|(name, _)| !declared.iter().any(|it| it.location != "body" && &it.name == *name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    (!rest.is_empty()).then_some(Value::Object(rest))
}

fn produces_json(document: &Value, version: Version, operation: &Value) -> bool {
    let is_json = |mime: &str| {
        let mime = mime.split(';').next().unwrap_or("").trim();
        mime == "application/json" || mime.ends_with("+json") || mime == "*/*"
    };
    match version {
        Version::Swagger2 => operation
            .get("produces")
            .or_else(|| document.get("produces"))
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().filter_map(Value::as_str).any(is_json)),
        Version::OpenApi3 => operation.get("responses").and_then(Value::as_object).is_some_and(|responses| {
            responses.values().any(|response| {
                resolve_ref(document, response)
                    .ok()
                    .and_then(|response| response.get("content"))
                    .and_then(Value::as_object)
                    .is_some_and(|content| content.keys().any(|mime| is_json(mime)))
            })
        }),
    }
}

fn parse_document_uri(document_uri: &str) -> Result<Url, WorkflowError> {
    Url::parse(document_uri).map_err(|err| {
        WorkflowError::standard(
            StandardError::Configuration,
            format!("OpenAPI document URI \"{document_uri}\" is not absolute: {err}"),
        )
    })
}

/// `scheme://host/basePath` of a Swagger 2.0 document.
fn swagger2_base(document: &Value, document_uri: &str) -> Result<String, WorkflowError> {
    let doc_url = Url::parse(document_uri).ok();
    let doc_scheme = doc_url.as_ref().map(|url| url.scheme().to_owned());
    let schemes: Vec<&str> = document
        .get("schemes")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |list| list.iter().filter_map(Value::as_str).collect());
    let scheme = if doc_scheme.as_deref() == Some("https") && schemes.contains(&"https") {
        "https".to_owned()
    } else if let Some(first) = schemes.first() {
        (*first).to_owned()
    } else {
        doc_scheme.clone().unwrap_or_else(|| "https".to_owned())
    };
    let host = match document.get("host").and_then(Value::as_str) {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => {
            let doc_url = parse_document_uri(document_uri)?;
            let Some(host) = doc_url.host_str() else {
                return Err(WorkflowError::standard(
                    StandardError::Configuration,
                    format!("OpenAPI document URI \"{document_uri}\" has no host"),
                ));
            };
            match doc_url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            }
        }
    };
    let base_path = document.get("basePath").and_then(Value::as_str).unwrap_or("/");
    let base_path = if base_path.starts_with('/') { base_path.to_owned() } else { format!("/{base_path}") };
    Ok(format!("{scheme}://{host}{base_path}"))
}

/// The first server of the operation, path item or document, variables replaced by their
/// defaults, resolved against the document URI.
fn openapi3_base(
    document: &Value,
    document_uri: &str,
    path_item: &Value,
    operation: &Value,
) -> Result<String, WorkflowError> {
    let server = [operation, path_item, document]
        .into_iter()
        .filter_map(|owner| owner.get("servers").and_then(Value::as_array))
        .find_map(|servers| servers.first());
    let mut server_url = server.and_then(|server| server.get("url")).and_then(Value::as_str).unwrap_or("/").to_owned();
    if let Some(variables) = server.and_then(|server| server.get("variables")).and_then(Value::as_object) {
        for (name, variable) in variables {
            let default = variable.get("default").map(stringify).unwrap_or_default();
            server_url = server_url.replace(&format!("{{{name}}}"), &default);
        }
    }
    if let Ok(url) = Url::parse(&server_url) {
        return Ok(url.to_string());
    }
    let doc_url = parse_document_uri(document_uri)?;
    let joined = doc_url.join(&server_url).map_err(|err| {
        WorkflowError::standard(
            StandardError::Configuration,
            format!("OpenAPI server URL \"{server_url}\" is invalid: {err}"),
        )
    })?;
    Ok(joined.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn petstore2() -> Value {
        json!({
            "swagger": "2.0",
            "host": "petstore.swagger.io",
            "basePath": "/v2",
            "schemes": ["http", "https"],
            "produces": ["application/json", "application/xml"],
            "paths": {
                "/pet": {
                    "post": {
                        "operationId": "addPet",
                        "consumes": ["application/json"],
                        "parameters": [{"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/Pet"}}]
                    }
                },
                "/pet/findByStatus": {
                    "get": {
                        "operationId": "findPetsByStatus",
                        "parameters": [{
                            "name": "status", "in": "query", "required": true, "type": "array",
                            "items": {"type": "string"}, "collectionFormat": "multi"
                        }]
                    }
                },
                "/pet/findByTags": {
                    "get": {
                        "operationId": "findPetsByTags",
                        "parameters": [{"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}}]
                    }
                },
                "/pet/{petId}": {
                    "parameters": [{"$ref": "#/parameters/petId"}],
                    "get": {"operationId": "getPetById", "produces": ["application/xml"]},
                    "delete": {
                        "operationId": "deletePet",
                        "parameters": [{"name": "api_key", "in": "header", "type": "string"}]
                    },
                    "post": {
                        "operationId": "updatePetWithForm",
                        "parameters": [{"name": "name", "in": "formData", "type": "string"}]
                    }
                }
            },
            "parameters": {
                "petId": {"name": "petId", "in": "path", "required": true, "type": "integer"}
            }
        })
    }

    fn params(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("test parameters are objects"),
        }
    }

    #[test]
    fn swagger2_query_path_header_and_scheme() {
        let doc = petstore2();
        let uri = "https://petstore.swagger.io/v2/swagger.json";
        let op = resolve_operation(&doc, uri, "findPetsByStatus", &params(json!({"status": "available"}))).unwrap();
        assert_eq!(op.method, "GET");
        assert_eq!(op.uri, "https://petstore.swagger.io/v2/pet/findByStatus?status=available");
        assert_eq!(op.headers, vec![("Accept".to_owned(), "application/json".to_owned())]);
        assert_eq!(op.body, None);

        let op = resolve_operation(
            &doc,
            "http://x/swagger.json",
            "findPetsByStatus",
            &params(json!({"status": ["a", "b"]})),
        )
        .unwrap();
        assert_eq!(op.uri, "http://petstore.swagger.io/v2/pet/findByStatus?status=a&status=b");
        let op = resolve_operation(&doc, uri, "findPetsByTags", &params(json!({"tags": ["x", "y z"]}))).unwrap();
        assert_eq!(op.uri, "https://petstore.swagger.io/v2/pet/findByTags?tags=x%2Cy+z");

        let op = resolve_operation(&doc, uri, "getPetById", &params(json!({"petId": 1, "extra": true}))).unwrap();
        assert_eq!(op.uri, "https://petstore.swagger.io/v2/pet/1");
        assert_eq!(op.headers, vec![]);

        let op = resolve_operation(&doc, uri, "deletePet", &params(json!({"petId": "a/b", "api_key": "k"}))).unwrap();
        assert_eq!(op.method, "DELETE");
        assert_eq!(op.uri, "https://petstore.swagger.io/v2/pet/a%2Fb");
        assert_eq!(op.headers[0], ("api_key".to_owned(), "k".to_owned()));
    }

    #[test]
    fn swagger2_host_defaults_to_the_document_host() {
        let mut doc = petstore2();
        let object = doc.as_object_mut().unwrap();
        object.remove("host");
        object.remove("schemes");
        object.remove("basePath");
        let op = resolve_operation(
            &doc,
            "http://127.0.0.1:8080/api/swagger.json",
            "getPetById",
            &params(json!({"petId": 7})),
        )
        .unwrap();
        assert_eq!(op.uri, "http://127.0.0.1:8080/pet/7");
    }

    #[test]
    fn swagger2_body() {
        let doc = petstore2();
        let uri = "https://petstore.swagger.io/v2/swagger.json";
        let pet = json!({"name": "doggie", "photoUrls": []});
        let op = resolve_operation(&doc, uri, "addPet", &params(json!({"body": pet.clone()}))).unwrap();
        assert_eq!((op.method.as_str(), op.body.as_ref()), ("POST", Some(&pet)));
        assert!(op.headers.contains(&("Content-Type".to_owned(), "application/json".to_owned())));
        // Without a value named like the body parameter, the parameters themselves are the body.
        let op = resolve_operation(&doc, uri, "addPet", &params(pet.clone())).unwrap();
        assert_eq!(op.body, Some(pet));
        let err = resolve_operation(&doc, uri, "addPet", &Map::new()).unwrap_err();
        assert!(err.is(StandardError::Validation));
        assert!(err.title.unwrap().contains("\"body\""));
    }

    #[test]
    fn swagger2_errors() {
        let doc = petstore2();
        let uri = "https://petstore.swagger.io/v2/swagger.json";
        let err = resolve_operation(&doc, uri, "getPetById", &params(json!({"petId": null}))).unwrap_err();
        assert!(err.is(StandardError::Validation));
        assert_eq!(err.status, 400);
        assert!(err.title.unwrap().contains("\"petId\""));
        let err = resolve_operation(&doc, uri, "findPetsByStatus", &Map::new()).unwrap_err();
        assert!(err.title.unwrap().contains("\"status\""));
        let err = resolve_operation(&doc, uri, "nope", &Map::new()).unwrap_err();
        assert!(err.is(StandardError::Configuration));
        assert!(err.title.unwrap().contains("\"nope\""));
        let err =
            resolve_operation(&doc, uri, "updatePetWithForm", &params(json!({"petId": 1, "name": "x"}))).unwrap_err();
        assert!(err.is(StandardError::Configuration));
        assert!(err.title.unwrap().contains("formData"));
        // An optional formData parameter that is not given is fine.
        assert!(resolve_operation(&doc, uri, "updatePetWithForm", &params(json!({"petId": 1}))).is_ok());
        let err = resolve_operation(&json!({"swagger": "1.2"}), uri, "x", &Map::new()).unwrap_err();
        assert!(err.is(StandardError::Configuration));
    }

    fn petstore3() -> Value {
        json!({
            "openapi": "3.0.3",
            "servers": [{"url": "/api/{version}", "variables": {"version": {"default": "v3"}}}],
            "paths": {
                "/pet": {
                    "post": {
                        "operationId": "addPet",
                        "requestBody": {"$ref": "#/components/requestBodies/Pet"},
                        "responses": {"200": {"content": {"application/json": {}}}}
                    },
                    "put": {
                        "operationId": "updatePet",
                        "x-codegen-request-body-name": "pet",
                        "parameters": [{"name": "trace", "in": "header"}],
                        "requestBody": {"required": true, "content": {"application/json": {}}},
                        "responses": {"200": {"$ref": "#/components/responses/Pet"}}
                    }
                },
                "/pet/findByStatus": {
                    "get": {
                        "operationId": "findPetsByStatus",
                        "parameters": [
                            {"name": "status", "in": "query", "required": true, "schema": {"type": "array"}},
                            {"name": "tags", "in": "query", "explode": false},
                            {"name": "filter", "in": "query", "style": "deepObject"},
                            {"name": "session", "in": "cookie"},
                            {"name": "lang", "in": "cookie"}
                        ],
                        "responses": {"200": {"content": {"application/xml": {}}}}
                    }
                },
                "/pet/{petId}": {
                    "parameters": [{"$ref": "#/components/parameters/petId"}],
                    "get": {
                        "operationId": "getPetById",
                        "servers": [{"url": "https://other.example.com/v1"}],
                        "parameters": [{"name": "petId", "in": "path", "required": true, "description": "override"}]
                    }
                }
            },
            "components": {
                "parameters": {"petId": {"name": "petId", "in": "path", "required": true}},
                "requestBodies": {"Pet": {"required": true, "content": {"application/json": {}}}},
                "responses": {"Pet": {"content": {"application/json": {}}}}
            }
        })
    }

    #[test]
    fn openapi3_servers_query_styles_and_cookies() {
        let doc = petstore3();
        let uri = "https://petstore3.swagger.io/api/v3/openapi.json";
        let op = resolve_operation(
            &doc,
            uri,
            "findPetsByStatus",
            &params(json!({
                "status": ["available", "sold"], "tags": ["a", "b"], "filter": {"color": "red"},
                "session": "s1", "lang": "en"
            })),
        )
        .unwrap();
        assert_eq!(op.method, "GET");
        assert_eq!(
            op.uri,
            "https://petstore3.swagger.io/api/v3/pet/findByStatus?status=available&status=sold&tags=a%2Cb&filter%5Bcolor%5D=red"
        );
        assert_eq!(op.headers, vec![("Cookie".to_owned(), "session=s1; lang=en".to_owned())]);

        let op = resolve_operation(&doc, uri, "getPetById", &params(json!({"petId": 3}))).unwrap();
        assert_eq!(op.uri, "https://other.example.com/v1/pet/3");
        let err = resolve_operation(&doc, uri, "getPetById", &Map::new()).unwrap_err();
        assert!(err.is(StandardError::Validation));
        assert!(err.title.unwrap().contains("\"petId\""));
    }

    #[test]
    fn openapi3_request_body_rule() {
        let doc = petstore3();
        let uri = "https://petstore3.swagger.io/api/v3/openapi.json";
        let op =
            resolve_operation(&doc, uri, "addPet", &params(json!({"name": "doggie", "status": "available"}))).unwrap();
        assert_eq!(op.method, "POST");
        assert_eq!(op.body, Some(json!({"name": "doggie", "status": "available"})));
        assert_eq!(
            op.headers,
            vec![
                ("Accept".to_owned(), "application/json".to_owned()),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ]
        );
        let err = resolve_operation(&doc, uri, "addPet", &Map::new()).unwrap_err();
        assert!(err.is(StandardError::Validation));

        let op = resolve_operation(&doc, uri, "updatePet", &params(json!({"pet": {"id": 1}, "trace": "t"}))).unwrap();
        assert_eq!(op.body, Some(json!({"id": 1})));
        assert_eq!(op.headers[0], ("trace".to_owned(), "t".to_owned()));
        let err = resolve_operation(&doc, uri, "updatePet", &params(json!({"trace": "t"}))).unwrap_err();
        assert!(err.title.unwrap().contains("\"pet\""));

        let err = resolve_operation(&doc, "not a uri", "addPet", &params(json!({"name": "x"}))).unwrap_err();
        assert!(err.is(StandardError::Configuration));
    }

    #[test]
    fn refs_that_point_nowhere_or_outside_are_configuration_errors() {
        let doc = json!({
            "openapi": "3.1.0",
            "servers": [{"url": "https://api.example.com"}],
            "paths": {
                "/a": {"get": {"operationId": "a", "parameters": [{"$ref": "#/components/parameters/missing"}]}},
                "/b": {"get": {"operationId": "b", "parameters": [{"$ref": "other.json#/x"}]}},
                "/c": {"get": {"operationId": "c", "parameters": [{"$ref": "#/c"}]}}
            },
            "c": {"$ref": "#/c"}
        });
        for id in ["a", "b", "c"] {
            let err = resolve_operation(&doc, "https://api.example.com/doc.json", id, &Map::new()).unwrap_err();
            assert!(err.is(StandardError::Configuration), "{id}");
        }
    }
}
