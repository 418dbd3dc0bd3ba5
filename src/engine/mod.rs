//! The application core: write commands, and how one is applied, written once for
//! every storage backend.
//!
//! A handler builds a [`Command`] from one family's [`Operation`] (who, which key,
//! what to do, and how to render the outcome as a response) and hands it to the
//! store. The store runs [`apply`] inside one transaction against its
//! [`UnitOfWork`]: idempotency lookup, load, transition, audit record and stored
//! response commit together or not at all. Each family's operations and reads live
//! in a module of their own (`point`, `payouts`, `customers`), on the typed resource
//! layer ([`resource`]). Like the domain, this module is synchronous and knows
//! neither HTTP nor SQL.

mod apply;
pub mod cards;
mod changes;
pub mod checkout;
pub mod clock;
mod command;
pub mod customers;
pub mod faults;
pub mod orders;
pub mod payments;
pub mod payouts;
pub mod point;
pub mod resource;
pub mod seeds;
pub mod transaction_intents;
mod unit_of_work;

pub use apply::apply;
pub use changes::{audit, detailed_audit, enqueue_ipn, record_change, record_change_with_body, worker_audit};
pub use command::{Change, Command, Executed, Failure, Operation, PathParam, Planned, Refusal, RequestContext};
pub use payouts::{advance_payouts, WORKER_REQUEST_ID};
pub use unit_of_work::{ClockScope, Envelope, LoadFor, Loaded, Page, Reads, StoreError, UnitOfWork};
