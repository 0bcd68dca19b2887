//! The management API: an account's integrations, members, hubs and audit
//! log, for an integration given management scopes by an owner or admin.

use reqwest::Method;

use crate::client::segment;
use crate::{Client, Error};
use hubgate_api::{
    AddedMember, AuditEvent, ClientSecret, DeviceCredential, Hub, Integration, IntegrationPatch,
    IntegrationWithSecret, Member, MemberPatch, NewHub, NewIntegration, NewMember, Page,
    PasswordReset, Role, RotateSecret,
};

/// Filters and paging of `GET /api/v1/audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// An action such as `integration.created`.
    pub action: Option<String>,
    pub actor: Option<String>,
    /// RFC 3339 times.
    pub since: Option<String>,
    pub until: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// How `GET /api/v1/audit` exports the whole log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    JsonLines,
    Csv,
}

impl AuditQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("action", &self.action),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
            ("cursor", &self.cursor),
        ];
        let mut pairs: Vec<_> = fields
            .into_iter()
            .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
            .collect();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }
}

fn body<T: serde::Serialize>(value: &T) -> Result<Option<serde_json::Value>, Error> {
    serde_json::to_value(value)
        .map(Some)
        .map_err(|e| Error::Config(e.to_string()))
}

impl Client {
    fn integration_path(&self, client_id: &str, rest: &str) -> String {
        self.api(&format!("/integrations/{}{rest}", segment(client_id)))
    }

    /// `GET /api/v1/integrations` (scope `integrations:read`).
    pub async fn integrations(&self) -> Result<Vec<Integration>, Error> {
        self.call(Method::GET, &self.api("/integrations"), &[], None)
            .await
    }

    /// `POST /api/v1/integrations` (scope `integrations:write`): the new
    /// integration with its secret, shown this once.
    pub async fn create_integration(
        &self,
        new: &NewIntegration,
    ) -> Result<IntegrationWithSecret, Error> {
        self.call(Method::POST, &self.api("/integrations"), &[], body(new)?)
            .await
    }

    /// `GET /api/v1/integrations/{client_id}`.
    pub async fn integration(&self, client_id: &str) -> Result<Integration, Error> {
        self.call(
            Method::GET,
            &self.integration_path(client_id, ""),
            &[],
            None,
        )
        .await
    }

    /// `PATCH /api/v1/integrations/{client_id}` (scope `integrations:write`).
    pub async fn update_integration(
        &self,
        client_id: &str,
        patch: &IntegrationPatch,
    ) -> Result<Integration, Error> {
        let url = self.integration_path(client_id, "");
        self.call(Method::PATCH, &url, &[], body(patch)?).await
    }

    /// `DELETE /api/v1/integrations/{client_id}`: its tokens stop working.
    pub async fn delete_integration(&self, client_id: &str) -> Result<(), Error> {
        let url = self.integration_path(client_id, "");
        self.call(Method::DELETE, &url, &[], None).await
    }

    /// `POST /api/v1/integrations/{client_id}/reveal-secret` (audited).
    pub async fn reveal_secret(&self, client_id: &str) -> Result<ClientSecret, Error> {
        let url = self.integration_path(client_id, "/reveal-secret");
        self.call(Method::POST, &url, &[], None).await
    }

    /// `POST /api/v1/integrations/{client_id}/rotate-secret`: the old secret
    /// keeps working for `grace_seconds` (0: it and its tokens stop now).
    pub async fn rotate_secret(
        &self,
        client_id: &str,
        grace_seconds: u32,
    ) -> Result<IntegrationWithSecret, Error> {
        let url = self.integration_path(client_id, "/rotate-secret");
        let request = RotateSecret { grace_seconds };
        self.call(Method::POST, &url, &[], body(&request)?).await
    }

    /// `POST /api/v1/integrations/{client_id}/enable` or `/disable`.
    pub async fn set_integration_enabled(
        &self,
        client_id: &str,
        enabled: bool,
    ) -> Result<Integration, Error> {
        let action = if enabled { "/enable" } else { "/disable" };
        let url = self.integration_path(client_id, action);
        self.call(Method::POST, &url, &[], None).await
    }

    /// `GET /api/v1/members` (scope `members:read`).
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        self.call(Method::GET, &self.api("/members"), &[], None)
            .await
    }

    /// `POST /api/v1/members` (scope `members:write`).
    pub async fn add_member(&self, new: &NewMember) -> Result<AddedMember, Error> {
        self.call(Method::POST, &self.api("/members"), &[], body(new)?)
            .await
    }

    /// `PATCH /api/v1/members/{user_id}`.
    pub async fn set_member_role(&self, user_id: &str, role: Role) -> Result<Member, Error> {
        let url = self.api(&format!("/members/{}", segment(user_id)));
        self.call(Method::PATCH, &url, &[], body(&MemberPatch { role })?)
            .await
    }

    /// `DELETE /api/v1/members/{user_id}`.
    pub async fn remove_member(&self, user_id: &str) -> Result<(), Error> {
        let url = self.api(&format!("/members/{}", segment(user_id)));
        self.call(Method::DELETE, &url, &[], None).await
    }

    /// `POST /api/v1/members/{user_id}/reset-password`: a one-time password.
    pub async fn reset_password(&self, user_id: &str) -> Result<PasswordReset, Error> {
        let url = self.api(&format!("/members/{}/reset-password", segment(user_id)));
        self.call(Method::POST, &url, &[], None).await
    }

    /// `POST /api/v1/hubs` (scope `hubs:manage`).
    pub async fn create_hub(&self, new: &NewHub) -> Result<Hub, Error> {
        self.call(Method::POST, &self.api("/hubs"), &[], body(new)?)
            .await
    }

    /// `DELETE /api/v1/hubs/{id}` (scope `hubs:manage`).
    pub async fn delete_hub(&self, id: &str) -> Result<(), Error> {
        let url = self.api(&format!("/hubs/{}", segment(id)));
        self.call(Method::DELETE, &url, &[], None).await
    }

    /// Issues the hub's device credential, replacing any before (scope
    /// `hubs:manage`). The secret is shown once.
    pub async fn issue_hub_credential(&self, id: &str) -> Result<DeviceCredential, Error> {
        let url = self.api(&format!("/hubs/{}/credential", segment(id)));
        self.call(Method::POST, &url, &[], None).await
    }

    /// Revokes the hub's device credential (scope `hubs:manage`).
    pub async fn revoke_hub_credential(&self, id: &str) -> Result<(), Error> {
        let url = self.api(&format!("/hubs/{}/credential", segment(id)));
        self.call(Method::DELETE, &url, &[], None).await
    }

    /// One page of the audit log, newest first (scope `audit:read`).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>, Error> {
        self.call(Method::GET, &self.api("/audit"), &query.pairs(), None)
            .await
    }

    /// Every matching event of the audit log, as JSON lines or CSV text.
    pub async fn export_audit(
        &self,
        query: &AuditQuery,
        format: AuditFormat,
    ) -> Result<String, Error> {
        let mut pairs = query.pairs();
        pairs.retain(|(name, _)| *name != "limit");
        pairs.push((
            "format",
            match format {
                AuditFormat::JsonLines => "jsonl".to_owned(),
                AuditFormat::Csv => "csv".to_owned(),
            },
        ));
        self.call_text(Method::GET, &self.api("/audit"), &pairs)
            .await
    }
}
