//! Card tokens and customers' saved cards: make a token, save it as a customer's
//! card (using it up), update and delete a card, and the reads.

use super::customers::customer as active_customer_value;
use super::resource::{self, Stored};
use super::{audit, record_change, Failure, Operation, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::card::{
    Card, CardFace, CardId, CardToken, CardTokenId, CardUpdate, TokenStatus, BY_CUSTOMER, CARDS_PER_CUSTOMER_MAX,
};
use crate::domain::customer::CustomerId;
use crate::domain::customer_data::{CARDS_FULL, CARD_INVALID};
use crate::domain::ResourceType;
use crate::domain::{SiteId, UserId};

type Outcome<T> = Result<Result<T, Failure>, StoreError>;

/// Make a token for a new card (its face already validated) or for a saved card.
#[derive(Clone, Debug)]
pub struct CreateCardToken {
    pub id: CardTokenId,
    pub source: TokenSource,
}

#[derive(Clone, Debug)]
pub enum TokenSource {
    NewCard(CardFace),
    /// A saved card of this account (`card_id` with its `security_code`), of this
    /// customer when one is named.
    SavedCard {
        card: CardId,
        customer: Option<CustomerId>,
    },
}

impl Operation for CreateCardToken {
    type Effect = CardToken;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<CardToken> {
        let p = &ctx.principal;
        let (face, card_id) = match &self.source {
            TokenSource::NewCard(face) => (face.clone(), None),
            TokenSource::SavedCard { card, customer } => {
                let card = resource::read::<Card>(uow, card.as_str())?.filter(|c| {
                    !c.deleted
                        && c.user_id == p.user_id
                        && c.site_id == p.site_id
                        && customer.as_ref().is_none_or(|id| id == &c.customer_id)
                });
                let Some(card) = card else {
                    return Ok(Err(Failure::CardNotFound));
                };
                (card.face, Some(card.id))
            }
        };
        let token = CardToken {
            id: self.id.clone(),
            user_id: p.user_id,
            site_id: p.site_id,
            live_mode: p.live_mode,
            face,
            card_id,
            status: TokenStatus::Active,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        resource::insert(uow, &token)?;
        Ok(Ok(token))
    }
}

/// Save a card token as a customer's card; the token is used up.
#[derive(Clone, Debug)]
pub struct SaveCard {
    pub customer: CustomerId,
    pub id: CardId,
    /// `None`: not a token's id at all (refused like an unknown one).
    pub token: Option<CardTokenId>,
}

impl Operation for SaveCard {
    type Effect = Card;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Card> {
        let p = &ctx.principal;
        let Some(customer) = active_customer_value(uow, p.user_id, p.site_id, &self.customer)? else {
            return Ok(Err(Failure::NotFound));
        };
        let Some(token_id) = &self.token else {
            return Ok(Err(Failure::Invalid(CARD_INVALID)));
        };
        let token = resource::load::<CardToken>(uow, token_id.as_str())?
            .filter(|t| t.value.user_id == p.user_id && t.value.usable(ctx.now));
        let Some(token) = token else {
            return Ok(Err(Failure::Invalid(CARD_INVALID)));
        };
        if cards(uow, &customer.id)?.len() >= CARDS_PER_CUSTOMER_MAX {
            return Ok(Err(Failure::Invalid(CARDS_FULL)));
        }
        let used = CardToken { status: TokenStatus::Used, updated_at: ctx.now, ..token.value.clone() };
        resource::update(uow, &token, &used)?;
        let card = Card {
            id: self.id.clone(),
            customer_id: customer.id,
            user_id: p.user_id,
            site_id: p.site_id,
            live_mode: p.live_mode,
            face: token.value.face.clone(),
            deleted: false,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        resource::insert(uow, &card)?;
        card_changed(uow, ctx, &card, None, "active")?;
        Ok(Ok(card))
    }
}

/// Change a card's expiry or cardholder.
#[derive(Clone, Debug)]
pub struct UpdateCard {
    pub customer: CustomerId,
    pub id: CardId,
    pub update: CardUpdate,
    pub now_year: u16,
}

impl Operation for UpdateCard {
    type Effect = Card;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Card> {
        let found = match owned(uow, ctx.principal.user_id, ctx.principal.site_id, &self.customer, &self.id)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        match found.value.updated(&self.update, ctx.now, self.now_year) {
            Ok(updated) => {
                resource::update(uow, &found, &updated)?;
                card_changed(uow, ctx, &updated, Some("active"), "active")?;
                Ok(Ok(updated))
            }
            Err(invalid) => Ok(Err(Failure::InvalidBody(invalid.0))),
        }
    }
}

/// Delete a card: the answer is the card; then it is found no more.
#[derive(Clone, Debug)]
pub struct DeleteCard {
    pub customer: CustomerId,
    pub id: CardId,
}

impl Operation for DeleteCard {
    type Effect = Card;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Card> {
        let found = match owned(uow, ctx.principal.user_id, ctx.principal.site_id, &self.customer, &self.id)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        let deleted = Card { deleted: true, updated_at: ctx.now, ..found.value.clone() };
        resource::update(uow, &found, &deleted)?;
        card_changed(uow, ctx, &deleted, Some("active"), "deleted")?;
        Ok(Ok(found.value))
    }
}

/// The audit record (and notification) of a change to a saved card.
fn card_changed(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    card: &Card,
    from: Option<&str>,
    to: &str,
) -> Result<(), StoreError> {
    record_change(uow, audit(ctx, ResourceType::CustomerCard, card.id.to_string(), from, to, None), None, None)
}

/// A card token of this account.
pub fn card_token(reads: &mut dyn Reads, user: UserId, id: &CardTokenId) -> Result<Option<CardToken>, StoreError> {
    Ok(resource::read::<CardToken>(reads, id.as_str())?.filter(|t| t.user_id == user))
}

/// A customer's cards, oldest first (a customer holds at most
/// [`CARDS_PER_CUSTOMER_MAX`]).
pub fn cards(reads: &mut dyn Reads, customer: &CustomerId) -> Result<Vec<Card>, StoreError> {
    let limit = u32::try_from(CARDS_PER_CUSTOMER_MAX).unwrap_or(u32::MAX);
    Ok(resource::list::<Card>(reads, BY_CUSTOMER, customer.as_str(), limit, 0)?.items)
}

/// This caller's customer's cards: `NotFound` when the customer is not reachable.
pub fn cards_of(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    customer: &CustomerId,
) -> Result<Result<Vec<Card>, Failure>, StoreError> {
    if active_customer_value(reads, user, site, customer)?.is_none() {
        return Ok(Err(Failure::NotFound));
    }
    Ok(Ok(cards(reads, customer)?))
}

/// One card of this caller's customer.
pub fn card(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    customer: &CustomerId,
    id: &CardId,
) -> Result<Result<Card, Failure>, StoreError> {
    Ok(owned(reads, user, site, customer, id)?.map(|s| s.value))
}

fn owned(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    customer: &CustomerId,
    id: &CardId,
) -> Result<Result<Stored<Card>, Failure>, StoreError> {
    if active_customer_value(reads, user, site, customer)?.is_none() {
        return Ok(Err(Failure::NotFound));
    }
    let found =
        resource::load::<Card>(reads, id.as_str())?.filter(|c| !c.value.deleted && &c.value.customer_id == customer);
    Ok(found.ok_or(Failure::CardNotFound))
}
