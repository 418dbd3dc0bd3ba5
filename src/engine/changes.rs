//! Recording a state change: its audit record and, when someone listens, its
//! notification, always together and in the command's transaction (an outbox).

use super::{StoreError, UnitOfWork};
use crate::domain::notification::NewNotification;
use crate::domain::AuditEvent;

/// Append `event` to the audit trail and enqueue its notification for the payout's
/// URL (`url_override`) or else the account's, if either is set.
pub fn record_change(
    uow: &mut dyn UnitOfWork,
    event: AuditEvent,
    external_reference: Option<&str>,
    url_override: Option<&str>,
) -> Result<(), StoreError> {
    uow.append_audit(&event)?;
    let (account_url, live_mode) = uow.notification_target(event.user_id)?;
    let Some(url) = url_override.map(str::to_owned).or(account_url) else {
        return Ok(());
    };
    uow.enqueue_notification(&NewNotification {
        user_id: event.user_id,
        live_mode,
        resource_type: event.resource_type,
        resource_id: event.resource_id,
        status: event.to_status,
        external_reference: external_reference.map(str::to_owned),
        url,
        created_at: event.at,
    })
}
