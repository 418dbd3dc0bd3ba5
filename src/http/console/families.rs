//! What the console shows of each resource kind: its title, the statuses its
//! listing filters on, and the test-helper moves a button may make from a resource's
//! current state.
//!
//! A move is offered only where the family's own state machine allows it (each
//! family's `moves` asks the domain, never a copy of its rules), and a button makes
//! it by sending the family's documented test-helper request through the router, so
//! it is idempotent, audited and notified exactly as the API call is.

use serde_json::{json, Value};

use crate::domain::order::{Order, Refusal as OrderRefusal, Simulation as OrderSimulation, Status as OrderStatus};
use crate::domain::payment::{Payment, Refusal as PaymentRefusal, Simulation as PaymentSimulation};
use crate::domain::payout::{self, Transaction, TransactionStatus};
use crate::domain::terminal_action::{self, ActionStatus, TerminalAction};
use crate::store::OwnedResource;

/// One test-helper request a button sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The status (or event) it leads to, as the helper's body spells it.
    pub to: String,
    /// The API path it is sent to (always `POST`).
    pub path: String,
    pub body: Value,
}

/// A kind of resource the console lists.
pub struct Kind {
    /// The store's kind name (and the audit records' `resource_type`).
    pub kind: &'static str,
    pub title: &'static str,
    /// The statuses a listing may be filtered by (empty: the kind has none).
    pub statuses: &'static [&'static str],
    /// The moves the resource's state machine allows now.
    pub moves: fn(&OwnedResource) -> Vec<Move>,
}

fn no_moves(_: &OwnedResource) -> Vec<Move> {
    Vec::new()
}

/// Every kind the console lists, in its menu's order.
pub const KINDS: &[Kind] = &[
    Kind {
        kind: "terminal_action",
        title: "Terminal actions",
        statuses: &["created", "at_terminal", "processed", "failed", "canceled"],
        moves: action_moves,
    },
    Kind { kind: "payout", title: "Payouts", statuses: &[], moves: no_moves },
    Kind {
        kind: "payout_transaction",
        title: "Payout transactions",
        statuses: &["pending", "in_process", "processed", "failed", "rejected", "canceled"],
        moves: transaction_moves,
    },
    Kind { kind: "customer", title: "Customers", statuses: &[], moves: no_moves },
    Kind { kind: "payment_profile", title: "Payment profiles", statuses: &["active", "canceled"], moves: no_moves },
    Kind { kind: "customer_card", title: "Customer cards", statuses: &[], moves: no_moves },
    Kind {
        kind: "order",
        title: "Orders",
        statuses: &[
            "created",
            "processing",
            "at_terminal",
            "action_required",
            "processed",
            "failed",
            "canceled",
            "expired",
            "refunded",
        ],
        moves: order_moves,
    },
    Kind {
        kind: "payment",
        title: "Payments",
        statuses: &[
            "pending",
            "approved",
            "authorized",
            "in_process",
            "in_mediation",
            "rejected",
            "cancelled",
            "refunded",
            "charged_back",
        ],
        moves: payment_moves,
    },
    Kind { kind: "preference", title: "Checkout Pro preferences", statuses: &[], moves: no_moves },
    Kind { kind: "merchant_order", title: "Merchant orders", statuses: &[], moves: no_moves },
    Kind {
        kind: crate::domain::transaction_intent::KIND,
        title: "Money Out transaction intents",
        statuses: crate::domain::transaction_intent::STATUSES,
        moves: no_moves,
    },
];

/// The kind named `kind`, if the console lists it.
pub fn kind(kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.kind == kind)
}

fn status_move(to: &str, path: String) -> Move {
    Move { to: to.to_owned(), path, body: json!({ "status": to }) }
}

/// `POST /terminals/v1/actions/{id}/events`, where `terminal_action::simulate` allows.
fn action_moves(r: &OwnedResource) -> Vec<Move> {
    let Ok(action) = serde_json::from_str::<TerminalAction>(&r.document) else { return Vec::new() };
    ActionStatus::ALL
        .into_iter()
        .filter(|&to| terminal_action::simulate(action.status, to).is_ok())
        .map(|to| status_move(to.as_str(), format!("/terminals/v1/actions/{}/events", r.id)))
        .collect()
}

/// `POST /v1/payouts/{payout_id}/transactions/{id}/events`, where `payout::simulate`
/// allows.
fn transaction_moves(r: &OwnedResource) -> Vec<Move> {
    let Ok(t) = serde_json::from_str::<Transaction>(&r.document) else { return Vec::new() };
    TransactionStatus::ALL
        .into_iter()
        .filter(|&to| payout::simulate(t.status, to).is_ok())
        .map(|to| status_move(to.as_str(), format!("/v1/payouts/{}/transactions/{}/events", t.payout_id, r.id)))
        .collect()
}

/// `POST /v1/orders/{id}/events`, where `Order::simulated` does not refuse the path.
fn order_moves(r: &OwnedResource) -> Vec<Move> {
    let Ok(order) = serde_json::from_str::<Order>(&r.document) else { return Vec::new() };
    OrderStatus::ALL
        .iter()
        .copied()
        .filter(|&status| {
            let event = OrderSimulation {
                status,
                payment_method_type: None,
                payment_method_id: None,
                installments: None,
                status_detail: None,
                refund_ids: Vec::new(),
            };
            !matches!(order.simulated(&event, "console", r.updated_at), Err(OrderRefusal::InvalidTransition))
        })
        .map(|to| status_move(to.as_str(), format!("/v1/orders/{}/events", r.id)))
        .collect()
}

/// `POST /v1/payments/{id}/events`, where `Payment::simulated` allows.
fn payment_moves(r: &OwnedResource) -> Vec<Move> {
    let Ok(payment) = serde_json::from_str::<Payment>(&r.document) else { return Vec::new() };
    ["approved", "rejected", "expired", "charged_back"]
        .into_iter()
        .filter(|event| {
            PaymentSimulation::parse(event).is_some_and(|sim| {
                !matches!(payment.simulated(sim, r.updated_at), Err(PaymentRefusal::InvalidTransition))
            })
        })
        .map(|to| status_move(to, format!("/v1/payments/{}/events", r.id)))
        .collect()
}
