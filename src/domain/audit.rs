//! Audit records: one for every state change, written in the same transaction.

use super::{IdempotencyKey, Timestamp, UserId};

/// Which family a resource belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    TerminalAction,
    PayoutTransaction,
    PaymentProfile,
    Customer,
    CustomerCard,
    Order,
    Payment,
    Preference,
    MerchantOrder,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::TerminalAction => "terminal_action",
            ResourceType::PayoutTransaction => "payout_transaction",
            ResourceType::PaymentProfile => "payment_profile",
            ResourceType::Customer => "customer",
            ResourceType::CustomerCard => "customer_card",
            ResourceType::Order => "order",
            ResourceType::Payment => "payment",
            ResourceType::Preference => "preference",
            ResourceType::MerchantOrder => "merchant_order",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "terminal_action" => Some(ResourceType::TerminalAction),
            "payout_transaction" => Some(ResourceType::PayoutTransaction),
            "payment_profile" => Some(ResourceType::PaymentProfile),
            "customer" => Some(ResourceType::Customer),
            "customer_card" => Some(ResourceType::CustomerCard),
            "order" => Some(ResourceType::Order),
            "payment" => Some(ResourceType::Payment),
            "preference" => Some(ResourceType::Preference),
            "merchant_order" => Some(ResourceType::MerchantOrder),
            _ => None,
        }
    }
}

/// Who moved what from where to where, and under which request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub user_id: UserId,
    pub resource_type: ResourceType,
    pub resource_id: String,
    /// `None` when the change created the resource.
    pub from_status: Option<String>,
    pub to_status: String,
    pub deleted_by: Option<String>,
    pub comments: Option<String>,
    /// The request's id; `caja-worker` for changes made by background processing.
    pub request_id: String,
    /// `None` for changes made by background processing.
    pub idempotency_key: Option<IdempotencyKey>,
    pub at: Timestamp,
}
