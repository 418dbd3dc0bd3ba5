//! What a resource family declares so that one generic store can keep it: its kind
//! name, its document (the domain type itself, serialized), who owns it, its status,
//! the index entries it is found and listed by (some of them unique), and when the
//! worker must wake it.
//!
//! The store never learns a family: it keeps every kind as an envelope (kind, id,
//! owner, status, version, document, times) plus the entries and the timer declared
//! here, recomputed from the document on every write. Adding a family is an `impl
//! Resource` in its domain module; no SQL, no migration.

use super::{Timestamp, UserId};

/// A resource family's storage declaration. Implemented in the family's own module.
pub trait Resource {
    /// The kind name in the store, e.g. `terminal_action`. Never change it: stored
    /// rows carry it.
    const KIND: &'static str;

    /// The id as the API shows it (unique within the kind).
    fn id(&self) -> String;

    /// The account that owns it.
    fn user_id(&self) -> UserId;

    /// Its status as the API spells it, if its family has one.
    fn status(&self) -> Option<&'static str>;

    fn created_at(&self) -> Timestamp;

    fn updated_at(&self) -> Timestamp;

    /// The entries it is found and listed by, as it is now. Unique entries back a
    /// rule such as "one customer per email": the database refuses a second holder.
    fn index(&self) -> Vec<IndexEntry> {
        Vec::new()
    }

    /// When the worker must look at it next (`None`: never).
    fn wake_at(&self) -> Option<Timestamp> {
        None
    }
}

/// One way to find a resource: resources with the same `(name, value)` form one list,
/// ordered by `sort` (then id). Values carry their scope (account, site, parent) in
/// their text, so a lookup never reads another account's entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The index, e.g. `email`, `payout_status`. Fixed per family.
    pub name: &'static str,
    pub value: String,
    /// Compared as text: numbers are zero-padded by [`sort_number`].
    pub sort: String,
    /// At most one resource of the kind may hold this `(name, value)`.
    pub unique: bool,
}

impl IndexEntry {
    /// A listing entry.
    pub fn list(name: &'static str, value: String, sort: String) -> Self {
        IndexEntry { name, value, sort, unique: false }
    }

    /// A uniqueness rule's entry.
    pub fn unique(name: &'static str, value: String) -> Self {
        IndexEntry { name, value, sort: String::new(), unique: true }
    }
}

/// Serialize a type through its text form (`show`) and read it back with `parse`,
/// so a stored document spells statuses and ids exactly as the API does.
#[macro_export]
macro_rules! serde_as_text {
    ($type:ty, $parse:expr, $show:expr) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&($show)(self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                ($parse)(&raw).ok_or_else(|| serde::de::Error::custom(concat!("unreadable ", stringify!($type))))
            }
        }
    };
}

/// An id of 32 lowercase hex digits (payment profiles, card tokens): parsed from a
/// path, drawn from 16 random bytes, shown and stored as its text.
#[macro_export]
macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        $crate::serde_as_text!($name, $name::parse, $name::as_str);

        impl $name {
            pub fn parse(raw: &str) -> Option<Self> {
                let ok = raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                ok.then(|| $name(raw.to_owned()))
            }

            pub fn from_random(bytes: [u8; 16]) -> Self {
                $name(hex::encode(bytes))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A number as a sort key that orders as the number does (non-negative, up to 20
/// digits).
pub fn sort_number(n: i64) -> String {
    format!("{:020}", n.max(0))
}

/// An index value scoped to an account: `user:part:part…`.
pub fn scoped(user: UserId, parts: &[&str]) -> String {
    let mut value = user.get().to_string();
    for part in parts {
        value.push(':');
        value.push_str(part);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_numbers_order_as_numbers() {
        assert!(sort_number(9) < sort_number(10));
        assert!(sort_number(1_795_514_400_123) < sort_number(1_795_514_400_124));
        assert_eq!(sort_number(-5), sort_number(0));
    }

    #[test]
    fn scoped_values_carry_the_account() {
        let user = UserId::new(42).unwrap_or_else(|| unreachable!());
        assert_eq!(scoped(user, &["MLB", "ana@example.com"]), "42:MLB:ana@example.com");
    }
}
