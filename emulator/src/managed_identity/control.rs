//! The test-facing controls of the managed-identity endpoints: faults, Arc's challenge,
//! the identities the main app trusts as federated credentials, Service Fabric's identity.

use std::path::PathBuf;

use super::{MiFault, MiIdentity};

impl crate::Emulator {
    /// Arms a managed-identity fault beside the ones already armed (the first that fires on a
    /// request wins): `add_mi_fault(MiFault::new(MiFaultKind::Gone).times(3))` answers the next
    /// three managed-identity requests with 410, then the endpoints answer normally again.
    pub fn add_mi_fault(&self, fault: MiFault) {
        self.shared.mi.faults.add(fault);
    }

    /// Disarms every managed-identity fault.
    pub fn clear_mi_faults(&self) {
        self.shared.mi.faults.clear();
    }

    /// Makes Azure Arc's `401` challenge name `realm` (any path, written or not) instead of a
    /// fresh file in the token directory; `None` restores the real behaviour.
    pub fn set_arc_challenge_realm(&self, realm: Option<&str>) {
        self.shared.mi.arc.set_realm(realm.map(str::to_owned));
    }

    /// Every `Authorization` header value the Arc endpoint received, in order (empty when a
    /// client sent none, which is what an attack test expects after a hostile challenge).
    pub fn arc_authorizations(&self) -> Vec<String> {
        self.shared.mi.arc.authorizations()
    }

    /// The challenge files the Arc endpoint has written so far (removed at shutdown).
    pub fn arc_challenge_files(&self) -> Vec<PathBuf> {
        self.shared.mi.arc.files()
    }

    /// Makes the main app's managed-identity federated credential also trust a token-exchange
    /// token whose subject is `object_id` (by default only the system-assigned identity's).
    pub fn trust_managed_identity(&self, object_id: &str) {
        let mut t = self
            .shared
            .mi
            .trusted_subjects
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if !t.iter().any(|s| s == object_id) {
            t.push(object_id.to_owned());
        }
    }

    /// Removes `object_id` from the subjects the main app trusts (the system-assigned one too).
    pub fn distrust_managed_identity(&self, object_id: &str) {
        self.shared
            .mi
            .trusted_subjects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| s != object_id);
    }

    /// Which identity the Service Fabric endpoint hands out (chosen at deployment on the real
    /// platform; the system-assigned one by default).
    pub fn set_service_fabric_identity(&self, which: MiIdentity) {
        *self
            .shared
            .mi
            .service_fabric_identity
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = which;
    }

    /// Makes Service Fabric send `expires_on` as a JSON string (what the Azure SDK team observed)
    /// instead of the documented JSON number.
    pub fn set_service_fabric_string_expires_on(&self, on: bool) {
        self.shared.mi.set_service_fabric_string_expires_on(on);
    }
}
