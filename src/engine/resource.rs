//! Typed resources over the generic store: load, insert, update (conditional on the
//! version read), find by a unique entry, list, and wake. Written once for every
//! family; the family's [`Resource`] declaration says what to index and when to wake.
//!
//! Documents are the domain types serialized as JSON, here and nowhere else. On
//! every write the index entries and the timer are recomputed from the document, and
//! only the entries that changed are written.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::unit_of_work::{ClockScope, Envelope, LoadFor, Loaded, Page, Reads, StoreError, UnitOfWork};
use crate::domain::resource::Resource;
use crate::domain::Timestamp;

/// A resource as loaded, with the version a conditional update must find.
#[derive(Clone, Debug)]
pub struct Stored<R> {
    pub version: i64,
    pub value: R,
}

/// A family's document type: its declaration and its serialized form.
pub trait Document: Resource + Serialize + DeserializeOwned {}

impl<R: Resource + Serialize + DeserializeOwned> Document for R {}

fn decode<R: Document>(loaded: Loaded) -> Result<Stored<R>, StoreError> {
    let value = serde_json::from_str(&loaded.document)
        .map_err(|e| StoreError::Database(format!("unreadable {} document: {e}", R::KIND)))?;
    Ok(Stored { version: loaded.version, value })
}

fn encode<R: Document>(value: &R) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot encode a {}: {e}", R::KIND)))
}

/// A resource by id, to update: locked until commit inside a write.
pub fn load<R: Document>(reads: &mut dyn Reads, id: &str) -> Result<Option<Stored<R>>, StoreError> {
    reads.load(R::KIND, id, LoadFor::Update)?.map(decode).transpose()
}

/// A resource by id, only to look at: never locked.
pub fn read<R: Document>(reads: &mut dyn Reads, id: &str) -> Result<Option<R>, StoreError> {
    Ok(reads.load(R::KIND, id, LoadFor::Read)?.map(decode).transpose()?.map(|s: Stored<R>| s.value))
}

/// The id of the resource holding a unique entry.
pub fn find_unique<R: Document>(
    reads: &mut dyn Reads,
    name: &'static str,
    value: &str,
) -> Result<Option<String>, StoreError> {
    reads.find_unique(R::KIND, name, value)
}

/// A page of the resources listed under `(name, value)`.
pub fn list<R: Document>(
    reads: &mut dyn Reads,
    name: &'static str,
    value: &str,
    limit: u32,
    offset: u64,
) -> Result<Page<R>, StoreError> {
    let page = reads.list(R::KIND, name, value, limit, offset)?;
    let items = page.items.into_iter().map(|l| decode(l).map(|s: Stored<R>| s.value)).collect::<Result<_, _>>()?;
    Ok(Page { total: page.total, items })
}

/// Resources whose timer fell due, locked for this transaction.
pub fn due<R: Document>(
    uow: &mut dyn UnitOfWork,
    now: Timestamp,
    scope: ClockScope,
    limit: usize,
) -> Result<Vec<Stored<R>>, StoreError> {
    uow.due(R::KIND, now, scope, limit)?.into_iter().map(decode).collect()
}

/// Store a new resource with its index entries and timer.
pub fn insert<R: Document>(uow: &mut dyn UnitOfWork, value: &R) -> Result<(), StoreError> {
    let (id, document) = (value.id(), encode(value)?);
    uow.insert(&envelope(value, &id, &document))?;
    for entry in value.index() {
        uow.add_entry(R::KIND, &id, &entry)?;
    }
    if let Some(at) = value.wake_at() {
        uow.set_timer(R::KIND, &id, Some(at))?;
    }
    Ok(())
}

/// Replace `old` with `new` if nobody changed it since it was loaded; a lost race is
/// [`StoreError::Contention`], so the whole command rolls back (and may run again).
pub fn update<R: Document>(uow: &mut dyn UnitOfWork, old: &Stored<R>, new: &R) -> Result<(), StoreError> {
    let (id, document) = (new.id(), encode(new)?);
    if !uow.update(&envelope(new, &id, &document), old.version)? {
        return Err(StoreError::Contention(format!("{} {id}", R::KIND)));
    }
    let (before, after) = (old.value.index(), new.index());
    for entry in before.iter().filter(|e| !after.contains(e)) {
        uow.remove_entry(R::KIND, &id, entry)?;
    }
    for entry in after.iter().filter(|e| !before.contains(e)) {
        uow.add_entry(R::KIND, &id, entry)?;
    }
    if old.value.wake_at() != new.wake_at() {
        uow.set_timer(R::KIND, &id, new.wake_at())?;
    }
    Ok(())
}

fn envelope<'a, R: Document>(value: &R, id: &'a str, document: &'a str) -> Envelope<'a> {
    Envelope {
        kind: R::KIND,
        id,
        user_id: value.user_id(),
        status: value.status(),
        document,
        created_at: value.created_at(),
        updated_at: value.updated_at(),
    }
}
