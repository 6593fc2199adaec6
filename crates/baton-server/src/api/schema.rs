//! The parts of the OpenAPI document that utoipa's derives cannot state: the run statuses as an
//! enum, the CloudEvent's `specversion`, extension attributes and `data`/`data_base64`
//! exclusion, parameters that are never `null`, required request bodies and the body limit.
//!
//! Each describes a check the server makes (the handlers, `validate_cloud_event`,
//! `DefaultBodyLimit`), so that a request the document allows is one the server takes and a
//! request the server refuses is one the document forbids (issue 13 item 10; `.ci/run` checks it
//! with schemathesis).

use serde_json::json;
use utoipa::openapi::schema::{AdditionalProperties, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required, Response};

use baton_core::state::RunStatus;

/// Name of the CloudEvent component (`dto::CloudEventDoc`).
const CLOUD_EVENT: &str = "CloudEventDoc";

/// `status` of the run list: one of the run statuses.
pub(crate) fn run_status() -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(RunStatus::ALL.map(RunStatus::as_str))).build()
}

/// The roles a member or key can have (`Role::parse`).
const ROLES: [&str; 3] = ["admin", "member", "viewer"];

/// `role` of a new member: one of the roles.
pub(crate) fn role() -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(ROLES)).build()
}

/// An optional `role` (a key's, a member change's): one of the roles, or `null` (the default).
pub(crate) fn optional_role() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(ROLES.map(serde_json::Value::from).into_iter().chain([serde_json::Value::Null])))
        .build()
}

/// `specversion` of a CloudEvent: `1.0`.
pub(crate) fn spec_version() -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["1.0"])).build()
}

/// Completes `document` with what the derives leave out.
pub(crate) fn complete(document: &mut OpenApi, max_body_bytes: usize) {
    if let Some(description) = &mut document.info.description {
        description.push_str(&format!(
            " Request bodies are at most {max_body_bytes} bytes (`baton serve --max-body-bytes`); \
             a larger one is refused with `413` `/problems/payload-too-large`."
        ));
    }
    parameters_and_bodies(document);
    common_problems(document);
    let event = document.components.as_mut().and_then(|components| components.schemas.get_mut(CLOUD_EVENT));
    if let Some(RefOr::T(Schema::Object(event))) = event {
        complete_cloud_event(event);
    }
}

/// Query and header parameters are text: an optional one is absent, never `null` (utoipa types
/// an `Option` header of `params(...)` as nullable, which would make the text `null` valid).
/// Every request body the API reads is required: an empty one is `malformed-json` or an
/// invalid definition, never "no body".
fn parameters_and_bodies(document: &mut OpenApi) {
    let operations = document.paths.paths.values_mut().flat_map(|item| {
        [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
    });
    for operation in operations {
        if let Some(RefOr::T(body)) = &mut operation.request_body {
            body.required = Some(Required::True);
        }
        for parameter in operation.parameters.iter_mut().flatten() {
            if let RefOr::T(parameter) = parameter
                && let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
                && let SchemaType::Array(types) = &schema.schema_type
            {
                let mut types: Vec<Type> = types.iter().filter(|it| **it != Type::Null).cloned().collect();
                schema.schema_type = match types.len() {
                    1 => SchemaType::Type(types.remove(0)),
                    _ => SchemaType::Array(types),
                };
            }
        }
    }
}

/// Paths that need no API key (`crate::auth`): the probes.
const PUBLIC_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The problems any operation can answer besides its own: every operation but the probes needs
/// a key (`401` `unauthenticated` for a missing, unknown, revoked or expired one, `403`
/// `forbidden` for a role too low, `410` `workspace-deleted`), and every operation that reads a
/// body refuses a wrong content type (`415`), a body over the limit (`413`) and one that arrives
/// too slowly (`408`). An operation's own description of a status is kept.
fn common_problems(document: &mut OpenApi) {
    let problem = |description: &str| {
        let mut response = Response::new(description);
        response.content.insert(
            crate::api::PROBLEM_JSON.to_owned(),
            RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
        );
        RefOr::T(response)
    };
    let authenticated = [
        ("401", "`unauthenticated`: no, an unknown, a revoked or an expired API key"),
        ("403", "`forbidden`: the key's role does not allow this"),
        ("410", "`workspace-deleted`: the key's workspace is deleted"),
    ];
    let with_body = [
        ("408", "`request-timeout`: the body did not arrive in time"),
        ("413", "`payload-too-large`"),
        ("415", "`unsupported-media-type`"),
    ];
    for (path, item) in document.paths.paths.iter_mut() {
        let public = PUBLIC_PATHS.contains(&path.as_str());
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten();
        for operation in operations {
            let body = operation.request_body.is_some().then_some(with_body).into_iter().flatten();
            let auth = (!public).then_some(authenticated).into_iter().flatten();
            for (status, description) in auth.chain(body) {
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description));
            }
        }
    }
}

/// `dataschema` is a URI (utoipa's derive knows no `uri` format); extension attributes are
/// lowercase ASCII letters and digits with scalar values (`validate_cloud_event`);
/// `data_base64` (a string) never comes together with `data`.
fn complete_cloud_event(event: &mut Object) {
    if let Some(RefOr::T(Schema::Object(dataschema))) = event.properties.get_mut("dataschema") {
        dataschema.format = Some(SchemaFormat::Custom("uri".to_owned()));
    }
    let scalar = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number, Type::Boolean, Type::Null]))
        .build();
    event.additional_properties = Some(Box::new(AdditionalProperties::RefOr(RefOr::T(Schema::Object(scalar)))));
    event.property_names = Some(Box::new(Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^([a-z0-9]+|data_base64)$")).build(),
    )));
    // utoipa's schema model has no `not`; the extensions map is serialized flat into the schema
    // object, which makes it the one place to add a keyword the model lacks.
    let not_both = json!({
        "required": ["data", "data_base64"],
        "properties": {"data_base64": {"type": "string"}}
    });
    event.extensions.get_or_insert_with(Default::default).insert("not".to_owned(), not_both);
}
