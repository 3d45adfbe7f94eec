//! The account's users by id, with the indexes the API's lookups need: by email, so that
//! sign-in and invitation find a user without visiting every user, and one ordered set per
//! directory column, so that a directory page reads the users it shows (keyset), not all of
//! them sorted.
//!
//! The indexes are kept here and only here: [`Users::insert`] and [`Users::remove`] add and
//! remove, and [`Users::get_mut`] hands out a [`UserMut`] that re-files the user when it is
//! dropped if a sort key changed. A user's email never changes (it is who they are). Stored
//! and serialised as the map by id alone; the indexes are rebuilt on load.

use crate::directory::{DirectorySort, SortKey};
use crate::ids::{Email, UserId};
use crate::user::User;
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// One directory column's order: (sort key, user id), as a page's keyset reads it.
pub(crate) type SortIndex = OrdSet<(SortKey, UserId)>;

/// Users by id (each behind an `Arc`: changing one copies that user and the map's path to
/// it, not its neighbours in the map's node), their ids by email, and every directory column's
/// order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Users {
    by_id: OrdMap<UserId, Arc<User>>,
    by_email: OrdMap<Email, UserId>,
    sorted: Sorted,
}

/// Every directory column's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Sorted {
    email: SortIndex,
    name: SortIndex,
    status: SortIndex,
    created_at: SortIndex,
    last_active_at: SortIndex,
}

impl Sorted {
    fn get(&self, sort: DirectorySort) -> &SortIndex {
        match sort {
            DirectorySort::Email => &self.email,
            DirectorySort::Name => &self.name,
            DirectorySort::Status => &self.status,
            DirectorySort::CreatedAt => &self.created_at,
            DirectorySort::LastActiveAt => &self.last_active_at,
        }
    }

    fn get_mut(&mut self, sort: DirectorySort) -> &mut SortIndex {
        match sort {
            DirectorySort::Email => &mut self.email,
            DirectorySort::Name => &mut self.name,
            DirectorySort::Status => &mut self.status,
            DirectorySort::CreatedAt => &mut self.created_at,
            DirectorySort::LastActiveAt => &mut self.last_active_at,
        }
    }

    fn insert(&mut self, user: &User) {
        for sort in DirectorySort::ALL {
            self.get_mut(sort).insert((sort.key(user), user.id.clone()));
        }
    }

    fn remove(&mut self, user: &User) {
        for sort in DirectorySort::ALL {
            self.get_mut(sort)
                .remove(&(sort.key(user), user.id.clone()));
        }
    }
}

/// A user being changed; re-files them in the directory's orders when dropped.
pub(crate) struct UserMut<'a> {
    user: &'a mut User,
    sorted: &'a mut Sorted,
    /// The keys before the change, in [`DirectorySort::ALL`]'s order.
    keys_before: [SortKey; DirectorySort::ALL.len()],
    email_before: Email,
}

impl Deref for UserMut<'_> {
    type Target = User;

    fn deref(&self) -> &User {
        self.user
    }
}

impl DerefMut for UserMut<'_> {
    fn deref_mut(&mut self) -> &mut User {
        self.user
    }
}

impl Drop for UserMut<'_> {
    fn drop(&mut self) {
        debug_assert!(
            self.user.email == self.email_before,
            "a user's email never changes"
        );
        for (sort, old) in DirectorySort::ALL.into_iter().zip(&self.keys_before) {
            let new = sort.key(self.user);
            if *old != new {
                let index = self.sorted.get_mut(sort);
                index.remove(&(old.clone(), self.user.id.clone()));
                index.insert((new, self.user.id.clone()));
            }
        }
    }
}

impl Users {
    /// The account's first user.
    pub(crate) fn unit(user: User) -> Self {
        let mut users = Self::default();
        users.insert(user);
        users
    }

    /// The map by id (what storage and change sets compare).
    pub(crate) fn by_id(&self) -> &OrdMap<UserId, Arc<User>> {
        &self.by_id
    }

    pub(crate) fn get(&self, id: &UserId) -> Option<&User> {
        self.by_id.get(id).map(Arc::as_ref)
    }

    /// The user, to change (their email stays as it is); re-filed when the guard drops.
    pub(crate) fn get_mut(&mut self, id: &UserId) -> Option<UserMut<'_>> {
        let user = self.by_id.get_mut(id).map(Arc::make_mut)?;
        Some(UserMut {
            keys_before: DirectorySort::ALL.map(|sort| sort.key(user)),
            email_before: user.email.clone(),
            user,
            sorted: &mut self.sorted,
        })
    }

    /// Every user in `sort`'s order, by (key, id).
    pub(crate) fn sorted(&self, sort: DirectorySort) -> &SortIndex {
        self.sorted.get(sort)
    }

    pub(crate) fn by_email(&self, email: &Email) -> Option<&User> {
        self.by_email.get(email).and_then(|id| self.get(id))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &User> {
        self.by_id.values().map(Arc::as_ref)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Adds (or replaces) `user`; the caller has made sure no other user holds their email.
    pub(crate) fn insert(&mut self, user: User) {
        self.remove(&user.id);
        self.by_email.insert(user.email.clone(), user.id.clone());
        self.sorted.insert(&user);
        self.by_id.insert(user.id.clone(), Arc::new(user));
    }

    pub(crate) fn remove(&mut self, id: &UserId) -> Option<Arc<User>> {
        let user = self.by_id.remove(id)?;
        self.by_email.remove(&user.email);
        self.sorted.remove(&user);
        Some(user)
    }

    /// Builds the indexes; `None` when two users share an email (state no command makes).
    fn from_map(by_id: OrdMap<UserId, Arc<User>>) -> Option<Self> {
        let mut users = Self::default();
        for user in by_id.values() {
            if users.by_email.contains_key(&user.email) {
                return None;
            }
            users.insert(User::clone(user));
        }
        Some(users)
    }

    /// Whether the indexes hold exactly what the users say (for the debug-build invariant
    /// check).
    pub(crate) fn index_is_consistent(&self) -> bool {
        let rebuilt = Self::from_map(self.by_id.clone());
        rebuilt.is_some_and(|rebuilt| {
            rebuilt.by_email == self.by_email && rebuilt.sorted == self.sorted
        })
    }
}

impl FromIterator<User> for Option<Users> {
    fn from_iter<I: IntoIterator<Item = User>>(users: I) -> Self {
        Users::from_map(
            users
                .into_iter()
                .map(|user| (user.id.clone(), Arc::new(user)))
                .collect(),
        )
    }
}

impl PartialEq for Users {
    fn eq(&self, other: &Self) -> bool {
        self.by_id == other.by_id
    }
}

impl Eq for Users {}

impl Serialize for Users {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.by_id.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Users {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let by_id = OrdMap::<UserId, Arc<User>>::deserialize(deserializer)?;
        Users::from_map(by_id).ok_or_else(|| serde::de::Error::custom("two users share an email"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: &str) -> User {
        crate::user::sample_user(id, email)
    }

    #[test]
    fn the_email_index_follows_inserts_and_removals() {
        let mut users = Users::default();
        users.insert(user("usr_00000000000000aa", "ana@example.com"));
        users.insert(user("usr_00000000000000bb", "bo@example.com"));
        let ana: Email = "ANA@example.com".parse().unwrap();
        assert_eq!(
            users.by_email(&ana).map(|u| u.id.to_string()),
            Some("usr_00000000000000aa".into())
        );
        users.remove(&"usr_00000000000000aa".parse().unwrap());
        assert!(users.by_email(&ana).is_none());
        assert!(users.index_is_consistent());
        assert_eq!(users.len(), 1);
    }

    #[test]
    fn it_serialises_as_the_map_by_id_and_rebuilds_the_index() {
        let mut users = Users::default();
        users.insert(user("usr_00000000000000aa", "ana@example.com"));
        let json = serde_json::to_value(&users).unwrap();
        assert_eq!(
            json.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["usr_00000000000000aa".to_owned()])
        );
        let back: Users = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, users);
        assert!(back.index_is_consistent());
        // Two users with one email is refused, not silently indexed.
        let mut twice = json;
        let copy = twice["usr_00000000000000aa"].clone();
        let mut copy = copy;
        copy["id"] = "usr_00000000000000bb".into();
        twice["usr_00000000000000bb"] = copy;
        assert!(serde_json::from_value::<Users>(twice).is_err());
    }
}
