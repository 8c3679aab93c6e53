//! IAM v1 service accounts (`iam.googleapis.com`), wire types and the account-id rule.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceAccount {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unique_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub oauth2_client_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateServiceAccountRequest {
    pub account_id: String,
    pub service_account: ServiceAccount,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PatchServiceAccountRequest {
    pub service_account: ServiceAccount,
    pub update_mask: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListServiceAccountsResponse {
    pub accounts: Vec<ServiceAccount>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

/// `accountId`: 6-30 characters, `^[a-z]([-a-z0-9]*[a-z0-9])$`. The error says what is wrong.
pub fn check_account_id(id: &str) -> Result<(), String> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(6..=30).contains(&id.len()) {
        return Err(format!("account_id {id:?} must be 6 to 30 characters long"));
    }
    if !ok_chars || !id.starts_with(|c: char| c.is_ascii_lowercase()) || id.ends_with('-') {
        return Err(format!(
            "account_id {id:?} must start with a lowercase letter and hold only lowercase letters, digits and hyphens (not at the end)"
        ));
    }
    Ok(())
}

/// The email of an account: `{account_id}@{project}.iam.gserviceaccount.com`.
pub fn email_of(account_id: &str, project: &str) -> String {
    format!("{account_id}@{project}.iam.gserviceaccount.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert!(check_account_id("etl-runner").is_ok());
        assert!(check_account_id("short").unwrap_err().contains("6 to 30"));
        assert!(check_account_id("Etl-runner")
            .unwrap_err()
            .contains("lowercase"));
        assert!(check_account_id("etl-runner-").is_err());
        assert!(check_account_id("1etl-runner").is_err());
        assert_eq!(
            email_of("etl-runner", "p"),
            "etl-runner@p.iam.gserviceaccount.com"
        );
    }
}
