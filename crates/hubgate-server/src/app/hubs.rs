//! Adding hubs and switches to an account and removing them. Renaming and
//! moving one to another room is a PATCH of the resource API (`hubs:write`).

use hubgate_core::account::clean_name;
use hubgate_core::audit::AuditAction;
use hubgate_core::device::DeviceSecret;
use hubgate_core::hub::{self, Hub, HubKind, NewHub};
use hubgate_core::ids::{AccountId, HubId};
use hubgate_store::{DeviceRecord, StoreError};
use serde_json::Value;

use super::{AppError, Manager, invalid};

impl Manager<'_> {
    /// Registers a hub by its serial; it is offline until it reports.
    pub async fn create_hub(
        &self,
        account: AccountId,
        serial: &str,
        name: &str,
        kind: HubKind,
        room: Option<&str>,
    ) -> Result<Hub, AppError> {
        self.require_manage(account)?;
        self.store
            .account_by_id(account)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let (model, ports) = match kind {
            HubKind::Hub => ("O-PC-3", 4),
            HubKind::Switch => ("O-SW-4", 4),
        };
        let state = serde_json::json!({"connected": vec![0; ports], "active": 0});
        let room = room
            .map(|room| clean_name(room, hub::MAX_NAME_CHARS).map_err(invalid))
            .transpose()?;
        let new = NewHub {
            serial: hub::clean_serial(serial).map_err(invalid)?,
            kind,
            model: model.into(),
            firmware: "unknown".into(),
            name: clean_name(name, hub::MAX_NAME_CHARS).map_err(invalid)?,
            room,
            online: false,
            state: hub::parse_reported_state(state).map_err(invalid)?,
        };
        let hub = new.into_hub(account, self.now);
        let event = self.event(
            account,
            AuditAction::HubCreated,
            &hub.id.to_string(),
            &hub.name,
        );
        self.store.insert_hub(&hub, &event).await?;
        Ok(hub)
    }

    /// Removes a hub from the account; another account's hub is not found.
    pub async fn delete_hub(&self, account: AccountId, id: HubId) -> Result<Hub, AppError> {
        self.require_manage(account)?;
        let hub = self
            .store
            .hub(account, id)
            .await?
            .ok_or(AppError::NotFound("hub"))?;
        let event = self.event(
            account,
            AuditAction::HubDeleted,
            &hub.id.to_string(),
            &hub.name,
        );
        match self.store.delete_hub(account, id, self.now, &event).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("hub")),
            other => Ok(other.map(|()| hub)?),
        }
    }

    /// Records a state the hub reported (how reported state gets in until
    /// hubs report over their own protocol). The operator only.
    pub async fn set_hub_state(&self, id: &str, state: Value) -> Result<Hub, AppError> {
        if !self.actor.is_operator() {
            return Err(AppError::Forbidden("hubs report their own state".into()));
        }
        let id: HubId = id.parse().map_err(|_| AppError::NotFound("hub"))?;
        let state = hub::parse_reported_state(state).map_err(invalid)?;
        match self.store.report_hub_state(id, &state, self.now).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("hub")),
            other => Ok(other?),
        }
    }

    /// Issues a hub's device credential, replacing any before (a device
    /// connected with the old one is disconnected). The secret is shown once.
    pub async fn issue_device_credential(
        &self,
        id: HubId,
    ) -> Result<(DeviceRecord, DeviceSecret), AppError> {
        let device = self.device_to_manage(id).await?;
        let secret = DeviceSecret::generate();
        self.write_device_credential(
            &device,
            Some(secret.digest()),
            AuditAction::DeviceCredentialIssued,
        )
        .await?;
        Ok((device, secret))
    }

    /// Revokes a hub's device credential: the device is disconnected and
    /// cannot connect again until a new one is issued.
    pub async fn revoke_device_credential(&self, id: HubId) -> Result<DeviceRecord, AppError> {
        let device = self.device_to_manage(id).await?;
        self.write_device_credential(&device, None, AuditAction::DeviceCredentialRevoked)
            .await?;
        Ok(device)
    }

    /// The hub's device record, if the actor manages its account; another
    /// account's hub is not found.
    async fn device_to_manage(&self, id: HubId) -> Result<DeviceRecord, AppError> {
        let device = self
            .store
            .device_of_hub(id)
            .await?
            .filter(|d| self.actor.is_operator() || self.actor.account() == Some(d.account))
            .ok_or(AppError::NotFound("hub"))?;
        self.require_manage(device.account)?;
        Ok(device)
    }

    async fn write_device_credential(
        &self,
        device: &DeviceRecord,
        digest: Option<[u8; 32]>,
        action: AuditAction,
    ) -> Result<(), AppError> {
        let event = self.event(
            device.account,
            action,
            &device.hub.to_string(),
            &device.serial,
        );
        match self
            .store
            .set_device_credential(device.account, device.hub, digest, self.now, &event)
            .await
        {
            Err(StoreError::NotFound) => Err(AppError::NotFound("hub")),
            other => Ok(other?),
        }
    }
}
