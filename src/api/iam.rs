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

/// Whether `policy` grants `member` (e.g. `serviceAccount:x@p.iam.gserviceaccount.com`) the
/// permission, directly or through `allUsers` / `allAuthenticatedUsers`. Conditional bindings
/// are not evaluated and do not grant.
pub fn grants(policy: &Policy, member: &str, permission: &str) -> bool {
    policy.bindings.iter().any(|b| {
        b.condition.is_none()
            && role_permissions(&b.role).contains(&permission)
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
        assert_eq!(
            roles_granting(RUN_WITH_OVERRIDES)[0],
            "roles/run.jobsExecutorWithOverrides"
        );
    }
}
