//! Wire types shared by the hubgate server and its SDK.
//!
//! Everything here is part of the contract clients rely on (see DESIGN.md,
//! "Wire contract"): field names and shapes only change with a reason and an
//! updated OpenAPI document.

mod error;
mod events;
mod manage;
mod oauth;
pub mod paths;
mod resources;

pub use error::{ErrorBody, ErrorCode};
pub use events::{Event, NewWebhook, Webhook, WebhookDelivery, WebhookPatch, WebhookWithSecret};
pub use manage::{
    AddedMember, AuditEvent, ClientSecret, DeviceCredential, Integration, IntegrationPatch,
    IntegrationWithSecret, Member, MemberPatch, NewHub, NewIntegration, NewMember, PasswordReset,
    Role, RotateSecret,
};
pub use oauth::{IntrospectionResponse, Jwk, JwkSet, ServerMetadata, TokenResponse, UserInfo};
pub use resources::{
    Account, DesiredSettings, Hub, HubKind, HubPatch, HubState, HubStateView, MtrExtension, Otp,
    Page,
};
