//! The `provider "google"` block: its arguments as the google provider 7.x declares them
//! (validated, the closest name suggested for a misspelt one), the environment variables the
//! provider reads for them, and [`Provider`], the settings a run honours: project, region and
//! zone defaults; who calls (credentials, access token, impersonation); how (scopes, billing
//! project, timeout, request reason); labels (`default_labels`, the attribution label); and
//! where (`<service>_custom_endpoint`).

use crate::api::Api;
use std::collections::BTreeMap;

/// How a provider argument's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    String,
    Bool,
    StringList,
    StringMap,
    /// A nested block runform accepts but does not act on (`batching`).
    IgnoredBlock,
    /// A nested block runform refuses, with the reason (`external_credentials`).
    UnsupportedBlock(&'static str),
}

/// The google provider's arguments other than custom endpoints (provider.go, 7.x).
pub const ARGS: &[(&str, ArgKind)] = &[
    ("credentials", ArgKind::String),
    ("access_token", ArgKind::String),
    (
        "external_credentials",
        ArgKind::UnsupportedBlock("workload identity federation (external_credentials) is not supported by runform: use credentials, access_token or impersonate_service_account"),
    ),
    ("impersonate_service_account", ArgKind::String),
    ("impersonate_service_account_delegates", ArgKind::StringList),
    ("project", ArgKind::String),
    ("billing_project", ArgKind::String),
    ("region", ArgKind::String),
    ("zone", ArgKind::String),
    ("scopes", ArgKind::StringList),
    ("universe_domain", ArgKind::String),
    ("batching", ArgKind::IgnoredBlock),
    ("user_project_override", ArgKind::Bool),
    ("request_timeout", ArgKind::String),
    ("poll_interval", ArgKind::String),
    ("request_reason", ArgKind::String),
    ("default_labels", ArgKind::StringMap),
    ("add_terraform_attribution_label", ArgKind::Bool),
    ("terraform_attribution_label_addition_strategy", ArgKind::String),
    ("prefer_global_endpoints", ArgKind::Bool),
    ("prefer_regional_endpoints", ArgKind::Bool),
    ("alias", ArgKind::String),
];

/// The custom endpoint settings runform routes calls with: the provider's name (without
/// `_custom_endpoint`), the API it names, and the version path its value ends with.
pub const ROUTED_ENDPOINTS: &[(&str, Api, &str)] = &[
    ("cloud_run_v2", Api::Run, "/v2"),
    ("cloud_scheduler", Api::Scheduler, "/v1"),
    ("iam", Api::Iam, "/v1"),
    ("iam_credentials", Api::IamCredentials, "/v1"),
    ("workflows", Api::Workflows, "/v1"),
    ("eventarc", Api::Eventarc, "/v1"),
    ("storage", Api::Storage, "/storage/v1"),
    ("resource_manager", Api::ResourceManager, "/v1"),
    ("compute", Api::Compute, "/compute/v1"),
    ("service_usage", Api::ServiceUsage, "/v1"),
    ("artifact_registry", Api::ArtifactRegistry, "/v1"),
    ("logging", Api::Logging, "/v2"),
    ("secret_manager", Api::SecretManager, "/v1"),
];

/// Every other `<service>_custom_endpoint` the provider has (accepted; runform calls none of
/// those services).
const OTHER_ENDPOINTS: &[&str] = &[
    "access_approval",
    "access_context_manager",
    "active_directory",
    "alloydb",
    "apigee",
    "apihub",
    "app_engine",
    "apphub",
    "backup_dr",
    "beyondcorp",
    "biglake",
    "biglake_iceberg",
    "big_query",
    "bigquery_analytics_hub",
    "bigquery_connection",
    "bigquery_datapolicy",
    "bigquery_datapolicyv2",
    "bigquery_data_transfer",
    "bigquery_reservation",
    "bigtable",
    "billing",
    "binary_authorization",
    "blockchain_node_engine",
    "certificate_manager",
    "ces",
    "chronicle",
    "cloud_asset",
    "cloud_build",
    "cloudbuildv2",
    "clouddeploy",
    "clouddomains",
    "cloud_functions",
    "cloudfunctions2",
    "cloud_identity",
    "cloud_ids",
    "cloud_quotas",
    "cloud_run",
    "cloud_security_compliance",
    "cloud_tasks",
    "colab",
    "composer",
    "contact_center_insights",
    "container",
    "container_analysis",
    "container_attached",
    "core_billing",
    "database_migration_service",
    "data_catalog",
    "dataform",
    "data_fusion",
    "data_loss_prevention",
    "data_pipeline",
    "dataplex",
    "dataproc",
    "dataproc_gdc",
    "dataproc_metastore",
    "datastream",
    "deployment_manager",
    "developer_connect",
    "dialogflow",
    "dialogflow_cx",
    "discovery_engine",
    "dns",
    "document_ai",
    "document_ai_warehouse",
    "edgecontainer",
    "edgenetwork",
    "essential_contacts",
    "filestore",
    "firebase_app_check",
    "firebase_app_hosting",
    "firebase_data_connect",
    "firestore",
    "gemini",
    "gke_backup",
    "gke_hub",
    "gke_hub2",
    "gkeonprem",
    "healthcare",
    "hypercomputecluster",
    "iam2",
    "iam3",
    "iam_beta",
    "iam_workforce_pool",
    "iap",
    "identity_platform",
    "integration_connectors",
    "integrations",
    "kms",
    "looker",
    "lustre",
    "managed_kafka",
    "memcache",
    "memorystore",
    "migration_center",
    "ml_engine",
    "model_armor",
    "model_armor_global",
    "monitoring",
    "netapp",
    "network_connectivity",
    "network_connectivityv1",
    "network_management",
    "network_security",
    "network_services",
    "notebooks",
    "observability",
    "oracle_database",
    "org_policy",
    "os_config",
    "os_config_v2",
    "os_login",
    "parallelstore",
    "parameter_manager",
    "parameter_manager_regional",
    "privateca",
    "privileged_access_manager",
    "public_ca",
    "pubsub",
    "pubsub_lite",
    "redis",
    "resource_manager3",
    "secret_manager_regional",
    "secure_source_manager",
    "security_center",
    "security_center_management",
    "security_center_v2",
    "securityposture",
    "service_directory",
    "service_management",
    "service_networking",
    "site_verification",
    "source_repo",
    "spanner",
    "sql",
    "storage_batch_operations",
    "storage_control",
    "storage_insights",
    "storage_transfer",
    "tags",
    "transcoder",
    "vector_search",
    "vertex_ai",
    "vmwareengine",
    "vpc_access",
    "workbench",
    "workload_identity",
    "workstations",
    "cloud_billing",
    "dataflow",
    "resource_manager_v3",
    "tags_location",
    "container_aws",
    "container_azure",
    "apikeys",
    "assured_workloads",
    "cloud_resource_manager",
    "firebaserules",
    "recaptcha_enterprise",
];

/// What a provider argument name is: one of [`ARGS`], a custom endpoint, or unknown.
pub fn arg_kind(name: &str) -> Option<ArgKind> {
    if let Some((_, k)) = ARGS.iter().find(|(n, _)| *n == name) {
        return Some(*k);
    }
    let service = name.strip_suffix("_custom_endpoint")?;
    (ROUTED_ENDPOINTS.iter().any(|(n, _, _)| *n == service) || OTHER_ENDPOINTS.contains(&service))
        .then_some(ArgKind::String)
}

/// Every argument name, for suggesting the closest to a misspelt one.
pub fn arg_names() -> impl Iterator<Item = String> {
    ARGS.iter().map(|(n, _)| n.to_string()).chain(
        ROUTED_ENDPOINTS
            .iter()
            .map(|(n, _, _)| *n)
            .chain(OTHER_ENDPOINTS.iter().copied())
            .map(|s| format!("{s}_custom_endpoint")),
    )
}

/// The environment variables the provider reads for an argument when the block does not set
/// it, in its order (`transport_tpg.HandleSDKDefaults` and `SetEndpointDefaults`).
pub fn env_keys(name: &str) -> Vec<String> {
    let fixed: &[&str] = match name {
        "project" => &[
            "GOOGLE_PROJECT",
            "GOOGLE_CLOUD_PROJECT",
            "GCLOUD_PROJECT",
            "CLOUDSDK_CORE_PROJECT",
        ],
        "region" => &["GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"],
        "zone" => &["GOOGLE_ZONE", "GCLOUD_ZONE", "CLOUDSDK_COMPUTE_ZONE"],
        "credentials" => &[
            "GOOGLE_CREDENTIALS",
            "GOOGLE_CLOUD_KEYFILE_JSON",
            "GCLOUD_KEYFILE_JSON",
        ],
        "access_token" => &["GOOGLE_OAUTH_ACCESS_TOKEN"],
        "impersonate_service_account" => &["GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"],
        "billing_project" => &["GOOGLE_BILLING_PROJECT"],
        "user_project_override" => &["USER_PROJECT_OVERRIDE"],
        "request_reason" => &["CLOUDSDK_CORE_REQUEST_REASON"],
        "universe_domain" => &["GOOGLE_UNIVERSE_DOMAIN"],
        _ => &[],
    };
    if !fixed.is_empty() {
        return fixed.iter().map(|s| s.to_string()).collect();
    }
    match name.strip_suffix("_custom_endpoint") {
        Some(service) => vec![format!("GOOGLE_{}_CUSTOM_ENDPOINT", service.to_uppercase())],
        None => Vec::new(),
    }
}

/// The provider settings of one `provider "google"` configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub project: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub range: Option<crate::diag::Range>,
    pub auth: AuthSettings,
    /// `billing_project`, sent as `X-Goog-User-Project` when `user_project_override` is set.
    pub billing_project: Option<String>,
    pub user_project_override: bool,
    /// `request_timeout` (a Go duration).
    pub request_timeout: Option<std::time::Duration>,
    pub request_reason: Option<String>,
    /// `default_labels`: merged under each resource's `labels` (`terraform_labels`).
    pub default_labels: BTreeMap<String, String>,
    /// `add_terraform_attribution_label` (default true since provider 6.0) and its strategy.
    pub attribution: Attribution,
    /// API → base URL from `<service>_custom_endpoint` (version path removed).
    pub endpoints: BTreeMap<Api, String>,
    /// The provider major version whose defaults apply (`required_providers`; 7 without).
    pub major: u32,
}

impl Default for Provider {
    fn default() -> Self {
        Provider {
            project: None,
            region: None,
            zone: None,
            range: None,
            auth: AuthSettings::default(),
            billing_project: None,
            user_project_override: false,
            request_timeout: None,
            request_reason: None,
            default_labels: BTreeMap::new(),
            attribution: Attribution::CreateOnly,
            endpoints: BTreeMap::new(),
            major: 7,
        }
    }
}

/// Who the calls are made as.
#[derive(Clone, Default, PartialEq)]
pub struct AuthSettings {
    /// `credentials`: a service account key's JSON, or a path to it.
    pub credentials: Option<String>,
    pub access_token: Option<String>,
    pub impersonate_service_account: Option<String>,
    pub delegates: Vec<String>,
    pub scopes: Vec<String>,
}

/// Secrets stay out of debug output.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |o: &Option<String>| o.as_ref().map(|_| "(sensitive value)");
        f.debug_struct("AuthSettings")
            .field("credentials", &shown(&self.credentials))
            .field("access_token", &shown(&self.access_token))
            .field(
                "impersonate_service_account",
                &self.impersonate_service_account,
            )
            .field("delegates", &self.delegates)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl AuthSettings {
    /// Whether anything says who to call as (otherwise: Application Default Credentials on
    /// Google, the local owner on the local runtime).
    pub fn is_set(&self) -> bool {
        self.credentials.is_some()
            || self.access_token.is_some()
            || self.impersonate_service_account.is_some()
    }
}

/// When the attribution label is added (`add_terraform_attribution_label`,
/// `terraform_attribution_label_addition_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attribution {
    Off,
    /// To objects created from now on (the default strategy).
    #[default]
    CreateOnly,
    /// To every labelled object, existing ones too.
    Proactive,
}

/// The label the provider adds to every labelled resource it creates (the attribution label).
pub const ATTRIBUTION_LABEL: (&str, &str) = ("goog-terraform-provisioned", "true");

/// The API base URL a custom endpoint names: the value without its version path
/// (`http://127.0.0.1:8080/v2/` → `http://127.0.0.1:8080`), or why it is not one.
pub fn endpoint_base(value: &str, version_path: &str) -> Result<String, String> {
    let url = value.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "{value:?} is not an http(s) URL (the provider expects e.g. \"https://run.googleapis.com/v2/\")"
        ));
    }
    Ok(url.strip_suffix(version_path).unwrap_or(url).to_string())
}

/// Parses a Go duration (`30s`, `1m30s`, `1.5h`, `250ms`), as `request_timeout` takes.
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    crate::api::common::parse_go_duration(s).ok()
}

/// The operations a type's `timeouts {}` block takes (the provider's), or `None` when it has
/// no such block.
pub fn timeouts_of(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "google_cloud_run_v2_job"
        | "google_cloud_scheduler_job"
        | "google_eventarc_trigger"
        | "google_workflows_workflow"
        | "google_artifact_registry_repository" => &["create", "update", "delete"],
        "google_storage_bucket" => &["create", "update", "read"],
        "google_service_account" => &["create"],
        "google_project_service" => &["create", "update", "read", "delete"],
        _ => return None,
    })
}

/// The provider major versions whose defaults runform implements.
pub const IMPLEMENTED_MAJORS: &[u32] = &[5, 6, 7];

/// A version: major, minor, patch.
type Version = (u64, u64, u64);

fn parse_version(v: &str) -> Option<(Version, usize)> {
    let core = v.split(['-', '+']).next()?;
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let get = |i: usize| parts.get(i).copied().unwrap_or(0);
    Some(((get(0), get(1), get(2)), parts.len()))
}

/// Whether a version meets one part of a constraint.
type VersionTest = Box<dyn Fn(Version) -> bool>;

/// One `OP VERSION` of a Terraform version constraint, as a test on versions.
fn constraint_test(c: &str) -> Result<(VersionTest, Version), String> {
    let c = c.trim();
    let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("=", c));
    let rest = rest.trim();
    let (v, n) = parse_version(rest).ok_or_else(|| {
        format!("{c:?} is not a version constraint (e.g. \">= 6.0\", \"~> 7.10\")")
    })?;
    let f: VersionTest = match op {
        "=" => Box::new(move |x| x == v),
        "!=" => Box::new(move |x| x != v),
        ">" => Box::new(move |x| x > v),
        ">=" => Box::new(move |x| x >= v),
        "<" => Box::new(move |x| x < v),
        "<=" => Box::new(move |x| x <= v),
        _ => {
            // ~> allows the rightmost given part to grow: ~> 6.1 is >= 6.1, < 7.0;
            // ~> 6.1.2 is >= 6.1.2, < 6.2.0; ~> 6 is >= 6, < 7.
            let upper = match n {
                3 => (v.0, v.1 + 1, 0),
                _ => (v.0 + 1, 0, 0),
            };
            Box::new(move |x| x >= v && x < upper)
        }
    };
    Ok((f, v))
}

/// The newest provider major version runform implements that a `required_providers`
/// version constraint allows (7 when there is none), or why none is.
pub fn major_for(constraint: &str) -> Result<u32, String> {
    let mut tests = Vec::new();
    let mut bounds = Vec::new();
    for c in constraint.split(',').filter(|c| !c.trim().is_empty()) {
        let (t, v) = constraint_test(c)?;
        tests.push(t);
        bounds.push(v);
    }
    for &major in IMPLEMENTED_MAJORS.iter().rev() {
        let m = major as u64;
        // Candidates: a grid of this major's releases and the constraint's own versions.
        let grid = (0..=60).flat_map(|minor| (0..=5).map(move |patch| (m, minor, patch)));
        let mut candidates: Vec<Version> = grid.collect();
        candidates.extend(
            bounds
                .iter()
                .filter(|b| b.0 == m)
                .flat_map(|b| [*b, (b.0, b.1, b.2 + 1), (b.0, b.1 + 1, 0)]),
        );
        if candidates.iter().any(|v| tests.iter().all(|t| t(*v))) {
            return Ok(major);
        }
    }
    Err(format!(
        "the google provider version constraint {constraint:?} excludes every version runform implements (5.x, 6.x and 7.x)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constraints_choose_a_major() {
        assert_eq!(major_for(">= 4.0"), Ok(7));
        assert_eq!(major_for("~> 5.0"), Ok(5));
        assert_eq!(major_for("~> 6.10"), Ok(6));
        assert_eq!(major_for(">= 5.0, < 7.0"), Ok(6));
        assert_eq!(major_for("= 6.13.7"), Ok(6));
        assert_eq!(major_for("~> 5.44.2"), Ok(5));
        assert!(major_for("< 5.0")
            .unwrap_err()
            .contains("excludes every version"));
        assert!(major_for("~> 8.0").is_err());
        assert!(major_for("banana")
            .unwrap_err()
            .contains("not a version constraint"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let p = Provider {
            auth: AuthSettings {
                access_token: Some("ya29.secret-token".into()),
                credentials: Some("{\"private_key\": \"-----BEGIN\"}".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("secret-token") && !shown.contains("BEGIN"),
            "{shown}"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("30s"),
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            parse_go_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_go_duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(parse_go_duration("2"), None);
        assert_eq!(parse_go_duration("abc"), None);
    }

    #[test]
    fn argument_names() {
        assert_eq!(
            arg_kind("cloud_run_v2_custom_endpoint"),
            Some(ArgKind::String)
        );
        assert_eq!(arg_kind("dns_custom_endpoint"), Some(ArgKind::String));
        assert_eq!(arg_kind("bogus_custom_endpoint"), None);
        assert_eq!(arg_kind("totally_bogus_argument"), None);
        assert_eq!(
            env_keys("cloud_scheduler_custom_endpoint"),
            vec!["GOOGLE_CLOUD_SCHEDULER_CUSTOM_ENDPOINT".to_string()]
        );
        assert_eq!(
            endpoint_base("http://127.0.0.1:9/v2/", "/v2").unwrap(),
            "http://127.0.0.1:9"
        );
        assert!(endpoint_base("run.example", "/v2").is_err());
    }
}
