//! Money Out transaction intents (see `domain::transaction_intent`): made and
//! processed in one request, audited and notified (`transaction_intent.created`,
//! the configuration page's body) in its transaction; read back by id.

use super::resource;
use super::{audit, record_change_with_body, Failure, Operation, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::transaction_intent::{decide, IntentId, NewIntent, TransactionIntent};
use crate::domain::{ResourceType, UserId};

/// `POST /v1/transaction-intents/process`.
#[derive(Clone, Debug)]
pub struct CreateIntent {
    pub id: IntentId,
    pub new: NewIntent,
    /// A test account's request with `X-Test-Token: true`: its `external_reference`
    /// selects the outcome.
    pub test_request: bool,
    /// The notification's own `id` (drawn by the caller).
    pub notification_id: u64,
}

impl Operation for CreateIntent {
    type Effect = TransactionIntent;

    fn run(
        &self,
        uow: &mut dyn UnitOfWork,
        ctx: &RequestContext,
    ) -> Result<Result<TransactionIntent, Failure>, StoreError> {
        let outcome = decide(self.test_request, self.new.external_reference.as_deref());
        let user = ctx.principal.user_id;
        let intent =
            TransactionIntent::new(self.id.clone(), user, self.new.clone(), self.test_request, outcome, ctx.now);
        resource::insert(uow, &intent)?;
        let event =
            audit(ctx, ResourceType::TransactionIntent, self.id.as_str().to_owned(), None, outcome.status, None);
        let body = serde_json::json!({
            "action": "transaction_intent.created",
            "api_version": "v1",
            "data": { "id": intent.id.as_str() },
            "date_created": intent.created_at.to_rfc3339(),
            "id": self.notification_id.to_string(),
            "last_updated": "0001-01-01T00:00:00Z",
            "status": intent.status,
            "type": "transaction_intent",
        });
        let (reference, url) = (intent.external_reference.as_deref(), intent.notification_url.as_deref());
        record_change_with_body(uow, event, reference, url, Some(body.to_string()))?;
        Ok(Ok(intent))
    }
}

/// The account's intent `id` (another account's is not found).
pub fn get(reads: &mut dyn Reads, user: UserId, id: &IntentId) -> Result<Option<TransactionIntent>, StoreError> {
    Ok(resource::read::<TransactionIntent>(reads, id.as_str())?.filter(|intent| intent.user_id == user))
}
