//! The resource store's contract, on both backends, through a family that exists only
//! in this test: `Widget` is a declaration and nothing else (no SQL, no migration),
//! and the store keeps it, finds it, lists it, wakes it and refuses what its rules
//! refuse, exactly as it does for the real families.

use caja::domain::resource::{scoped, sort_number, IndexEntry, Resource};
use caja::domain::{Timestamp, UserId};
use caja::engine::resource::{self, Stored};
use caja::engine::StoreError;
use serde::{Deserialize, Serialize};

use crate::helpers::TestApp;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Widget {
    id: String,
    user_id: UserId,
    open: bool,
    code: String,
    group: String,
    rank: i64,
    wake_at: Option<Timestamp>,
}

/// Unique by code within an account while open; listed by group, by rank.
impl Resource for Widget {
    const KIND: &'static str = "test_widget";

    fn id(&self) -> String {
        self.id.clone()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        Some(if self.open { "open" } else { "closed" })
    }

    fn created_at(&self) -> Timestamp {
        Timestamp::from_millis(0)
    }

    fn updated_at(&self) -> Timestamp {
        Timestamp::from_millis(0)
    }

    fn index(&self) -> Vec<IndexEntry> {
        let mut entries = vec![IndexEntry::list("group", self.group.clone(), sort_number(self.rank))];
        if self.open {
            entries.push(IndexEntry::unique("code", scoped(self.user_id, &[&self.code])));
        }
        entries
    }

    fn wake_at(&self) -> Option<Timestamp> {
        self.wake_at
    }
}

fn widget(id: &str, code: &str, group: &str, rank: i64) -> Widget {
    Widget {
        id: id.into(),
        user_id: UserId::new(7).expect("user"),
        open: true,
        code: code.into(),
        group: group.into(),
        rank,
        wake_at: None,
    }
}

async fn insert(app: &TestApp, w: Widget) -> Result<(), StoreError> {
    app.store().write(move |uow| resource::insert(uow, &w)).await
}

async fn load(app: &TestApp, id: &str) -> Option<Stored<Widget>> {
    let id = id.to_owned();
    app.store().read(move |reads| resource::load::<Widget>(reads, &id)).await.expect("read")
}

#[tokio::test]
async fn an_update_applies_only_to_the_version_it_read() {
    let app = TestApp::spawn().await;
    insert(&app, widget("w1", "c1", "g", 1)).await.expect("insert");
    let first = load(&app, "w1").await.expect("stored");
    assert_eq!((first.version, first.value.clone()), (1, widget("w1", "c1", "g", 1)));

    let (read, changed) = (first.clone(), Widget { rank: 2, ..first.value.clone() });
    app.store().write(move |uow| resource::update(uow, &read, &changed)).await.expect("update");
    assert_eq!(load(&app, "w1").await.map(|s| (s.version, s.value.rank)), Some((2, 2)));

    // An update from the version read before is a lost race: nothing of it is kept.
    let stale = Widget { rank: 3, ..first.value.clone() };
    let lost = app.store().write(move |uow| resource::update(uow, &first, &stale)).await;
    assert!(matches!(lost, Err(StoreError::Contention(_))), "{lost:?}");
    assert_eq!(load(&app, "w1").await.map(|s| (s.version, s.value.rank)), Some((2, 2)));
    assert!(insert(&app, widget("w1", "c9", "g", 1)).await.is_err(), "an id is taken once");
}

#[tokio::test]
async fn a_unique_entry_has_one_holder_until_it_lets_go() {
    let app = TestApp::spawn().await;
    insert(&app, widget("w1", "same", "g", 1)).await.expect("insert");
    let taken = insert(&app, widget("w2", "same", "g", 2)).await;
    assert!(matches!(taken, Err(StoreError::Contention(_))), "{taken:?}");
    assert!(load(&app, "w2").await.is_none(), "the refused insert left nothing behind");
    let holder =
        app.store().read(|reads| resource::find_unique::<Widget>(reads, "code", "7:same")).await.expect("find");
    assert_eq!(holder.as_deref(), Some("w1"));

    let open = load(&app, "w1").await.expect("stored");
    let closed = Widget { open: false, ..open.value.clone() };
    app.store().write(move |uow| resource::update(uow, &open, &closed)).await.expect("close");
    insert(&app, widget("w2", "same", "g", 2)).await.expect("the code is free again");
    let holder =
        app.store().read(|reads| resource::find_unique::<Widget>(reads, "code", "7:same")).await.expect("find");
    assert_eq!(holder.as_deref(), Some("w2"));
}

#[tokio::test]
async fn a_listing_is_one_group_in_sort_order_paged_with_its_total() {
    let app = TestApp::spawn().await;
    for (id, rank) in [("a", 30), ("b", 10), ("c", 50), ("d", 20), ("e", 40)] {
        insert(&app, widget(id, id, "mine", rank)).await.expect("insert");
    }
    insert(&app, widget("x", "x", "other", 1)).await.expect("insert");
    let page =
        |limit, offset| app.store().read(move |reads| resource::list::<Widget>(reads, "group", "mine", limit, offset));
    let all = page(10, 0).await.expect("list");
    assert_eq!(all.total, 5);
    assert_eq!(all.items.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), ["b", "d", "a", "e", "c"]);
    let middle = page(2, 1).await.expect("list");
    assert_eq!((middle.total, middle.items.iter().map(|w| w.id.as_str()).collect::<Vec<_>>()), (5, vec!["d", "a"]));
    assert!(page(2, 5).await.expect("list").items.is_empty());

    // Moving within the list moves its entry.
    let a = load(&app, "a").await.expect("stored");
    let first = Widget { rank: 0, ..a.value.clone() };
    app.store().write(move |uow| resource::update(uow, &a, &first)).await.expect("update");
    let reordered = page(1, 0).await.expect("list");
    assert_eq!((reordered.total, reordered.items[0].id.as_str()), (5, "a"));
}

#[tokio::test]
async fn the_worker_finds_what_is_due_and_nothing_else() {
    let app = TestApp::spawn().await;
    let at = |ms| Some(Timestamp::from_millis(ms));
    for (id, wake_at) in [("early", at(10)), ("late", at(20)), ("never", None)] {
        insert(&app, Widget { wake_at, ..widget(id, id, "g", 1) }).await.expect("insert");
    }
    let due = |now| {
        app.store().write(move |uow| {
            let due = resource::due::<Widget>(uow, Timestamp::from_millis(now), caja::engine::ClockScope::Real, 10)?;
            Ok(due.into_iter().map(|s| s.value.id).collect::<Vec<_>>())
        })
    };
    assert_eq!(due(5).await.expect("due"), Vec::<String>::new());
    assert_eq!(due(15).await.expect("due"), ["early"]);
    assert_eq!(due(25).await.expect("due"), ["early", "late"]);

    let early = load(&app, "early").await.expect("stored");
    let asleep = Widget { wake_at: None, ..early.value.clone() };
    app.store().write(move |uow| resource::update(uow, &early, &asleep)).await.expect("update");
    assert_eq!(due(25).await.expect("due"), ["late"]);
}
