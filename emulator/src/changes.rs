//! The library API that changes a running emulator while a client reads it: users and groups
//! added, updated, soft-deleted (restorable), hard-deleted and restored, bulk jobTitle changes
//! for benchmarks, delta links made to expire, and the simulated network latency. Every change
//! is visible at once in `/users` and journaled for the next delta round. The same operations
//! are open to scripts through the control endpoint (`Info::directory_url`, see `control`).

use crate::directory::{Collection, DirectoryError};
use crate::{Emulator, latency};
use axum::http::StatusCode;
use serde_json::Value;
use std::time::Duration;

impl Emulator {
    /// Adds a user and returns its new id. `value` is a JSON object of settable properties
    /// (any of the default ones, `accountEnabled`, `companyName`, `department`, `employeeId`,
    /// `usageLocation`, `userType`); what it leaves out gets a default (userPrincipalName
    /// `new.userN@contoso.onmicrosoft.com`, displayName `New User N`, the rest null). `id` and
    /// `createdDateTime` are the server's; a userPrincipalName another user (present or
    /// soft-deleted) has is refused.
    pub fn add_user(&self, value: Value) -> Result<String, DirectoryError> {
        self.shared.directory.add(Collection::Users, &value)
    }

    /// Sets the properties in `patch` (a JSON object) on a present user. A patch that changes
    /// no value is accepted and journals nothing.
    pub fn update_user(&self, id: &str, patch: Value) -> Result<(), DirectoryError> {
        self.shared.directory.update(Collection::Users, id, &patch)
    }

    /// Deletes a present user restorably: it leaves `/users`, and delta reports it as
    /// `"@removed": {"reason": "changed"}`.
    pub fn soft_delete_user(&self, id: &str) -> Result<(), DirectoryError> {
        self.shared.directory.delete(Collection::Users, id, false)
    }

    /// Deletes a present or soft-deleted user for good: delta reports it as
    /// `"@removed": {"reason": "deleted"}`; it cannot be restored.
    pub fn hard_delete_user(&self, id: &str) -> Result<(), DirectoryError> {
        self.shared.directory.delete(Collection::Users, id, true)
    }

    /// Brings a soft-deleted user back as it was (delta sends it whole).
    pub fn restore_user(&self, id: &str) -> Result<(), DirectoryError> {
        self.shared.directory.restore(Collection::Users, id)
    }

    /// Adds a group (`displayName`, `description`, `mailNickname`; defaults `New Group N`,
    /// null, `new.groupN`) and returns its new id.
    pub fn add_group(&self, value: Value) -> Result<String, DirectoryError> {
        self.shared.directory.add(Collection::Groups, &value)
    }

    /// [`Emulator::update_user`] for a group.
    pub fn update_group(&self, id: &str, patch: Value) -> Result<(), DirectoryError> {
        self.shared.directory.update(Collection::Groups, id, &patch)
    }

    /// [`Emulator::soft_delete_user`] for a group.
    pub fn soft_delete_group(&self, id: &str) -> Result<(), DirectoryError> {
        self.shared.directory.delete(Collection::Groups, id, false)
    }

    /// [`Emulator::hard_delete_user`] for a group.
    pub fn hard_delete_group(&self, id: &str) -> Result<(), DirectoryError> {
        self.shared.directory.delete(Collection::Groups, id, true)
    }

    /// [`Emulator::restore_user`] for a group.
    pub fn restore_group(&self, id: &str) -> Result<(), DirectoryError> {
        self.shared.directory.restore(Collection::Groups, id)
    }

    /// Changes the jobTitle of `n` present users spread evenly over the directory (every user
    /// when there are fewer) to `Job title revision K` (K counts the calls), and returns their
    /// ids: "`n` users changed since the last round", for benchmarks.
    pub fn touch_users(&self, n: usize) -> Vec<String> {
        self.shared.directory.touch_users(n)
    }

    /// Every present group in listing order, with its properties.
    pub fn groups(&self) -> Vec<Value> {
        self.shared.directory.values(Collection::Groups)
    }

    /// Makes every delta nextLink and deltaLink issued so far answer `410 Gone` with Graph's
    /// error envelope and code `resyncRequired`, as Graph does when a sync state is too old.
    /// Links issued afterwards work.
    pub fn expire_delta_links(&self) {
        self.shared
            .delta
            .expire_all(StatusCode::GONE, "resyncRequired");
    }

    /// [`Emulator::expire_delta_links`] with another answer, e.g.
    /// `expire_delta_links_with(400, "syncStateNotFound")` or `(400, "syncStateInvalid")`.
    ///
    /// # Panics
    /// When `status` is not an HTTP error status (400 to 599).
    pub fn expire_delta_links_with(&self, status: u16, code: &str) {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or_else(|| panic!("expire_delta_links_with: {status} is not 400..=599"));
        self.shared.delta.expire_all(status, code);
    }

    /// Holds every response of every listener for `latency` from now on (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        latency::set(&self.shared, latency);
    }
}
