//! Loading a `.feature` file into runnable scenarios: background steps prepended, rules
//! flattened, scenario outlines expanded, docstrings stripped of their content type and dedented.

/// One scenario, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub steps: Vec<StepText>,
}

/// One step as written.
#[derive(Debug, Clone, PartialEq)]
pub struct StepText {
    /// `Given`, `When`, `Then`, `And`, `But` or `*`.
    pub keyword: String,
    /// The text after the keyword.
    pub text: String,
    /// The docstring's content, without its content type and dedented.
    pub docstring: Option<String>,
}

impl std::fmt::Display for StepText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.keyword.trim(), self.text)
    }
}

/// Parses a feature file's text into its scenarios, in file order.
pub fn load(text: &str) -> Result<Vec<Scenario>, String> {
    let feature = gherkin::Feature::parse(text, gherkin::GherkinEnv::default()).map_err(|err| err.to_string())?;
    let mut scenarios = Vec::new();
    collect(&[feature.background.as_ref()], &feature.scenarios, &mut scenarios);
    for rule in &feature.rules {
        collect(&[feature.background.as_ref(), rule.background.as_ref()], &rule.scenarios, &mut scenarios);
    }
    Ok(scenarios)
}

fn collect(backgrounds: &[Option<&gherkin::Background>], scenarios: &[gherkin::Scenario], out: &mut Vec<Scenario>) {
    for scenario in scenarios {
        let mut steps: Vec<StepText> =
            backgrounds.iter().flatten().flat_map(|background| &background.steps).map(step_text).collect();
        steps.extend(scenario.steps.iter().map(step_text));
        let rows: Vec<(&[String], &[String])> = scenario
            .examples
            .iter()
            .filter_map(|examples| examples.table.as_ref())
            .filter_map(|table| table.rows.split_first())
            .flat_map(|(header, rows)| rows.iter().map(move |row| (header.as_slice(), row.as_slice())))
            .collect();
        if rows.is_empty() {
            out.push(Scenario { name: scenario.name.clone(), steps });
            continue;
        }
        for (row_idx, (header, row)) in rows.into_iter().enumerate() {
            let substitute = |text: &str| {
                header
                    .iter()
                    .zip(row)
                    .fold(text.to_owned(), |text, (name, value)| text.replace(&format!("<{name}>"), value))
            };
            let steps = steps
                .iter()
                .map(|step| StepText {
                    keyword: step.keyword.clone(),
                    text: substitute(&step.text),
                    docstring: step.docstring.as_deref().map(substitute),
                })
                .collect();
            out.push(Scenario { name: format!("{} (example {})", scenario.name, row_idx + 1), steps });
        }
    }
}

fn step_text(step: &gherkin::Step) -> StepText {
    StepText {
        keyword: step.keyword.trim().to_owned(),
        text: step.value.trim().to_owned(),
        docstring: step.docstring.as_deref().map(docstring_content),
    }
}

/// The parser keeps the text between the delimiters as is: a first line holding the content
/// type (`"""yaml`) and the file's indentation (it dedents only when the first line is empty).
fn docstring_content(raw: &str) -> String {
    let body = match raw.split_once('\n') {
        Some((_content_type, rest)) => rest,
        None => "",
    };
    let lines: Vec<&str> = body.lines().collect();
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut text = String::new();
    for line in &lines {
        text.push_str(line.get(indent..).unwrap_or("").trim_end());
        text.push('\n');
    }
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docstrings_lose_their_content_type_and_indentation() {
        let text = "Feature: F\n\n  Scenario: S\n    Given a workflow with definition:\n    \"\"\"yaml\n    a:\n      b: 1\n    \"\"\"\n    And given the workflow input is:\n      \"\"\"\n      x: 2\n      \"\"\"\n    When the workflow is executed";
        let scenarios = load(text).unwrap();
        assert_eq!(scenarios.len(), 1);
        let steps = &scenarios[0].steps;
        assert_eq!(steps[0].to_string(), "Given a workflow with definition:");
        assert_eq!(steps[0].docstring.as_deref(), Some("a:\n  b: 1\n"));
        assert_eq!(steps[1].text, "given the workflow input is:");
        assert_eq!(steps[1].docstring.as_deref(), Some("x: 2\n"));
        assert_eq!(steps[2].docstring, None);
    }

    #[test]
    fn backgrounds_are_prepended_and_outlines_expanded() {
        let text = "Feature: F\n  Background:\n    Given a workflow with definition:\n    \"\"\"\n    x\n    \"\"\"\n\n  Scenario Outline: O\n    Then <task> should run first\n\n    Examples:\n      | task |\n      | a    |\n      | b    |\n";
        let scenarios = load(text).unwrap();
        let names: Vec<_> = scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["O (example 1)", "O (example 2)"]);
        assert_eq!(scenarios[1].steps.len(), 2);
        assert_eq!(scenarios[1].steps[1].text, "b should run first");
    }
}
