//! `/api/v1/inbox`: the human-input items (runs waiting in a `listen` task whose `metadata`
//! has an `inbox` document) and answering them.
//!
//! An item is one stored subscription with an inbox document; its id is
//! `{runId}~{subscriptionId}` (`~` is unreserved in URLs and appears in neither part: run ids
//! are UUIDs, subscription ids `s<n>`; the id is split at its last `~`). Answering an item
//! builds the CloudEvent its `listen` task waits for and publishes it like any other event, so
//! the run resumes exactly as if the event had been posted to `/api/v1/events`.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use baton_core::compile::CompiledKind;
use baton_core::events::{FilterRole, Subscription, matches, validate_cloud_event};
use baton_core::expr::strip_runtime_expression;
use baton_store::{AuthStore, EventStore, InboxFilter, InboxItem, RunRecord, RunStore};

use crate::api::audit;
use crate::api::dto::{InboxItemInfo, InboxPage, InboxQuery, RespondRequest, RespondResult, WorkflowId, rfc3339};
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::identity_dto::Responder;
use crate::api::{ApiEngine, AppState, record_run_id};
use crate::auth::access::{Member, Viewer};
use crate::auth::{Caller, Role};
use crate::clock::now_ms;
use crate::engine::EngineError;
use crate::engine::inbox_gate::{INBOX_ITEM_ATTRIBUTE, RESPONDER_ATTRIBUTE, RESPONDER_NAME_ATTRIBUTE};

/// `source` of a response event when the task's filter names none.
pub const DEFAULT_RESPONSE_SOURCE: &str = "baton/inbox";
/// `type` of a response event when the task's filter names no literal one.
pub const DEFAULT_RESPONSE_TYPE: &str = "io.baton.inbox.response.v1";

/// Namespace of the UUIDv5 ids of response events.
const RESPONSE_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2a5e_93d4_4b7a_8c0e_5d21_f4a9_b6e3);

/// Event attributes a response event sets itself, never copied from a filter.
const OWN_ATTRIBUTES: [&str; 5] = ["specversion", "id", "time", "data", "data_base64"];

const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// `assignee=me`: the items the caller is named in.
const ASSIGNEE_ME: &str = "me";

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

pub use crate::engine::inbox_gate::item_id;

/// `(run id, subscription id)` of an item id.
fn parse_item_id(item: &str) -> Option<(&str, &str)> {
    let (run_id, subscription_id) = item.rsplit_once('~')?;
    (!run_id.is_empty() && !subscription_id.is_empty()).then_some((run_id, subscription_id))
}

/// List open inbox items, oldest first
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    tag = "inbox",
    params(InboxQuery),
    responses(
        (status = 200, description = "One page of open items", body = InboxPage),
        (status = 400, description = "`invalid-request` (bad filter or cursor)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_inbox(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let (namespace, name) = match query.workflow.as_deref() {
        None => (None, None),
        Some(text) => match text.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() && !name.contains('/') => {
                (Some(namespace.to_owned()), Some(name.to_owned()))
            }
            _ => return Err(ApiError::InvalidRequest(format!("workflow {text:?} must be NAMESPACE/NAME"))),
        },
    };
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let filter = InboxFilter {
        assignee: query
            .assignee
            .filter(|assignee| !assignee.is_empty())
            .map(|assignee| if assignee == ASSIGNEE_ME { caller.member_id.clone() } else { assignee }),
        namespace,
        name,
        overdue_at: query.overdue.unwrap_or(false).then(now_ms),
        // One more than asked: tells whether a next page exists.
        limit: limit + 1,
        after,
    };
    let mut items = state.engine.store().list_inbox(&caller.workspace, filter).await?;
    let next_cursor = match items.len() > limit as usize {
        true => {
            items.truncate(limit as usize);
            items.last().map(|item| encode_cursor(item.created_at, &item.run_id, &item.subscription_id))
        }
        false => None,
    };
    Ok(Json(InboxPage { items: items.into_iter().map(item_info).collect(), next_cursor }))
}

/// An opaque cursor: base64url of `[createdAt, runId, subscriptionId]` of the page's last item.
fn encode_cursor(created_at: i64, run_id: &str, subscription_id: &str) -> String {
    let text = json!([created_at, run_id, subscription_id]).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Result<(i64, String, String), ApiError> {
    let invalid = || ApiError::InvalidRequest("unknown cursor".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice::<(i64, String, String)>(&bytes).map_err(|_| invalid())
}

/// An item as the API shows it.
fn item_info(item: InboxItem) -> InboxItemInfo {
    let task = item.subscription.get("task").and_then(Value::as_str).unwrap_or_default().to_owned();
    let inbox = &item.inbox;
    let text = |key: &str| match inbox.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    let assignees = assignees(inbox);
    InboxItemInfo {
        id: item_id(&item.run_id, &item.subscription_id),
        title: text("title").unwrap_or_else(|| task_name(&task)),
        description: text("description"),
        form: inbox.get("form").filter(|form| !form.is_null()).cloned(),
        assignees,
        run_id: item.run_id,
        workflow: WorkflowId { namespace: item.namespace, name: item.name, version: item.version },
        task,
        created_at: rfc3339(item.created_at),
        deadline: item.deadline_at.map(rfc3339),
    }
}

/// The `assignees` of an inbox document: member ids or emails (one string or an array).
pub(crate) fn assignees(inbox: &Value) -> Vec<String> {
    match inbox.get("assignees") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Whether `caller` may answer an item with this inbox document: a member named in its
/// `assignees`, or an admin; anyone with the `member` role when it names nobody.
pub(crate) fn may_answer(caller: &Caller, inbox: &Value) -> bool {
    let assignees = assignees(inbox);
    assignees.is_empty() || caller.role == Role::Admin || caller.is_named_in(&assignees)
}

/// Checks an event posted to `/events` that names an inbox item (`batoninboxitem`): the item
/// must be open in the caller's workspace, opt in with `metadata.inbox.acceptEvents: true`, and
/// the caller must be allowed to answer it. Records the caller as the responder on the event.
///
/// Errors: `item-not-found` (404, also for another workspace's item), `item-unanswerable` (409)
/// when the item takes answers only through the inbox, `forbidden` (403) for a caller the item
/// is not assigned to.
pub(crate) async fn authorize_event_answer(
    state: &AppState,
    caller: &Caller,
    event: &mut Value,
) -> Result<(), ApiError> {
    let Some(item) = event.get(INBOX_ITEM_ATTRIBUTE).and_then(Value::as_str).map(str::to_owned) else {
        return Ok(());
    };
    let Some((run_id, subscription_id)) = parse_item_id(&item) else { return Err(ApiError::ItemNotFound(item)) };
    let store = state.engine.store();
    if store.get_run(&caller.workspace, run_id).await?.is_none() {
        return Err(ApiError::ItemNotFound(item));
    }
    let Some(inbox) =
        store.subscription(&caller.workspace, run_id, subscription_id).await?.and_then(|record| record.inbox)
    else {
        return Err(ApiError::ItemNotFound(item));
    };
    if inbox.get("acceptEvents") != Some(&Value::Bool(true)) {
        return Err(ApiError::ItemUnanswerable {
            item: item.clone(),
            detail: format!("item {item} is answered only through POST /api/v1/inbox/{item}/respond"),
        });
    }
    if !may_answer(caller, &inbox) {
        return Err(ApiError::Forbidden("this item is assigned to other members"));
    }
    event[RESPONDER_ATTRIBUTE] = Value::String(caller.member_id.clone());
    event[RESPONDER_NAME_ATTRIBUTE] = Value::String(caller.member_name.clone());
    Ok(())
}

/// The last segment of a task reference (a JSON pointer), unescaped.
fn task_name(reference: &str) -> String {
    reference.rsplit('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~")
}

/// Answer an inbox item
///
/// Checks `data` against the item's `form`, builds the CloudEvent that satisfies the waiting
/// `listen` task's filter and correlation (its `data` is the response) and publishes it: the run
/// resumes. The same response to the same item again is idempotent (`200`, nothing changes).
#[utoipa::path(
    post,
    path = "/api/v1/inbox/{item}/respond",
    tag = "inbox",
    params(("item" = String, Path, description = "Item id: `{runId}~{subscriptionId}`")),
    request_body = RespondRequest,
    responses(
        (status = 202, description = "Taken: the run resumes", body = RespondResult),
        (status = 200, description = "This response was already taken; nothing changed", body = RespondResult,
            headers(("Idempotency-Replayed" = String, description = "`true`"))),
        (status = 400, description = "`malformed-json` or `invalid-request`", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "`item-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`item-closed` (the run no longer waits for it; nothing changed) or \
            `item-unanswerable` (no event built from a response satisfies the task's filter)", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "`payload-too-large`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-response`: `problems` lists how `data` violates the form; \
            nothing is consumed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn respond(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiPath(item): ApiPath<String>,
    ApiJson(request): ApiJson<RespondRequest>,
) -> Result<Response, ApiError> {
    let Some((run_id, subscription_id)) = parse_item_id(&item) else { return Err(ApiError::ItemNotFound(item)) };
    record_run_id(run_id);
    let store = state.engine.store();
    let event_id = response_event_id(&item, &request.data);
    let Some(run) = store.get_run(&caller.workspace, run_id).await? else { return Err(ApiError::ItemNotFound(item)) };
    let record = match store.subscription(&caller.workspace, run_id, subscription_id).await? {
        Some(record) if record.inbox.is_none() => return Err(ApiError::ItemNotFound(item)),
        Some(record) if !record.inbox.as_ref().is_some_and(|inbox| may_answer(&caller, inbox)) => {
            return Err(ApiError::Forbidden("this item is assigned to other members"));
        }
        Some(record) if !is_terminal(&run) => record,
        // No longer open: the same response again is a replay, another one is refused.
        _ => return closed(&state.engine, &run, &item, &event_id).await,
    };
    let subscription: Subscription = serde_json::from_value(record.subscription)
        .map_err(|err| ApiError::Internal(format!("stored subscription {item} is unreadable: {err}")))?;
    let unanswerable = |detail: String| ApiError::ItemUnanswerable { item: item.clone(), detail };

    if let Some(form) = record.inbox.as_ref().and_then(|inbox| inbox.get("form")).filter(|form| !form.is_null()) {
        let validator = jsonschema::validator_for(form)
            .map_err(|err| unanswerable(format!("the item's form is not a valid JSON schema: {err}")))?;
        let problems: Vec<String> = validator
            .iter_errors(&request.data)
            .map(|err| {
                let path = err.instance_path().to_string();
                format!("{}: {err}", if path.is_empty() { "/" } else { path.as_str() })
            })
            .collect();
        if !problems.is_empty() {
            return Err(ApiError::InvalidResponse { item, problems });
        }
    }

    let now = now_ms();
    let mut event = response_event(&subscription, &event_id, request.data, now).map_err(unanswerable)?;
    event[INBOX_ITEM_ATTRIBUTE] = Value::String(item.clone());
    event[RESPONDER_ATTRIBUTE] = Value::String(caller.member_id.clone());
    event[RESPONDER_NAME_ATTRIBUTE] = Value::String(caller.member_name.clone());
    let source = event["source"].as_str().unwrap_or(DEFAULT_RESPONSE_SOURCE).to_owned();
    if store.get_event(&caller.workspace, &source, &event_id).await?.is_some() {
        return Ok(answer(&item, run_id, &event_id, false, None));
    }
    validate_cloud_event(&event)
        .map_err(|problems| unanswerable(format!("the response event is not valid: {}", problems.join("; "))))?;
    if !matches(&subscription, &event, now).unwrap_or(false) {
        return Err(unanswerable(format!(
            "the event built from the response ({event}) does not match the filter of task {}",
            subscription.task
        )));
    }
    // Published in a task of its own: a client that goes away cannot stop it halfway.
    let engine = state.engine.clone();
    let (workspace, target_run, target_subscription) =
        (caller.workspace.clone(), run_id.to_owned(), subscription_id.to_owned());
    let published =
        tokio::spawn(
            async move { engine.publish_event_to(&workspace, &target_run, &target_subscription, event).await },
        )
        .await
        .map_err(|err| ApiError::Internal(format!("inbox response task failed: {err}")))?;
    let accepted = match published {
        Ok(accepted) => accepted,
        Err(EngineError::InvalidEvent(problems)) => {
            return Err(unanswerable(format!("the response event is not valid: {}", problems.join("; "))));
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(run_id, item = %item, event_id = %event_id, accepted, by = %caller.member_id, "inbox item answered");
    let responder = Responder { id: caller.member_id.clone(), name: caller.member_name.clone() };
    if accepted {
        let detail = json!({"runId": run_id, "eventId": event_id, "respondedBy": responder});
        let entry = audit::entry(&caller, "inbox.answered", &item, detail, now);
        if let Err(err) = state.auth.store().append_audit(entry).await {
            tracing::warn!(item = %item, error = %err, "cannot record the inbox answer in the audit log");
        }
    }
    Ok(answer(&item, run_id, &event_id, accepted, Some(responder)))
}

fn is_terminal(run: &RunRecord) -> bool {
    run.status.is_terminal()
}

/// `202` when taken now, `200` with `Idempotency-Replayed: true` when taken before.
fn answer(item: &str, run_id: &str, event_id: &str, accepted: bool, responded_by: Option<Responder>) -> Response {
    let body = RespondResult {
        item: item.to_owned(),
        run_id: run_id.to_owned(),
        event_id: event_id.to_owned(),
        accepted,
        responded_by,
    };
    match accepted {
        true => (StatusCode::ACCEPTED, Json(body)).into_response(),
        false => {
            let mut response = (StatusCode::OK, Json(body)).into_response();
            response.headers_mut().insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
            response
        }
    }
}

/// An item no longer open: `200` when this very response was taken (its event is stored),
/// else `409 item-closed`. The event's `source` came from the task's filter, which is gone
/// with the subscription: every source a human-input `listen` of the run's workflow can have
/// is tried.
async fn closed(engine: &ApiEngine, run: &RunRecord, item: &str, event_id: &str) -> Result<Response, ApiError> {
    let mut sources = BTreeSet::from([DEFAULT_RESPONSE_SOURCE.to_owned()]);
    match engine.workflow_in(&run.workspace, &run.namespace, &run.name, &run.version).await {
        Ok(deployed) => {
            for task in &deployed.workflow.tasks {
                let CompiledKind::Listen(listen) = &task.kind else { continue };
                if listen.inbox.is_none() {
                    continue;
                }
                let literal_sources = listen
                    .filters
                    .iter()
                    .filter(|filter| filter.role == FilterRole::Consume)
                    .filter_map(|filter| filter.with.get("source").and_then(Value::as_str))
                    .filter(|source| strip_runtime_expression(source).is_none())
                    .map(str::to_owned);
                sources.extend(literal_sources);
            }
        }
        Err(EngineError::WorkflowNotFound { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    for source in &sources {
        if engine.store().get_event(&run.workspace, source, event_id).await?.is_some() {
            return Ok(answer(item, &run.id, event_id, false, None));
        }
    }
    Err(ApiError::ItemClosed(item.to_owned()))
}

/// The deterministic id of the event answering `item` with `data`: a UUIDv5 of the item id and
/// the canonical JSON of the data (object keys sorted), so the same response twice is one event.
pub fn response_event_id(item: &str, data: &Value) -> String {
    let mut name = String::with_capacity(item.len() + 64);
    name.push_str(item);
    name.push('\n');
    canonical_json(data, &mut name);
    uuid::Uuid::new_v5(&RESPONSE_ID_NAMESPACE, name.as_bytes()).to_string()
}

fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A filter attribute usable as the attribute's value: a string that is not a `${ }`
/// condition (a pattern matches its own text), a number or a boolean.
fn literal_attribute(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) if strip_runtime_expression(text).is_some() => None,
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(value.clone()),
        _ => None,
    }
}

/// The CloudEvent answering the first open consuming filter of `subscription` with `data`:
/// the filter's literal attributes (`type` defaults to [`DEFAULT_RESPONSE_TYPE`], `source` to
/// [`DEFAULT_RESPONSE_SOURCE`]), `data`, and each expected correlation value written where its
/// key's `from` reads it when `from` is a plain path (`.data.orderId`, `.subject`).
///
/// Errors: why no event can be built (no open filter).
pub fn response_event(subscription: &Subscription, event_id: &str, data: Value, now: i64) -> Result<Value, String> {
    let index = subscription
        .filters
        .iter()
        .position(|filter| filter.role == FilterRole::Consume && !filter.satisfied)
        .ok_or_else(|| format!("task {} has no open filter that consumes events", subscription.task))?;
    let filter = &subscription.filters[index];
    let mut event = Map::new();
    for (name, value) in &filter.with {
        if OWN_ATTRIBUTES.contains(&name.as_str()) {
            continue;
        }
        if let Some(literal) = literal_attribute(value) {
            event.insert(name.clone(), literal);
        }
    }
    event.entry("type").or_insert_with(|| DEFAULT_RESPONSE_TYPE.into());
    event.entry("source").or_insert_with(|| DEFAULT_RESPONSE_SOURCE.into());
    event.entry("datacontenttype").or_insert_with(|| "application/json".into());
    event.insert("specversion".into(), "1.0".into());
    event.insert("id".into(), event_id.into());
    event.insert("time".into(), rfc3339(now).into());
    event.insert("data".into(), data);
    for (key, value) in subscription.expected_correlation(index) {
        let Some(path) = filter.correlate.get(&key).and_then(|key| plain_path(&key.from)) else { continue };
        write_at(&mut event, &path, value);
    }
    Ok(Value::Object(event))
}

/// The segments of a plain jq path (`.a.b`, optionally in `${ }`): identifiers only.
fn plain_path(from: &str) -> Option<Vec<String>> {
    let text = strip_runtime_expression(from).unwrap_or(from).trim();
    let rest = text.strip_prefix('.')?;
    let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
    let identifier = |segment: &String| {
        let mut chars = segment.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    segments.iter().all(identifier).then_some(segments)
}

/// Writes `value` at `path` in the event: into `data` (objects created on the way; a
/// non-object on the way leaves the event as it is), or as a context attribute (as text).
fn write_at(event: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else { return };
    if first != "data" {
        if rest.is_empty() && !OWN_ATTRIBUTES.contains(&first.as_str()) {
            let text = match value {
                Value::String(text) => text,
                Value::Object(_) | Value::Array(_) | Value::Null => return,
                scalar => scalar.to_string(),
            };
            event.insert(first.clone(), Value::String(text));
        }
        return;
    }
    let mut slot = event.entry("data").or_insert(Value::Null);
    for segment in rest {
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(map) = slot else { return };
        slot = map.entry(segment.clone()).or_insert(Value::Null);
    }
    *slot = value;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn subscription(filters: Value) -> Subscription {
        let mut subscription: Subscription =
            serde_json::from_value(json!({"created_at": 0, "task": "/do/0/approve", "filters": filters})).unwrap();
        subscription.refresh_types();
        subscription
    }

    #[test]
    fn item_ids_split_at_the_last_tilde() {
        assert_eq!(parse_item_id("0196-ab~s3"), Some(("0196-ab", "s3")));
        assert_eq!(parse_item_id("a~b~s3"), Some(("a~b", "s3")));
        for bad in ["", "abc", "~s1", "abc~"] {
            assert_eq!(parse_item_id(bad), None, "{bad}");
        }
        assert_eq!(item_id("r", "s1"), "r~s1");
    }

    #[test]
    fn response_ids_ignore_key_order_and_depend_on_item_and_data() {
        let a = response_event_id("r~s1", &json!({"a": 1, "b": {"x": [1, 2], "y": null}}));
        let b = response_event_id("r~s1", &json!({"b": {"y": null, "x": [1, 2]}, "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, response_event_id("r~s2", &json!({"a": 1, "b": {"x": [1, 2], "y": null}})));
        assert_ne!(a, response_event_id("r~s1", &json!({"a": 2, "b": {"x": [1, 2], "y": null}})));
    }

    #[test]
    fn the_event_satisfies_literals_and_correlation() {
        let mut subscription = subscription(json!([{
            "role": "consume",
            "with": {"type": "com.example.approval", "source": "https://shop/approvals", "region": "eu", "priority": 2},
            "correlate": {
                "order": {"from": ".data.order.id", "expect": "A-1"},
                "customer": {"from": "${ .subject }"},
                "other": {"from": ".data | .x"}
            }
        }]));
        subscription.correlation.insert("customer".into(), json!(42));
        subscription.correlation.insert("other".into(), json!("z"));
        let event = response_event(&subscription, "id-1", json!({"approved": true}), 0).unwrap();
        assert_eq!(event["type"], "com.example.approval");
        assert_eq!(event["source"], "https://shop/approvals");
        assert_eq!(event["region"], "eu");
        assert_eq!(event["priority"], 2);
        assert_eq!(event["subject"], "42");
        assert_eq!(event["data"], json!({"approved": true, "order": {"id": "A-1"}}));
        assert_eq!(event["id"], "id-1");
        validate_cloud_event(&event).unwrap();
        // `other` is not a plain path: its value is left to the data, and this data lacks it.
        assert!(!matches(&subscription, &event, 0).unwrap());
        subscription.filters[0].correlate.remove("other");
        assert!(matches(&subscription, &event, 0).unwrap());
    }

    #[test]
    fn defaults_and_expressions() {
        let subscription = subscription(json!([
            {"role": "consume", "satisfied": true, "with": {"type": "done"}},
            {"role": "consume", "with": {"type": "${ startswith(\"x\") }"}}
        ]));
        let event = response_event(&subscription, "id", json!("yes"), 0).unwrap();
        assert_eq!(event["type"], DEFAULT_RESPONSE_TYPE);
        assert_eq!(event["source"], DEFAULT_RESPONSE_SOURCE);
        assert_eq!(event["data"], "yes");
        let closed = subscription_all_satisfied();
        assert!(response_event(&closed, "id", json!(null), 0).is_err());
    }

    fn subscription_all_satisfied() -> Subscription {
        subscription(json!([{"role": "consume", "satisfied": true, "with": {}}, {"role": "until", "with": {}}]))
    }

    #[test]
    fn plain_paths() {
        assert_eq!(plain_path(".data.orderId"), Some(vec!["data".into(), "orderId".into()]));
        assert_eq!(plain_path("${ .subject }"), Some(vec!["subject".into()]));
        for other in [".data[0]", ".data | .x", "data.x", ".", ".a-b", ".data.\"x\""] {
            assert_eq!(plain_path(other), None, "{other}");
        }
    }
}
