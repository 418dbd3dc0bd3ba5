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
    TransactionIntent,
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
            ResourceType::TransactionIntent => "transaction_intent",
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
            "transaction_intent" => Some(ResourceType::TransactionIntent),
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

/// The hash that chains an audit record to the record before it of the same
/// resource: hex SHA-256 over the previous hash and every field of the record, each
/// field length-prefixed so no two records share a text. A changed, removed or
/// reordered record breaks every link after it.
pub fn chain_hash(prev: Option<&str>, e: &AuditEvent) -> String {
    use sha2::{Digest, Sha256};
    let at = e.at.as_millis().to_string();
    let user = e.user_id.get().to_string();
    let fields: [Option<&str>; 11] = [
        prev,
        Some(&user),
        Some(e.resource_type.as_str()),
        Some(&e.resource_id),
        e.from_status.as_deref(),
        Some(&e.to_status),
        e.deleted_by.as_deref(),
        e.comments.as_deref(),
        Some(&e.request_id),
        e.idempotency_key.as_ref().map(IdempotencyKey::as_str),
        Some(&at),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        match field {
            None => hasher.update(b"-"),
            Some(text) => {
                hasher.update(text.len().to_string().as_bytes());
                hasher.update(b":");
                hasher.update(text.as_bytes());
            }
        }
        hasher.update(b";");
    }
    hex::encode(hasher.finalize())
}

/// An audit record as stored, with its place and its links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRecord {
    pub id: i64,
    pub event: AuditEvent,
    /// `None` for records written before the chain existed.
    pub hash: Option<String>,
    pub prev_hash: Option<String>,
    /// The status its resource has now (the store's `status` of the resource whose
    /// kind is the record's `resource_type`); `None` when the family keeps no status
    /// (preferences) or the resource is gone.
    pub current_status: Option<String>,
}

/// A link that does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    pub record_id: i64,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub why: &'static str,
}

/// What `caja audit verify` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    pub chains: u64,
    pub records: u64,
    /// Records older than the chain (no hash), before each chain's first link.
    pub unchained: u64,
    /// The first broken link of each broken chain.
    pub broken: Vec<BrokenLink>,
}

/// Check every chain. `records` are ordered by resource, then by id.
pub fn verify(records: &[ChainRecord]) -> Verification {
    let mut found = Verification::default();
    let same_resource = |a: &ChainRecord, b: &ChainRecord| {
        a.event.user_id == b.event.user_id
            && a.event.resource_type == b.event.resource_type
            && a.event.resource_id == b.event.resource_id
    };
    for chain in records.chunk_by(same_resource) {
        found.chains += 1;
        found.records += chain.len() as u64;
        let broken_before = found.broken.len();
        let mut prev: Option<&str> = None;
        let mut linked = false;
        for record in chain {
            let broken = |why| BrokenLink {
                record_id: record.id,
                resource_type: record.event.resource_type.as_str(),
                resource_id: record.event.resource_id.clone(),
                why,
            };
            let Some(hash) = record.hash.as_deref() else {
                if linked {
                    found.broken.push(broken("a record without a hash after the chain began"));
                    break;
                }
                found.unchained += 1;
                continue;
            };
            if linked && record.prev_hash.as_deref() != prev {
                found
                    .broken
                    .push(broken("its link does not name the record before it (a record was removed or reordered)"));
                break;
            }
            if chain_hash(record.prev_hash.as_deref(), &record.event) != hash {
                found.broken.push(broken("its content does not match its hash (the record was edited)"));
                break;
            }
            prev = Some(hash);
            linked = true;
        }
        // A record removed from the end leaves an intact chain: the resource's own
        // status then names a move the chain does not end with.
        let intact = found.broken.len() == broken_before;
        if let (true, Some(head)) = (intact, chain.last()) {
            if head.current_status.as_deref().is_some_and(|now| now != head.event.to_status) {
                found.broken.push(BrokenLink {
                    record_id: head.id,
                    resource_type: head.event.resource_type.as_str(),
                    resource_id: head.event.resource_id.clone(),
                    why: "its resource's status is not the to_status at the head of its chain (a record at the end was removed)",
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    fn event(to: &str, at: i64) -> AuditEvent {
        AuditEvent {
            user_id: UserId::new(7).unwrap_or_else(|| unreachable!()),
            resource_type: ResourceType::Order,
            resource_id: "ORD1".into(),
            from_status: None,
            to_status: to.into(),
            deleted_by: None,
            comments: None,
            request_id: "r".into(),
            idempotency_key: None,
            at: Timestamp::from_millis(at),
        }
    }

    fn chain(events: &[AuditEvent]) -> Vec<ChainRecord> {
        let mut prev: Option<String> = None;
        events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let hash = chain_hash(prev.as_deref(), e);
                let record = ChainRecord {
                    id: i as i64 + 1,
                    event: e.clone(),
                    hash: Some(hash.clone()),
                    prev_hash: prev.clone(),
                    current_status: events.last().map(|e| e.to_status.clone()),
                };
                prev = Some(hash);
                record
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_any_tampering_breaks_it() {
        let records = chain(&[event("created", 1), event("processed", 2), event("refunded", 3)]);
        assert_eq!(verify(&records), Verification { chains: 1, records: 3, unchained: 0, broken: vec![] });
        let mut edited = records.clone();
        edited[1].event.to_status = "failed".into();
        assert_eq!(verify(&edited).broken[0].record_id, 2);
        let removed: Vec<_> = [records[0].clone(), records[2].clone()].to_vec();
        assert_eq!(verify(&removed).broken[0].record_id, 3);
        let reordered = vec![records[0].clone(), records[2].clone(), records[1].clone()];
        assert_eq!(verify(&reordered).broken.len(), 1);
        let tail_removed = records[..2].to_vec();
        let found = verify(&tail_removed);
        assert_eq!((found.broken.len(), found.broken[0].record_id), (1, 2), "{found:?}");
        assert!(found.broken[0].why.contains("head"));
    }
}
