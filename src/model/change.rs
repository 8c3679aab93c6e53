//! The change a resource type plans for one address: the data `resources` produce and
//! `plan`, `apply` and `view` consume (below both, so that neither imports the other).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
    Execute,
    /// Drop from state only (the object is already gone, or is not a cloud object).
    Forget,
    /// Record an object an interrupted apply created (found by runform's markers).
    Adopt,
    /// Only Terraform-side arguments changed (e.g. deletion_protection): state write only.
    StateOnly,
}

impl Action {
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp)
    }

    /// The action as apply's progress says it: "creating", "destroying", ...
    pub fn progressive(self) -> &'static str {
        match self {
            Action::Create => "creating",
            Action::Update => "updating",
            Action::Replace => "replacing",
            Action::Delete => "destroying",
            Action::Execute => "executing",
            Action::Forget => "forgetting",
            Action::Adopt => "adopting",
            Action::StateOnly => "updating state",
            Action::NoOp => "refreshing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// The new value is known only after apply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    /// The old or new value is sensitive: shown as `(sensitive value)`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

impl AttrChange {
    pub fn new(path: impl Into<String>, old: Option<Value>, new: Option<Value>) -> AttrChange {
        AttrChange {
            path: path.into(),
            old,
            new,
            unknown: false,
            sensitive: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub addr: String,
    pub ty: String,
    pub action: Action,
    pub reason: Option<String>,
    pub attrs: Vec<AttrChange>,
    pub prior_id: Option<String>,
    pub new_id: Option<String>,
    /// Desired Terraform values.
    pub after: Option<Value>,
    pub before: Option<Value>,
    /// The request body to send (wire JSON).
    pub body: Option<Value>,
    #[serde(default)]
    pub extra: Value,
    #[serde(default)]
    pub adopt: bool,
    pub live_etag: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Set when this change imports an existing object (`import` block or `runform import`).
    #[serde(default)]
    pub import_id: Option<String>,
    /// Paths in `after` (internal shape) whose values are known only after apply. A change
    /// with any is planned again during apply, once those values are known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    /// Paths in `after` and `before` whose values are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    /// Attributes the provider computes that are unset in `after`: known after apply (for
    /// display and plan JSON only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computed: Vec<String>,
    /// The resource's `timeouts {}`: operation (`create`, `update`, `delete`) → seconds.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub timeouts: std::collections::BTreeMap<String, u64>,
}

/// Whether internal path `path` is `p` or inside it (`labels.team` is inside `labels`;
/// `labelsx` is not).
pub fn path_within(path: &str, p: &str) -> bool {
    path == p
        || path
            .strip_prefix(p)
            .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
}

/// Whether `path` is one of `paths` or inside one of them.
pub fn path_in(path: &str, paths: &[String]) -> bool {
    paths.iter().any(|p| path_within(path, p))
}

/// The reason given to objects a `removed { lifecycle { destroy = false } }` block forgets.
pub const REMOVED_BLOCK: &str = "a removed block for";

impl Change {
    pub fn is_removed_block_forget(&self) -> bool {
        self.action == Action::Forget
            && self
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with(REMOVED_BLOCK))
    }

    pub fn new(addr: &str, ty: &str) -> Change {
        Change {
            addr: addr.into(),
            ty: ty.into(),
            action: Action::NoOp,
            reason: None,
            attrs: vec![],
            prior_id: None,
            new_id: None,
            after: None,
            before: None,
            body: None,
            extra: Value::Null,
            adopt: false,
            live_etag: None,
            depends_on: vec![],
            import_id: None,
            unknown: vec![],
            sensitive: vec![],
            computed: vec![],
            timeouts: Default::default(),
        }
    }
}
