//! What the audit log records: a closed list of actions, so every front door
//! (console, management API, admin tool) names the same change the same way.

use std::fmt;
use std::str::FromStr;

macro_rules! audit_actions {
    ($($variant:ident => $text:literal,)*) => {
        /// One kind of audited event. Its text (`integration.created`) is
        /// what the store keeps and the API filters on: never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            pub const ALL: &[AuditAction] = &[$(AuditAction::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $text,)*
                }
            }
        }
    };
}

audit_actions! {
    AccountCreated => "account.created",
    MemberAdded => "member.added",
    MemberRoleChanged => "member.role_changed",
    MemberRemoved => "member.removed",
    MemberPasswordReset => "member.password_reset",
    PasswordChanged => "user.password_changed",
    IntegrationCreated => "integration.created",
    IntegrationUpdated => "integration.updated",
    IntegrationSecretRevealed => "integration.secret_revealed",
    IntegrationSecretRotated => "integration.secret_rotated",
    IntegrationActingUserChanged => "integration.acting_user_changed",
    IntegrationDisabled => "integration.disabled",
    IntegrationEnabled => "integration.enabled",
    IntegrationDeleted => "integration.deleted",
    ConsentWithdrawn => "consent.withdrawn",
    HubCreated => "hub.created",
    HubDeleted => "hub.deleted",
    DeviceCredentialIssued => "hub.credential_issued",
    DeviceCredentialRevoked => "hub.credential_revoked",
    WebhookCreated => "webhook.created",
    WebhookUpdated => "webhook.updated",
    WebhookSecretRotated => "webhook.secret_rotated",
    WebhookDisabled => "webhook.disabled",
    WebhookEnabled => "webhook.enabled",
    WebhookDeleted => "webhook.deleted",
    TokenIssued => "token.issued",
    TokenRefreshed => "token.refreshed",
    TokenRevoked => "token.revoked",
    TokenReuseDetected => "token.reuse_detected",
    ClientAuthFailed => "client_auth.failed",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action \"{0}\"")]
pub struct UnknownAction(pub String);

impl FromStr for AuditAction {
    type Err = UnknownAction;

    fn from_str(text: &str) -> Result<Self, UnknownAction> {
        Self::ALL
            .iter()
            .copied()
            .find(|action| action.as_str() == text)
            .ok_or_else(|| UnknownAction(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_text_and_the_texts_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(*action));
            assert!(seen.insert(action.as_str()), "{action} twice");
        }
        assert_eq!(
            "integration.exploded".parse::<AuditAction>(),
            Err(UnknownAction("integration.exploded".into()))
        );
    }
}
