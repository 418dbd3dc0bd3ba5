//! The domain core: accounts, resources, their state machines, idempotency decisions.
//!
//! Everything here is plain synchronous Rust. It never reads the clock, never draws a
//! random number and never touches HTTP or SQL: time, ids and random bytes are passed
//! in, so every decision can be reproduced from its inputs.

pub mod account;
pub mod audit;
pub mod card;
pub mod checkout;
pub mod checkout_draft;
pub mod clock;
pub mod customer;
pub mod customer_data;
pub mod fault;
pub mod idempotency;
pub mod notification;
pub mod order;
pub mod order_draft;
pub mod order_money;
pub mod payment;
pub mod payment_draft;
pub mod payout;
pub mod resource;
pub mod seed_step;
pub mod signature;
pub mod terminal;
pub mod terminal_action;
pub mod time;
pub mod transaction_intent;
pub mod webhook_check;

pub use account::{AccessToken, Principal, SiteId, TokenHash, TokenHasher, UserId};
pub use audit::{AuditEvent, ChainRecord, ResourceType};
pub use idempotency::{Fingerprint, IdempotencyKey, StoredResponse};
pub use time::Timestamp;
