//! `baton run`, `validate` and `runs` through the real binary and a real SQLite file.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{baton, examples, runs_show};

fn run(args: &[&str], db: &std::path::Path) -> std::process::Output {
    Command::new(baton()).arg("run").args(args).arg("--db").arg(db).output().expect("run baton")
}

#[test]
fn completed_run_prints_its_output_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let example = examples().join("greeting.yaml");
    let out = run(&[example.to_str().unwrap(), "--input", r#"{"name": "Ada"}"#, "--run-id", "r1"], &db);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output["greeting"], "HELLO, ADA!");

    // Asking again for a finished run prints its result without running it again.
    let again = run(&[example.to_str().unwrap(), "--run-id", "r1"], &db);
    assert!(again.status.success());
    assert_eq!(serde_json::from_slice::<Value>(&again.stdout).unwrap(), output);
    let shown = runs_show(&db, "r1");
    assert_eq!(shown["status"], "completed");
    let started = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "io.serverlessworkflow.workflow.started.v1")
        .count();
    assert_eq!(started, 1);

    let list = Command::new(baton()).args(["runs", "list", "--db"]).arg(&db).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("r1\tcompleted\texamples/greeting:1.0.0"));
}

#[test]
fn faulted_run_prints_problem_details_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let example = examples().join("greeting.yaml");
    let out = run(&[example.to_str().unwrap(), "--input", "{}"], &db);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problem: Value = serde_json::from_str(&stderr[stderr.find('{').unwrap()..]).unwrap();
    assert_eq!(problem["type"], "https://serverlessworkflow.io/spec/1.0.0/errors/validation");
    assert_eq!(problem["status"], 400);
}

#[test]
fn invalid_definition_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "document: {dsl: '1.0.3', namespace: t, name: bad, version: '1.0.0'}\ndo:\n  - a:\n      set: {x: '${ .x | }'}\n      then: nowhere\n  - a:\n      wait: PT1S\n",
    )
    .unwrap();
    let out = run(&[file.to_str().unwrap()], &dir.path().join("baton.db"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/do/0/a/then"), "{stderr}");
    assert!(stderr.contains("/do/1/a"), "{stderr}");

    let validate =
        Command::new(baton()).arg("validate").arg(&file).arg(examples().join("greeting.yaml")).output().unwrap();
    assert_eq!(validate.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&validate.stdout).contains("greeting.yaml: ok"));
    assert!(String::from_utf8_lossy(&validate.stderr).contains("bad.yaml:/do/0/a/then"));
}

#[test]
fn malformed_input_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let example = examples().join("greeting.yaml");
    let out = run(&[example.to_str().unwrap(), "--input", "{not json"], &dir.path().join("baton.db"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn subflows_resolve_from_the_workflows_folder() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::write(
        flows.join("double.yaml"),
        "document: {dsl: '1.0.3', namespace: lib, name: double, version: '1.2.0'}\ndo:\n  - twice:\n      set: {value: '${ .value * 2 }'}\n",
    )
    .unwrap();
    let parent = dir.path().join("parent.yaml");
    std::fs::write(
        &parent,
        "document: {dsl: '1.0.3', namespace: app, name: parent, version: '1.0.0'}\ndo:\n  - callDouble:\n      run:\n        workflow: {namespace: lib, name: double, version: latest, input: {value: '${ .n }'}}\n",
    )
    .unwrap();
    let out = Command::new(baton())
        .arg("run")
        .arg(&parent)
        .args(["--input", r#"{"n": 21}"#, "--workflows"])
        .arg(&flows)
        .arg("--db")
        .arg(dir.path().join("baton.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), json!({"value": 42}));
}

#[test]
fn a_second_process_on_the_same_database_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let slow = dir.path().join("slow.yaml");
    std::fs::write(
        &slow,
        "document: {dsl: '1.0.3', namespace: t, name: slow, version: '1.0.0'}\ndo:\n  - nap:\n      wait: PT30S\n",
    )
    .unwrap();
    let mut first = Command::new(baton()).arg("run").arg(&slow).arg("--db").arg(&db).spawn().unwrap();
    // Wait until the first process holds the database (its run exists).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let list = Command::new(baton()).args(["runs", "list", "--db"]).arg(&db).output().unwrap();
        if String::from_utf8_lossy(&list.stdout).contains("t/slow") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the first run never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let example = examples().join("greeting.yaml");
    let refused = run(&[example.to_str().unwrap(), "--input", r#"{"name": "Ada"}"#], &db);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds this database"), "{refused:?}");
    // kill -9: the next process takes the lease over at once (its holder is gone).
    first.kill().unwrap();
    first.wait().unwrap();
    let after = run(&[example.to_str().unwrap(), "--input", r#"{"name": "Ada"}"#], &db);
    assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));
}

#[test]
fn a_postgres_url_is_refused_where_only_sqlite_is_read() {
    let out = std::process::Command::new(crate::support::baton())
        .args(["runs", "list", "--db", "postgres://postgres@127.0.0.1:5432/test"])
        .env_remove("BATON_SERVER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("baton serve --db URL"), "{stderr}");
}
