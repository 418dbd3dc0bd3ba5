//! The application core: write commands, and how one is applied, written once for
//! every storage backend.
//!
//! A handler builds a [`Command`] (who, which key, what to do, and how to render the
//! outcome as a response) and hands it to the store. The store runs [`apply`] inside
//! one transaction against its [`UnitOfWork`]: idempotency lookup, load, transition,
//! audit record and stored response commit together or not at all. Like the domain,
//! this module is synchronous and knows neither HTTP nor SQL.

pub mod access;
mod apply;
mod changes;
mod command;
mod processing;
mod unit_of_work;

pub use apply::apply;
pub use changes::record_change;
pub use command::{Command, Effect, Executed, Failure, Operation, Outcome, PathParam, Render, RequestContext};
pub use processing::{advance_payouts, WORKER_REQUEST_ID};
pub use unit_of_work::{StoreError, UnitOfWork};
