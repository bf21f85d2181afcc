//! The tenant's directory: its users and groups, which tests and scripts can change while
//! clients read them. It owns the objects (synthetic ones computed on demand, changed and added
//! ones stored: see `store`), the one sequence number every mutation takes, each collection's
//! change journal, and the rules a mutation must pass (known properties of the right type,
//! read-only `id` and `createdDateTime`, unique userPrincipalNames). Readers take a read lock for
//! a whole page ([`Directory::read`]), so a page is one consistent snapshot.
//!
//! It knows nothing of HTTP: the Graph listener reads it, the library API and the control
//! endpoint (`crate::control`) change it.

pub(crate) mod groups;
pub(crate) mod store;
pub(crate) mod users;

pub(crate) use groups::Group;
pub(crate) use users::{Prop, User};

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use store::{Record, Refusal, Status, Store, apply_patch};

/// A collection of directory objects that can change and has a delta function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Collection {
    Users,
    Groups,
}

impl Collection {
    /// The collection's path segment and `@odata.context` name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Groups => "groups",
        }
    }
}

/// Why a change to the directory was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// No object has that id in the state the operation needs: present to update or delete,
    /// soft-deleted to restore, present or soft-deleted to hard-delete.
    #[error("no {collection} object with id '{id}' can be {action}")]
    NotFound {
        collection: &'static str,
        id: String,
        action: &'static str,
    },
    /// The value or patch is not acceptable (unknown or read-only property, wrong type, a
    /// userPrincipalName another user has); the message says which.
    #[error("{0}")]
    Invalid(String),
}

/// The directory behind its lock.
pub(crate) struct Directory {
    inner: RwLock<Inner>,
}

/// What a reader sees: both collections at one sequence number.
pub(crate) struct Inner {
    /// The sequence number of the latest mutation (0: none yet).
    seq: u64,
    pub users: Store<User<'static>>,
    pub groups: Store<Group>,
    domain: String,
    base_users: usize,
    /// Lowercased userPrincipalName → slot, for users whose UPN is not their synthetic one
    /// (added or renamed). May point at a hard-deleted slot; lookups check the status.
    upns: HashMap<String, usize>,
    /// Calls of `touch_users` so far (each writes a new jobTitle).
    touches: u64,
}

impl Directory {
    pub(crate) fn new(users: usize, groups: usize, domain: &str) -> Directory {
        Directory {
            inner: RwLock::new(Inner {
                seq: 0,
                users: Store::new(users, domain),
                groups: Store::new(groups, domain),
                domain: domain.to_owned(),
                base_users: users,
                upns: HashMap::new(),
                touches: 0,
            }),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an object from `value` (a JSON object of settable properties; anything left out
    /// gets a default) and returns its new id.
    pub(crate) fn add(&self, c: Collection, value: &Value) -> Result<String, DirectoryError> {
        let fields = value.as_object().ok_or_else(|| {
            DirectoryError::Invalid("The new object must be a JSON object.".into())
        })?;
        let mut d = self.write();
        let seq = d.seq + 1;
        let id = crate::util::guid();
        match c {
            Collection::Users => {
                let slot = d.users.slots();
                let mut user = User::new_added(&d.domain, id.clone(), slot);
                apply_patch(&mut user, fields).map_err(|r| refused(c, &id, "added", r))?;
                let upn = user.upn.to_lowercase();
                if d.upn_taken(&upn, None) {
                    return Err(upn_conflict(&user.upn));
                }
                d.users.add(user, seq);
                d.upns.insert(upn, slot);
            }
            Collection::Groups => {
                let n = d.groups.slots();
                let mut group = Group::new_added(&d.domain, id.clone(), n);
                apply_patch(&mut group, fields).map_err(|r| refused(c, &id, "added", r))?;
                d.groups.add(group, seq);
            }
        }
        d.seq = seq;
        Ok(id)
    }

    /// Sets the properties in `patch` on a present object. A patch that changes no value is
    /// accepted and changes nothing (no journal entry).
    pub(crate) fn update(
        &self,
        c: Collection,
        id: &str,
        patch: &Value,
    ) -> Result<(), DirectoryError> {
        let fields = patch
            .as_object()
            .ok_or_else(|| DirectoryError::Invalid("A patch must be a JSON object.".into()))?;
        let mut d = self.write();
        let seq = d.seq + 1;
        let changed = match c {
            Collection::Users => {
                let slot = d.users.slot_of(id);
                let Some((slot, user)) =
                    slot.and_then(|s| d.users.get(s).map(|u| (s, u.into_owned())))
                else {
                    return Err(not_found(c, id, "updated"));
                };
                let old = user.upn.to_lowercase();
                let mut next = user;
                let mask =
                    apply_patch(&mut next, fields).map_err(|r| refused(c, id, "updated", r))?;
                let upn = next.upn.to_lowercase();
                if upn != old {
                    if d.upn_taken(&upn, Some(slot)) {
                        return Err(upn_conflict(&next.upn));
                    }
                    if d.upns.get(&old) == Some(&slot) {
                        d.upns.remove(&old);
                    }
                    d.upns.insert(upn, slot);
                }
                d.users.commit(slot, next, mask, seq)
            }
            Collection::Groups => {
                let slot = d
                    .groups
                    .slot_of(id)
                    .ok_or_else(|| not_found(c, id, "updated"))?;
                d.groups
                    .update(slot, fields, seq)
                    .map_err(|r| refused(c, id, "updated", r))?
            }
        };
        if changed != 0 {
            d.seq = seq;
        }
        Ok(())
    }

    /// Soft-deletes (restorable; delta reports `"changed"`) or hard-deletes (delta reports
    /// `"deleted"`) an object. Either way it leaves the listings at once.
    pub(crate) fn delete(&self, c: Collection, id: &str, hard: bool) -> Result<(), DirectoryError> {
        let action = if hard { "hard-deleted" } else { "soft-deleted" };
        let mut d = self.write();
        let seq = d.seq + 1;
        let result = match c {
            Collection::Users => d
                .users
                .slot_of(id)
                .ok_or(Refusal::NotFound)
                .and_then(|s| d.users.delete(s, hard, seq)),
            Collection::Groups => d
                .groups
                .slot_of(id)
                .ok_or(Refusal::NotFound)
                .and_then(|s| d.groups.delete(s, hard, seq)),
        };
        result.map_err(|r| refused(c, id, action, r))?;
        d.seq = seq;
        Ok(())
    }

    /// Brings a soft-deleted object back, as it was.
    pub(crate) fn restore(&self, c: Collection, id: &str) -> Result<(), DirectoryError> {
        let mut d = self.write();
        let seq = d.seq + 1;
        let result = match c {
            Collection::Users => {
                let slot = d.users.slot_of(id).ok_or(Refusal::NotFound);
                if let Ok(s) = slot
                    && d.users.status(s) == Status::SoftDeleted
                {
                    // Its userPrincipalName was kept for it while it was deleted.
                    let upn = d.users.any(s).upn.to_lowercase();
                    if d.upn_taken(&upn, Some(s)) {
                        return Err(upn_conflict(&upn));
                    }
                }
                slot.and_then(|s| d.users.restore(s, seq))
            }
            Collection::Groups => d
                .groups
                .slot_of(id)
                .ok_or(Refusal::NotFound)
                .and_then(|s| d.groups.restore(s, seq)),
        };
        result.map_err(|r| refused(c, id, "restored", r))?;
        d.seq = seq;
        Ok(())
    }

    /// Changes the jobTitle of `n` present users spread evenly over the directory (all of
    /// them when there are fewer), one journal entry each; returns their ids. For benchmarks:
    /// "1,000 users changed since the last round".
    pub(crate) fn touch_users(&self, n: usize) -> Vec<String> {
        let mut d = self.write();
        d.touches += 1;
        let title = Value::String(format!("Job title revision {}", d.touches));
        let patch: serde_json::Map<String, Value> =
            [("jobTitle".to_owned(), title)].into_iter().collect();
        let present: Vec<usize> = (0..d.users.slots())
            .filter(|&s| d.users.status(s) == Status::Present)
            .collect();
        let n = n.min(present.len());
        let mut ids = Vec::with_capacity(n);
        for k in 0..n {
            let slot = present[k * present.len() / n];
            let seq = d.seq + 1;
            if let Ok(mask) = d.users.update(slot, &patch, seq) {
                if mask != 0 {
                    d.seq = seq;
                }
                ids.push(d.users.any(slot).id.clone());
            }
        }
        ids
    }

    /// Every present object with the default properties, in listing order (for tests).
    pub(crate) fn values(&self, c: Collection) -> Vec<Value> {
        let d = self.read();
        match c {
            Collection::Users => values_of(&d.users),
            Collection::Groups => values_of(&d.groups),
        }
    }
}

fn values_of<R: Record>(store: &Store<R>) -> Vec<Value> {
    (0..store.slots())
        .filter_map(|s| store.get(s))
        .map(|o| {
            let mut buf = Vec::with_capacity(512);
            o.write_json(&mut buf, R::DEFAULT);
            serde_json::from_slice(&buf).unwrap_or(Value::Null)
        })
        .collect()
}

impl Inner {
    /// The sequence number of the latest mutation: a delta round started now covers every
    /// change up to it.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The slot of the present user with this id or (case-insensitive) userPrincipalName.
    pub(crate) fn find_user(&self, key: &str) -> Option<usize> {
        if let Some(slot) = self.users.slot_of(key) {
            return self.users.get(slot).map(|_| slot);
        }
        self.user_by_upn(&key.to_lowercase())
            .filter(|&s| self.users.status(s) == Status::Present)
    }

    /// The slot of the user, present or soft-deleted, whose userPrincipalName is `lower`.
    fn user_by_upn(&self, lower: &str) -> Option<usize> {
        let live = |s: usize| {
            self.users.status(s) != Status::HardDeleted
                && self.users.any(s).upn.to_lowercase() == lower
        };
        if let Some(&slot) = self.upns.get(lower)
            && live(slot)
        {
            return Some(slot);
        }
        users::base_upn_index(&self.domain, self.base_users, lower).filter(|&s| live(s))
    }

    /// Whether a user other than `except` (present or soft-deleted) has this UPN.
    fn upn_taken(&self, lower: &str, except: Option<usize>) -> bool {
        self.user_by_upn(lower).is_some_and(|s| Some(s) != except)
    }
}

fn not_found(c: Collection, id: &str, action: &'static str) -> DirectoryError {
    DirectoryError::NotFound {
        collection: c.name(),
        id: id.to_owned(),
        action,
    }
}

fn refused(c: Collection, id: &str, action: &'static str, r: Refusal) -> DirectoryError {
    match r {
        Refusal::NotFound => not_found(c, id, action),
        Refusal::Invalid(m) => DirectoryError::Invalid(m),
    }
}

fn upn_conflict(upn: &str) -> DirectoryError {
    DirectoryError::Invalid(format!(
        "Another object with the same value for property userPrincipalName already exists: '{upn}'."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dir() -> Directory {
        Directory::new(30, 5, "contoso.onmicrosoft.com")
    }

    #[test]
    fn mutations_show_in_reads_and_journal() {
        let d = dir();
        let id = d
            .add(
                Collection::Users,
                &json!({"displayName": "Ada Lovelace", "userPrincipalName": "ada@contoso.onmicrosoft.com"}),
            )
            .unwrap();
        assert_eq!(d.read().seq(), 1);
        assert_eq!(d.read().find_user("ADA@contoso.onmicrosoft.com"), Some(30));
        assert_eq!(d.read().find_user(&id), Some(30));
        assert_eq!(d.values(Collection::Users).len(), 31);
        // A UPN is unique, case-insensitively, also against synthetic users.
        assert!(matches!(
            d.add(
                Collection::Users,
                &json!({"userPrincipalName": "User0020@contoso.onmicrosoft.com"})
            ),
            Err(DirectoryError::Invalid(_))
        ));
        // Renaming frees the old UPN and takes the new one.
        let u20 = "00000000-0000-4000-8000-000000000014";
        d.update(
            Collection::Users,
            u20,
            &json!({"userPrincipalName": "twenty@contoso.onmicrosoft.com"}),
        )
        .unwrap();
        assert_eq!(d.read().find_user("user0020@contoso.onmicrosoft.com"), None);
        assert_eq!(
            d.read().find_user("twenty@contoso.onmicrosoft.com"),
            Some(20)
        );
        // A patch that changes nothing takes no sequence number.
        d.update(Collection::Users, u20, &json!({"displayName": "User 0020"}))
            .unwrap();
        assert_eq!(d.read().seq(), 2);
        for bad in [
            json!({"id": "x"}),
            json!({"createdDateTime": "2020-01-01T00:00:00Z"}),
            json!({"nope": 1}),
            json!({"accountEnabled": "yes"}),
            json!({"displayName": null}),
            json!({"userPrincipalName": "no-at-sign"}),
        ] {
            assert!(
                matches!(
                    d.update(Collection::Users, u20, &bad),
                    Err(DirectoryError::Invalid(_))
                ),
                "{bad}"
            );
        }
        // Soft delete hides, restore brings back, hard delete is final.
        d.delete(Collection::Users, &id, false).unwrap();
        assert_eq!(d.read().find_user(&id), None);
        assert!(d.delete(Collection::Users, &id, false).is_err());
        d.restore(Collection::Users, &id).unwrap();
        assert_eq!(d.read().find_user(&id), Some(30));
        d.delete(Collection::Users, &id, true).unwrap();
        assert!(matches!(
            d.restore(Collection::Users, &id),
            Err(DirectoryError::NotFound { .. })
        ));
        assert_eq!(d.values(Collection::Users).len(), 30);
        assert_eq!(d.read().users.journal_len(), 5);

        let g = "00000000-0000-4000-9000-000000000001";
        d.update(Collection::Groups, g, &json!({"description": null}))
            .unwrap();
        assert_eq!(d.values(Collection::Groups)[1]["description"], Value::Null);
        d.delete(Collection::Groups, g, true).unwrap();
        assert_eq!(d.values(Collection::Groups).len(), 4);
    }

    #[test]
    fn changes_fold_per_object() {
        let d = dir();
        let tracked = store::mask_of(User::DEFAULT);
        let u = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
        d.update(Collection::Users, &u(1), &json!({"jobTitle": "A"}))
            .unwrap();
        let mark = d.read().seq();
        d.update(Collection::Users, &u(2), &json!({"jobTitle": "B"}))
            .unwrap();
        d.update(Collection::Users, &u(2), &json!({"surname": "C"}))
            .unwrap();
        d.update(Collection::Users, &u(3), &json!({"department": "D"}))
            .unwrap();
        d.delete(Collection::Users, &u(4), false).unwrap();
        let id = d.add(Collection::Users, &json!({})).unwrap();
        let r = d.read();
        let changes = r.users.changes_since(mark, tracked, None);
        let slots: Vec<usize> = changes.iter().map(|c| c.slot).collect();
        // u(3) changed only an untracked property; u(1) changed before the mark.
        assert_eq!(slots, vec![2, 4, 30]);
        assert_eq!(
            changes[0].mask,
            (1 << Prop::JobTitle.index()) | (1 << Prop::Surname.index())
        );
        assert!(changes[2].whole && !changes[0].whole);
        assert_eq!(r.users.changes_since(mark, tracked, Some(&[4])).len(), 1);
        assert_eq!(r.users.any(30).id, id);
        assert_eq!(r.users.changes_since(r.seq(), tracked, None), vec![]);
    }

    #[test]
    fn touch_spreads_over_present_users() {
        let d = Directory::new(1000, 0, "contoso.onmicrosoft.com");
        let ids = d.touch_users(10);
        assert_eq!(ids.len(), 10);
        assert_eq!(ids[1], "00000000-0000-4000-8000-000000000064");
        assert_eq!(d.read().seq(), 10);
        assert_eq!(d.touch_users(5000).len(), 1000);
        let v = d.values(Collection::Users);
        assert_eq!(v[999]["jobTitle"], "Job title revision 2");
    }
}
