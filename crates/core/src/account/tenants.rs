//! The account's tenants by id, with an index of each user's memberships, so that "which
//! tenants is this user in" (a user's view, their company roles, their sign-in access, what a
//! status change re-projects) is a lookup, not a visit of every tenant.
//!
//! The index is kept here and only here: [`Tenants::insert`] files a new tenant's members, and
//! [`Tenants::get_mut`] hands out a [`TenantMut`] that, when dropped, files the members the
//! change added and forgets those it removed (the difference of the tenant's member maps,
//! which costs what changed). Stored and serialised as the map by id alone; the index is
//! rebuilt on load.

use crate::ids::{TenantId, UserId};
use crate::tenant::{Membership, Tenant};
use imbl::ordmap::DiffItem;
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Tenants by id (each behind an `Arc`: changing one copies that tenant and the map's path to
/// it, not its neighbours in the map's node), and the tenants each user is a member of.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tenants {
    by_id: OrdMap<TenantId, Arc<Tenant>>,
    of_user: OrdMap<UserId, OrdSet<TenantId>>,
}

/// A tenant being changed; re-files its members' memberships when dropped.
pub(crate) struct TenantMut<'a> {
    tenant: &'a mut Tenant,
    of_user: &'a mut OrdMap<UserId, OrdSet<TenantId>>,
    /// The members before the change (an O(1) copy).
    members_before: OrdMap<UserId, Membership>,
}

impl Deref for TenantMut<'_> {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        self.tenant
    }
}

impl DerefMut for TenantMut<'_> {
    fn deref_mut(&mut self) -> &mut Tenant {
        self.tenant
    }
}

impl Drop for TenantMut<'_> {
    fn drop(&mut self) {
        let id = &self.tenant.id;
        for item in self.members_before.diff(&self.tenant.members) {
            match item {
                DiffItem::Add(user, _) => file(self.of_user, user, id),
                DiffItem::Remove(user, _) => forget(self.of_user, user, id),
                DiffItem::Update { .. } => {}
            }
        }
    }
}

fn file(of_user: &mut OrdMap<UserId, OrdSet<TenantId>>, user: &UserId, tenant: &TenantId) {
    of_user
        .entry(user.clone())
        .or_default()
        .insert(tenant.clone());
}

fn forget(of_user: &mut OrdMap<UserId, OrdSet<TenantId>>, user: &UserId, tenant: &TenantId) {
    if let Some(tenants) = of_user.get_mut(user) {
        tenants.remove(tenant);
        if tenants.is_empty() {
            of_user.remove(user);
        }
    }
}

impl Tenants {
    /// The map by id (what storage and change sets compare).
    pub(crate) fn by_id(&self) -> &OrdMap<TenantId, Arc<Tenant>> {
        &self.by_id
    }

    pub(crate) fn get(&self, id: &TenantId) -> Option<&Tenant> {
        self.by_id.get(id).map(Arc::as_ref)
    }

    /// The tenant, to change; its members are re-filed when the guard drops.
    pub(crate) fn get_mut(&mut self, id: &TenantId) -> Option<TenantMut<'_>> {
        let tenant = self.by_id.get_mut(id).map(Arc::make_mut)?;
        Some(TenantMut {
            members_before: tenant.members.clone(),
            tenant,
            of_user: &mut self.of_user,
        })
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Tenant> {
        self.by_id.values().map(Arc::as_ref)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The tenants `user` is a member of, in id order.
    pub(crate) fn of_user<'a>(&'a self, user: &UserId) -> impl Iterator<Item = &'a Tenant> + 'a {
        self.of_user
            .get(user)
            .into_iter()
            .flat_map(|tenants| tenants.iter())
            .filter_map(|id| self.get(id))
    }

    /// Adds a new tenant (or replaces one), filing its members.
    pub(crate) fn insert(&mut self, tenant: Tenant) {
        if let Some(old) = self.by_id.get(&tenant.id).cloned() {
            for user in old.members.keys() {
                forget(&mut self.of_user, user, &old.id);
            }
        }
        for user in tenant.members.keys() {
            file(&mut self.of_user, user, &tenant.id);
        }
        self.by_id.insert(tenant.id.clone(), Arc::new(tenant));
    }

    /// Whether the index holds exactly the tenants' members (for the debug-build invariant
    /// check).
    pub(crate) fn index_is_consistent(&self) -> bool {
        self.of_user == Self::indexed(self.by_id.clone()).of_user
    }

    /// `by_id` with its index built.
    fn indexed(by_id: OrdMap<TenantId, Arc<Tenant>>) -> Self {
        let mut of_user = OrdMap::new();
        for tenant in by_id.values() {
            for user in tenant.members.keys() {
                file(&mut of_user, user, &tenant.id);
            }
        }
        Self { by_id, of_user }
    }
}

impl FromIterator<Tenant> for Tenants {
    fn from_iter<I: IntoIterator<Item = Tenant>>(tenants: I) -> Self {
        Self::indexed(
            tenants
                .into_iter()
                .map(|tenant| (tenant.id.clone(), Arc::new(tenant)))
                .collect(),
        )
    }
}

impl PartialEq for Tenants {
    fn eq(&self, other: &Self) -> bool {
        self.by_id == other.by_id
    }
}

impl Eq for Tenants {}

impl Serialize for Tenants {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.by_id.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Tenants {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        OrdMap::<TenantId, Arc<Tenant>>::deserialize(deserializer).map(Self::indexed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;
    use crate::permission::PermissionSet;

    use crate::tenant::Sso;
    use crate::time::Timestamp;

    fn user(n: u8) -> UserId {
        format!("usr_00000000000000{n:02}").parse().unwrap()
    }

    fn tenant(id: &str, members: &[u8]) -> Tenant {
        Tenant {
            id: id.parse().unwrap(),
            name: "Production".parse().unwrap(),
            plan: plan_named("enterprise"),
            owner: user(members[0]),
            members: members
                .iter()
                .map(|n| {
                    let membership = Membership {
                        permissions: PermissionSet::EMPTY,
                        added_at: Timestamp::from_unix_seconds(1_700_000_000),
                    };
                    (user(*n), membership)
                })
                .collect(),
            sso: Sso::default(),
            api_tokens: OrdMap::new(),
            automation_keys: OrdMap::new(),
            created_at: Timestamp::from_unix_seconds(1_700_000_000),
            primary_contact: None,
        }
    }

    fn of(tenants: &Tenants, n: u8) -> Vec<String> {
        tenants
            .of_user(&user(n))
            .map(|tenant| tenant.id.to_string())
            .collect()
    }

    #[test]
    fn the_membership_index_follows_every_change_through_the_guard() {
        let a = "ten_000000000000000a";
        let b = "ten_000000000000000b";
        let mut tenants: Tenants = [tenant(a, &[1, 2]), tenant(b, &[1])].into_iter().collect();
        assert_eq!(of(&tenants, 1), [a, b]);
        assert_eq!(of(&tenants, 2), [a]);
        {
            let mut changed = tenants.get_mut(&b.parse().unwrap()).unwrap();
            changed.members = changed.members.update(
                user(2),
                Membership {
                    permissions: PermissionSet::all(),
                    added_at: Timestamp::from_unix_seconds(1_700_000_001),
                },
            );
            changed.members.remove(&user(1));
        }
        assert_eq!(of(&tenants, 1), [a]);
        assert_eq!(of(&tenants, 2), [a, b]);
        assert!(of(&tenants, 3).is_empty());
        assert!(tenants.index_is_consistent());
        let back: Tenants =
            serde_json::from_value(serde_json::to_value(&tenants).unwrap()).unwrap();
        assert_eq!(back, tenants);
        assert!(back.index_is_consistent());
        assert_eq!(of(&back, 2), [a, b]);
    }
}
