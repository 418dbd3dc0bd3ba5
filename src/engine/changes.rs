//! Recording a state change: its audit record and, when someone listens, its
//! notification, always together and in the command's transaction (an outbox).

use super::{RequestContext, StoreError, UnitOfWork};
use crate::domain::notification::{NewNotification, NotificationForm};
use crate::domain::payout::CancelNote;
use crate::domain::{AuditEvent, ResourceType, Timestamp, UserId};

/// Append `event` to the audit trail and enqueue its notification for the payout's
/// URL (`url_override`) or else the account's, if either is set.
pub fn record_change(
    uow: &mut dyn UnitOfWork,
    event: AuditEvent,
    external_reference: Option<&str>,
    url_override: Option<&str>,
) -> Result<(), StoreError> {
    record_change_with_body(uow, event, external_reference, url_override, None)
}

/// [`record_change`] for a family whose webhook body is the resource itself: `body`
/// is sent as it is instead of the generic envelope.
pub fn record_change_with_body(
    uow: &mut dyn UnitOfWork,
    event: AuditEvent,
    external_reference: Option<&str>,
    url_override: Option<&str>,
    body: Option<String>,
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
        body,
        form: NotificationForm::Webhook,
    })
}

/// The audit record of a change a request made (`from: None` for a creation).
pub fn audit(
    ctx: &RequestContext,
    resource_type: ResourceType,
    resource_id: String,
    from: Option<&str>,
    to: &str,
    note: Option<&CancelNote>,
) -> AuditEvent {
    AuditEvent {
        user_id: ctx.principal.user_id,
        resource_type,
        resource_id,
        from_status: from.map(str::to_owned),
        to_status: to.to_owned(),
        deleted_by: note.and_then(|n| n.deleted_by.clone()),
        comments: note.and_then(|n| n.comments.clone()),
        request_id: ctx.request_id.clone(),
        idempotency_key: ctx.key.clone(),
        at: ctx.now,
    }
}

/// Enqueue the legacy IPN (`?topic=<type>&id=<id>`) of a change already recorded, for
/// a resource whose own `notification_url` asks for one (payments, merchant orders).
/// A URL with `source_news=webhooks` asks for webhooks only.
pub fn enqueue_ipn(
    uow: &mut dyn UnitOfWork,
    event: &AuditEvent,
    url: &str,
    external_reference: Option<&str>,
) -> Result<(), StoreError> {
    if url.contains("source_news=webhooks") {
        return Ok(());
    }
    let (_, live_mode) = uow.notification_target(event.user_id)?;
    uow.enqueue_notification(&NewNotification {
        user_id: event.user_id,
        live_mode,
        resource_type: event.resource_type,
        resource_id: event.resource_id.clone(),
        status: event.to_status.clone(),
        external_reference: external_reference.map(str::to_owned),
        url: url.to_owned(),
        created_at: event.at,
        body: None,
        form: NotificationForm::Ipn,
    })
}

/// The audit record of a change to a resource that has a `status` and a
/// `status_detail` (orders, payments): `(status, status_detail)` before (`None` for a
/// creation) and after. A move within a status (a partial refund) is recorded from the
/// status to itself, its detail move in `comments`, so the head of every trail names
/// its resource's status (what `caja audit verify` checks).
pub fn detailed_audit(
    ctx: &RequestContext,
    resource_type: ResourceType,
    resource_id: String,
    before: Option<(&str, &str)>,
    after: (&str, &str),
) -> AuditEvent {
    let mut event = audit(ctx, resource_type, resource_id, before.map(|b| b.0), after.0, None);
    if let Some((_, detail)) = before.filter(|b| b.0 == after.0) {
        event.comments = Some(format!("status_detail: {detail} -> {}", after.1));
    }
    event
}

/// The audit record of a change the worker made (payout processing, expiry): request
/// id [`super::WORKER_REQUEST_ID`], no idempotency key.
pub fn worker_audit(
    user_id: UserId,
    resource_type: ResourceType,
    resource_id: String,
    from: Option<&str>,
    to: &str,
    at: Timestamp,
) -> AuditEvent {
    AuditEvent {
        user_id,
        resource_type,
        resource_id,
        from_status: from.map(str::to_owned),
        to_status: to.to_owned(),
        deleted_by: None,
        comments: None,
        request_id: super::WORKER_REQUEST_ID.to_owned(),
        idempotency_key: None,
        at,
    }
}
