use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

const NOW: i64 = 1_700_000_000_000;

fn event(extra: Value) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": "e1",
        "source": "https://shop.example.com",
        "type": "com.example.order.paid",
    });
    if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
        event.extend(extra);
    }
    event
}

fn filter(with: Value) -> Filter {
    let Value::Object(with) = with else { panic!("with must be an object") };
    Filter { role: FilterRole::Consume, satisfied: false, with, correlate: BTreeMap::new() }
}

fn subscription(filters: Vec<Filter>) -> Subscription {
    let mut subscription = Subscription {
        created_at: NOW,
        task: "/do/0/wait".into(),
        types: None,
        filters,
        correlation: BTreeMap::new(),
        inbox: None,
        deadline_at: None,
    };
    subscription.refresh_types();
    subscription
}

fn check(with: Value, event_extra: Value) -> bool {
    matches(&subscription(vec![filter(with)]), &event(event_extra), NOW).expect("valid filter")
}

#[test]
fn literal_attributes_match_exactly() {
    assert!(check(json!({"type": "com.example.order.paid"}), json!({})));
    assert!(!check(json!({"type": "com.example.order.paid.v2"}), json!({})));
    // A dot alone is not a pattern.
    assert!(!check(json!({"type": "com.example.orderXpaid"}), json!({"type": "com.example.order.paid"})));
    assert!(!check(json!({"type": "com.example.order.paid"}), json!({"type": "comXexample.order.paid"})));
    // Scalars compare as text; a missing attribute never matches.
    assert!(check(json!({"priority": "5"}), json!({"priority": 5})));
    assert!(check(json!({"priority": 5}), json!({"priority": 5})));
    assert!(!check(json!({"priority": 5}), json!({"priority": "5"})));
    assert!(!check(json!({"subject": "x"}), json!({})));
}

#[test]
fn patterns_match_the_whole_text() {
    assert!(check(json!({"type": "com\\.example\\.order\\..*"}), json!({})));
    assert!(check(json!({"type": "com.example.(order|invoice).paid"}), json!({})));
    assert!(!check(json!({"type": "order.*"}), json!({})), "anchored at the start");
    assert!(!check(json!({"type": "com.example.order"}), json!({})), "no prefix match without a pattern");
    assert!(!check(json!({"type": "com.example.(order"}), json!({})), "an invalid pattern matches nothing");
    assert!(check(json!({"source": "https://[a-z]+\\.example\\.com"}), json!({})));
}

#[test]
fn expressions_see_the_attribute_and_the_event() {
    assert!(check(json!({"data": "${ .amount > 100 }"}), json!({"data": {"amount": 150}})));
    assert!(!check(json!({"data": "${ .amount > 100 }"}), json!({"data": {"amount": 50}})));
    assert!(check(json!({"data": "${ $event.type | endswith(\".paid\") }"}), json!({"data": {}})));
    // A failing expression does not match; nor does a missing attribute.
    assert!(!check(json!({"data": "${ .amount + \"x\" }"}), json!({"data": {"amount": 1}})));
    assert!(!check(json!({"data": "${ true }"}), json!({})));
}

#[test]
fn objects_match_partially_and_arrays_exactly() {
    let data = json!({"data": {"status": "approved", "by": "ada", "tags": ["a", "b"]}});
    assert!(check(json!({"data": {"status": "approved"}}), data.clone()));
    assert!(check(json!({"data": {"status": "appro.*", "by": "${ . == \"ada\" }"}}), data.clone()));
    assert!(!check(json!({"data": {"status": "denied"}}), data.clone()));
    assert!(check(json!({"data": {"tags": ["a", "b"]}}), data.clone()));
    assert!(!check(json!({"data": {"tags": ["a"]}}), data.clone()));
    assert!(!check(json!({"data": {"missing": null}}), data));
}

#[test]
fn an_empty_filter_matches_every_event() {
    assert!(check(json!({}), json!({})));
    let subscription = subscription(vec![filter(json!({}))]);
    assert_eq!(subscription.types, None);
}

#[test]
fn types_index_literal_types_of_open_filters() {
    let mut two =
        subscription(vec![filter(json!({"type": "b"})), filter(json!({"type": "a"})), filter(json!({"type": "a"}))]);
    assert_eq!(two.types, Some(vec!["a".to_owned(), "b".to_owned()]));
    two.filters[0].satisfied = true;
    two.refresh_types();
    assert_eq!(two.types, Some(vec!["a".to_owned()]));
    assert_eq!(subscription(vec![filter(json!({"type": "a.*"}))]).types, None);
    assert_eq!(subscription(vec![filter(json!({"type": "${ true }"}))]).types, None);
    assert_eq!(subscription(vec![filter(json!({"source": "x"}))]).types, None);
}

#[test]
fn satisfied_filters_match_nothing() {
    let mut subscription = subscription(vec![filter(json!({"type": "com.example.order.paid"}))]);
    subscription.filters[0].satisfied = true;
    assert!(!matches(&subscription, &event(json!({})), NOW).unwrap());
}

#[test]
fn correlation_with_expect_and_established_values() {
    let mut keyed = filter(json!({"type": "com.example.order.paid"}));
    keyed.correlate.insert("order".into(), CorrelationKey { from: ".data.orderId".into(), expect: None });
    let mut subscription = subscription(vec![keyed]);
    let order = |id: Value| event(json!({"data": {"orderId": id}}));
    // Nothing established yet: any value, but not a missing one.
    assert!(matches(&subscription, &order(json!("o-1")), NOW).unwrap());
    assert!(!matches(&subscription, &event(json!({"data": {}})), NOW).unwrap());
    let matched = first_match(&subscription, &order(json!("o-1")), NOW).unwrap().unwrap();
    assert_eq!(matched.correlation.get("order"), Some(&json!("o-1")));
    // Established: only that value.
    subscription.correlation.insert("order".into(), json!("o-1"));
    assert!(matches(&subscription, &order(json!("o-1")), NOW).unwrap());
    assert!(!matches(&subscription, &order(json!("o-2")), NOW).unwrap());
    // An explicit expect wins over the established value; scalars compare as text.
    subscription.filters[0].correlate.get_mut("order").unwrap().expect = Some(json!(42));
    assert!(matches(&subscription, &order(json!("42")), NOW).unwrap());
    assert!(!matches(&subscription, &order(json!("o-1")), NOW).unwrap());
    assert_eq!(subscription.expected_correlation(0).get("order"), Some(&json!(42)));
}

#[test]
fn until_filters_come_first() {
    let consume = filter(json!({}));
    let mut until = filter(json!({"type": "com.example.order.paid"}));
    until.role = FilterRole::Until;
    let subscription = subscription(vec![consume, until]);
    let matched = first_match(&subscription, &event(json!({})), NOW).unwrap().unwrap();
    assert_eq!(matched.filter, 1);
    let other = event(json!({"type": "other"}));
    assert_eq!(first_match(&subscription, &other, NOW).unwrap().unwrap().filter, 0);
}

#[test]
fn arbitrary_events_never_panic() {
    let mut keyed = filter(json!({"data": "${ .a.b.c > 1 }", "type": ".*", "x": {"y": ["z"]}}));
    keyed.correlate.insert("k".into(), CorrelationKey { from: ".data | keys".into(), expect: None });
    let subscription = subscription(vec![keyed]);
    let deep = (0..1_500).fold(json!(1), |value, _| Value::Array(vec![value]));
    for event in [
        json!(null),
        json!(42),
        json!("text"),
        json!([1, 2]),
        json!({}),
        json!({"type": 1, "data": "x", "x": {"y": "z"}}),
        json!({"type": "t", "data": {"a": {"b": {"c": null}}}, "x": {"y": ["z"]}}),
    ] {
        assert!(!matches(&subscription, &event, NOW).unwrap());
    }
    // (`json!` would serialize `deep` recursively.)
    let mut nested = json!({"type": "t", "x": {"y": ["z"]}});
    nested.as_object_mut().unwrap().insert("data".into(), deep);
    assert!(!matches(&subscription, &nested, NOW).unwrap());
}

#[test]
fn a_filter_expression_that_does_not_compile_is_an_error() {
    let subscription = subscription(vec![filter(json!({"data": "${ .a | }"}))]);
    assert!(matches!(matches(&subscription, &event(json!({"data": {}})), NOW), Err(MatchError::Expression(_))));
    // Run arguments are not available to filters.
    let subscription = super::tests::subscription(vec![filter(json!({"data": "${ $input.a }"}))]);
    assert!(matches(&subscription, &event(json!({"data": {}})), NOW).is_err());
}

#[test]
fn subscriptions_round_trip_through_json() {
    let mut keyed = filter(json!({"type": "t", "data": "${ .ok }"}));
    keyed.correlate.insert("k".into(), CorrelationKey { from: ".subject".into(), expect: Some(json!("s")) });
    let mut subscription = subscription(vec![keyed]);
    subscription.correlation.insert("k".into(), json!("s"));
    let text = serde_json::to_string(&subscription).unwrap();
    assert_eq!(serde_json::from_str::<Subscription>(&text).unwrap(), subscription);
}

#[test]
fn valid_cloud_events_pass() {
    assert_eq!(validate_cloud_event(&event(json!({"data": {"a": 1}, "time": "2024-01-01T00:00:00Z"}))), Ok(()));
    assert_eq!(validate_cloud_event(&event(json!({"data_base64": "aGVsbG8=", "roomid": 7, "urgent": true}))), Ok(()));
}

#[test]
fn every_missing_required_attribute_is_listed() {
    assert_eq!(
        validate_cloud_event(&json!({"data": 1})),
        Err(vec![
            "specversion: required".to_owned(),
            "id: required".to_owned(),
            "source: required".to_owned(),
            "type: required".to_owned(),
        ])
    );
    assert_eq!(validate_cloud_event(&json!([])), Err(vec!["the event must be a JSON object".to_owned()]));
}

#[test]
fn invalid_attributes_are_listed() {
    let problems = validate_cloud_event(&json!({
        "specversion": "0.3",
        "id": "",
        "source": 5,
        "type": "t",
        "time": "yesterday",
        "subject": 1,
        "data": 1,
        "data_base64": "!!",
        "Bad-Name": "x",
        "nested": {"a": 1},
    }))
    .unwrap_err();
    assert_eq!(
        problems,
        [
            "specversion: must be \"1.0\"",
            "id: must be a non-empty string",
            "source: must be a non-empty string",
            "time: must be an RFC 3339 timestamp",
            "subject: must be a string",
            "data_base64: not allowed together with data",
            "Bad-Name: attribute names must be lowercase ASCII letters and digits",
            "nested: an attribute value must be a string, number or boolean",
        ]
    );
}

#[test]
fn event_keys_are_source_and_id() {
    assert_eq!(event_key(&event(json!({}))), Some(("https://shop.example.com".to_owned(), "e1".to_owned())));
    assert_eq!(event_key(&json!({"id": "x"})), None);
}

#[test]
fn binary_mode_events_take_attributes_from_headers() {
    let headers = |content_type: &str| {
        vec![
            ("CE-SpecVersion".to_owned(), "1.0".to_owned()),
            ("ce-id".to_owned(), "b1".to_owned()),
            ("ce-source".to_owned(), "/tests".to_owned()),
            ("ce-type".to_owned(), "com.example.t".to_owned()),
            ("ce-subject".to_owned(), "caf%C3%A9%2".to_owned()),
            ("Content-Type".to_owned(), content_type.to_owned()),
        ]
    };
    let event = binary_mode_event(&headers("application/json; charset=utf-8"), br#"{"a":1}"#).unwrap();
    assert_eq!(
        event,
        json!({
            "specversion": "1.0", "id": "b1", "source": "/tests", "type": "com.example.t", "subject": "café%2",
            "datacontenttype": "application/json; charset=utf-8", "data": {"a": 1}
        })
    );
    assert_eq!(binary_mode_event(&headers("text/plain"), b"hi").unwrap()["data"], json!("hi"));
    assert_eq!(
        binary_mode_event(&headers("application/octet-stream"), &[0xff, 0]).unwrap()["data_base64"],
        json!("/wA=")
    );
    assert!(binary_mode_event(&headers("application/cloudevents+json"), b"{").is_err());
    let missing = binary_mode_event(&[("ce-id".to_owned(), "x".to_owned())], b"").unwrap_err();
    assert_eq!(missing, ["specversion: required", "source: required", "type: required"]);
}

#[test]
fn a_filter_matches_on_its_own_and_correlation_values_group_as_text() {
    let mut paid = filter(json!({"type": "com.example.order.paid"}));
    paid.correlate.insert("order".into(), CorrelationKey { from: ".data.order".into(), expect: None });
    let mut satisfied = paid.clone();
    satisfied.satisfied = true;
    let subscription = subscription(vec![satisfied, paid]);
    let order = |value: Value| event(json!({"data": {"order": value}}));
    // A satisfied filter still answers `match_filter`: schedules keep their own state.
    let values = match_filter(&subscription, 0, &order(json!(42)), NOW).unwrap().expect("a match");
    assert_eq!(values, BTreeMap::from([("order".to_owned(), json!(42))]));
    assert_eq!(correlation_group(&values), correlation_group(&BTreeMap::from([("order".to_owned(), json!("42"))])));
    assert_ne!(correlation_group(&values), correlation_group(&BTreeMap::from([("order".to_owned(), json!(43))])));
    assert_eq!(correlation_group(&BTreeMap::new()), "");
    // A null `from`, another type, or no such filter: no match.
    assert_eq!(match_filter(&subscription, 1, &order(Value::Null), NOW).unwrap(), None);
    assert_eq!(
        match_filter(&subscription, 1, &event(json!({"type": "other", "data": {"order": 1}})), NOW).unwrap(),
        None
    );
    assert_eq!(match_filter(&subscription, 2, &order(json!(1)), NOW).unwrap(), None);
}
