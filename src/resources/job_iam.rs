//! `google_cloud_run_v2_job_iam_member`, `_binding` and `_policy`, with the provider's
//! semantics: a member is non-authoritative (it adds or removes one member of one role), a
//! binding is authoritative for one role, a policy for the whole policy. Every change is a
//! read-modify-write with the policy's etag, retried when someone else changed it meanwhile.
//! Static checks across resources (mixing kinds, two bindings for a role) are in
//! [`check_conflicts`]; the plan never lets two of them fight.
//!
//! The same code serves `google_project_iam_member`, `_binding` and `_policy` (Resource Manager
//! getIamPolicy/setIamPolicy on `projects/P`); a project `_binding` gets a plan warning that it
//! is authoritative for its role across the whole project, naming the members it removes.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::api::{Binding, Policy};
use crate::config::{Derive, Provider, ResourceConfig, Stack, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

pub const MEMBER: &str = "google_cloud_run_v2_job_iam_member";
pub const BINDING: &str = "google_cloud_run_v2_job_iam_binding";
pub const POLICY: &str = "google_cloud_run_v2_job_iam_policy";
pub const PROJECT_MEMBER: &str = "google_project_iam_member";
pub const PROJECT_BINDING: &str = "google_project_iam_binding";
pub const PROJECT_POLICY: &str = "google_project_iam_policy";
pub const SECRET_MEMBER: &str = "google_secret_manager_secret_iam_member";
pub const SECRET_BINDING: &str = "google_secret_manager_secret_iam_binding";
pub const SECRET_POLICY: &str = "google_secret_manager_secret_iam_policy";
pub const TYPES: &[&str] = &[
    MEMBER,
    BINDING,
    POLICY,
    PROJECT_MEMBER,
    PROJECT_BINDING,
    PROJECT_POLICY,
    SECRET_MEMBER,
    SECRET_BINDING,
    SECRET_POLICY,
];

/// What the IAM resource is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamOn {
    Job,
    Project,
    /// A Secret Manager secret (`secret_id`).
    Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    Member,
    Binding,
    Policy,
}

#[derive(Clone, Copy)]
pub struct JobIam(pub IamKind, pub IamOn);

pub static MEMBER_TYPE: JobIam = JobIam(IamKind::Member, IamOn::Job);
pub static BINDING_TYPE: JobIam = JobIam(IamKind::Binding, IamOn::Job);
pub static POLICY_TYPE: JobIam = JobIam(IamKind::Policy, IamOn::Job);
pub static PROJECT_MEMBER_TYPE: JobIam = JobIam(IamKind::Member, IamOn::Project);
pub static PROJECT_BINDING_TYPE: JobIam = JobIam(IamKind::Binding, IamOn::Project);
pub static PROJECT_POLICY_TYPE: JobIam = JobIam(IamKind::Policy, IamOn::Project);
pub static SECRET_MEMBER_TYPE: JobIam = JobIam(IamKind::Member, IamOn::Secret);
pub static SECRET_BINDING_TYPE: JobIam = JobIam(IamKind::Binding, IamOn::Secret);
pub static SECRET_POLICY_TYPE: JobIam = JobIam(IamKind::Policy, IamOn::Secret);

/// The IAM resource type of a type name.
pub fn iam_type(ty: &str) -> Option<&'static JobIam> {
    Some(match ty {
        MEMBER => &MEMBER_TYPE,
        BINDING => &BINDING_TYPE,
        POLICY => &POLICY_TYPE,
        PROJECT_MEMBER => &PROJECT_MEMBER_TYPE,
        PROJECT_BINDING => &PROJECT_BINDING_TYPE,
        PROJECT_POLICY => &PROJECT_POLICY_TYPE,
        SECRET_MEMBER => &SECRET_MEMBER_TYPE,
        SECRET_BINDING => &SECRET_BINDING_TYPE,
        SECRET_POLICY => &SECRET_POLICY_TYPE,
        _ => return None,
    })
}

/// The IAM resource (`projects/P/locations/L/jobs/J` or `projects/P`) of an IAM resource's
/// values.
/// The IAM resource (`projects/P/locations/L/jobs/J` or `projects/P`) a state id names: the
/// provider's `RESOURCE/ROLE/MEMBER` (`P/ROLE/MEMBER` for a project), or runform's earlier
/// space-separated form (which is also the provider's import format).
pub fn resource_of_id(id: &str) -> String {
    if let Some((first, _)) = id.split_once(' ') {
        return first.to_string();
    }
    let segs: Vec<&str> = id.split('/').collect();
    if segs.len() >= 6 && segs[0] == "projects" && segs[4] == "jobs" {
        segs[..6].join("/")
    } else if segs.len() >= 4 && segs[0] == "projects" && segs[2] == "secrets" {
        segs[..4].join("/")
    } else if segs.len() == 2 && segs[0] == "projects" {
        id.to_string()
    } else {
        format!("projects/{}", segs[0])
    }
}

/// An IAM id in the provider's format: `RESOURCE/ROLE/MEMBER`, with the project's id (not
/// `projects/P`) as a project's resource. Takes the import format
/// (`RESOURCE ROLE MEMBER`, space-separated) and runform's earlier ids too.
pub fn canonical_id(id: &str) -> String {
    if !id.contains(' ') {
        return id.to_string();
    }
    let mut parts: Vec<&str> = id.split(' ').filter(|p| !p.is_empty()).collect();
    if let Some(p) = parts[0]
        .strip_prefix("projects/")
        .filter(|p| !p.contains('/'))
    {
        parts[0] = p;
    }
    parts.join("/")
}

pub fn resource_of(on: IamOn, values: &Value) -> String {
    match on {
        IamOn::Job => job_of(values),
        IamOn::Project => format!("projects/{}", s(values, "project")),
        IamOn::Secret => secret_of(values),
    }
}

/// The secret's name: `secret_id` as given when it is one (`google_secret_manager_secret.x.id`),
/// else from the project.
pub fn secret_of(values: &Value) -> String {
    let id = s(values, "secret_id");
    if id.starts_with("projects/") {
        id.to_string()
    } else {
        format!("projects/{}/secrets/{id}", s(values, "project"))
    }
}

/// The google provider 7.x schemas of the job and project IAM types: the parent's
/// arguments, then the member, binding or policy ones (`X`: not implemented by runform yet).
const JOB_PARENT: &str = "
id          string C
name        string R FN tf
location    string O C FN tf
project     string O C FN tf
etag        string C V tf
";
const PROJECT_PARENT: &str = "
id          string C
project     string O C FN tf
etag        string C V tf
";
const SECRET_PARENT: &str = "
id          string C
secret_id   string R FN tf
project     string O C FN tf
etag        string C V tf
";
const MEMBER_TEXT: &str = "
role        string R FN tf
member      string R FN tf
condition   list{} O FN max=1 tf
condition.expression  string R FN
condition.title       string R FN
condition.description string O FN
";
const BINDING_TEXT: &str = "
role        string      R FN tf
members     set(string) R tf
condition   list{} O FN max=1 tf
condition.expression  string R FN
condition.title       string R FN
condition.description string O FN
";
const POLICY_TEXT: &str = "
policy_data string R tf
";

fn iam_schema(parent: &str, own: &str) -> Schema {
    Schema::parse(&format!("{parent}\n{own}"))
}

static MEMBER_SCHEMA: LazyLock<Schema> = LazyLock::new(|| iam_schema(JOB_PARENT, MEMBER_TEXT));
static BINDING_SCHEMA: LazyLock<Schema> = LazyLock::new(|| iam_schema(JOB_PARENT, BINDING_TEXT));
static POLICY_SCHEMA: LazyLock<Schema> = LazyLock::new(|| iam_schema(JOB_PARENT, POLICY_TEXT));
static PROJECT_MEMBER_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| iam_schema(PROJECT_PARENT, MEMBER_TEXT));
static PROJECT_BINDING_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| iam_schema(PROJECT_PARENT, BINDING_TEXT));
static PROJECT_POLICY_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| iam_schema(PROJECT_PARENT, POLICY_TEXT));
static SECRET_MEMBER_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| iam_schema(SECRET_PARENT, MEMBER_TEXT));
static SECRET_BINDING_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| iam_schema(SECRET_PARENT, BINDING_TEXT));
static SECRET_POLICY_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| iam_schema(SECRET_PARENT, POLICY_TEXT));

impl JobIam {
    fn type_name(&self) -> &'static str {
        match (self.0, self.1) {
            (IamKind::Member, IamOn::Job) => MEMBER,
            (IamKind::Binding, IamOn::Job) => BINDING,
            (IamKind::Policy, IamOn::Job) => POLICY,
            (IamKind::Member, IamOn::Project) => PROJECT_MEMBER,
            (IamKind::Binding, IamOn::Project) => PROJECT_BINDING,
            (IamKind::Policy, IamOn::Project) => PROJECT_POLICY,
            (IamKind::Member, IamOn::Secret) => SECRET_MEMBER,
            (IamKind::Binding, IamOn::Secret) => SECRET_BINDING,
            (IamKind::Policy, IamOn::Secret) => SECRET_POLICY,
        }
    }
    fn resource(&self, values: &Value) -> String {
        resource_of(self.1, values)
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The job's full name: `name` as given when it is one, else from project and location.
pub fn job_of(values: &Value) -> String {
    let name = s(values, "name");
    if name.starts_with("projects/") {
        name.to_string()
    } else {
        format!(
            "projects/{}/locations/{}/jobs/{}",
            s(values, "project"),
            s(values, "location"),
            name
        )
    }
}

fn members_of(values: &Value) -> BTreeSet<String> {
    values
        .get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `policy_data` (JSON text) as a policy with sorted roles and members.
fn parse_policy_data(values: &Value) -> Result<Policy, String> {
    let text = s(values, "policy_data");
    let p: Policy = serde_json::from_str(text)
        .map_err(|e| format!("policy_data is not an IAM policy in JSON ({e})"))?;
    Ok(normalized(&p))
}

/// An IAM condition in its wire form (`description` left out when empty), from the
/// configuration's `condition` block.
fn condition_of(values: &Value) -> Option<Value> {
    let c = values.get("condition").filter(|c| c.is_object())?;
    let mut m = serde_json::Map::new();
    for k in ["expression", "title", "description"] {
        if let Some(x) = c.get(k).and_then(Value::as_str).filter(|x| !x.is_empty()) {
            m.insert(k.into(), Value::String(x.into()));
        }
    }
    Some(Value::Object(m))
}

/// A condition compared as IAM compares them: its expression, title and description.
fn condition_key(c: Option<&Value>) -> Option<(String, String, String)> {
    c.map(|c| {
        let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        (f("expression"), f("title"), f("description"))
    })
}

/// Bindings only, roles and members sorted, empty bindings dropped (a conditional binding is
/// its own binding): what decides access.
fn normalized(p: &Policy) -> Policy {
    type Key = (String, Option<(String, String, String)>);
    let mut by_role: BTreeMap<Key, (Option<Value>, BTreeSet<String>)> = BTreeMap::new();
    for b in &p.bindings {
        by_role
            .entry((b.role.clone(), condition_key(b.condition.as_ref())))
            .or_insert_with(|| (b.condition.clone(), BTreeSet::new()))
            .1
            .extend(b.members.iter().cloned());
    }
    Policy {
        bindings: by_role
            .into_iter()
            .filter(|(_, (_, m))| !m.is_empty())
            .map(|((role, _), (condition, members))| Binding {
                role,
                members: members.into_iter().collect(),
                condition,
            })
            .collect(),
        ..Default::default()
    }
}

/// The members of a role's binding with this condition (or none).
fn role_members(p: &Policy, role: &str, cond: Option<&Value>) -> BTreeSet<String> {
    let key = condition_key(cond);
    p.bindings
        .iter()
        .filter(|b| b.role == role && condition_key(b.condition.as_ref()) == key)
        .flat_map(|b| b.members.iter().cloned())
        .collect()
}

/// Sets the members of a role's binding with this condition (or none); a policy with any
/// condition is written as version 3, as IAM requires.
fn set_role(p: &mut Policy, role: &str, cond: Option<&Value>, members: &BTreeSet<String>) {
    let key = condition_key(cond);
    p.bindings
        .retain(|b| b.role != role || condition_key(b.condition.as_ref()) != key);
    if cond.is_some() {
        p.version = 3;
    }
    if !members.is_empty() {
        p.bindings.push(Binding {
            role: role.to_string(),
            members: members.iter().cloned().collect(),
            condition: cond.cloned(),
        });
    }
}

impl TypeInfo for JobIam {
    fn schema(&self) -> &'static Schema {
        match (self.0, self.1) {
            (IamKind::Member, IamOn::Job) => &MEMBER_SCHEMA,
            (IamKind::Binding, IamOn::Job) => &BINDING_SCHEMA,
            (IamKind::Policy, IamOn::Job) => &POLICY_SCHEMA,
            (IamKind::Member, IamOn::Project) => &PROJECT_MEMBER_SCHEMA,
            (IamKind::Binding, IamOn::Project) => &PROJECT_BINDING_SCHEMA,
            (IamKind::Policy, IamOn::Project) => &PROJECT_POLICY_SCHEMA,
            (IamKind::Member, IamOn::Secret) => &SECRET_MEMBER_SCHEMA,
            (IamKind::Binding, IamOn::Secret) => &SECRET_BINDING_SCHEMA,
            (IamKind::Policy, IamOn::Secret) => &SECRET_POLICY_SCHEMA,
        }
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        match self.1 {
            IamOn::Job => provider.fill_defaults(d, Some("location")),
            IamOn::Project | IamOn::Secret => provider.fill_defaults(d, None),
        }
        let inputs: &[&str] = match (self.0, self.1) {
            (IamKind::Member, IamOn::Job) => {
                &["project", "location", "name", "role", "member", "condition"]
            }
            (IamKind::Binding, IamOn::Job) => &["project", "location", "name", "role", "condition"],
            (IamKind::Policy, IamOn::Job) => &["project", "location", "name"],
            (IamKind::Member, IamOn::Project) => &["project", "role", "member", "condition"],
            (IamKind::Binding, IamOn::Project) => &["project", "role", "condition"],
            (IamKind::Policy, IamOn::Project) => &["project"],
            (IamKind::Member, IamOn::Secret) => {
                &["project", "secret_id", "role", "member", "condition"]
            }
            (IamKind::Binding, IamOn::Secret) => &["project", "secret_id", "role", "condition"],
            (IamKind::Policy, IamOn::Secret) => &["project", "secret_id"],
        };
        let kind = self.0;
        let this = *self;
        d.set("id", inputs, |d| {
            let values = Value::Object(d.values.clone());
            // The provider's ids: the job's name, or a project's bare id.
            let resource = match this.1 {
                IamOn::Job | IamOn::Secret => this.resource(&values),
                IamOn::Project => s(&values, "project").to_string(),
            };
            // A conditional grant's id ends with its condition's title, as the provider's.
            let title = values
                .pointer("/condition/title")
                .and_then(Value::as_str)
                .map(|t| format!("/{t}"))
                .unwrap_or_default();
            Value::String(match kind {
                IamKind::Member => format!(
                    "{resource}/{}/{}{title}",
                    s(&values, "role"),
                    s(&values, "member")
                ),
                IamKind::Binding => format!("{resource}/{}{title}", s(&values, "role")),
                IamKind::Policy => resource,
            })
        });
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        if self.1 == IamOn::Project {
            if rc.missing("project") {
                diags.push(
                    Diagnostic::error(format!("{}: no project", rc.addr), Some(rc.range.clone()))
                        .with_hint(
                            "set `project` here or in the provider block (or GOOGLE_PROJECT)",
                        ),
                );
            }
        } else if self.1 == IamOn::Secret {
            if crate::api::iam::project_of(&secret_of(v)) == "projects/"
                || s(v, "secret_id").is_empty()
            {
                diags.push(Diagnostic::error(
                    format!("{}: cannot tell which secret: set secret_id (its id, or the secret's name and the project)", rc.addr),
                    Some(rc.span("secret_id")),
                ));
            }
        } else {
            let job = job_of(v);
            if crate::api::run::project_location(&job).is_none() || s(v, "name").is_empty() {
                diags.push(Diagnostic::error(
                    format!("{}: cannot tell which job: set name (and location/project, or the provider's region/project)", rc.addr),
                    Some(rc.span("name")),
                ));
            }
        }
        let check_member = |m: &str, path: &str, diags: &mut Diagnostics| {
            if !valid_member(m) {
                diags.push(
                    Diagnostic::error(format!("{}: {m:?} is not an IAM member", rc.addr), Some(rc.span(path)))
                        .with_hint("members look like user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers"),
                );
            }
        };
        match self.0 {
            IamKind::Member if rc.is_unknown("member") => {}
            IamKind::Member => check_member(s(v, "member"), "member", diags),
            IamKind::Binding => {
                for (i, m) in members_of(v).iter().enumerate() {
                    if rc.is_unknown(&format!("members[{i}]")) || rc.is_unknown("members") {
                        continue;
                    }
                    check_member(m, &format!("members.{i}"), diags);
                }
            }
            IamKind::Policy => {
                if let Err(e) = parse_policy_data(v) {
                    if !rc.is_unknown("policy_data") {
                        diags.push(Diagnostic::error(
                            format!("{}: {e}", rc.addr),
                            Some(rc.span("policy_data")),
                        ));
                    }
                }
            }
        }
        if self.0 != IamKind::Policy {
            let role = s(v, "role");
            if !role.starts_with("roles/")
                && !role.starts_with("projects/")
                && !role.starts_with("organizations/")
            {
                diags.push(Diagnostic::error(
                    format!("{}: role {role:?} must be roles/NAME or a custom role (projects/P/roles/NAME)", rc.addr),
                    Some(rc.span("role")),
                ));
            }
        }
    }
}

fn valid_member(m: &str) -> bool {
    matches!(m, "allUsers" | "allAuthenticatedUsers")
        || [
            "user:",
            "serviceAccount:",
            "group:",
            "domain:",
            "principal:",
            "principalSet:",
            "deleted:",
        ]
        .iter()
        .any(|p| m.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

impl ResourceType for JobIam {
    fn name(&self) -> &'static str {
        self.type_name()
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::JobIam)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        // One getIamPolicy per job (or project): the "family" is the resource itself.
        Some((self.resource(values), String::new()))
    }
    fn family_of_id(&self, id: &str) -> Option<(String, String)> {
        Some((resource_of_id(id), String::new()))
    }
    fn canonical_id(&self, id: &str, _values: &Value) -> String {
        canonical_id(id)
    }

    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let PlanInput {
            addr,
            config,
            state,
            live,
            ..
        } = input;
        let live_policy: Option<Policy> = super::read_live(live, "IAM policy")?;
        let Some(rc) = config else {
            return super::plan_removal(addr, self.type_name(), state, live_policy.is_some());
        };
        let mut change = Change::new(addr, self.type_name());
        let v = &rc.values;
        let id = s(v, "id").to_string();
        change.new_id = Some(id.clone());
        change.prior_id = state.map(|s| s.id.clone());
        change.after = Some(v.clone());
        change.before = state.map(|s| s.values.to_value());
        // An id in runform's earlier format names the same binding.
        if let Some(pid) = change.prior_id.clone().filter(|p| canonical_id(p) != id) {
            change.action = Action::Replace;
            change.reason = Some(format!("{pid} → {id}"));
            change.attrs.push(AttrChange::new(
                "id",
                Some(Value::String(pid)),
                Some(Value::String(id)),
            ));
            return Ok(change);
        }
        let current = live_policy.as_ref().map(normalized).unwrap_or_default();
        let (old, new): (Value, Value) = match self.0 {
            IamKind::Member => {
                let has = role_members(&current, s(v, "role"), condition_of(v).as_ref())
                    .contains(s(v, "member"));
                (Value::Bool(has), Value::Bool(true))
            }
            IamKind::Binding => (
                serde_json::json!(role_members(
                    &current,
                    s(v, "role"),
                    condition_of(v).as_ref()
                )),
                serde_json::json!(members_of(v)),
            ),
            IamKind::Policy => (
                serde_json::to_value(&current.bindings).unwrap_or_default(),
                serde_json::to_value(&parse_policy_data(v).unwrap_or_default().bindings)
                    .unwrap_or_default(),
            ),
        };
        let in_sync = old == new;
        change.action = match (in_sync, state.is_some(), live_policy.is_some()) {
            (true, true, _) => Action::NoOp,
            (true, false, _) => Action::Adopt,
            (false, false, _) | (false, true, false) => Action::Create,
            (false, true, true) => {
                if self.0 == IamKind::Member {
                    change.reason = Some("the member was removed outside runform".into());
                    Action::Create
                } else {
                    Action::Update
                }
            }
        };
        if !in_sync {
            let path = match self.0 {
                IamKind::Member => "member",
                IamKind::Binding => "members",
                IamKind::Policy => "policy_data",
            };
            if change.action == Action::Update {
                change
                    .attrs
                    .push(AttrChange::new(path, Some(old), Some(new)));
            }
        }
        if self.0 == IamKind::Binding
            && self.1 == IamOn::Project
            && matches!(
                change.action,
                Action::Create | Action::Update | Action::Adopt
            )
        {
            let removes: Vec<String> =
                role_members(&current, s(v, "role"), condition_of(v).as_ref())
                    .difference(&members_of(v))
                    .cloned()
                    .collect();
            change.extra = serde_json::json!({ "authoritative": {
                "project": s(v, "project"), "role": s(v, "role"), "removes": removes,
            }});
        }
        if change.action == Action::NoOp {
            change.after = None;
            change.before = None;
        }
        Ok(change)
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let kind = self.0;
            if change.action == Action::Forget {
                return Ok(None);
            }
            // What to undo: the prior values (delete, replace).
            if matches!(change.action, Action::Delete | Action::Replace) {
                let before = change.before.clone().unwrap_or_default();
                modify(ctx, &self.resource(&before), true, |p| match kind {
                    IamKind::Member => {
                        let cond = condition_of(&before);
                        let mut m = role_members(p, s(&before, "role"), cond.as_ref());
                        m.remove(s(&before, "member"));
                        set_role(p, s(&before, "role"), cond.as_ref(), &m);
                    }
                    IamKind::Binding => set_role(
                        p,
                        s(&before, "role"),
                        condition_of(&before).as_ref(),
                        &BTreeSet::new(),
                    ),
                    IamKind::Policy => p.bindings.clear(),
                })
                .await?;
                if change.action == Action::Delete {
                    return Ok(None);
                }
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let desired_policy = if kind == IamKind::Policy {
                Some(parse_policy_data(&v)?)
            } else {
                None
            };
            let etag = if change.action == Action::Adopt || change.action == Action::NoOp {
                ctx.client
                    .get_iam_policy(&self.resource(&v))
                    .await
                    .map_err(|e| e.to_string())?
                    .etag
            } else {
                modify(ctx, &self.resource(&v), false, |p| match kind {
                    IamKind::Member => {
                        let cond = condition_of(&v);
                        let mut m = role_members(p, s(&v, "role"), cond.as_ref());
                        m.insert(s(&v, "member").to_string());
                        set_role(p, s(&v, "role"), cond.as_ref(), &m);
                    }
                    IamKind::Binding => {
                        set_role(p, s(&v, "role"), condition_of(&v).as_ref(), &members_of(&v))
                    }
                    IamKind::Policy => {
                        p.bindings = desired_policy.clone().unwrap_or_default().bindings;
                    }
                })
                .await?
            };
            let mut values = v.clone();
            if let Value::Object(m) = &mut values {
                m.insert("etag".into(), Value::String(etag));
            }
            Ok(Some(StateEntry {
                ty: self.type_name().into(),
                id: s(&v, "id").to_string(),
                values: (&values).into(),
                deps: vec![],
                extra: Value::Null,
                sensitive: Vec::new(),
            }))
        })
    }
}

/// Read-modify-write of a job's policy with its etag, retried (up to 5 times) when another
/// writer got in between (409 ABORTED). Returns the new etag.
async fn modify(
    ctx: &Ctx,
    job: &str,
    removing: bool,
    f: impl Fn(&mut Policy),
) -> Result<String, String> {
    let mut delay = std::time::Duration::from_millis(100);
    for attempt in 0..5 {
        let mut p = match ctx.client.get_iam_policy(job).await {
            Ok(p) => p,
            // Nothing to remove from a job that is gone; nothing to grant on one that is not there.
            Err(e) if e.is_not_found() && removing => return Ok(String::new()),
            Err(e) if e.is_not_found() => {
                return Err(format!(
                    "{job} does not exist, so nothing can be granted on it"
                ))
            }
            Err(e) => return Err(e.to_string()),
        };
        f(&mut p);
        match ctx.client.set_iam_policy(job, &p).await {
            Ok(p) => return Ok(p.etag),
            Err(e) if e.status() == Some(409) && attempt < 4 => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("the IAM policy of {job} kept changing; try again"))
}

/// Cross-resource rules the provider leaves to fight forever: a `_policy` with a `_binding` or
/// `_member` on the same job, two `_binding`s for one role, a `_binding` and a `_member` for the
/// same role. Errors located at the later resource.
pub fn check_conflicts(stack: &Stack, diags: &mut Diagnostics) {
    let mut by_job: BTreeMap<String, Vec<&ResourceConfig>> = BTreeMap::new();
    let kind = |rc: &ResourceConfig| iam_type(&rc.ty).map(|t| t.0);
    for rc in &stack.resources {
        if let Some(t) = iam_type(&rc.ty) {
            by_job.entry(t.resource(&rc.values)).or_default().push(rc);
        }
    }
    for (job, rcs) in by_job {
        let policy = rcs.iter().find(|r| kind(r) == Some(IamKind::Policy));
        for rc in &rcs {
            if let Some(p) = policy {
                if kind(rc) != Some(IamKind::Policy) {
                    diags.push(
                        Diagnostic::error(
                            format!("{} and {} both manage the IAM policy of {job}: a _policy replaces every binding, so they would undo each other on every apply", p.addr, rc.addr),
                            Some(rc.range.clone()),
                        )
                        .with_hint("put the grant in the policy's policy_data, or replace the _policy with _binding/_member resources"),
                    );
                } else if rc.addr != p.addr {
                    diags.push(Diagnostic::error(
                        format!(
                            "{} and {} are two _policy resources for {job}",
                            p.addr, rc.addr
                        ),
                        Some(rc.range.clone()),
                    ));
                }
            }
        }
        // A role's binding is authoritative for its condition (or its lack of one).
        type Key = (String, Option<(String, String, String)>);
        let key = |rc: &ResourceConfig| -> Key {
            (
                s(&rc.values, "role").to_string(),
                condition_key(condition_of(&rc.values).as_ref()),
            )
        };
        let mut bindings: BTreeMap<Key, &ResourceConfig> = BTreeMap::new();
        for rc in rcs.iter().filter(|r| kind(r) == Some(IamKind::Binding)) {
            let role = s(&rc.values, "role");
            if let Some(first) = bindings.insert(key(rc), rc) {
                diags.push(
                    Diagnostic::error(
                        format!("{} and {} are both authoritative for {role} on {job}: only one _binding may exist per role", first.addr, rc.addr),
                        Some(rc.range.clone()),
                    )
                    .with_hint("merge their members into one _binding"),
                );
            }
        }
        for rc in rcs.iter().filter(|r| kind(r) == Some(IamKind::Member)) {
            let role = s(&rc.values, "role");
            if let Some(b) = bindings.get(&key(rc)) {
                diags.push(
                    Diagnostic::error(
                        format!("{} grants {role} on {job}, which {} manages authoritatively: the binding would remove the member on every apply", rc.addr, b.addr),
                        Some(rc.range.clone()),
                    )
                    .with_hint("add the member to the binding's members, or use _member resources only for this role"),
                );
            }
        }
    }
}

/// Whether the configuration grants `member` the permission on `job` (through any IAM
/// resource for that job). `None` when it cannot tell (a value only known after apply).
pub fn configured_grant(stack: &Stack, job: &str, member: &str, permission: &str) -> Option<bool> {
    let mut policy = Policy::default();
    // Grants on the job's project apply to the job too.
    let project = crate::api::iam::project_of(job);
    for rc in &stack.resources {
        let Some(t) = iam_type(&rc.ty) else { continue };
        let on = t.resource(&rc.values);
        if on != job && on != project {
            continue;
        }
        if !rc.unknown.is_empty() {
            return None;
        }
        match t.0 {
            IamKind::Member => policy.bindings.push(Binding {
                role: s(&rc.values, "role").into(),
                members: vec![s(&rc.values, "member").into()],
                condition: None,
            }),
            IamKind::Binding => policy.bindings.push(Binding {
                role: s(&rc.values, "role").into(),
                members: members_of(&rc.values).into_iter().collect(),
                condition: None,
            }),
            IamKind::Policy => policy
                .bindings
                .extend(parse_policy_data(&rc.values).unwrap_or_default().bindings),
        }
    }
    Some(crate::api::iam::grants(&policy, member, permission))
}

#[cfg(test)]
mod tests {
    use super::{canonical_id, resource_of_id};

    #[test]
    fn ids_in_the_providers_format_and_earlier_ones() {
        let job = "projects/p/locations/l/jobs/j";
        // runform's earlier ids (and the provider's import format) name the same binding.
        assert_eq!(
            canonical_id(&format!("{job} roles/run.invoker user:a@b.c")),
            format!("{job}/roles/run.invoker/user:a@b.c")
        );
        assert_eq!(
            canonical_id("projects/p roles/run.invoker user:a@b.c"),
            "p/roles/run.invoker/user:a@b.c"
        );
        assert_eq!(canonical_id("p/roles/x"), "p/roles/x");
        assert_eq!(
            resource_of_id(&format!("{job}/roles/run.invoker/user:a")),
            job
        );
        assert_eq!(
            resource_of_id(&format!("{job} roles/run.invoker user:a")),
            job
        );
        assert_eq!(resource_of_id("p/roles/run.viewer/user:a"), "projects/p");
        assert_eq!(resource_of_id("projects/p"), "projects/p");
        assert_eq!(resource_of_id("p"), "projects/p");
    }
}
