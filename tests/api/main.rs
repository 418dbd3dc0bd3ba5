#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! caja's API tests: each starts the real server on port 0 with a fresh store in a
//! temporary directory and talks HTTP to it.

mod cli;
mod customers;
mod helpers;
mod idempotency;
mod openapi;
mod payouts;
mod pipeline;
mod point;
