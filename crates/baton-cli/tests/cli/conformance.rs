//! `baton conformance` on the CTK copy committed in `ctk/features`.

use std::path::PathBuf;

use assert_cmd::Command;

fn ctk_features() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ctk/features")
}

#[test]
fn every_ctk_scenario_passes() {
    let output = Command::cargo_bin("baton").unwrap().arg("conformance").arg(ctk_features()).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    let failures: Vec<&&str> = lines.iter().filter(|line| line.starts_with("FAIL ")).collect();
    assert_eq!(lines.last(), Some(&"21 passed, 0 failed"), "failures: {failures:#?}\nstderr:\n{stderr}");
    assert_eq!(lines.iter().filter(|line| line.starts_with("PASS ")).count(), 21);
    assert!(output.status.success(), "exit status {:?}", output.status);
}

#[test]
fn failing_and_unknown_steps_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let feature = r#"Feature: Broken
  Scenario: Wrong output
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.3'
      namespace: default
      name: wrong-output
      version: '1.0.0'
    do:
      - setShape:
          set:
            shape: circle
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    shape: square
    """

  Scenario: Unknown step
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.3'
      namespace: default
      name: unknown-step
      version: '1.0.0'
    do:
      - setShape:
          set:
            shape: circle
    """
    When the workflow is executed
    Then setShape should run sideways
"#;
    std::fs::write(dir.path().join("broken.feature"), feature).unwrap();
    let output = Command::cargo_bin("baton").unwrap().arg("conformance").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let expected = "\
FAIL broken.feature: Wrong output — step \"Then the workflow should complete with output:\" failed: expected output {\"shape\":\"square\"}, got {\"shape\":\"circle\"}
FAIL broken.feature: Unknown step — unknown step \"Then setShape should run sideways\"
0 passed, 2 failed
";
    assert_eq!(stdout, expected);
    assert_eq!(output.status.code(), Some(1));
}
