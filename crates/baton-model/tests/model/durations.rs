//! The 100-year bound on durations (issue 13 item 5): exactly 100 years (36,525 days) is a valid
//! duration in every position and in both forms; one millisecond more is refused with its path.

/// A definition with `duration` (a YAML flow value) in every position a duration can take.
fn definition(duration: &str) -> String {
    format!(
        r#"
document: {{ dsl: '1.0.3', namespace: test, name: durations, version: '0.1.0' }}
schedule:
  every: {duration}
timeout:
  after: {duration}
do:
  - pause:
      wait: {duration}
  - guarded:
      timeout:
        after: {duration}
      try:
        - step:
            set: {{ a: 1 }}
      catch:
        retry:
          delay: {duration}
          backoff: {{ exponential: {{}} }}
          limit:
            duration: {duration}
"#
    )
}

const PATHS: [&str; 6] = [
    "/schedule/every",
    "/timeout/after",
    "/do/0/pause/wait",
    "/do/1/guarded/timeout/after",
    "/do/1/guarded/catch/retry/delay",
    "/do/1/guarded/catch/retry/limit/duration",
];

fn refused_paths(duration: &str) -> Vec<String> {
    match baton_model::parse_workflow(&definition(duration)) {
        Ok(_) => Vec::new(),
        Err(err) => err.diagnostics().iter().map(|diagnostic| diagnostic.to_string()).collect(),
    }
}

// See: #13
#[test]
fn issue_13_exactly_100_years_is_accepted_in_both_forms() {
    for duration in [
        "{ days: 36525 }",
        "P36525D",
        "PT876600H",
        "{ days: 36524, hours: 23, minutes: 59, seconds: 59, milliseconds: 1000 }",
    ] {
        assert_eq!(refused_paths(duration), Vec::<String>::new(), "{duration} is exactly 100 years");
    }
}

// See: #13
#[test]
fn issue_13_beyond_100_years_is_refused_with_each_path() {
    let beyond = [
        "{ days: 36525, milliseconds: 1 }",
        "{ days: 36524, hours: 24, milliseconds: 1 }",
        "{ days: 106751991167 }",
        "{ hours: 18446744073709551615 }",
        "{ days: 18446744073709551615, milliseconds: 18446744073709551615 }",
        "P36525DT0.001S",
        "P106751991167D",
        "PT99999999999999999999S",
    ];
    for duration in beyond {
        let refused = refused_paths(duration);
        for path in PATHS {
            let expected = format!("{path}: duration exceeds 100 years (the limit is 3155760000000 ms)");
            assert!(refused.contains(&expected), "{duration}: expected {expected:?} among {refused:#?}");
        }
    }
}
