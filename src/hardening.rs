//! Process hardening done once at start-up, before any secret is read: on Linux, no core
//! dump (`RLIMIT_CORE` 0, soft and hard) and not dumpable (`PR_SET_DUMPABLE` 0, which also
//! keeps other processes of the same user from attaching with ptrace or reading
//! `/proc/PID/mem`), so a crash cannot write a secret to disk.
//!
//! Through rustix's safe wrappers (lib.rs forbids `unsafe`). A failure is logged, never fatal:
//! graphd still zeroizes its secrets, and refusing to run would not make a host safer.
//! Elsewhere this does nothing.

/// Disables core dumps and ptrace-style access for this process.
pub fn disable_core_dumps() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{
            DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit,
        };
        let zero = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(e) = setrlimit(Resource::Core, zero) {
            tracing::warn!(target: "graphd", "cannot set RLIMIT_CORE to 0: {e}");
        }
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            tracing::warn!(target: "graphd", "cannot mark the process not dumpable: {e}");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use rustix::process::{DumpableBehavior, Resource, dumpable_behavior, getrlimit};

    #[test]
    fn no_core_dump_and_not_dumpable() {
        super::disable_core_dumps();
        let limit = getrlimit(Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }
}
