//! A seed file's resource step, once applied (#17, caja's own): the record that makes
//! applying the same seed again change nothing. A seed lists, per account, the
//! documented requests that make its customers, cards, payment profiles, orders and
//! other resources (and move them into a given state); each step, once its request
//! answered 2xx, is kept as a `SeedStep` with its answer, so a later application takes
//! the answer from here (for the references of later steps) instead of sending the
//! request again. A reset of the account deletes the steps with its resources, so the
//! seed applies afresh after it.

use serde::{Deserialize, Serialize};

use super::resource::Resource;
use super::{Timestamp, UserId};

/// One applied step of a seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedStep {
    /// [`SeedStep::id_for`]: the account and the step's name (or position).
    pub id: String,
    pub user_id: UserId,
    /// The step's name in the seed (for an unnamed step `#` and the start of its
    /// fingerprint, `.N` for its N-th identical twin).
    pub name: String,
    /// SHA-256 (hex) of the step as written (method, path, body): a seed that changed
    /// a step it already applied is refused rather than silently kept.
    pub fingerprint: String,
    /// The request's answer: its status and its body (JSON text, `null` for none).
    pub status: u16,
    pub answer: String,
    pub created_at: Timestamp,
}

impl SeedStep {
    /// `seed_<user id>_<name>`: unique within the kind, one per account and name.
    pub fn id_for(user: UserId, name: &str) -> String {
        format!("seed_{}_{name}", user.get())
    }
}

impl Resource for SeedStep {
    const KIND: &'static str = "seed_step";

    fn id(&self) -> String {
        self.id.clone()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        None
    }

    fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.created_at
    }
}
