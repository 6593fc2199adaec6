//! References by name into `use`: errors, retries, timeouts, authentications, secrets and
//! functions.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::types::{AuthenticationPolicy, Endpoint, ErrorRef, Map, TimeoutRef};
use crate::validate::Checker;
use crate::validate::pointer::Pointer;

/// Call names that are built-in protocols rather than functions.
const BUILT_IN_CALLS: [&str; 6] = ["http", "openapi", "grpc", "asyncapi", "a2a", "mcp"];

impl Checker<'_> {
    /// `call: <name>` names a `use.functions` entry, unless it is a protocol, a catalog
    /// reference (`name:version@catalog`) or a URL.
    pub(super) fn function_reference(&mut self, call: &str, path: &Pointer) {
        let external = call.contains(':') || call.contains('@');
        if BUILT_IN_CALLS.contains(&call) || external || self.uses.functions.contains_key(call) {
            return;
        }
        let message = unresolved("function", call, "use.functions", &self.uses.functions);
        self.report(path, message);
    }

    pub(super) fn error_reference(&mut self, error: &ErrorRef, path: &Pointer) {
        let ErrorRef::Named(name) = error else { return };
        if !self.uses.errors.contains_key(name) {
            let message = unresolved("error", name, "use.errors", &self.uses.errors);
            self.report(path, message);
        }
    }

    pub(super) fn retry_reference(&mut self, name: &str, path: &Pointer) {
        if !self.uses.retries.contains_key(name) {
            let message = unresolved("retry policy", name, "use.retries", &self.uses.retries);
            self.report(path, message);
        }
    }

    /// An inline timeout has a valid duration; a named one exists in `use.timeouts`.
    pub(super) fn timeout(&mut self, timeout: &TimeoutRef, path: &Pointer) {
        match timeout {
            TimeoutRef::Inline(timeout) => self.duration(&timeout.after, &path.join("after")),
            TimeoutRef::Named(name) if !self.uses.timeouts.contains_key(name) => {
                let message = unresolved("timeout", name, "use.timeouts", &self.uses.timeouts);
                self.report(path, message);
            }
            TimeoutRef::Named(_) => {}
        }
    }

    pub(super) fn endpoint(&mut self, endpoint: &Endpoint, path: &Pointer) {
        if let Some(policy) = endpoint.authentication() {
            self.authentication(policy, &path.join("authentication"));
        }
    }

    /// `{use: name}` names a `use.authentications` entry; a scheme configured as
    /// `{use: secret}` (e.g. `basic: {use: mySecret}`) names a secret declared in `use.secrets`.
    pub(super) fn authentication(&mut self, policy: &AuthenticationPolicy, path: &Pointer) {
        if let Some(name) = &policy.use_
            && !self.uses.authentications.contains_key(name)
        {
            let message = unresolved("authentication policy", name, "use.authentications", &self.uses.authentications);
            self.report(&path.join("use"), message);
        }
        let schemes = [
            ("basic", &policy.basic),
            ("bearer", &policy.bearer),
            ("digest", &policy.digest),
            ("oauth2", &policy.oauth2),
            ("oidc", &policy.oidc),
        ];
        for (scheme, config) in schemes {
            let secret = config.as_ref().and_then(|config| config.get("use")).and_then(Value::as_str);
            if let Some(secret) = secret
                && !self.uses.secrets.iter().any(|declared| declared == secret)
            {
                let declared: Vec<String> = self.uses.secrets.iter().map(|name| format!("\"{name}\"")).collect();
                let hint = if declared.is_empty() {
                    "none declared".to_owned()
                } else {
                    format!("declared: {}", declared.join(", "))
                };
                let message = format!("unknown secret \"{secret}\": not declared in use.secrets ({hint})");
                self.report(&path.join(scheme).join("use"), message);
            }
        }
    }

    /// Authentication policies inside untyped call arguments (`grpc`, `asyncapi`, `mcp`): any
    /// object under an `authentication` key.
    pub(super) fn nested_authentications(&mut self, arguments: &Map, path: &Pointer) {
        for (key, value) in arguments {
            self.nested_value_authentications(key, value, &path.join(key));
        }
    }

    fn nested_value_authentications(&mut self, key: &str, value: &Value, path: &Pointer) {
        if key == "authentication"
            && value.is_object()
            && let Ok(policy) = AuthenticationPolicy::deserialize(value)
        {
            self.authentication(&policy, path);
            return;
        }
        match value {
            Value::Object(object) => {
                for (key, value) in object {
                    self.nested_value_authentications(key, value, &path.join(key));
                }
            }
            Value::Array(items) => {
                for (index, value) in items.iter().enumerate() {
                    self.nested_value_authentications("", value, &path.join(index));
                }
            }
            _ => {}
        }
    }
}

/// `unknown <what> "name": not defined in <section> (a, b)`.
fn unresolved<T>(what: &str, name: &str, section: &str, defined: &IndexMap<String, T>) -> String {
    let names: Vec<String> = defined.keys().map(|name| format!("\"{name}\"")).collect();
    let hint = if names.is_empty() { "none defined".to_owned() } else { format!("defined: {}", names.join(", ")) };
    format!("unknown {what} \"{name}\": not defined in {section} ({hint})")
}
