//! Seed files (part of #17): `caja serve --seed FILE` (or `caja seed apply FILE`)
//! makes the accounts a file names, **with the access tokens it names**, so a CI
//! configuration can hold a fixed test token; with their notification URLs, webhook
//! secrets, terminals and payout signing keys; and then each account's **resources**:
//! customers, cards, payment profiles, orders, payments, anything the API makes,
//! in the state the file asks for. Applying the same file again changes nothing; a
//! file that contradicts the store (a token or terminal another account holds, an
//! account's mode changed, a step already applied with another definition) is
//! refused, naming what.
//!
//! The file is YAML or JSON (a file whose first character is `{` is read as JSON):
//!
//! ```yaml
//! accounts:
//!   - user_id: 123456789
//!     site_id: MLB
//!     live_mode: false              # default
//!     payouts_enabled: true         # default
//!     access_tokens: [TEST-ci-token-123456789]
//!     notification_url: http://127.0.0.1:9000/hooks
//!     webhook_secret: seeded-secret-0123456789abcdef
//!     terminals: [{id: NEWLAND_N950__N950NCB1, pos_id: 1, store_id: 1, operating_mode: PDV}]
//!     signing_keys: ["-----BEGIN PUBLIC KEY-----\n…"]
//!     resources:
//!       - name: alice               # later steps refer to its answer: {{alice.id}}
//!         path: /v1/customers       # method: POST by default (POST, PUT, PATCH, DELETE)
//!         body: {email: alice@example.com, first_name: Alice}
//!       - name: canceled_order
//!         path: /v1/orders
//!         body: {…}
//!       - path: /v1/orders/{{canceled_order.id}}/cancel
//! ```
//!
//! **Resources** are the API's own documented requests, sent through caja's router on
//! the account's behalf (journal source `seed`): authenticated, validated, idempotent,
//! audited and notified exactly as a client's, so a seeded resource is one the API
//! made, in a state its own moves reached (`…/events` for test moves). Being set-up,
//! they are neither rate limited nor faulted by the account's fault rules. A reference
//! `{{name.field.0.sub}}` in the path or in a body string takes a value from an
//! earlier step's answer; a string that is only a reference takes the value with its
//! JSON type. Each step, once answered 2xx, is kept (`domain::seed_step`) with its
//! answer, so applying the seed again sends nothing; a step whose request fails
//! stops the seed with the API's answer. A reset of the account (`POST
//! /caja/v1/reset`) deletes the kept steps with the resources, and the seed then
//! applies afresh.
//!
//! Unknown fields are refused (a misspelt `acess_tokens` must not pass silently).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::seed_step::SeedStep;
use crate::domain::{Principal, SiteId, Timestamp, UserId};
use crate::engine::StoreError;
use crate::provision::{self, AccountChange, ProvisionError, TerminalSpec};
use crate::store::{NewAccount, Store};

/// The longest access token a seed may name (as the API takes them).
pub const TOKEN_CHARS_MAX: usize = 256;
/// The most resource steps one account's seed may list.
pub const STEPS_MAX: usize = 10_000;
/// The longest step name (`[A-Za-z0-9_-]`).
pub const NAME_CHARS_MAX: usize = 64;
/// The longest path a step may name.
pub const PATH_CHARS_MAX: usize = 2_048;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    pub user_id: i64,
    pub site_id: String,
    #[serde(default)]
    pub live_mode: bool,
    #[serde(default = "yes")]
    pub payouts_enabled: bool,
    pub access_tokens: Vec<String>,
    pub notification_url: Option<String>,
    /// Set exactly (hex or any text of 16 to 256 characters); absent: a fresh one on
    /// creation, and the store's kept afterwards.
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub terminals: Vec<SeedTerminal>,
    /// PEM (SubjectPublicKeyInfo) Ed25519 public keys for payout signatures.
    #[serde(default)]
    pub signing_keys: Vec<String>,
    /// The account's resources: documented requests, sent in order.
    #[serde(default)]
    pub resources: Vec<SeedResource>,
}

/// One resource step: a documented request of the API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResource {
    /// How later steps refer to this one's answer (`{{name.id}}`); an unnamed step
    /// is kept by its content (`#` and its fingerprint's start), so editing it makes
    /// a new step where editing a named one is refused.
    pub name: Option<String>,
    /// `POST` (the default), `PUT`, `PATCH` or `DELETE`.
    #[serde(default = "post")]
    pub method: String,
    /// The request's path (with its query, if any), e.g. `/v1/customers`.
    pub path: String,
    /// The JSON body, if the request has one.
    pub body: Option<Value>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTerminal {
    pub id: String,
    pub pos_id: Option<i64>,
    pub store_id: Option<i64>,
    pub external_pos_id: Option<String>,
    #[serde(default = "pdv")]
    pub operating_mode: String,
}

fn yes() -> bool {
    true
}

fn pdv() -> String {
    "PDV".into()
}

fn post() -> String {
    "POST".into()
}

/// Why a seed was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed file is not valid: {0}")]
    Invalid(String),
    #[error("the seed contradicts the store: {0}")]
    Conflict(String),
    /// A resource step's request was refused; the API's answer is in the text.
    #[error("a seed step failed: {0}")]
    Step(String),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Store(#[from] crate::engine::StoreError),
}

/// What applying a seed did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub accounts_created: usize,
    pub tokens_added: usize,
    pub terminals_registered: usize,
    pub signing_keys_added: usize,
    /// Resource steps whose requests were sent (each answered 2xx).
    pub resources_created: usize,
    /// Resource steps applied before, left as they are.
    pub resources_kept: usize,
}

impl Applied {
    /// Both halves of an application: the accounts' and the resources'.
    pub fn and(self, resources: Applied) -> Applied {
        Applied {
            resources_created: self.resources_created + resources.resources_created,
            resources_kept: self.resources_kept + resources.resources_kept,
            ..self
        }
    }
}

/// Read a seed file's text: JSON when it starts with `{`, YAML otherwise.
pub fn parse(text: &str) -> Result<Seed, SeedError> {
    let seed: Seed = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| SeedError::Invalid(e.to_string()))?
    } else {
        yaml_serde::from_str(text).map_err(|e| SeedError::Invalid(e.to_string()))?
    };
    for (index, account) in seed.accounts.iter().enumerate() {
        let who = account.user_id;
        UserId::new(who).ok_or_else(|| SeedError::Invalid(format!("user_id {who} is not a valid user id")))?;
        if seed.accounts[..index].iter().any(|earlier| earlier.user_id == who) {
            return Err(SeedError::Invalid(format!("account {who} is listed twice")));
        }
        account
            .site_id
            .parse::<SiteId>()
            .ok()
            .ok_or_else(|| SeedError::Invalid(format!("account {who}: site_id {:?} is not a site", account.site_id)))?;
        if account.access_tokens.is_empty() {
            return Err(SeedError::Invalid(format!("account {who}: access_tokens is empty")));
        }
        for token in &account.access_tokens {
            let fine = !token.is_empty() && token.len() <= TOKEN_CHARS_MAX && !token.contains(char::is_whitespace);
            if !fine {
                return Err(SeedError::Invalid(format!(
                    "account {who}: an access token must be 1 to {TOKEN_CHARS_MAX} characters without spaces"
                )));
            }
        }
        if let Some(secret) = &account.webhook_secret {
            if !(16..=256).contains(&secret.len()) || secret.contains(char::is_whitespace) {
                return Err(SeedError::Invalid(format!(
                    "account {who}: webhook_secret must be 16 to 256 characters without spaces"
                )));
            }
        }
        check_steps(&account.resources).map_err(|why| SeedError::Invalid(format!("account {who}: {why}")))?;
    }
    Ok(seed)
}

/// Each step's name as kept: its own, or for an unnamed step `#` and the start of
/// its fingerprint (and `.N` for its N-th identical twin), so adding, removing or
/// moving other steps never renames it.
fn step_names(steps: &[SeedResource]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    steps
        .iter()
        .map(|step| match &step.name {
            Some(name) => name.clone(),
            None => {
                let print = format!("#{}", &fingerprint(step)[..16]);
                let twins = seen.entry(print.clone()).or_default();
                *twins += 1;
                if *twins == 1 {
                    print
                } else {
                    format!("{print}.{twins}")
                }
            }
        })
        .collect()
}

/// Names, methods and paths well formed; every reference to an earlier step's name.
fn check_steps(steps: &[SeedResource]) -> Result<(), String> {
    if steps.len() > STEPS_MAX {
        return Err(format!("at most {STEPS_MAX} resources"));
    }
    let mut names: Vec<&str> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let at = format!("resources[{index}]");
        if !["POST", "PUT", "PATCH", "DELETE"].contains(&step.method.as_str()) {
            return Err(format!("{at}: method must be POST, PUT, PATCH or DELETE"));
        }
        let path_fine =
            step.path.starts_with('/') && step.path.len() <= PATH_CHARS_MAX && !step.path.contains(char::is_whitespace);
        if !path_fine {
            return Err(format!(
                "{at}: path must start with / and have at most {PATH_CHARS_MAX} characters, no spaces"
            ));
        }
        // caja's own endpoints are no resources (and a reset in a seed would re-apply it).
        if step.path.starts_with("/caja/") || step.path == "/caja" {
            return Err(format!("{at}: path must be one of the API's, not caja's own /caja/…"));
        }
        let mut referred = references(&step.path)?;
        if let Some(body) = &step.body {
            strings(body, &mut |text| references(text).map(|names| referred.extend(names)))?;
        }
        if let Some(unknown) = referred.iter().find(|name| !names.contains(&name.as_str())) {
            return Err(format!("{at}: {{{{{unknown}…}}}} names no earlier resource"));
        }
        if let Some(name) = &step.name {
            let fine = !name.is_empty()
                && name.len() <= NAME_CHARS_MAX
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !fine {
                return Err(format!("{at}: name must be 1 to {NAME_CHARS_MAX} of A-Z, a-z, 0-9, _ and -"));
            }
            if names.contains(&name.as_str()) {
                return Err(format!("{at}: the name {name} is used twice"));
            }
            names.push(name);
        }
    }
    Ok(())
}

/// Call `each` on every string of a JSON value (keys are left as they are).
fn strings(value: &Value, each: &mut dyn FnMut(&str) -> Result<(), String>) -> Result<(), String> {
    match value {
        Value::String(text) => each(text),
        Value::Array(items) => items.iter().try_for_each(|item| strings(item, each)),
        Value::Object(fields) => fields.values().try_for_each(|field| strings(field, each)),
        _ => Ok(()),
    }
}

/// The `{{…}}` references of a text, in order, as (name, path) pairs' text.
fn reference_spans(text: &str) -> Result<Vec<(usize, usize, String)>, String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("{{").map(|at| from + at) {
        let Some(end) = text[start..].find("}}").map(|at| start + at) else {
            return Err(format!("{text:?}: a {{{{ without }}}}"));
        };
        found.push((start, end + 2, text[start + 2..end].trim().to_owned()));
        from = end + 2;
    }
    Ok(found)
}

/// The step names a text refers to.
fn references(text: &str) -> Result<Vec<String>, String> {
    Ok(reference_spans(text)?
        .into_iter()
        .map(|(_, _, inner)| inner.split('.').next().unwrap_or_default().to_owned())
        .collect())
}

/// The value `name.field.0.sub` names among the answers so far.
fn resolve<'a>(reference: &str, answers: &'a HashMap<String, Value>) -> Result<&'a Value, String> {
    let mut parts = reference.split('.');
    let name = parts.next().unwrap_or_default();
    let mut value = answers.get(name).ok_or_else(|| format!("{{{{{reference}}}}}: no answer named {name}"))?;
    for part in parts {
        let next = match value {
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            Value::Object(fields) => fields.get(part),
            _ => None,
        };
        value = next.ok_or_else(|| format!("{{{{{reference}}}}}: the answer of {name} has no {part}"))?;
    }
    Ok(value)
}

/// A text with its references replaced by their values' text; a text that is one
/// reference and nothing else becomes the value itself, with its JSON type.
fn fill_text(text: &str, answers: &HashMap<String, Value>) -> Result<Value, String> {
    let spans = reference_spans(text)?;
    if let [(0, end, inner)] = spans.as_slice() {
        if *end == text.len() {
            return resolve(inner, answers).cloned();
        }
    }
    let mut filled = String::with_capacity(text.len());
    let mut from = 0;
    for (start, end, inner) in spans {
        filled.push_str(&text[from..start]);
        match resolve(&inner, answers)? {
            Value::String(value) => filled.push_str(value),
            Value::Number(value) => filled.push_str(&value.to_string()),
            Value::Bool(value) => filled.push_str(&value.to_string()),
            _ => return Err(format!("{{{{{inner}}}}} is not a string, number or boolean")),
        }
        from = end;
    }
    filled.push_str(&text[from..]);
    Ok(Value::String(filled))
}

fn fill(value: &Value, answers: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => fill_text(text, answers)?,
        Value::Array(items) => Value::Array(items.iter().map(|item| fill(item, answers)).collect::<Result<_, _>>()?),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, field)| Ok((key.clone(), fill(field, answers)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// SHA-256 (hex) of a step as written.
fn fingerprint(step: &SeedResource) -> String {
    let body = step.body.as_ref().map(Value::to_string).unwrap_or_default();
    hex::encode(Sha256::digest(format!("{}\n{}\n{body}", step.method, step.path)))
}

/// Apply a seed: create what is missing, leave what is there, refuse contradictions.
pub async fn apply(store: &dyn Store, seed: &Seed, now: Timestamp) -> Result<Applied, SeedError> {
    let mut applied = Applied::default();
    for account in &seed.accounts {
        let user = UserId::new(account.user_id).ok_or_else(|| SeedError::Invalid("user_id".into()))?;
        let site = account.site_id.parse::<SiteId>().ok().ok_or_else(|| SeedError::Invalid("site_id".into()))?;
        let hasher = store.token_hasher();
        let (first, rest) = account.access_tokens.split_first().ok_or_else(|| SeedError::Invalid("tokens".into()))?;
        match store.account_live_mode(user).await? {
            Some(live) if live != account.live_mode => {
                return Err(SeedError::Conflict(format!("account {} exists with live_mode {live}", user.get())));
            }
            Some(_) => {}
            None => {
                let hash = hasher.hash(first);
                match store.principal(hash).await? {
                    // Another process applying the same seed made the account just now.
                    Some(holder) if holder.user_id == user => {}
                    Some(holder) => return Err(token_taken(user, holder.user_id)),
                    None => create(store, account, user, site, hash, now, &mut applied).await?,
                }
            }
        }
        for token in std::iter::once(first).chain(rest) {
            let hash = hasher.hash(token);
            match store.principal(hash).await? {
                Some(holder) if holder.user_id == user => {}
                Some(holder) => return Err(token_taken(user, holder.user_id)),
                None => match store.add_token(user, site, hash, now).await {
                    Ok(_) => applied.tokens_added += 1,
                    // Another process applying the same seed added it just now.
                    Err(StoreError::Contention(_))
                        if store.principal(hash).await?.is_some_and(|holder| holder.user_id == user) => {}
                    Err(err) => return Err(err.into()),
                },
            }
        }
        provision::change_account(
            store,
            user.get(),
            AccountChange {
                payouts_enabled: Some(account.payouts_enabled),
                notification_url: account.notification_url.clone(),
                rotate_secret: false,
            },
        )
        .await?;
        if let Some(secret) = &account.webhook_secret {
            store.configure_notifications(user, None, true, secret.clone()).await?;
        }
        for t in &account.terminals {
            let spec = TerminalSpec {
                terminal_id: t.id.clone(),
                pos_id: t.pos_id,
                store_id: t.store_id,
                external_pos_id: t.external_pos_id.clone(),
                operating_mode: t.operating_mode.clone(),
            };
            // Registering it again for the same account keeps it (with the seed's details).
            match provision::add_terminal(store, user.get(), spec, now).await {
                Ok(_) => applied.terminals_registered += 1,
                Err(ProvisionError::TerminalTaken(id)) => {
                    return Err(SeedError::Conflict(format!("terminal {id} is another account's")));
                }
                Err(err) => return Err(err.into()),
            }
        }
        let keys = store.signing_keys(user).await?;
        for pem in &account.signing_keys {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
                .map_err(|e| SeedError::Invalid(format!("account {}: a signing key: {e}", user.get())))?
                .to_bytes();
            if !keys.contains(&key) {
                match store.add_signing_key(user, key, now).await {
                    Ok(_) => applied.signing_keys_added += 1,
                    // Another process applying the same seed added it just now.
                    Err(StoreError::Contention(_)) if store.signing_keys(user).await?.contains(&key) => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
    }
    Ok(applied)
}

fn token_taken(user: UserId, holder: UserId) -> SeedError {
    SeedError::Conflict(format!("a token of account {} is account {}'s", user.get(), holder.get()))
}

/// Make a seed's account with its first token (`hash`); another process applying the
/// same seed at the same moment may make it first, which is fine.
async fn create(
    store: &dyn Store,
    account: &SeedAccount,
    user: UserId,
    site: SiteId,
    hash: crate::domain::TokenHash,
    now: Timestamp,
    applied: &mut Applied,
) -> Result<(), SeedError> {
    let new = NewAccount {
        user_id: user,
        live_mode: account.live_mode,
        payouts_enabled: account.payouts_enabled,
        site_id: site,
        token_hash: hash,
        now,
    };
    let created = match store.create_account(new).await {
        Ok(created) => created,
        Err(StoreError::Contention(_)) => false,
        Err(err) => return Err(err.into()),
    };
    if created {
        applied.accounts_created += 1;
        applied.tokens_added += 1;
        if account.webhook_secret.is_none() {
            let fresh = hex::encode(rand::random::<[u8; 32]>());
            store.configure_notifications(user, None, true, fresh).await?;
        }
        return Ok(());
    }
    let holder = store.principal(hash).await?.map(|p| p.user_id);
    if store.account_live_mode(user).await? != Some(account.live_mode) || holder != Some(user) {
        return Err(SeedError::Conflict(format!("account {} could not be created", user.get())));
    }
    Ok(())
}

/// Apply every account's resource steps (after [`apply`] made the accounts), sending
/// each step's request through `api`, caja's router, on the account's behalf. A step
/// kept from an earlier application is not sent again; its kept answer serves the
/// references of later steps. Each request's idempotency key is derived from its step,
/// so a step sent but not kept (the process died in between) is replayed, not run
/// twice, within the idempotency retention.
/// With `only`, just that account's steps (a reset applies them again).
pub async fn apply_resources(
    store: &dyn Store,
    api: axum::Router,
    seed: &Seed,
    only: Option<UserId>,
) -> Result<Applied, SeedError> {
    let mut applied = Applied::default();
    let chosen = |a: &&SeedAccount| only.is_none_or(|user| user.get() == a.user_id);
    for account in seed.accounts.iter().filter(|a| !a.resources.is_empty()).filter(chosen) {
        let who = account.user_id;
        let first = account.access_tokens.first().ok_or_else(|| SeedError::Invalid("tokens".into()))?;
        let principal = store.principal(store.token_hasher().hash(first)).await?.ok_or_else(|| {
            SeedError::Conflict(format!("account {who} has no token {first}: apply its account first"))
        })?;
        let mut answers: HashMap<String, Value> = HashMap::new();
        for ((index, step), name) in account.resources.iter().enumerate().zip(step_names(&account.resources)) {
            let id = SeedStep::id_for(principal.user_id, &name);
            let fingerprint = fingerprint(step);
            let lookup = id.clone();
            let kept = store.read(move |reads| crate::engine::seeds::find(reads, &lookup)).await?;
            let kept = match kept {
                Some(kept) if kept.fingerprint != fingerprint => {
                    return Err(SeedError::Conflict(format!(
                        "account {who}: resource {name} was applied with another definition; \
                         reset the account (POST /caja/v1/reset or caja reset) to apply this one"
                    )));
                }
                Some(kept) => {
                    applied.resources_kept += 1;
                    kept
                }
                None => {
                    let sent = send(store, &api, &principal, (index, step), &name, &fingerprint, &answers).await?;
                    applied.resources_created += 1;
                    let step = SeedStep {
                        id,
                        user_id: principal.user_id,
                        name: name.clone(),
                        fingerprint,
                        status: sent.0,
                        answer: sent.1,
                        created_at: sent.2,
                    };
                    store.write(move |uow| crate::engine::seeds::record(uow, &step)).await?
                }
            };
            answers.insert(name, serde_json::from_str(&kept.answer).unwrap_or(Value::Null));
        }
    }
    Ok(applied)
}

/// Send one step's request; its status, its answer (JSON text, `null` for none) and
/// the account's time it was sent at.
async fn send(
    store: &dyn Store,
    api: &axum::Router,
    principal: &Principal,
    (index, step): (usize, &SeedResource),
    name: &str,
    fingerprint: &str,
    answers: &HashMap<String, Value>,
) -> Result<(u16, String, Timestamp), SeedError> {
    use crate::http::request_log::{dispatch, OnBehalf, SEED_SOURCE};
    let who = principal.user_id.get();
    // Named by its name, or (unnamed) by its place in the file.
    let label = match &step.name {
        Some(name) => name.clone(),
        None => format!("resources[{index}] ({} {})", step.method, step.path),
    };
    let failed = |why: String| SeedError::Step(format!("account {who}, resource {label}: {why}"));
    let path = match fill_text(&step.path, answers).map_err(failed)? {
        Value::String(path) => path,
        other => other.to_string(),
    };
    let body = step.body.as_ref().map(|body| fill(body, answers)).transpose().map_err(failed)?;
    let method = axum::http::Method::from_bytes(step.method.as_bytes()).map_err(|e| failed(e.to_string()))?;
    // One key per step (its name and definition): at most 64 characters.
    let key = format!("seed-{}", &hex::encode(Sha256::digest(format!("{name}\n{fingerprint}")))[..40]);
    let on_behalf = OnBehalf { principal: principal.clone(), source: SEED_SOURCE };
    let (status, text) = dispatch(api.clone(), on_behalf, method.clone(), &path, body, &key).await.map_err(failed)?;
    if !status.is_success() {
        let answer: String = text.chars().take(500).collect();
        return Err(failed(format!("{method} {path} answered {}: {answer}", status.as_u16())));
    }
    let answer = if text.trim().is_empty() { "null".to_owned() } else { text };
    let real_now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let user = principal.user_id;
    let offset = store.read(move |reads| reads.clock_offset(user)).await?;
    Ok((status.as_u16(), answer, real_now.plus_millis(offset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_alone_keeps_its_type_and_inside_text_becomes_text() {
        let answers =
            HashMap::from([("a".to_owned(), serde_json::json!({"id": 7, "list": [{"id": "x"}], "ok": true}))]);
        assert_eq!(fill_text("{{a.id}}", &answers), Ok(serde_json::json!(7)));
        assert_eq!(fill_text("{{ a.list.0.id }}", &answers), Ok(serde_json::json!("x")));
        assert_eq!(fill_text("/v1/{{a.id}}/x/{{a.list.0.id}}", &answers), Ok(serde_json::json!("/v1/7/x/x")));
        assert_eq!(fill_text("{{a.ok}}!", &answers), Ok(serde_json::json!("true!")));
        assert!(fill_text("{{a.list}}-", &answers).is_err(), "a list is not text");
        assert!(fill_text("{{a.nothing}}", &answers).is_err());
        assert!(fill_text("{{b.id}}", &answers).is_err());
        assert_eq!(fill_text("no references", &answers), Ok(serde_json::json!("no references")));
    }
}
