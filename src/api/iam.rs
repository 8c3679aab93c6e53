//! IAM as the runtime enforces it and the planner reasons about it: which predefined roles
//! grant which Cloud Run job permissions (`shared/reference/gcp-api.md` §1.12).

use super::common::Policy;

pub const RUN: &str = "run.jobs.run";
pub const RUN_WITH_OVERRIDES: &str = "run.jobs.runWithOverrides";
pub const CANCEL: &str = "run.executions.cancel";
/// Starting a workflow execution (what an Eventarc trigger's account needs).
pub const WORKFLOWS_INVOKE: &str = "workflows.executions.create";

/// The job permissions a predefined role grants (roles not listed grant none of them).
pub fn role_permissions(role: &str) -> &'static [&'static str] {
    match role {
        "roles/owner" | "roles/editor" => &[RUN, RUN_WITH_OVERRIDES, CANCEL, WORKFLOWS_INVOKE],
        "roles/run.admin" | "roles/run.developer" => &[RUN, RUN_WITH_OVERRIDES, CANCEL],
        "roles/workflows.invoker" | "roles/workflows.editor" | "roles/workflows.admin" => {
            &[WORKFLOWS_INVOKE]
        }
        "roles/run.invoker" => &[RUN],
        "roles/run.jobsExecutor" => &[RUN, CANCEL],
        "roles/run.jobsExecutorWithOverrides" => &[RUN, RUN_WITH_OVERRIDES, CANCEL],
        _ => &[],
    }
}

/// Roles that grant `permission`, least privileged first (for hints).
pub fn roles_granting(permission: &str) -> Vec<&'static str> {
    [
        "roles/run.invoker",
        "roles/run.jobsExecutor",
        "roles/run.jobsExecutorWithOverrides",
        "roles/run.developer",
        "roles/run.admin",
        "roles/workflows.invoker",
    ]
    .into_iter()
    .filter(|r| role_permissions(r).contains(&permission))
    .collect()
}

/// `projects/P` (a project-level IAM resource), not a job or a workflow.
pub fn is_project(resource: &str) -> bool {
    matches!(resource.split('/').collect::<Vec<_>>().as_slice(), ["projects", p] if !p.is_empty())
}

/// The project (`projects/P`) a resource name (`projects/P/locations/...`) lives in, whose
/// grants it inherits.
pub fn project_of(resource: &str) -> String {
    resource.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// What a predefined role grants, as permission patterns (`run.*` any run permission,
/// `*.get` any get, `-X` an exception), after Google's role reference; roles not listed grant
/// nothing.
fn role_patterns(role: &str) -> &'static [&'static str] {
    match role {
        "roles/owner" => &["*"],
        // Editors manage secrets but do not read their payloads, as on Google.
        "roles/editor" => &["*", "-*.setIamPolicy", "-secretmanager.versions.access"],
        "roles/secretmanager.admin" => &["secretmanager.*"],
        "roles/secretmanager.secretAccessor" => &["secretmanager.versions.access"],
        "roles/secretmanager.viewer" => &["secretmanager.*.get", "secretmanager.*.list"],
        "roles/secretmanager.secretVersionAdder" => &["secretmanager.versions.add"],
        "roles/secretmanager.secretVersionManager" => {
            &["secretmanager.versions.*", "-secretmanager.versions.access"]
        }
        "roles/viewer" => &["*.get", "*.list", "*.getIamPolicy"],
        "roles/run.admin" => &["run.*"],
        "roles/run.developer" => &["run.*", "-*.setIamPolicy"],
        "roles/run.viewer" => &["run.*.get", "run.*.list", "run.*.getIamPolicy"],
        "roles/run.invoker" => &["run.jobs.run", "run.routes.invoke"],
        "roles/run.jobsExecutor" => &[
            "run.jobs.run",
            "run.executions.cancel",
            "run.*.get",
            "run.*.list",
        ],
        "roles/run.jobsExecutorWithOverrides" => &[
            "run.jobs.run",
            "run.jobs.runWithOverrides",
            "run.executions.cancel",
            "run.*.get",
            "run.*.list",
        ],
        "roles/cloudscheduler.admin" => &["cloudscheduler.*"],
        "roles/cloudscheduler.viewer" => &["cloudscheduler.*.get", "cloudscheduler.*.list"],
        "roles/cloudscheduler.jobRunner" => &["cloudscheduler.jobs.run"],
        "roles/workflows.admin" => &["workflows.*"],
        "roles/workflows.editor" => &["workflows.*", "-*.setIamPolicy"],
        "roles/workflows.invoker" => &["workflows.executions.create"],
        "roles/workflows.viewer" => &["workflows.*.get", "workflows.*.list"],
        "roles/eventarc.admin" => &["eventarc.*"],
        "roles/eventarc.developer" => &["eventarc.*", "-*.setIamPolicy"],
        "roles/eventarc.viewer" => &["eventarc.*.get", "eventarc.*.list"],
        "roles/eventarc.eventReceiver" => &["eventarc.events.receiveEvent"],
        "roles/iam.serviceAccountAdmin" => &[
            "iam.serviceAccounts.*",
            "-iam.serviceAccounts.getAccessToken",
            "-iam.serviceAccounts.actAs",
        ],
        "roles/iam.serviceAccountUser" => &[
            "iam.serviceAccounts.actAs",
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.list",
        ],
        "roles/iam.serviceAccountTokenCreator" => &[
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.getOpenIdToken",
            "iam.serviceAccounts.signBlob",
            "iam.serviceAccounts.signJwt",
            "iam.serviceAccounts.implicitDelegation",
        ],
        "roles/resourcemanager.projectIamAdmin" => &[
            "resourcemanager.projects.getIamPolicy",
            "resourcemanager.projects.setIamPolicy",
        ],
        "roles/serviceusage.serviceUsageAdmin" => &["serviceusage.*"],
        "roles/serviceusage.serviceUsageViewer" => &["serviceusage.*.get", "serviceusage.*.list"],
        "roles/storage.admin" => &["storage.*"],
        "roles/storage.objectAdmin" => &["storage.objects.*"],
        "roles/storage.objectViewer" => &["storage.objects.get", "storage.objects.list"],
        "roles/storage.objectCreator" => &["storage.objects.create"],
        "roles/artifactregistry.admin" => &["artifactregistry.*"],
        "roles/artifactregistry.reader" => &["artifactregistry.*.get", "artifactregistry.*.list"],
        "roles/logging.logWriter" => &["logging.logEntries.create"],
        "roles/logging.viewer" => &["logging.logEntries.list", "logging.*.get", "logging.*.list"],
        "roles/pubsub.publisher" => &["pubsub.topics.publish"],
        _ => &[],
    }
}

/// Whether a permission pattern (`run.*`, `*.get`, `run.*.get`) matches a permission.
fn pattern_matches(pattern: &str, permission: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == permission,
        Some((pre, post)) => {
            permission.len() >= pre.len() + post.len()
                && permission.starts_with(pre)
                && permission.ends_with(post)
        }
    }
}

/// Whether a predefined role grants a permission.
pub fn role_grants(role: &str, permission: &str) -> bool {
    let patterns = role_patterns(role);
    patterns
        .iter()
        .any(|p| !p.starts_with('-') && pattern_matches(p, permission))
        && !patterns
            .iter()
            .filter_map(|p| p.strip_prefix('-'))
            .any(|p| pattern_matches(p, permission))
}

/// Whether `policy` grants `member` (e.g. `serviceAccount:x@p.iam.gserviceaccount.com`) the
/// permission now, directly or through `allUsers` / `allAuthenticatedUsers`.
pub fn grants(policy: &Policy, member: &str, permission: &str) -> bool {
    grants_at(policy, member, permission, chrono::Utc::now())
}

/// Whether an IAM condition holds at `now`. Conditions on `request.time` (comparisons with
/// `timestamp("RFC 3339")`, joined by `&&` or `||`) are evaluated; any other condition does not
/// hold (it does not grant).
pub fn condition_holds(expression: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    let clause = |c: &str| -> Option<bool> {
        // Grouping parentheses around a clause, but not the call's own.
        let mut c = c.trim().trim_start_matches('(').trim();
        while c.ends_with(')') && c.matches(')').count() > c.matches('(').count() {
            c = c[..c.len() - 1].trim_end();
        }
        let rest = c.strip_prefix("request.time")?.trim_start();
        let (op, rest) = ["<=", ">=", "<", ">", "==", "!="]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|r| (*op, r.trim())))?;
        let ts = rest
            .strip_prefix("timestamp(")?
            .strip_suffix(')')?
            .trim()
            .trim_matches(|q| q == '"' || q == '\'');
        let t = chrono::DateTime::parse_from_rfc3339(ts)
            .ok()?
            .with_timezone(&chrono::Utc);
        Some(match op {
            "<" => now < t,
            "<=" => now <= t,
            ">" => now > t,
            ">=" => now >= t,
            "==" => now == t,
            _ => now != t,
        })
    };
    expression
        .split("||")
        .any(|any| any.split("&&").all(|all| clause(all).unwrap_or(false)))
}

/// [`grants`] at a given time (the local runtime's clock).
pub fn grants_at(
    policy: &Policy,
    member: &str,
    permission: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    policy.bindings.iter().any(|b| {
        b.condition
            .as_ref()
            .is_none_or(|c| condition_holds(c["expression"].as_str().unwrap_or(""), now))
            && role_grants(&b.role, permission)
            && b.members
                .iter()
                .any(|m| m == member || m == "allUsers" || m == "allAuthenticatedUsers")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Binding;

    #[test]
    fn time_conditions() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert!(condition_holds(
            r#"request.time < timestamp("2027-01-01T00:00:00Z")"#,
            now
        ));
        assert!(!condition_holds(
            r#"request.time < timestamp("2026-01-01T00:00:00Z")"#,
            now
        ));
        assert!(condition_holds(
            r#"request.time > timestamp("2026-01-01T00:00:00Z") && request.time < timestamp("2026-12-31T00:00:00Z")"#,
            now
        ));
        assert!(!condition_holds(r#"resource.name.startsWith("x")"#, now));
    }

    #[test]
    fn roles_and_grants() {
        let p = Policy {
            bindings: vec![Binding {
                role: "roles/run.invoker".into(),
                members: vec!["serviceAccount:a@p.iam.gserviceaccount.com".into()],
                condition: None,
            }],
            ..Default::default()
        };
        assert!(grants(
            &p,
            "serviceAccount:a@p.iam.gserviceaccount.com",
            RUN
        ));
        assert!(!grants(
            &p,
            "serviceAccount:a@p.iam.gserviceaccount.com",
            RUN_WITH_OVERRIDES
        ));
        assert!(!grants(
            &p,
            "serviceAccount:b@p.iam.gserviceaccount.com",
            RUN
        ));
        assert!(role_grants("roles/editor", "run.jobs.create"));
        assert!(!role_grants("roles/editor", "run.jobs.setIamPolicy"));
        assert!(role_grants("roles/run.viewer", "run.jobs.get"));
        assert!(!role_grants("roles/run.viewer", "run.jobs.create"));
        assert!(!role_grants(
            "roles/iam.serviceAccountAdmin",
            "iam.serviceAccounts.getAccessToken"
        ));
        assert_eq!(
            roles_granting(RUN_WITH_OVERRIDES)[0],
            "roles/run.jobsExecutorWithOverrides"
        );
    }
}
