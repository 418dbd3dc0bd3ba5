//! The rules of `POST` and `PUT /checkout/preferences` and of `/merchant_orders`:
//! what each field must be. A refusal names the field and why.

use super::checkout::{BackUrls, Item, MerchantOrder, MethodRules, Preference, ITEMS_MAX};
use super::order::Echo;
use super::order_money::Money;
use super::payment::AMOUNT_MAX;

/// An item's quantity, at most.
pub const QUANTITY_MAX: u32 = 1_000_000;
use super::{Principal, SiteId, Timestamp};

/// An item as sent: `unit_price` is the JSON number's literal text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemDraft {
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub picture_url: Option<String>,
    pub category_id: Option<String>,
    pub currency_id: Option<String>,
    pub quantity: Option<u32>,
    pub unit_price: Option<String>,
    pub echo: Echo,
}

/// A preference request's fields (create: all of them; update: those sent).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreferenceDraft {
    pub items: Option<Vec<ItemDraft>>,
    pub back_urls: Option<BackUrls>,
    pub auto_return: Option<String>,
    pub notification_url: Option<String>,
    pub external_reference: Option<String>,
    pub expires: Option<bool>,
    /// Parsed by the HTTP layer; `Err` keeps the text that was not a date.
    pub expiration_date_from: Option<Result<Timestamp, String>>,
    pub expiration_date_to: Option<Result<Timestamp, String>>,
    pub payment_methods: Option<MethodRules>,
    pub binary_mode: Option<bool>,
    pub echo: Echo,
}

/// Why a preference or merchant order was refused: the field and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

fn invalid<T>(why: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(why.into()))
}

/// Items: 1 to 100, each with a title, a quantity of at least 1 and a positive
/// price in the site's currency; the rest default as the API fills them.
pub fn items(drafts: &[ItemDraft], site: SiteId) -> Result<Vec<Item>, Invalid> {
    if drafts.is_empty() || drafts.len() > ITEMS_MAX {
        return invalid("items must hold 1 to 100 items");
    }
    drafts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let title = d.title.clone().filter(|t| !t.trim().is_empty());
            let Some(title) = title else {
                return invalid(format!("items[{i}].title is required"));
            };
            let quantity = d.quantity.filter(|q| *q >= 1);
            let Some(quantity) = quantity else {
                return invalid(format!("items[{i}].quantity must be an integer of at least 1"));
            };
            let price = d.unit_price.as_deref().and_then(Money::parse).filter(|m| *m > Money::ZERO && *m <= AMOUNT_MAX);
            let Some(unit_price) = price else {
                return invalid(format!(
                    "items[{i}].unit_price must be a positive number with up to 2 decimals, at most {AMOUNT_MAX}"
                ));
            };
            if quantity > QUANTITY_MAX {
                return invalid(format!("items[{i}].quantity must be at most {QUANTITY_MAX}"));
            }
            let currency = d.currency_id.clone().unwrap_or_else(|| site.currency().to_owned());
            if currency != site.currency() {
                return invalid(format!("items[{i}].currency_id must be {}", site.currency()));
            }
            Ok(Item {
                id: d.id.clone().unwrap_or_default(),
                title,
                description: d.description.clone().unwrap_or_default(),
                picture_url: d.picture_url.clone(),
                category_id: d.category_id.clone().unwrap_or_default(),
                currency_id: currency,
                quantity,
                unit_price,
                echo: d.echo.clone(),
            })
        })
        .collect()
}

fn date(field: &str, sent: Option<Result<Timestamp, String>>) -> Result<Option<Timestamp>, Invalid> {
    match sent {
        None => Ok(None),
        Some(Ok(at)) => Ok(Some(at)),
        Some(Err(raw)) => invalid(format!("{field} must be an ISO 8601 date, not {raw:?}")),
    }
}

/// An absolute http(s) URL with a host (and a valid port, if any), with nothing that
/// would need escaping in a header or a page: `"`, `<`, `>`, `\`, whitespace.
fn url_ok(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (host_port, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\' | '`');
    !host.is_empty() && port_ok && !url.chars().any(bad_char)
}

/// Check the fields every preference must keep true.
fn checked(p: Preference) -> Result<Preference, Invalid> {
    if p.total() > AMOUNT_MAX {
        return invalid(format!("the items' total must be at most {AMOUNT_MAX}, what one payment may be"));
    }
    if let Some(mode) = &p.auto_return {
        if !["approved", "all"].contains(&mode.as_str()) {
            return invalid("auto_return must be approved or all");
        }
        if p.back_urls.success.as_deref().is_none_or(str::is_empty) {
            return invalid("auto_return invalid. back_url.success must be defined");
        }
    }
    let urls = [&p.back_urls.success, &p.back_urls.pending, &p.back_urls.failure, &p.notification_url];
    if urls.iter().any(|u| u.as_deref().is_some_and(|u| !u.is_empty() && !url_ok(u))) {
        return invalid("back_urls and notification_url must be http(s) URLs");
    }
    if let (Some(from), Some(to)) = (p.expiration_date_from, p.expiration_date_to) {
        if to < from {
            return invalid("expiration_date_to must not be before expiration_date_from");
        }
    }
    let rules = &p.payment_methods;
    if rules.installments.is_some_and(|n| n == 0 || n > 36)
        || rules.default_installments.is_some_and(|n| n == 0 || n > 36)
    {
        return invalid("payment_methods.installments must be from 1 to 36");
    }
    Ok(p)
}

/// A new preference, its id drawn by the caller (`<user id>-<uuid>`).
pub fn new_preference(
    draft: PreferenceDraft,
    id: String,
    principal: &Principal,
    now: Timestamp,
) -> Result<Preference, Invalid> {
    let Some(item_drafts) = &draft.items else {
        return invalid("items is required");
    };
    checked(Preference {
        id,
        user_id: principal.user_id,
        site_id: principal.site_id,
        live_mode: principal.live_mode,
        items: items(item_drafts, principal.site_id)?,
        back_urls: draft.back_urls.unwrap_or_default(),
        auto_return: draft.auto_return,
        notification_url: draft.notification_url,
        external_reference: draft.external_reference,
        expires: draft.expires.unwrap_or(false),
        expiration_date_from: date("expiration_date_from", draft.expiration_date_from)?,
        expiration_date_to: date("expiration_date_to", draft.expiration_date_to)?,
        payment_methods: draft.payment_methods.unwrap_or_default(),
        binary_mode: draft.binary_mode.unwrap_or(false),
        date_created: now,
        last_updated: None,
        echo: draft.echo,
    })
}

/// The preference with the fields an update sent.
pub fn updated_preference(old: &Preference, draft: PreferenceDraft, now: Timestamp) -> Result<Preference, Invalid> {
    let mut p = old.clone();
    if let Some(item_drafts) = &draft.items {
        p.items = items(item_drafts, p.site_id)?;
    }
    p.back_urls = draft.back_urls.unwrap_or(p.back_urls);
    p.auto_return = draft.auto_return.or(p.auto_return);
    p.notification_url = draft.notification_url.or(p.notification_url);
    p.external_reference = draft.external_reference.or(p.external_reference);
    p.expires = draft.expires.unwrap_or(p.expires);
    p.expiration_date_from = date("expiration_date_from", draft.expiration_date_from)?.or(p.expiration_date_from);
    p.expiration_date_to = date("expiration_date_to", draft.expiration_date_to)?.or(p.expiration_date_to);
    p.payment_methods = draft.payment_methods.unwrap_or(p.payment_methods);
    p.binary_mode = draft.binary_mode.unwrap_or(p.binary_mode);
    p.echo.extend(draft.echo);
    p.last_updated = Some(now);
    checked(p)
}

/// A merchant order request's fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MerchantOrderDraft {
    pub preference_id: Option<String>,
    pub items: Option<Vec<ItemDraft>>,
    pub notification_url: Option<String>,
    pub external_reference: Option<String>,
    pub additional_info: Option<String>,
    pub marketplace: Option<String>,
    pub cancelled: Option<bool>,
    pub echo: Echo,
}

/// A new merchant order; its items are its own or its preference's.
pub fn new_merchant_order(
    draft: MerchantOrderDraft,
    id: i64,
    preference: Option<&Preference>,
    principal: &Principal,
    now: Timestamp,
) -> Result<MerchantOrder, Invalid> {
    let items = match (&draft.items, preference) {
        (Some(drafts), _) => items(drafts, principal.site_id)?,
        (None, Some(p)) => p.items.clone(),
        (None, None) => return invalid("items or a preference_id is required"),
    };
    if draft.notification_url.as_deref().is_some_and(|u| !url_ok(u)) {
        return invalid("notification_url must be an http(s) URL");
    }
    Ok(MerchantOrder {
        id,
        user_id: principal.user_id,
        site_id: principal.site_id,
        live_mode: principal.live_mode,
        preference_id: draft.preference_id,
        items,
        payments: Vec::new(),
        notification_url: draft.notification_url.or_else(|| preference.and_then(|p| p.notification_url.clone())),
        external_reference: draft.external_reference.or_else(|| preference.and_then(|p| p.external_reference.clone())),
        additional_info: draft.additional_info,
        marketplace: draft.marketplace.unwrap_or_else(|| "NONE".to_owned()),
        cancelled: draft.cancelled.unwrap_or(false),
        date_created: now,
        last_updated: now,
        echo: draft.echo,
    })
}

/// The merchant order with the fields an update sent.
pub fn updated_merchant_order(
    old: &MerchantOrder,
    draft: MerchantOrderDraft,
    now: Timestamp,
) -> Result<MerchantOrder, Invalid> {
    let mut order = old.clone();
    if let Some(drafts) = &draft.items {
        order.items = items(drafts, order.site_id)?;
    }
    if draft.notification_url.as_deref().is_some_and(|u| !url_ok(u)) {
        return invalid("notification_url must be an http(s) URL");
    }
    order.notification_url = draft.notification_url.or(order.notification_url);
    order.external_reference = draft.external_reference.or(order.external_reference);
    order.additional_info = draft.additional_info.or(order.additional_info);
    order.marketplace = draft.marketplace.unwrap_or(order.marketplace);
    order.cancelled = draft.cancelled.unwrap_or(order.cancelled);
    order.echo.extend(draft.echo);
    order.last_updated = now;
    Ok(order)
}
