//! Use cases shared by the commands: load a stack, pick a target, refresh, plan.

use crate::api::run::project_location;
use crate::cloud::{Client, Endpoint};
use crate::config::{LoadOptions, Stack};
use crate::diag::{Diagnostic, Diagnostics, Sources};
use crate::plan::{Live, Plan};
use crate::resources::{registry, type_info, TYPE_NAMES};
use crate::runtime::{RuntimeConfig, Server};
use crate::state::{State, StateFile};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The project used on the local runtime when neither the stack nor the environment names one.
pub const LOCAL_DEFAULT_PROJECT: &str = "runform-local";
pub const LOCAL_DEFAULT_REGION: &str = "us-central1";

pub use crate::config::LoadArgs;

/// Loads and validates a stack; the diagnostics carry warnings even on success.
/// Data sources are read through `client`; without one (validate) what only the API knows
/// stays unknown.
pub fn load_stack(
    dir: &Path,
    args: &LoadArgs,
    state: Option<&State>,
    client: Option<&Client>,
) -> (Option<Stack>, Diagnostics, Sources) {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    if args.local {
        let set = |env: &BTreeMap<String, String>, keys: &[&str]| {
            keys.iter()
                .any(|k| env.get(*k).is_some_and(|v| !v.is_empty()))
        };
        if !set(
            &env,
            &[
                "GOOGLE_PROJECT",
                "GOOGLE_CLOUD_PROJECT",
                "GCLOUD_PROJECT",
                "CLOUDSDK_CORE_PROJECT",
            ],
        ) {
            env.insert("GOOGLE_PROJECT".into(), LOCAL_DEFAULT_PROJECT.into());
        }
        if !set(
            &env,
            &[
                "GOOGLE_REGION",
                "GCLOUD_REGION",
                "CLOUDSDK_COMPUTE_REGION",
                "GOOGLE_ZONE",
                "GCLOUD_ZONE",
                "CLOUDSDK_COMPUTE_ZONE",
            ],
        ) {
            env.insert("GOOGLE_REGION".into(), LOCAL_DEFAULT_REGION.into());
        }
    }
    let known = |addr: &str| {
        if args.fresh.contains(addr) {
            return None;
        }
        state
            .and_then(|s| s.resources.get(addr))
            .and_then(|e| match e.values.to_value() {
                serde_json::Value::Object(m) => Some(m),
                _ => None,
            })
    };
    let data = |ty: &str, a: &serde_json::Map<String, serde_json::Value>| match client {
        _ if args.validate_only => Ok(crate::resources::data_sources::offline(ty, a)),
        None => Ok(crate::resources::data_sources::offline(ty, a)),
        Some(c) => crate::cloud::block_on(crate::resources::data_sources::read(c, ty, a))?,
    };
    let updated = |addr: &str| args.updated.contains(addr);
    let configure = client.map(|c| {
        move |p: &crate::config::Provider| {
            c.configure(&client_settings(p)).map_err(|e| e.to_string())
        }
    });
    let opts = LoadOptions {
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
        env,
        types: &type_info,
        type_names: TYPE_NAMES,
        known: &known,
        updated: &updated,
        data: &data,
        data_offline: args.validate_only || client.is_none(),
        data_schema: &crate::resources::data_sources::schema,
        data_names: crate::resources::data_sources::names().collect(),
        workspace: current_workspace(dir),
        validate_only: args.validate_only,
        console: args.console,
        on_provider: configure.as_ref().map(|f| f as _),
    };
    let (mut stack, mut diags, sources) = crate::config::load(dir, &opts);
    if let Some(s) = &mut stack {
        check_alias_credentials(s, &mut diags);
        let jobs = job_addresses(s);
        add_target_dependencies(s, &jobs);
        crate::resources::job_iam::check_conflicts(s, &mut diags);
        check_scheduler_grants(s, &mut diags);
        check_workflow_grants(s, &jobs, &mut diags);
        check_trigger_grants(s, &mut diags);
    }
    let ok = !diags.has_errors();
    (stack.filter(|_| ok), diags, sources)
}

/// For commands that call APIs without planning (`run`, `executions`, `logs`, `cancel`):
/// the client takes the stack's provider block (credentials, impersonation, endpoints), so
/// they call as the configuration says. A provider block that cannot be evaluated stops the
/// command rather than letting it call as someone else; a directory without a stack is fine.
pub fn configure_from_stack(client: &Client, dir: &Path) -> anyhow::Result<()> {
    let args = LoadArgs {
        validate_only: true,
        ..Default::default()
    };
    let (_, diags, sources) = load_stack(dir, &args, None, Some(client));
    let provider_problems: Vec<&Diagnostic> = diags
        .0
        .iter()
        .filter(|d| {
            d.severity == crate::diag::Severity::Error
                && (d.summary.starts_with("provider") || d.summary.contains("credentials"))
        })
        .collect();
    if !provider_problems.is_empty() {
        let mut only = Diagnostics::default();
        for d in provider_problems {
            only.push(d.clone());
        }
        anyhow::bail!(
            "the provider block cannot be evaluated, so runform does not know who to call as:\n{}",
            sources.render_all(&only)
        );
    }
    Ok(())
}

/// The client settings a provider configuration asks for.
pub fn client_settings(p: &crate::config::Provider) -> crate::cloud::Settings {
    crate::cloud::Settings {
        auth: crate::cloud::auth::AuthConfig {
            credentials: p.auth.credentials.clone(),
            access_token: p.auth.access_token.clone(),
            impersonate: p.auth.impersonate_service_account.clone(),
            delegates: p.auth.delegates.clone(),
            scopes: p.auth.scopes.clone(),
            use_adc: false,
        },
        endpoints: p.endpoints.clone(),
        user_project: p
            .user_project_override
            .then(|| p.billing_project.clone().or_else(|| p.project.clone()))
            .flatten(),
        request_reason: p.request_reason.clone(),
        request_timeout: p.request_timeout,
    }
}

/// One run calls as one principal through one set of endpoints: an aliased provider that
/// names other credentials or endpoints is refused rather than silently ignored.
fn check_alias_credentials(stack: &Stack, diags: &mut Diagnostics) {
    let root = &stack.provider;
    for (name, p) in &stack.provider_aliases {
        if name.starts_with("google-beta.") {
            continue;
        }
        let auth_differs = p.auth.is_set() && p.auth != root.auth;
        if auth_differs || (!p.endpoints.is_empty() && p.endpoints != root.endpoints) {
            diags.push(
                Diagnostic::error(
                    format!("provider {name} names other credentials or endpoints than the default provider: runform calls as one principal through one set of endpoints per run"),
                    p.range.clone(),
                )
                .with_hint("put the credentials and endpoints on the default provider block, or apply the aliased resources from a separate stack"),
            );
        }
    }
}

/// The Cloud Run jobs of the configuration: full name → address.
fn job_addresses(stack: &Stack) -> BTreeMap<String, String> {
    crate::resources::cloud_run_v2_job::jobs_in(&stack.resources)
        .map(|(id, r)| (id, r.addr.clone()))
        .collect()
}

/// Warns when an Eventarc trigger starts a workflow as an account that, as far as the
/// configuration shows, may not start workflows in the project (Eventarc needs
/// `workflows.executions.create`, e.g. roles/workflows.invoker).
fn check_trigger_grants(stack: &Stack, diags: &mut Diagnostics) {
    use crate::api::iam;
    use serde_json::Value;
    for rc in stack
        .resources
        .iter()
        .filter(|r| r.ty == crate::resources::eventarc_trigger::TYPE)
    {
        let v = &rc.values;
        let wf = v
            .pointer("/destination/workflow")
            .and_then(Value::as_str)
            .unwrap_or("");
        let sa = v
            .get("service_account")
            .and_then(Value::as_str)
            .unwrap_or("");
        if wf.is_empty() || sa.is_empty() || !rc.unknown.is_empty() {
            continue;
        }
        let project = format!(
            "projects/{}",
            v.get("project").and_then(Value::as_str).unwrap_or("")
        );
        let member = format!("serviceAccount:{sa}");
        if crate::resources::job_iam::configured_grant(
            stack,
            &project,
            &member,
            iam::WORKFLOWS_INVOKE,
        ) == Some(false)
        {
            diags.push(
                Diagnostic::warning(
                    format!("{} starts its workflow as {member}, but nothing in this configuration grants it {} on {project}: Eventarc's deliveries will fail with PERMISSION_DENIED", rc.addr, iam::WORKFLOWS_INVOKE),
                    Some(rc.range.clone()),
                )
                .with_hint(format!("resource \"google_project_iam_member\" {{ role = \"roles/workflows.invoker\", member = \"{member}\" }} (unless it is granted outside this configuration)")),
            );
        }
    }
}

/// Warns when a workflow's source names a Cloud Run job of this configuration that its service
/// account, as far as the configuration shows, may not run (with overrides when the source
/// sends them).
fn check_workflow_grants(stack: &Stack, jobs: &BTreeMap<String, String>, diags: &mut Diagnostics) {
    use crate::api::iam;
    for rc in stack
        .resources
        .iter()
        .filter(|r| r.ty == crate::resources::workflow::TYPE)
    {
        let v = &rc.values;
        if !rc.unknown.is_empty() {
            continue;
        }
        let src = v
            .get("source_contents")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let sa = v
            .get("service_account")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        if sa.is_empty() {
            continue;
        }
        let member = format!(
            "serviceAccount:{}",
            crate::api::workflows::service_account_email(sa)
        );
        let mut needed = vec![iam::RUN];
        if src.contains("overrides") {
            needed.push(iam::RUN_WITH_OVERRIDES);
        }
        for job in crate::resources::workflow::jobs_named_in(src, jobs) {
            for perm in &needed {
                if crate::resources::job_iam::configured_grant(stack, &job, &member, perm)
                    == Some(false)
                {
                    diags.push(
                        Diagnostic::warning(
                            format!("{} runs {job} as {member}, but nothing in this configuration grants it {perm} on that job: the connector call will fail with PERMISSION_DENIED", rc.addr),
                            Some(rc.range.clone()),
                        )
                        .with_hint(format!(
                            "grant it on the job with a google_cloud_run_v2_job_iam_member: role = \"{}\", member = \"{member}\"",
                            iam::roles_granting(perm)[0]
                        )),
                    );
                }
            }
        }
    }
}

/// Warns when a scheduler job runs a Cloud Run job as a service account that, as far as this
/// configuration shows, lacks `run.jobs.run` (or `run.jobs.runWithOverrides` when its body
/// carries overrides) on that job: the attempt would fail with PERMISSION_DENIED.
fn check_scheduler_grants(stack: &Stack, diags: &mut Diagnostics) {
    use crate::api::iam;
    for rc in stack
        .resources
        .iter()
        .filter(|r| r.ty == crate::resources::cloud_scheduler_job::TYPE)
    {
        let v = &rc.values;
        let Some(t) = v.get("http_target") else {
            continue;
        };
        if rc.has_unknown_in("http_target") {
            continue;
        }
        let uri = t
            .get("uri")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let Some(job) = crate::api::scheduler::run_job_target(uri) else {
            continue;
        };
        let job = crate::resources::cloud_scheduler_job::resolve_job(
            stack
                .resources
                .iter()
                .filter(|r| r.ty == crate::resources::cloud_run_v2_job::TYPE)
                .filter_map(|r| r.values.get("id").and_then(serde_json::Value::as_str)),
            &job,
        )
        .unwrap_or(job);
        let sa = ["oauth_token", "oidc_token"]
            .iter()
            .find_map(|k| t.pointer(&format!("/{k}/service_account_email")))
            .and_then(serde_json::Value::as_str);
        let Some(sa) = sa else { continue };
        let member = format!("serviceAccount:{sa}");
        let body: serde_json::Value = {
            use base64::Engine;
            let raw = t
                .get("body")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        };
        let overrides = body
            .get("overrides")
            .and_then(serde_json::Value::as_object)
            .is_some_and(|m| !m.is_empty());
        let mut needed = vec![iam::RUN];
        if overrides {
            needed.push(iam::RUN_WITH_OVERRIDES);
        }
        for perm in needed {
            if crate::resources::job_iam::configured_grant(stack, &job, &member, perm)
                == Some(false)
            {
                let role = iam::roles_granting(perm)[0];
                diags.push(
                    Diagnostic::warning(
                        format!("{} runs {job} as {member}, but nothing in this configuration grants it {perm} on that job: its attempts will fail with PERMISSION_DENIED", rc.addr),
                        Some(rc.range.clone()),
                    )
                    .with_hint(format!(
                        "grant it on the job: resource \"google_cloud_run_v2_job_iam_member\" {{ name = \"{}\", location = \"{}\", role = \"{role}\", member = \"{member}\" }} (least privilege; a project-wide grant also works)",
                        crate::api::run::last_segment(&job),
                        project_location(&job).map(|(_, l)| l).unwrap_or(""),
                    )),
                );
            }
        }
    }
}

/// A scheduler whose URI names a Cloud Run job of this configuration by its literal URL, or an
/// IAM resource naming one by its literal name, depends on that job (a reference expression
/// already makes the edge).
fn add_target_dependencies(stack: &mut Stack, jobs: &BTreeMap<String, String>) {
    use crate::resources::job_iam;
    for rc in &mut stack.resources {
        let deps: Vec<String> = if rc.ty == crate::resources::cloud_scheduler_job::TYPE {
            crate::resources::cloud_scheduler_job::targets_in(jobs, &rc.values)
                .into_iter()
                .collect()
        } else if [job_iam::MEMBER, job_iam::BINDING, job_iam::POLICY].contains(&rc.ty.as_str()) {
            jobs.get(&job_iam::job_of(&rc.values))
                .cloned()
                .into_iter()
                .collect()
        } else if rc.ty == crate::resources::workflow::TYPE {
            let src = rc
                .values
                .get("source_contents")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            crate::resources::workflow::jobs_named_in(src, jobs)
                .iter()
                .filter_map(|id| jobs.get(id).cloned())
                .collect()
        } else {
            vec![]
        };
        for dep in deps {
            if !rc.depends_on.contains(&dep) {
                rc.depends_on.push(dep);
            }
        }
    }
}

/// Where commands send API calls, and the state file that belongs to that target.
pub struct Target {
    pub client: Client,
    pub state_file: StateFile,
    pub label: String,
    /// A runtime started inside this command (stopped when the command ends).
    pub embedded: Option<Server>,
}

impl Target {
    pub async fn stop(self) {
        if let Some(s) = self.embedded {
            s.stop().await;
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct ServerRecord {
    pub url: String,
    pub pid: u32,
}

pub fn local_dir(stack_dir: &Path) -> PathBuf {
    stack_dir.join(".runform").join("local")
}

/// The state file of a target: one per endpoint, one for the local runtime, and
/// `runform.tfstate` beside the configuration for Google.
pub fn state_path(stack_dir: &Path, local: bool, endpoint: Option<&str>) -> PathBuf {
    if let Some(url) = endpoint {
        let key: String = url
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        return stack_dir
            .join(".runform")
            .join("endpoints")
            .join(key)
            .join("runform.tfstate");
    }
    if local {
        return local_dir(stack_dir).join("runform.tfstate");
    }
    stack_dir.join("runform.tfstate")
}

/// Picks the endpoint: `--endpoint URL`, `--local` (a recorded `runform local serve`, or a
/// runtime started inside this command with data under `.runform/local/`), or Google.
pub async fn target(
    stack_dir: &Path,
    local: bool,
    endpoint: Option<&str>,
) -> anyhow::Result<Target> {
    let (client, label, embedded) = connect(stack_dir, local, endpoint).await?;
    let state_file = open_state(stack_dir, local, endpoint, Some(&client)).await?;
    Ok(Target {
        client,
        state_file,
        label,
        embedded,
    })
}

/// The token a stack's local runtime requires: `RUNFORM_TOKEN`, else the token file beside
/// its `server.json` (`runform local serve --token` writes it, 0600).
pub fn runtime_token(local: &Path) -> Option<String> {
    std::env::var("RUNFORM_TOKEN")
        .ok()
        .or_else(|| std::fs::read_to_string(local.join("token")).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The executor `RUNFORM_EXECUTOR` asks for (`auto` when unset), for the runtime a `--local`
/// command starts itself.
fn executor_from_env() -> anyhow::Result<crate::runtime::executor::ExecutorChoice> {
    match std::env::var("RUNFORM_EXECUTOR") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|e| anyhow::anyhow!("RUNFORM_EXECUTOR: {e}")),
        _ => Ok(crate::runtime::executor::ExecutorChoice::Auto),
    }
}

/// The client for a target (starting a runtime inside this command for `--local` when none
/// is serving the stack).
async fn connect(
    stack_dir: &Path,
    local: bool,
    endpoint: Option<&str>,
) -> anyhow::Result<(Client, String, Option<Server>)> {
    if let Some(url) = endpoint {
        let client = Client::new(Endpoint::Custom(url.to_string())).await?;
        client.set_runtime_token(
            std::env::var("RUNFORM_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
        );
        return Ok((client, format!("endpoint {url}"), None));
    }
    if local {
        return connect_local(&local_dir(stack_dir)).await;
    }
    let client = Client::new(Endpoint::Google).await?;
    Ok((client, "Google Cloud".into(), None))
}

/// The URL of the stack's `runform local serve`, if one is recorded.
pub fn recorded_runtime_url(stack_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(local_dir(stack_dir).join("server.json")).ok()?;
    Some(serde_json::from_str::<ServerRecord>(&text).ok()?.url)
}

/// The stack's local runtime: a `runform local serve` recorded in `server.json`, else one
/// started inside this command on the stack's data. One runtime per data dir: while another
/// command's runtime holds it, this one waits (saying so) rather than start a second runtime,
/// which would take the first one's running executions for interrupted ones.
async fn connect_local(dir: &Path) -> anyhow::Result<(Client, String, Option<Server>)> {
    let mut said = false;
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("server.json")) {
            if let Ok(rec) = serde_json::from_str::<ServerRecord>(&text) {
                let client = Client::new(Endpoint::Custom(rec.url.clone())).await?;
                client.set_runtime_token(runtime_token(dir));
                if client.health().await {
                    return Ok((client, format!("local runtime at {}", rec.url), None));
                }
            }
        }
        let started = Server::start(
            RuntimeConfig {
                data_dir: Some(dir.join("data")),
                executor: executor_from_env()?,
                ..Default::default()
            },
            "127.0.0.1:0".parse()?,
        )
        .await;
        match started {
            Ok(server) => {
                let client = Client::new(Endpoint::Custom(server.url())).await?;
                let what = format!(
                    "local runtime (in this command, {} executor)",
                    server.runtime.executor().name()
                );
                return Ok((client, what, Some(server)));
            }
            Err(e) => match e.downcast_ref::<crate::runtime::DataDirInUse>() {
                Some(busy) => {
                    if !said {
                        eprintln!(
                            "waiting: the local runtime of another runform command (pid {}) is using this stack's data; this command goes on when it ends (or run `runform local serve` so that commands share one)",
                            busy.pid
                        );
                        said = true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                None => return Err(e),
            },
        }
    }
}

/// The selected workspace: `RUNFORM_WORKSPACE` (or `TF_WORKSPACE`), else the one
/// `runform workspace select` recorded, else `default`.
pub fn current_workspace(stack_dir: &Path) -> String {
    for k in ["RUNFORM_WORKSPACE", "TF_WORKSPACE"] {
        if let Ok(v) = std::env::var(k) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    std::fs::read_to_string(stack_dir.join(".runform").join("environment"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// The file state of a workspace: the target's state file for `default`, else
/// `<state>.d/WORKSPACE/runform.tfstate`.
pub fn workspace_file(base: &Path, workspace: &str) -> PathBuf {
    if workspace == "default" {
        return base.to_path_buf();
    }
    workspaces_dir(base).join(workspace).join("runform.tfstate")
}

/// Where the non-default workspaces of a file state live (`<state>.d/`).
pub fn workspaces_dir(base: &Path) -> PathBuf {
    let mut d = base.as_os_str().to_owned();
    d.push(".d");
    PathBuf::from(d)
}

/// The default workspace's state file when the state is a file: the `backend "local"` path
/// for the Google target, else the target's own file.
pub fn file_state_base(
    stack_dir: &Path,
    local: bool,
    endpoint: Option<&str>,
    backend: Option<&crate::config::backend::Backend>,
) -> PathBuf {
    match backend {
        Some(crate::config::backend::Backend::Local { path }) if !local && endpoint.is_none() => {
            stack_dir.join(path)
        }
        _ => state_path(stack_dir, local, endpoint),
    }
}

/// Whether the stack keeps its state in Cloud Storage (needs a client to open).
pub fn uses_remote_state(stack_dir: &Path) -> anyhow::Result<bool> {
    Ok(matches!(
        crate::config::backend::read(stack_dir).map_err(|e| anyhow::anyhow!(e))?,
        Some(crate::config::backend::Backend::Gcs { .. })
    ))
}

/// Opens the state of the selected workspace: per the `backend` block (a gcs bucket, through
/// `client`, which must be given then), or the target's local file.
pub async fn open_state(
    stack_dir: &Path,
    local: bool,
    endpoint: Option<&str>,
    client: Option<&Client>,
) -> anyhow::Result<StateFile> {
    use crate::config::backend::{self, Backend};
    let ws = current_workspace(stack_dir);
    backend::check_workspace_name(&ws).map_err(|e| anyhow::anyhow!(e))?;
    let base = state_path(stack_dir, local, endpoint);
    match backend::read(stack_dir).map_err(|e| anyhow::anyhow!(e))? {
        Some(Backend::Gcs { bucket, prefix }) => {
            let client =
                client.ok_or_else(|| anyhow::anyhow!("the gcs backend needs a connection"))?;
            // On Google the bucket must exist (as with Terraform); on the local runtime or an
            // emulator it is created on first use.
            if client.is_local() && client.get_bucket(&bucket).await?.is_none() {
                let project = std::env::var("GOOGLE_PROJECT")
                    .unwrap_or_else(|_| LOCAL_DEFAULT_PROJECT.into());
                client.ensure_bucket(&project, &bucket).await?;
            }
            let (object, lock_object) = backend::gcs_objects(&prefix, &ws);
            let journal = base
                .parent()
                .unwrap_or(stack_dir)
                .join("gcs")
                .join(&bucket)
                .join(object.replace('/', "__"));
            Ok(StateFile::gcs(
                journal,
                crate::state::Remote {
                    client: client.clone(),
                    bucket,
                    object,
                    lock_object,
                },
            ))
        }
        other => Ok(StateFile::new(workspace_file(
            &file_state_base(stack_dir, local, endpoint, other.as_ref()),
            &ws,
        ))),
    }
}

/// Reads live objects with one list call per (project, location) family, page by page.
pub async fn refresh(
    client: &Client,
    stack: Option<&Stack>,
    state: &State,
    page_size: usize,
) -> anyhow::Result<Live> {
    let mut families: BTreeSet<Family> = BTreeSet::new();
    if let Some(s) = stack {
        for rc in &s.resources {
            if let Some(rt) = registry(&rc.ty) {
                if let (Some(api), Some((p, l))) = (rt.live_api(), rt.family(&rc.values)) {
                    families.insert((api, p, l));
                }
            }
        }
    }
    families.extend(
        state
            .resources
            .values()
            .filter_map(|e| family_of_object(&e.ty, &e.id)),
    );
    list_families(client, &families, page_size).await
}

/// The live objects of the families holding these objects (type, id): what a saved plan
/// read, read again.
pub async fn refresh_objects(
    client: &Client,
    objects: &[(String, String)],
    page_size: usize,
) -> anyhow::Result<Live> {
    let families: BTreeSet<Family> = objects
        .iter()
        .filter_map(|(ty, id)| family_of_object(ty, id))
        .collect();
    list_families(client, &families, page_size).await
}

/// One list call's scope: (API, project, location).
type Family = (crate::resources::LiveApi, String, String);

fn family_of_object(ty: &str, id: &str) -> Option<Family> {
    let rt = registry(ty)?;
    let (p, l) = rt.family_of_id(id)?;
    Some((rt.live_api()?, p, l))
}

async fn list_families(
    client: &Client,
    families: &BTreeSet<Family>,
    page_size: usize,
) -> anyhow::Result<Live> {
    use crate::resources::LiveApi;
    type Raw = Box<serde_json::value::RawValue>;
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
    }
    let named = |api: LiveApi, items: Vec<Raw>| -> anyhow::Result<Vec<(String, Raw)>> {
        items
            .into_iter()
            .map(|j| {
                let n: Named = serde_json::from_str(j.get())
                    .map_err(|e| anyhow::anyhow!("a listed object has no name: {e}"))?;
                Ok((api.key(&n.name), j))
            })
            .collect()
    };
    let lists = futures::future::join_all(families.iter().map(|(api, p, l)| async move {
        Ok::<_, anyhow::Error>(match api {
            LiveApi::RunJobs => named(*api, client.list_jobs(p, l, page_size).await?)?,
            LiveApi::SchedulerJobs => named(*api, client.list_scheduler_jobs(p, l).await?)?,
            LiveApi::ServiceAccounts => named(*api, client.list_service_accounts(p).await?)?,
            LiveApi::Workflows => named(*api, client.list_workflows(p, l).await?)?,
            LiveApi::Triggers => named(*api, client.list_triggers(p, l).await?)?,
            // `p` is the bucket's name.
            LiveApi::Buckets => match client.get_bucket(p).await? {
                Some(b) => vec![(api.key(p), serde_json::value::to_raw_value(&b)?)],
                None => vec![],
            },
            // `p` is `PROJECT/SERVICE` here.
            LiveApi::Services => {
                let (project, svc) = p.split_once('/').unwrap_or(("", p));
                match client
                    .get_service(&format!("projects/{project}/services/{svc}"))
                    .await?
                {
                    Some(v) => vec![(api.key(p), serde_json::value::to_raw_value(&v)?)],
                    None => vec![],
                }
            }
            LiveApi::Repositories => named(*api, client.list_repositories(p, l).await?)?,
            LiveApi::Secrets => named(*api, client.list_secrets(p).await?)?,
            // `p` is the job here; a job that does not exist has no policy.
            LiveApi::JobIam => match client.get_iam_policy(p).await {
                Ok(policy) => vec![(api.key(p), serde_json::value::to_raw_value(&policy)?)],
                Err(e) if e.is_not_found() => vec![],
                Err(e) => return Err(e.into()),
            },
        })
    }))
    .await;
    let mut live = Live::new();
    for list in lists {
        live.extend(list?);
    }
    Ok(live)
}

/// Registers the stack's `local_image` mappings with a local runtime.
pub async fn register_images(client: &Client, stack: &Stack) -> anyhow::Result<()> {
    if client.is_local() {
        for m in &stack.local_images {
            client.register_image(m).await?;
        }
    }
    Ok(())
}

/// With `--local`: a warning at each job the plan creates or changes whose container the
/// runtime cannot run (no container engine, no `local_image` mapping, no command), so the
/// plan says so before anything runs.
pub async fn local_run_warnings(client: &Client, plan: &Plan) -> Vec<String> {
    if !client.is_local() {
        return Vec::new();
    }
    // Every job's containers in one call: (job address, container JSON).
    use serde_json::Value;
    let containers: Vec<(&str, &Value)> = plan
        .changes
        .iter()
        .filter(|c| c.ty == "google_cloud_run_v2_job" && c.action != crate::model::Action::Delete)
        .filter_map(|c| {
            let list = c.body.as_ref()?["template"]["template"]["containers"].as_array()?;
            Some(list.iter().map(move |k| (c.addr.as_str(), k)))
        })
        .flatten()
        .collect();
    if containers.is_empty() {
        return Vec::new();
    }
    let bodies: Vec<Value> = containers.iter().map(|(_, k)| (*k).clone()).collect();
    // A runtime that cannot answer (an older one) gets no warning, not a failed plan.
    let Ok(problems) = client.check_containers(&bodies).await else {
        return Vec::new();
    };
    containers
        .iter()
        .zip(problems)
        .filter_map(|((addr, _), p)| p.map(|p| format!("{addr}: {p}")))
        .collect()
}

pub fn make_plan(
    stack: &Stack,
    state: &State,
    live: &Live,
    opts: &crate::plan::PlanOptions,
    client: &Client,
    label: &str,
) -> Result<Plan, Diagnostics> {
    let mut p = crate::plan::plan(stack, state, live, opts)?;
    p.api_calls = client.calls();
    p.target = label.to_string();
    Ok(p)
}

/// Plans deferred changes again during apply, from the configuration in `dir` read against
/// the state as apply has left it.
pub struct ConfigReplanner<'c> {
    pub dir: PathBuf,
    /// The arguments the plan was made with (its variables, and what it replaces or updates).
    pub args: LoadArgs,
    pub client: &'c Client,
    /// What the plan replaces: replacements stay replacements.
    pub replacing: Vec<String>,
}

impl crate::apply::Replanner for ConfigReplanner<'_> {
    fn replan<'a>(
        &'a self,
        addrs: &'a [String],
        state: &'a State,
        applied: &'a [String],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::apply::Replanned> + Send + 'a>>
    {
        Box::pin(async move {
            // What is applied now has its new values in the state; the rest still waits.
            let mut args = self.args.clone();
            for a in applied {
                args.fresh.remove(a);
                args.updated.remove(a);
            }
            let (stack, diags, _) = load_stack(&self.dir, &args, Some(state), Some(self.client));
            let Some(stack) = stack else {
                let first = diags
                    .0
                    .iter()
                    .find(|d| d.severity == crate::diag::Severity::Error)
                    .map(|d| d.summary.clone())
                    .unwrap_or_default();
                return Err(format!(
                    "the configuration could not be read again with the values learned during apply: {first}"
                ));
            };
            let live = refresh(self.client, Some(&stack), state, 1000)
                .await
                .map_err(|e| format!("could not read the live objects again: {e}"))?;
            Ok(crate::plan::replan(
                &stack,
                state,
                &live,
                addrs,
                &self.replacing,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), text).unwrap();
        let args = LoadArgs {
            vars: vec![],
            var_files: vec![],
            local: true,
            ..Default::default()
        };
        let (stack, diags, sources) = load_stack(dir.path(), &args, None, None);
        stack.unwrap_or_else(|| panic!("{}", sources.render_all(&diags)))
    }

    fn job(name: &str, extra: &str) -> String {
        format!(
            r#"resource "google_cloud_run_v2_job" "{name}" {{
  name     = "{name}"
  location = "us-central1"
  {extra}
  template {{
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
}}
"#
        )
    }

    #[test]
    fn references_and_depends_on_become_dependencies_in_any_declaration_order() {
        let text = [
            job("a", "labels = { of = google_cloud_run_v2_job.c.name }"),
            job("b", "depends_on = [google_cloud_run_v2_job.a]"),
            job("c", ""),
        ]
        .concat();
        let stack = load(&text);
        let deps = |n: &str| {
            stack
                .resource(&format!("google_cloud_run_v2_job.{n}"))
                .unwrap()
                .depends_on
                .clone()
        };
        assert_eq!(deps("a"), vec!["google_cloud_run_v2_job.c"]);
        assert_eq!(deps("b"), vec!["google_cloud_run_v2_job.a"]);
        assert!(deps("c").is_empty());
        let a = stack.resource("google_cloud_run_v2_job.a").unwrap();
        assert_eq!(a.values.pointer("/labels/of").unwrap(), "c");
    }

    #[test]
    fn a_large_plan_is_planned_in_parallel_and_keeps_configuration_order() {
        let text: String = (0..700).map(|i| job(&format!("j{i}"), "")).collect();
        let stack = load(&text);
        let plan =
            crate::plan::plan(&stack, &State::new(), &Live::new(), &Default::default()).unwrap();
        let planned: Vec<&str> = plan.changes.iter().map(|c| c.addr.as_str()).collect();
        let declared: Vec<&str> = stack.resources.iter().map(|r| r.addr.as_str()).collect();
        assert_eq!(planned, declared);
        assert!(plan
            .changes
            .iter()
            .all(|c| c.action == crate::plan::Action::Create && c.body.is_some()));
    }
}
