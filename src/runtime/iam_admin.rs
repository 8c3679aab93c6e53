//! IAM v1 service accounts in the local runtime: create/get/list/patch/delete under
//! `/v1/projects/P/serviceAccounts`, addressed by email or unique id (`projects/-/` too).

use super::jobs::{page_token_decode, page_token_encode};
use super::store::Kind;
use super::{ApiError, ApiResult, Runtime};
use crate::api::iam_admin::*;
use crate::api::Code;
use base64::Engine;
use sha2::{Digest, Sha256};

fn not_found(key: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("Unknown service account: {key}"))
}

impl Runtime {
    /// The store key (`projects/P/serviceAccounts/EMAIL`) of `projects/P|-/serviceAccounts/KEY`
    /// where KEY is an email or a unique id.
    pub(crate) fn find_service_account(
        &self,
        project: &str,
        key: &str,
    ) -> ApiResult<ServiceAccount> {
        let key = &*percent_encoding::percent_decode_str(key).decode_utf8_lossy();
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::ServiceAccount, "")
            .map(str::to_string)
            .collect();
        names
            .iter()
            .filter_map(|n| store.get::<ServiceAccount>(Kind::ServiceAccount, n))
            .find(|a| {
                (project == "-" || a.project_id == project)
                    && (a.email == key || a.unique_id == key)
            })
            .ok_or_else(|| not_found(key))
    }

    pub fn create_service_account(
        &self,
        project: &str,
        req: CreateServiceAccountRequest,
    ) -> ApiResult<ServiceAccount> {
        check_account_id(&req.account_id).map_err(|e| ApiError::new(Code::InvalidArgument, e))?;
        if project == "-" || project.is_empty() {
            return Err(ApiError::new(
                Code::InvalidArgument,
                "a project id is required to create a service account",
            ));
        }
        let email = email_of(&req.account_id, project);
        let name = format!("projects/{project}/serviceAccounts/{email}");
        if self.store().contains(Kind::ServiceAccount, &name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!(
                    "Service account {} already exists within project projects/{project}.",
                    req.account_id
                ),
            ));
        }
        // A stable 21-digit id derived from the email, as Google's are 21-digit decimals.
        let digest = Sha256::digest(email.as_bytes());
        let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
        let unique_id = format!("1{n:020}");
        let sa = ServiceAccount {
            name: name.clone(),
            project_id: project.to_string(),
            unique_id: unique_id.clone(),
            email,
            display_name: req.service_account.display_name,
            description: req.service_account.description,
            etag: base64::engine::general_purpose::STANDARD.encode(b"1"),
            oauth2_client_id: unique_id,
            disabled: false,
        };
        self.store().put(Kind::ServiceAccount, &name, &sa)?;
        Ok(sa)
    }

    pub fn get_service_account(&self, project: &str, key: &str) -> ApiResult<ServiceAccount> {
        self.find_service_account(project, key)
    }

    pub fn list_service_accounts(
        &self,
        project: &str,
        page_size: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<ListServiceAccountsResponse> {
        let limit = super::jobs::page_size(page_size)?;
        let after = page_token_decode(token)?;
        let (accounts, more): (Vec<ServiceAccount>, bool) = self.store().page(
            Kind::ServiceAccount,
            &format!("projects/{project}/serviceAccounts/"),
            after.as_deref(),
            limit,
        );
        let next_page_token = match (more, accounts.last()) {
            (true, Some(last)) => page_token_encode(&last.name),
            _ => String::new(),
        };
        Ok(ListServiceAccountsResponse {
            accounts,
            next_page_token,
        })
    }

    pub fn patch_service_account(
        &self,
        project: &str,
        key: &str,
        req: PatchServiceAccountRequest,
    ) -> ApiResult<ServiceAccount> {
        let mut sa = self.find_service_account(project, key)?;
        let mask = if req.update_mask.is_empty() {
            "displayName,description".to_string()
        } else {
            req.update_mask
        };
        for f in mask.split(',').map(str::trim) {
            match f {
                "displayName" | "display_name" => {
                    sa.display_name = req.service_account.display_name.clone()
                }
                "description" => sa.description = req.service_account.description.clone(),
                other => {
                    return Err(ApiError::new(
                        Code::InvalidArgument,
                        format!("{other} cannot be updated (only displayName and description)"),
                    ))
                }
            }
        }
        let n: u64 = base64::engine::general_purpose::STANDARD
            .decode(&sa.etag)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        sa.etag = base64::engine::general_purpose::STANDARD.encode((n + 1).to_string());
        self.store().put(Kind::ServiceAccount, &sa.name, &sa)?;
        Ok(sa)
    }

    pub fn set_service_account_disabled(
        &self,
        project: &str,
        key: &str,
        disabled: bool,
    ) -> ApiResult<()> {
        let mut sa = self.find_service_account(project, key)?;
        sa.disabled = disabled;
        self.store().put(Kind::ServiceAccount, &sa.name, &sa)?;
        Ok(())
    }

    pub fn delete_service_account(&self, project: &str, key: &str) -> ApiResult<()> {
        let sa = self.find_service_account(project, key)?;
        self.store().delete(Kind::ServiceAccount, &sa.name)?;
        Ok(())
    }
}
