//! Flow checks: unique names in a list, `then` targets in the same list, one default per switch.

use indexmap::IndexMap;

use crate::types::{Extension, FlowDirective, SwitchTask, TaskList};
use crate::validate::Checker;
use crate::validate::pointer::Pointer;

impl Checker<'_> {
    /// Task names are unique within one task list.
    pub(super) fn unique_task_names(&mut self, list: &TaskList, path: &Pointer) {
        let names: Vec<&str> = list.iter().map(|item| item.name.as_str()).collect();
        self.unique_names("task", &names, path);
    }

    /// Extension names are unique across `use.extensions`.
    pub(super) fn unique_extension_names(&mut self, extensions: &[IndexMap<String, Extension>], path: &Pointer) {
        let names: Vec<&str> = extensions.iter().flat_map(|item| item.keys()).map(String::as_str).collect();
        self.unique_names("extension", &names, path);
    }

    /// `names[i]` is the single key of item `i` of the list at `path`.
    fn unique_names(&mut self, what: &str, names: &[&str], path: &Pointer) {
        for (index, name) in names.iter().enumerate() {
            if let Some(first) = names[..index].iter().position(|earlier| earlier == name) {
                let first_path = path.join(first).join(name);
                self.report(
                    &path.join(index).join(name),
                    format!("duplicate {what} name \"{name}\": already used at {}", first_path.as_str()),
                );
            }
        }
    }

    /// A flow directive names `continue`, `exit`, `end` or a task of the same list.
    pub(super) fn flow_target(&mut self, directive: &FlowDirective, path: &Pointer, siblings: &TaskList) {
        let FlowDirective::Goto(target) = directive else {
            return;
        };
        if siblings.iter().any(|item| item.name == *target) {
            return;
        }
        let mut names: Vec<String> = Vec::new();
        for item in siblings.iter() {
            let name = format!("\"{}\"", item.name);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let expected = match names.as_slice() {
            [] => "continue, exit or end".to_owned(),
            names => format!("continue, exit, end or a task of the same list ({})", names.join(", ")),
        };
        self.report(path, format!("unknown flow target \"{target}\": expected {expected}"));
    }

    /// Case targets resolve like the task's own `then`; at most one case omits `when`.
    pub(super) fn switch(&mut self, task: &SwitchTask, path: &Pointer, siblings: &TaskList) {
        let mut default_case: Option<&str> = None;
        for (index, item) in task.switch.iter().enumerate() {
            for (name, case) in item {
                let case_path = path.join("switch").join(index).join(name);
                self.flow_target(&case.then, &case_path.join("then"), siblings);
                if case.when.is_some() {
                    continue;
                }
                match default_case {
                    Some(first) => self.report(
                        &case_path,
                        format!(
                            "a switch has at most one default case (without when); \"{first}\" is already the default"
                        ),
                    ),
                    None => default_case = Some(name),
                }
            }
        }
    }
}
