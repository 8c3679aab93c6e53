//! `google_service_account`: `account_id`, `display_name`, `description`, `disabled`,
//! `project` → `email`, `member`, `name`, `unique_id`. The email follows from the account id
//! and project, so runform knows it at plan time (Terraform shows it as "known after apply"),
//! which lets IAM checks and references see it before anything exists.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::api::iam_admin::{
    check_account_id, email_of, CreateServiceAccountRequest, PatchServiceAccountRequest,
    ServiceAccount,
};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_service_account";

/// The google provider 7.x schema of `google_service_account` (`X`: not implemented by
/// runform yet).
pub const SCHEMA_TEXT: &str = r#"
id                            string C
account_id                    string R FN tf
project                       string O C FN tf
display_name                  string O tf
description                   string O tf
disabled                      bool   O tf default=false
create_ignore_already_exists  bool   O tf
deletion_policy               string O C tf
email                         string C
member                        string C tf
name                          string C
unique_id                     string C
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct ServiceAccountType;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

impl TypeInfo for ServiceAccountType {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, None);
        let parts = ["project", "account_id"];
        d.set("email", &parts, |d| {
            Value::String(email_of(&d.str("account_id"), &d.str("project")))
        });
        d.set("member", &parts, |d| {
            Value::String(format!("serviceAccount:{}", d.str("email")))
        });
        for k in ["name", "id"] {
            d.set(k, &parts, |d| {
                Value::String(format!(
                    "projects/{}/serviceAccounts/{}",
                    d.str("project"),
                    d.str("email")
                ))
            });
        }
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let id = s(&rc.values, "account_id");
        if !rc.is_unknown("account_id") {
            if let Err(e) = check_account_id(id) {
                diags.push(Diagnostic::error(
                    format!("{}: {e}", rc.addr),
                    Some(rc.span("account_id")),
                ));
            }
        }
        if rc.missing("project") {
            diags.push(
                Diagnostic::error(format!("{}: no project", rc.addr), Some(rc.range.clone()))
                    .with_hint("set `project` here or in the provider block"),
            );
        }
        if s(&rc.values, "display_name").chars().count() > 100 {
            diags.push(Diagnostic::error(
                format!("{}: display_name is longer than 100 characters", rc.addr),
                Some(rc.span("display_name")),
            ));
        }
    }
}

pub struct ServiceAccounts;

/// What the configuration says, in the API's terms (for comparison with the live account).
fn view(v: &Value) -> Value {
    serde_json::json!({
        "display_name": s(v, "display_name"),
        "description": s(v, "description"),
        "disabled": v.get("disabled").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn live_view(a: &ServiceAccount) -> Value {
    serde_json::json!({
        "display_name": a.display_name,
        "description": a.description,
        "disabled": a.disabled,
    })
}

fn entry(values: &Value, live: &ServiceAccount) -> StateEntry {
    let server = serde_json::to_value(live).unwrap_or(Value::Null);
    super::applied_entry(TYPE, s(values, "id").to_string(), values, &SCHEMA, &server)
}

impl ResourceType for ServiceAccounts {
    fn name(&self) -> &'static str {
        TYPE
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::ServiceAccounts)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        self.family_of_id(s(values, "id"))
    }
    fn family_of_id(&self, id: &str) -> Option<(String, String)> {
        // projects/P/serviceAccounts/EMAIL: one list per project.
        let p = id.strip_prefix("projects/")?.split('/').next()?;
        Some((p.to_string(), String::new()))
    }

    fn canonical_id(&self, id: &str, values: &Value) -> String {
        // The provider imports `projects/P/serviceAccounts/EMAIL`, `P/EMAIL` or `EMAIL`.
        let project = values.get("project").and_then(Value::as_str).unwrap_or("");
        match id.split('/').collect::<Vec<_>>().as_slice() {
            [email] => format!("projects/{project}/serviceAccounts/{email}"),
            [p, email] => format!("projects/{p}/serviceAccounts/{email}"),
            _ => id.to_string(),
        }
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let PlanInput {
            addr,
            config,
            state,
            live,
            ..
        } = input;
        let Some(rc) = config else {
            return super::plan_removal(addr, TYPE, state, live.is_some());
        };
        let mut change = Change::new(addr, TYPE);
        let v = &rc.values;
        let id = s(v, "id").to_string();
        change.new_id = Some(id.clone());
        change.prior_id = state.map(|st| st.id.clone());
        let live: Option<ServiceAccount> = super::read_live(live, "service account")?;
        if let Some(pid) = change.prior_id.clone().filter(|p| *p != id) {
            change.action = Action::Replace;
            change.reason = Some(format!("{pid} → {id}"));
            change.attrs.push(AttrChange::new(
                "id",
                Some(Value::String(pid)),
                Some(Value::String(id)),
            ));
            change.before = state.map(|st| st.values.to_value());
            change.after = Some(v.clone());
            return Ok(change);
        }
        let Some(live) = live else {
            change.action = Action::Create;
            if state.is_some() {
                change.reason = Some("it was deleted outside runform".into());
            }
            change.after = Some(v.clone());
            return Ok(change);
        };
        change.attrs = super::diff_values(&live_view(&live), &view(v));
        if state.is_none() {
            // An existing account is someone else's unless it is exactly this one.
            if !change.attrs.is_empty()
                && !v
                    .get("create_ignore_already_exists")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            {
                return Err(format!(
                    "service account {} already exists and is not managed by this state; delete it, choose another account_id, or set create_ignore_already_exists = true",
                    live.email
                ));
            }
            change.adopt = true;
        }
        change.action = match (change.attrs.is_empty(), change.adopt) {
            (true, true) => Action::Adopt,
            (true, false) => Action::NoOp,
            _ => Action::Update,
        };
        if change.action != Action::NoOp {
            change.before = state.map(|st| st.values.to_value());
            change.after = Some(v.clone());
        }
        Ok(change)
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let c = &ctx.client;
            let err = |e: crate::cloud::CloudError| e.to_string();
            if super::remove_first(change, |old| async move {
                c.delete_service_account(&old).await.map_err(err)
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let name = s(&v, "id").to_string();
            let mut live = match change.action {
                Action::Create | Action::Replace => {
                    let req = CreateServiceAccountRequest {
                        account_id: s(&v, "account_id").into(),
                        service_account: ServiceAccount {
                            display_name: s(&v, "display_name").into(),
                            description: s(&v, "description").into(),
                            ..Default::default()
                        },
                    };
                    match c.create_service_account(s(&v, "project"), &req).await {
                        Ok(a) => a,
                        // Allowed to exist: take it over.
                        Err(e)
                            if e.status() == Some(409)
                                && v.get("create_ignore_already_exists")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false) =>
                        {
                            c.get_service_account(&name)
                                .await
                                .map_err(err)?
                                .ok_or_else(|| e.to_string())?
                        }
                        // Created by a retried or interrupted create: the same account.
                        Err(e) if e.status() == Some(409) => {
                            let sent = serde_json::to_value(&req.service_account)
                                .map_err(|e| e.to_string())?;
                            super::adopt_if_sent(e, &sent, c.get_service_account(&name)).await?
                        }
                        Err(e) => return Err(err(e)),
                    }
                }
                _ => c
                    .get_service_account(&name)
                    .await
                    .map_err(err)?
                    .ok_or("service account not found")?,
            };
            let want = view(&v);
            if live_view(&live)["display_name"] != want["display_name"]
                || live_view(&live)["description"] != want["description"]
            {
                let req = PatchServiceAccountRequest {
                    service_account: ServiceAccount {
                        display_name: s(&v, "display_name").into(),
                        description: s(&v, "description").into(),
                        ..Default::default()
                    },
                    update_mask: "displayName,description".into(),
                };
                live = c.patch_service_account(&name, &req).await.map_err(err)?;
            }
            let disabled = want["disabled"].as_bool().unwrap_or(false);
            if live.disabled != disabled {
                c.service_account_verb(&name, if disabled { "disable" } else { "enable" })
                    .await
                    .map_err(err)?;
                live.disabled = disabled;
            }
            Ok(Some(entry(&v, &live)))
        })
    }
}
