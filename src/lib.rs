//! caja: a self-hosted, Mercado Pago–compatible payments API server.
//!
//! Layers, inner to outer: [`domain`] (pure rules), [`engine`] (commands applied in
//! one transaction), [`store`] (the storage interface and its backends), [`http`]
//! (the API), [`cli`] (the binary's commands). See ARCHITECTURE.md.
#![recursion_limit = "256"] // serde_json::json! of a whole payment (http::payments)

pub mod cli;
pub mod domain;
pub mod engine;
pub mod http;
pub mod provision;
pub mod seed;
pub mod server;
pub mod store;
pub mod webhooks;
pub mod worker;
