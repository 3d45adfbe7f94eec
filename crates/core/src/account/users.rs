//! The account's users by id, with an index by email so that sign-in and invitation find a
//! user without visiting every user.
//!
//! A user's email is immutable (it is who they are), so the index changes only when a user is
//! added or removed: [`Users::insert`] and [`Users::remove`] are the only ways to do either.
//! Stored and serialised as the map by id alone; the index is rebuilt on load.

use crate::ids::{Email, UserId};
use crate::user::User;
use imbl::OrdMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// Users by id (each behind an `Arc`: changing one copies that user and the map's path to
/// it, not its neighbours in the map's node), and their ids by email.
#[derive(Clone, Debug, Default)]
pub(crate) struct Users {
    by_id: OrdMap<UserId, Arc<User>>,
    by_email: OrdMap<Email, UserId>,
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

    /// The user, to change; their email must stay as it is.
    pub(crate) fn get_mut(&mut self, id: &UserId) -> Option<&mut User> {
        self.by_id.get_mut(id).map(Arc::make_mut)
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
        if let Some(old) = self.by_id.get(&user.id)
            && old.email != user.email
        {
            self.by_email.remove(&old.email);
        }
        self.by_email.insert(user.email.clone(), user.id.clone());
        self.by_id.insert(user.id.clone(), Arc::new(user));
    }

    pub(crate) fn remove(&mut self, id: &UserId) -> Option<Arc<User>> {
        let user = self.by_id.remove(id)?;
        self.by_email.remove(&user.email);
        Some(user)
    }

    /// Builds the index; `None` when two users share an email (state no command makes).
    fn from_map(by_id: OrdMap<UserId, Arc<User>>) -> Option<Self> {
        let mut by_email = OrdMap::new();
        for user in by_id.values() {
            if by_email
                .insert(user.email.clone(), user.id.clone())
                .is_some()
            {
                return None;
            }
        }
        Some(Self { by_id, by_email })
    }

    /// Whether the index holds exactly the users' emails (for the debug-build invariant check).
    pub(crate) fn index_is_consistent(&self) -> bool {
        self.by_email.len() == self.by_id.len()
            && self
                .by_id
                .values()
                .all(|user| self.by_email.get(&user.email) == Some(&user.id))
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
