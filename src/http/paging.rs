//! `limit` and `offset` of every listing, and the `paging` object that answers them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::Failure;
use crate::store::Page;

/// Page size when the request names none, and the largest allowed.
pub const PAGE_LIMIT_DEFAULT: u32 = 30;
pub const PAGE_LIMIT_MAX: u32 = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct Paging {
    pub limit: u32,
    pub offset: u64,
    /// How many items match in all.
    pub total: u64,
}

/// Parse `limit` (1 to 100, default 30) and `offset` (from 0, default 0).
pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<(u32, u64), Failure> {
    parse_with(PAGE_LIMIT_DEFAULT, limit, offset)
}

/// [`parse`], for a listing whose page documents another default page size.
pub fn parse_with(default: u32, limit: Option<&str>, offset: Option<&str>) -> Result<(u32, u64), Failure> {
    let bad = |msg: &str| Failure::InvalidBody(msg.to_owned());
    let limit = match limit {
        None | Some("") => default,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=PAGE_LIMIT_MAX).contains(l))
            .ok_or_else(|| bad("limit must be an integer from 1 to 100"))?,
    };
    let offset = match offset {
        None | Some("") => 0,
        Some(raw) => raw.parse::<u64>().map_err(|_| bad("offset must be a non-negative integer"))?,
    };
    Ok((limit, offset))
}

/// A page of results, as every listing but the payouts' answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listing<T> {
    pub paging: Paging,
    pub results: Vec<T>,
}

impl<V> Listing<V> {
    /// The views of a stored page.
    pub fn of<'a, T: 'a>(page: &'a Page<T>, limit: u32, offset: u64) -> Self
    where
        V: From<&'a T>,
    {
        Listing {
            paging: Paging { limit, offset, total: page.total },
            results: page.items.iter().map(V::from).collect(),
        }
    }
}
