//! `google_cloud_run_v2_job`: the Terraform google provider's schema, defaults, validation,
//! normalisation (no permadiffs) and CRUD through the REST client.

use super::{Ctx, PlanInput, ResourceType, StateEntry};
use crate::api::common::snake;
use crate::api::run::*;
use crate::api::Enum;
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_cloud_run_v2_job";

/// Annotations runform puts on what it creates, so an interrupted apply's objects are
/// recognised and adopted rather than duplicated. Never shown in diffs.
pub const ANN_LINEAGE: &str = "runform.dev/lineage";
pub const ANN_ADDRESS: &str = "runform.dev/address";

/// The google provider 7.x schema of `google_cloud_run_v2_job` (`X`: not implemented by
/// runform yet).
pub const SCHEMA_TEXT: &str = r#"
id                                              string       C
name                                            string       R FN tf
location                                        string       R FN tf
project                                         string       O C FN tf
deletion_protection                             bool         O tf default=true
deletion_policy                                 string       O C tf
labels                                          map(string)  O
annotations                                     map(string)  O
tags                                            map(string)  O FN
client                                          string       O
client_version                                  string       O
launch_stage                                    string       O C
start_execution_token                           string       O
run_execution_token                             string       O
binary_authorization                            list{}       O max=1
binary_authorization.breakglass_justification   string       O
binary_authorization.use_default                bool         O
binary_authorization.policy                     string       O
template                                        list{}       R min=1 max=1
template.labels                                 map(string)  O
template.annotations                            map(string)  O
template.parallelism                            number       O C
template.task_count                             number       O C
template.template                               list{}       R min=1 max=1
template.template.max_retries                   number       O default=3
template.template.timeout                       string       O C
template.template.service_account               string       O C
template.template.execution_environment         string       O C
template.template.encryption_key                string       O
template.template.gpu_zonal_redundancy_disabled bool         O
template.template.containers                    list{}       O C
template.template.containers.name               string       O
template.template.containers.image              string       R
template.template.containers.command            list(string) O
template.template.containers.args               list(string) O
template.template.containers.working_dir        string       O
template.template.containers.depends_on         list(string) O
template.template.containers.env                set{}        O
template.template.containers.env.name           string       R
template.template.containers.env.value          string       O default=""
template.template.containers.env.value_source   list{}       O max=1
template.template.containers.env.value_source.secret_key_ref          list{}  O max=1
template.template.containers.env.value_source.secret_key_ref.secret   string  R
template.template.containers.env.value_source.secret_key_ref.version  string  R
template.template.containers.resources          list{}       O C max=1
template.template.containers.resources.limits   map(string)  O C
template.template.containers.ports              list{}       O
template.template.containers.ports.name         string       O
template.template.containers.ports.container_port number     O
template.template.containers.volume_mounts      list{}       O
template.template.containers.volume_mounts.name       string R
template.template.containers.volume_mounts.mount_path string R
template.template.containers.volume_mounts.sub_path   string O
template.template.containers.startup_probe      list{}       O C max=1
template.template.containers.startup_probe.initial_delay_seconds number O default=0
template.template.containers.startup_probe.timeout_seconds       number O default=1
template.template.containers.startup_probe.period_seconds        number O default=10
template.template.containers.startup_probe.failure_threshold     number O default=3
template.template.containers.startup_probe.http_get              list{} O max=1
template.template.containers.startup_probe.http_get.path         string O default="/"
template.template.containers.startup_probe.http_get.port         number O C
template.template.containers.startup_probe.http_get.http_headers list{} O
template.template.containers.startup_probe.http_get.http_headers.name  string R
template.template.containers.startup_probe.http_get.http_headers.value string O default=""
template.template.containers.startup_probe.tcp_socket            list{} O max=1
template.template.containers.startup_probe.tcp_socket.port       number O C
template.template.containers.startup_probe.grpc                  list{} O max=1
template.template.containers.startup_probe.grpc.port             number O C
template.template.containers.startup_probe.grpc.service          string O
template.template.volumes                       list{}       O
template.template.volumes.name                  string       R
template.template.volumes.secret                list{}       O max=1
template.template.volumes.secret.secret         string       R
template.template.volumes.secret.default_mode   number       O
template.template.volumes.secret.items          list{}       O
template.template.volumes.secret.items.path     string       R
template.template.volumes.secret.items.version  string       R
template.template.volumes.secret.items.mode     number       O
template.template.volumes.cloud_sql_instance    list{}       O max=1
template.template.volumes.cloud_sql_instance.instances list(string) O
template.template.volumes.empty_dir             list{}       O max=1
template.template.volumes.empty_dir.medium      string       O default="MEMORY"
template.template.volumes.empty_dir.size_limit  string       O
template.template.volumes.gcs                   list{}       O max=1
template.template.volumes.gcs.bucket            string       R
template.template.volumes.gcs.read_only         bool         O
template.template.volumes.gcs.mount_options     list(string) O
template.template.volumes.nfs                   list{}       O max=1
template.template.volumes.nfs.server            string       R
template.template.volumes.nfs.path              string       O
template.template.volumes.nfs.read_only         bool         O
template.template.vpc_access                    list{}       O max=1
template.template.vpc_access.connector          string       O
template.template.vpc_access.egress             string       O C
template.template.vpc_access.network_interfaces list{}       O
template.template.vpc_access.network_interfaces.network    string O C
template.template.vpc_access.network_interfaces.subnetwork string O C
template.template.vpc_access.network_interfaces.tags       list(string) O
template.template.node_selector                 list{}       O max=1
template.template.node_selector.accelerator     string       R
uid                                             string       C
generation                                      string       C V
observed_generation                             string       C V
etag                                            string       C V
create_time                                     string       C
update_time                                     string       C V
delete_time                                     string       C
expire_time                                     string       C
creator                                         string       C
last_modifier                                   string       C V
execution_count                                 number       C
reconciling                                     bool         C V
effective_labels                                map(string)  C tf
terraform_labels                                map(string)  C tf
effective_annotations                           map(string)  C tf
conditions                                      list{}       C V
conditions.type                                 string       C
conditions.state                                string       C
conditions.message                              string       C
conditions.last_transition_time                 string       C
conditions.severity                             string       C
conditions.reason                               string       C
conditions.revision_reason                      string       C
conditions.execution_reason                     string       C
terminal_condition                              list{}       C V max=1
terminal_condition.type                         string       C
terminal_condition.state                        string       C
terminal_condition.message                      string       C
terminal_condition.last_transition_time         string       C
terminal_condition.severity                     string       C
terminal_condition.reason                       string       C
terminal_condition.revision_reason              string       C
terminal_condition.execution_reason             string       C
latest_created_execution                        list{}       C max=1
latest_created_execution.name                   string       C
latest_created_execution.create_time            string       C
latest_created_execution.completion_time        string       C
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct Job;

impl TypeInfo for Job {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        validate(rc, diags)
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, None);
        provider.fill_labels(d);
        // Provider 6.0 added deletion_protection, default true; 5.x jobs are unprotected.
        d.default(
            "deletion_protection",
            Some(Value::Bool(provider.major >= 6)),
        );
        d.set("id", &["project", "location", "name"], |d| {
            Value::String(format!(
                "projects/{}/locations/{}/jobs/{}",
                d.str("project"),
                d.str("location"),
                d.str("name")
            ))
        });
    }
}

/// The jobs among configured resources, with their full names.
pub fn jobs_in(resources: &[ResourceConfig]) -> impl Iterator<Item = (String, &ResourceConfig)> {
    resources
        .iter()
        .filter(|r| r.ty == TYPE)
        .map(|r| (id_of(&r.values), r))
}

/// The job's full name from its Terraform values.
pub fn id_of(values: &Value) -> String {
    values
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Terraform values → the API body (without output fields or runform's markers).
pub fn expand(values: &Value) -> Result<Job_, String> {
    let mut wire = SCHEMA.to_wire(values);
    // The provider defaults env `value` to "" when a value_source is used; the API wants one.
    if let Some(containers) = wire
        .pointer_mut("/template/template/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
                for e in env {
                    if let Some(m) = e.as_object_mut() {
                        if m.contains_key("valueSource")
                            && m.get("value").and_then(Value::as_str) == Some("")
                        {
                            m.remove("value");
                        }
                    }
                }
            }
        }
    }
    serde_json::from_value(wire).map_err(|e| e.to_string())
}

/// Every configured field must reach the API: a field the typed request would drop is a
/// value silently not applied, so it is an error (checked for what is sent, not for the
/// unchanged jobs a plan only compares).
fn check_sendable(values: &Value) -> Result<(), String> {
    let wire = SCHEMA.to_wire(values);
    let job: Job_ = serde_json::from_value(wire.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&job).map_err(|e| e.to_string())?;
    let mut lost = Vec::new();
    dropped_fields(&wire, &back, "", &mut lost);
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "runform cannot send {} to the Cloud Run API yet; nothing was applied",
            lost.join(", ")
        ))
    }
}

/// Paths of `sent` that are missing from `kept` (empty values aside).
fn dropped_fields(sent: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    let empty = |v: &Value| super::is_empty_json(v) || v.as_f64() == Some(0.0);
    match (sent, kept) {
        (Value::Object(s), Value::Object(k)) => {
            for (key, v) in s {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => dropped_fields(v, kv, &p, out),
                    None if !empty(v) => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(s), Value::Array(k)) => {
            for (i, v) in s.iter().enumerate() {
                if let Some(kv) = k.get(i) {
                    dropped_fields(v, kv, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

type Job_ = crate::api::run::Job;

/// Normalises a job for comparison: output fields cleared, server defaults filled, equivalent
/// spellings (cpu `1` / `1000m`, `600s` / `600.0s`, env order) made equal.
pub fn canonical(j: &Job_) -> Job_ {
    let mut j = j.clone();
    j.name.clear();
    j.uid.clear();
    j.generation = 0;
    j.observed_generation = 0;
    for t in [
        &mut j.create_time,
        &mut j.update_time,
        &mut j.delete_time,
        &mut j.expire_time,
        &mut j.creator,
        &mut j.last_modifier,
        &mut j.etag,
    ] {
        t.clear();
    }
    j.terminal_condition = None;
    j.conditions.clear();
    // Tags are set at creation and not read back (a change replaces the job).
    j.tags.clear();
    j.execution_count = 0;
    j.latest_created_execution = None;
    j.reconciling = false;
    j.satisfies_pzs = false;
    j.annotations.retain(|k, _| !k.starts_with("runform.dev/"));
    if j.launch_stage.is_default() {
        j.launch_stage = Enum::new("GA");
    }
    let t = &mut j.template;
    if t.task_count == 0 {
        t.task_count = 1;
    }
    let tt = &mut t.template;
    if tt.max_retries.is_none() {
        tt.max_retries = Some(3);
    }
    tt.timeout = match parse_duration_secs(&tt.timeout) {
        None if tt.timeout.is_empty() => "600s".into(),
        None => tt.timeout.clone(),
        Some(s) => format!("{}s", fmt_secs(s)),
    };
    if tt.execution_environment.is_default() {
        tt.execution_environment = Enum::new("EXECUTION_ENVIRONMENT_GEN2");
    }
    if let Some(v) = &mut tt.vpc_access {
        if v.egress.is_default() {
            v.egress = Enum::new("PRIVATE_RANGES_ONLY");
        }
    }
    for c in &mut tt.containers {
        c.env.sort_by(|a, b| a.name.cmp(&b.name));
        for e in &mut c.env {
            if e.value_source.is_none() && e.value.is_none() {
                e.value = Some(String::new());
            }
            if e.value_source.is_some() && e.value.as_deref() == Some("") {
                e.value = None;
            }
        }
        if let Some(r) = &mut c.resources {
            for (k, v) in r.limits.iter_mut() {
                *v = canonical_quantity(k, v);
            }
            if r.limits.is_empty() && r.cpu_idle.is_none() && r.startup_cpu_boost.is_none() {
                c.resources = None;
            }
        }
    }
    j
}

fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

/// `1000m` → `1`, `0.5` → `500m`; memory to the largest exact binary unit.
fn canonical_quantity(key: &str, v: &str) -> String {
    let Some(q) = parse_quantity(v) else {
        return v.to_string();
    };
    if key == "cpu" {
        let milli = (q * 1000.0).round() as i64;
        return if milli % 1000 == 0 {
            (milli / 1000).to_string()
        } else {
            format!("{milli}m")
        };
    }
    if key == "memory" {
        let bytes = q.round() as i64;
        for (suf, mult) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if bytes % mult == 0 && bytes >= mult {
                return format!("{}{suf}", bytes / mult);
            }
        }
        return bytes.to_string();
    }
    v.to_string()
}

/// Fields the server or other tools fill in and the configuration leaves unset: taken from
/// the live object so they never show as a diff (client/client_version set by gcloud,
/// default resource limits, the default service account, container names...).
/// `applied` reads a value recorded in state (the execution tokens last applied).
pub fn absorb_unset(
    desired: &mut Job_,
    live: &Job_,
    cfg: &Value,
    applied: &dyn Fn(&str) -> Option<Value>,
) {
    let set = |p: &str| cfg.pointer(p).is_some();
    if !set("/client") {
        desired.client = live.client.clone();
    }
    if !set("/client_version") {
        desired.client_version = live.client_version.clone();
    }
    if !set("/launch_stage") {
        desired.launch_stage = live.launch_stage.clone();
    }
    if !set("/template/parallelism") {
        desired.template.parallelism = live.template.parallelism;
    }
    let (dt, lt) = (&mut desired.template.template, &live.template.template);
    if !set("/template/template/service_account") {
        dt.service_account = lt.service_account.clone();
    }
    if !set("/template/template/execution_environment") {
        dt.execution_environment = lt.execution_environment.clone();
    }
    for (i, c) in dt.containers.iter_mut().enumerate() {
        let Some(lc) = lt.containers.get(i) else {
            continue;
        };
        let base = format!("/template/template/containers/{i}");
        if !set(&format!("{base}/name")) {
            c.name = lc.name.clone();
        }
        if let Some(lr) = &lc.resources {
            let r = c.resources.get_or_insert_with(Default::default);
            for (k, v) in &lr.limits {
                if !r.limits.contains_key(k) {
                    r.limits.insert(k.clone(), v.clone());
                }
            }
            if r.cpu_idle.is_none() {
                r.cpu_idle = lr.cpu_idle;
            }
            if r.startup_cpu_boost.is_none() {
                r.startup_cpu_boost = lr.startup_cpu_boost;
            }
        }
    }
    // The API may drop an execution token once another execution ran (TPG #24451): an
    // unchanged token is not a change.
    if live.start_execution_token.is_none() {
        if let Some(t) = &desired.start_execution_token {
            if applied("start_execution_token")
                .as_ref()
                .and_then(Value::as_str)
                == Some(t)
            {
                desired.start_execution_token = None;
            }
        }
    }
    if live.run_execution_token.is_none() {
        if let Some(t) = &desired.run_execution_token {
            if applied("run_execution_token")
                .as_ref()
                .and_then(Value::as_str)
                == Some(t)
            {
                desired.run_execution_token = None;
            }
        }
    }
}

/// Flattens wire JSON into `path → value` with Terraform names; env entries are keyed by name
/// so one changed variable shows as one changed line.
pub fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if path.ends_with(".limits")
                    || path.ends_with("labels")
                    || path.ends_with("annotations")
                    || path.ends_with("headers")
                    || path.ends_with("env_vars")
                {
                    k.clone()
                } else {
                    snake(k)
                };
                let p = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                flatten(x, &p, out);
            }
        }
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.get("name").and_then(Value::as_str).is_some())
                && path.ends_with(".env") =>
        {
            for i in items {
                let name = i.get("name").and_then(Value::as_str).unwrap_or("");
                let mut m = i.as_object().cloned().unwrap_or_default();
                m.remove("name");
                flatten(&Value::Object(m), &format!("{path}[{name:?}]"), out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object()) => {
            for (n, i) in items.iter().enumerate() {
                flatten(i, &format!("{path}[{n}]"), out);
            }
        }
        other => {
            out.insert(path.to_string(), other.clone());
        }
    }
}

/// The attribute-level differences between two canonical jobs.
pub fn diff(old: &Job_, new: &Job_) -> Vec<AttrChange> {
    super::diff_values(
        &serde_json::to_value(old).unwrap_or_default(),
        &serde_json::to_value(new).unwrap_or_default(),
    )
}

/// Validates a job before any API call: the shared API rules, mapped to source locations.
pub fn validate(rc: &ResourceConfig, diags: &mut Diagnostics) {
    let job = match expand(&rc.values) {
        Ok(j) => j,
        Err(e) => {
            diags.push(Diagnostic::error(
                format!("{}: {e}", rc.addr),
                Some(rc.range.clone()),
            ));
            return;
        }
    };
    let name = rc.values.get("name").and_then(Value::as_str).unwrap_or("");
    // 0 is "unset" on the wire, but an explicit 0 in the configuration is out of range.
    if let Some(n) = rc
        .values
        .pointer("/template/task_count")
        .and_then(Value::as_f64)
    {
        if n < 1.0 {
            diags.push(Diagnostic::error(
                format!(
                    "{}: task_count is {n}; it must be between 1 and 10000",
                    rc.addr
                ),
                Some(rc.span("template.task_count")),
            ));
        }
    }
    for (field, problem) in validate_job(name, &job) {
        let path = tf_path(&field);
        let path = if field == "name" {
            "name".to_string()
        } else {
            path
        };
        diags.push(Diagnostic::error(
            format!("{}: {problem}", rc.addr),
            Some(rc.span(&path)),
        ));
    }
    if rc.missing("project") {
        diags.push(
            Diagnostic::error(
                format!(
                    "{}: no project: set `project` here or in `provider \"google\"`",
                    rc.addr
                ),
                Some(rc.range.clone()),
            )
            .with_hint("or set GOOGLE_PROJECT in the environment"),
        );
    }
    if job.start_execution_token.is_some() && job.run_execution_token.is_some() {
        diags.push(Diagnostic::error(
            format!(
                "{}: start_execution_token and run_execution_token cannot both be set",
                rc.addr
            ),
            Some(rc.span("run_execution_token")),
        ));
    }
    for (k, _) in job.labels.iter().chain(job.annotations.iter()) {
        let ns = k.split_once('/').map(|x| x.0).unwrap_or("");
        if [
            "run.googleapis.com",
            "cloud.googleapis.com",
            "serving.knative.dev",
            "autoscaling.knative.dev",
        ]
        .contains(&ns)
        {
            diags.push(Diagnostic::error(
                format!("{}: key {k:?} uses a namespace Cloud Run reserves", rc.addr),
                Some(rc.span("labels")),
            ));
        }
    }
}

/// `template.template.containers[0].resources.limits.cpu` from the wire path.
fn tf_path(wire: &str) -> String {
    wire.split('.')
        .map(|seg| {
            if seg.contains('/') {
                seg.to_string()
            } else {
                snake(seg)
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

use super::timeout_for;

impl ResourceType for Job {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn live_api(&self) -> Option<super::LiveApi> {
        Some(super::LiveApi::RunJobs)
    }

    fn family(&self, values: &Value) -> Option<(String, String)> {
        super::family_of_name(&id_of(values))
    }

    fn canonical_id(&self, id: &str, values: &Value) -> String {
        super::located_id(id, "jobs", values)
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let PlanInput {
            addr,
            config,
            state,
            live,
            lineage,
            ..
        } = input;
        let Some(rc) = config else {
            return super::plan_removal(addr, TYPE, state, live.is_some());
        };
        let mut change = Change::new(addr, TYPE);
        let new_id = id_of(&rc.values);
        change.new_id = Some(new_id.clone());
        let prior_id = state.map(|s| s.id.clone());
        change.prior_id = prior_id.clone();
        let live_job: Option<Job_> = super::read_live(live, "job")?;
        // Labels others set on the live job stay (non-authoritative, as the provider ≥ 5).
        let live_labels = live_job
            .as_ref()
            .filter(|_| prior_id.as_deref().is_none_or(|p| p == new_id))
            .map(|l| super::labels::json_map(&l.labels));
        // What the plan needs of the state, read in one pass over its text.
        let prior = state
            .map(|s| {
                s.values
                    .pick(&["terraform_labels", "annotations", "deletion_protection"])
            })
            .unwrap_or_else(|| vec![None, None, None]);
        let old_tf = super::labels::map_of(prior[0].as_ref());
        let labels = super::labels::plan(&rc.values, &old_tf, live_labels.as_ref(), rc.attribution);
        // The planned values are built only for a change (10,000 unchanged jobs are common).
        let planned_values = || labels.apply_to(&rc.values);
        let mut desired = expand(&rc.values)?;
        desired.labels = super::labels::string_map(&labels.effective);
        match (&prior_id, &live_job) {
            (Some(pid), _) if *pid != new_id => {
                change.action = Action::Replace;
                change.reason = Some(format!(
                    "{} changed ({} → {})",
                    replace_cause(pid, &new_id),
                    pid,
                    new_id
                ));
                change.before = state.map(|s| s.values.to_value());
                change.attrs.push(AttrChange::new(
                    "id",
                    Some(Value::String(pid.clone())),
                    Some(Value::String(new_id.clone())),
                ));
                check_sendable(&rc.values)?;
                change.after = Some(planned_values());
                change.body = Some(serde_json::to_value(&desired).map_err(|e| e.to_string())?);
                return Ok(change);
            }
            (None, Some(l)) => {
                let ours = l.annotations.get(ANN_LINEAGE).map(String::as_str) == Some(lineage)
                    && l.annotations.get(ANN_ADDRESS).map(String::as_str) == Some(addr);
                if !ours {
                    return Err(format!(
                        "job {new_id} already exists and is not managed by this state; delete it, rename this job, or import it (`runform import` arrives with the full language)"
                    ));
                }
                change.adopt = true;
            }
            (_, None) => {
                change.action = Action::Create;
                if state.is_some() {
                    change.reason = Some("it was deleted outside runform".into());
                }
                check_sendable(&rc.values)?;
                change.after = Some(planned_values());
                change.body = Some(serde_json::to_value(&desired).map_err(|e| e.to_string())?);
                return Ok(change);
            }
            _ => {}
        }
        let live_job = live_job.ok_or("live job missing")?;
        let applied = |k: &str| state.and_then(|s| s.values.get(k));
        absorb_unset(&mut desired, &live_job, &rc.values, &applied);
        // Annotations, like labels, are managed only for the keys the configuration names
        // (provider >= 5): those others set stay and are no difference.
        let old_annotations = super::labels::map_of(prior[1].as_ref());
        let effective_annotations = super::labels::effective(
            &super::labels::json_map(&desired.annotations),
            &old_annotations,
            &super::labels::json_map(&live_job.annotations),
        );
        desired.annotations = super::labels::string_map(&effective_annotations);
        let shown_annotations: serde_json::Map<String, Value> = effective_annotations
            .into_iter()
            .filter(|(k, _)| !k.starts_with("runform.dev/"))
            .collect();
        let (cd, cl) = (canonical(&desired), canonical(&live_job));
        if cd != cl {
            change.attrs = diff(&cl, &cd);
        }
        // Terraform-only arguments live in state.
        let dp_new = rc
            .values
            .get("deletion_protection")
            .cloned()
            .unwrap_or(Value::Bool(true));
        let dp_old = prior[2].clone().unwrap_or(Value::Bool(true));
        let state_only = change.attrs.is_empty() && dp_new != dp_old;
        if dp_new != dp_old {
            change.attrs.push(AttrChange::new(
                "deletion_protection",
                Some(dp_old),
                Some(dp_new),
            ));
        }
        change.live_etag = Some(live_job.etag.clone());
        change.action = if change.attrs.is_empty() {
            if change.adopt {
                Action::Adopt
            } else {
                Action::NoOp
            }
        } else if state_only {
            // A job an interrupted apply created (no state entry yet) is adopted: reading it
            // makes its entry; a state-only change needs one to change.
            if change.adopt {
                Action::Adopt
            } else {
                Action::StateOnly
            }
        } else {
            Action::Update
        };
        // Nothing to apply for a no-op: keep the plan small (10,000 unchanged jobs are common).
        if change.action != Action::NoOp {
            check_sendable(&rc.values)?;
            let mut values = planned_values();
            if let Value::Object(m) = &mut values {
                m.insert(
                    "effective_annotations".into(),
                    Value::Object(shown_annotations),
                );
            }
            change.after = Some(values);
            change.before = state.map(|s| s.values.to_value());
            desired.etag = String::new();
            change.body = Some(serde_json::to_value(&desired).map_err(|e| e.to_string())?);
        }
        Ok(change)
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let client = &ctx.client;
            let err = |e: crate::cloud::CloudError| format!("{e}");
            match change.action {
                Action::Delete | Action::Forget => {
                    let id = change.prior_id.clone().unwrap_or_default();
                    if change.action == Action::Delete {
                        client
                            .delete_job(&id, timeout_for(change, "delete"))
                            .await
                            .map_err(err)?;
                    }
                    Ok(None)
                }
                Action::Create
                | Action::Replace
                | Action::Update
                | Action::Adopt
                | Action::StateOnly
                | Action::NoOp => {
                    if change.action == Action::Replace {
                        if let Some(old) = &change.prior_id {
                            client
                                .delete_job(old, timeout_for(change, "delete"))
                                .await
                                .map_err(err)?;
                        }
                    }
                    let values = change.after.clone().ok_or("no desired values")?;
                    let id = id_of(&values);
                    let mut body: Job_ =
                        serde_json::from_value(change.body.clone().unwrap_or_default())
                            .map_err(|e| e.to_string())?;
                    body.annotations
                        .insert(ANN_LINEAGE.into(), ctx.lineage.clone());
                    body.annotations
                        .insert(ANN_ADDRESS.into(), change.addr.clone());
                    let job = match change.action {
                        Action::Create | Action::Replace => {
                            let (parent, job_id) = id.rsplit_once("/jobs/").ok_or("bad job id")?;
                            match client
                                .create_job(parent, job_id, &body, timeout_for(change, "create"))
                                .await
                            {
                                Ok(j) => j,
                                // Created by an earlier, interrupted apply of this state: adopt it.
                                Err(e) if e.status() == Some(409) => {
                                    let live = client
                                        .get_job(&id)
                                        .await
                                        .map_err(err)?
                                        .ok_or("job vanished")?;
                                    if live.annotations.get(ANN_LINEAGE) != Some(&ctx.lineage) {
                                        return Err(format!("{e}"));
                                    }
                                    body.name = id.clone();
                                    client
                                        .update_job(&body, timeout_for(change, "update"))
                                        .await
                                        .map_err(err)?
                                }
                                Err(e) => return Err(err(e)),
                            }
                        }
                        Action::Update => {
                            body.name = id.clone();
                            client
                                .update_job(&body, timeout_for(change, "update"))
                                .await
                                .map_err(err)?
                        }
                        _ => client
                            .get_job(&id)
                            .await
                            .map_err(err)?
                            .ok_or("job not found")?,
                    };
                    Ok(Some(entry_from(&values, &job)))
                }
                Action::Execute => Err("execute is not an action for jobs".into()),
            }
        })
    }
}

fn replace_cause(old: &str, new: &str) -> &'static str {
    match (project_location(old), project_location(new)) {
        (Some((p1, _)), Some((p2, _))) if p1 != p2 => "project",
        (Some((_, l1)), Some((_, l2))) if l1 != l2 => "location",
        _ => "name",
    }
}

/// The state entry for an applied job: configuration values plus what the server computed.
pub fn entry_from(values: &Value, job: &Job_) -> StateEntry {
    let server = serde_json::to_value(job).unwrap_or(Value::Null);
    super::applied_entry(TYPE, id_of(values), values, &SCHEMA, &server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_the_typed_request_drops_is_found() {
        let sent =
            serde_json::json!({"template": {"taskCount": 2, "bogusField": {"x": 1}}, "labels": {}});
        let kept = serde_json::json!({"template": {"taskCount": 2}});
        let mut lost = Vec::new();
        dropped_fields(&sent, &kept, "", &mut lost);
        assert_eq!(lost, vec!["template.bogusField".to_string()]);
    }

    #[test]
    fn timeouts_choose_the_wait() {
        use std::time::Duration;
        let mut c = Change::new("a", TYPE);
        assert_eq!(timeout_for(&c, "create"), super::super::DEFAULT_TIMEOUT);
        c.timeouts.insert("create".into(), 90);
        assert_eq!(timeout_for(&c, "create"), Duration::from_secs(90));
        assert_eq!(timeout_for(&c, "delete"), super::super::DEFAULT_TIMEOUT);
    }

    #[test]
    fn canonical_quantities() {
        assert_eq!(canonical_quantity("cpu", "1000m"), "1");
        assert_eq!(canonical_quantity("cpu", "1"), "1");
        assert_eq!(canonical_quantity("cpu", "500m"), "500m");
        assert_eq!(canonical_quantity("memory", "512Mi"), "512Mi");
        assert_eq!(canonical_quantity("memory", "1024Mi"), "1Gi");
        assert_eq!(canonical_quantity("memory", "0.5Gi"), "512Mi");
    }

    #[test]
    fn server_defaults_are_not_a_diff() {
        let values = serde_json::json!({
            "name": "j", "location": "l", "project": "p", "id": "projects/p/locations/l/jobs/j",
            "template": {"template": {"containers": [{"image": "img", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                          "resources": {"limits": {"cpu": "1"}}}]}}
        });
        let mut desired = expand(&values).unwrap();
        let mut live = desired.clone();
        live.launch_stage = Enum::new("GA");
        live.client = "gcloud".into();
        live.template.task_count = 1;
        let lt = &mut live.template.template;
        lt.max_retries = Some(3);
        lt.timeout = "600s".into();
        lt.service_account = "123-compute@developer.gserviceaccount.com".into();
        lt.containers[0].env.reverse();
        lt.containers[0].name = "job".into();
        lt.containers[0]
            .resources
            .as_mut()
            .unwrap()
            .limits
            .insert("cpu".into(), "1000m".into());
        lt.containers[0]
            .resources
            .as_mut()
            .unwrap()
            .limits
            .insert("memory".into(), "512Mi".into());
        absorb_unset(&mut desired, &live, &values, &|_| None);
        assert_eq!(diff(&canonical(&live), &canonical(&desired)), vec![]);
    }

    #[test]
    fn one_env_change_is_one_attribute() {
        let values = serde_json::json!({
            "name": "j", "location": "l", "project": "p",
            "template": {"template": {"containers": [{"image": "img", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}
        });
        let old = canonical(&expand(&values).unwrap());
        let mut v2 = values.clone();
        v2["template"]["template"]["containers"][0]["env"][1]["value"] = "3".into();
        let new = canonical(&expand(&v2).unwrap());
        let d = diff(&old, &new);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].path,
            "template.template.containers[0].env[\"B\"].value"
        );
    }
}
