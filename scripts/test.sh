#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (Debian packages when
# root), then formatting, lints, and every test (unit, emulator, and the real binary against
# the emulator over TLS). CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the build and the tests need, each checked before anything is installed.
missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }
need_pkg pkg-config   # openssl-sys finds OpenSSL through it
need_pkg libssl-dev   # openssl (X.509, keys, PKCS#12) links the system OpenSSL 3
need_pkg gcc          # aws-lc-sys and openssl-sys build C
need_pkg openssl      # the tests cross-check thumbprints with `openssl x509`
need_pkg ca-certificates
need_pkg dbus          # a private session bus for the keyring tests (dbus-run-session, dbus-send)
need_pkg gnome-keyring # a real Secret Service for the keyring tests
need_pkg keyutils      # keyctl: the kernel-keyring tests run under a named session keyring
command -v python3 >/dev/null || missing+=(python3)  # tests/support/pty_drive.py types at no-echo prompts
# python3 also reads graphd's CSV with its csv module (the CSV round-trip test)
need_pkg bsdutils      # `script`: the progress-line test runs graphd with stderr on a pseudo-terminal
need_pkg g++           # libfuzzer-sys builds libFuzzer (C++) for the fuzz targets
need_pkg softhsm2      # a real PKCS#11 token (SoftHSM2) per test for the --key pkcs11: tests
need_pkg opensc        # pkcs11-tool: the tests import keys and certificates into the token
need_pkg libp11-kit-dev  # pkcs11.h for tests/support/p11fault.c, the fault-injecting PKCS#11 module
need_pkg p11-kit-modules # p11-kit's proxy module: graphd's default module when none is named
need_pkg swtpm            # a software TPM on a Unix socket: the second PKCS#11 module the tests use
need_pkg libtpm2-pkcs11-1 # tpm2-pkcs11, the TPM's PKCS#11 module
need_pkg libtss2-tcti-swtpm0 # tpm2-tss's transport to swtpm
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing Debian packages: ${missing[*]} (run as root, or install them)"; exit 1
  fi
fi

command -v cargo >/dev/null || { log "cargo not found: install Rust (rustup)"; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

log "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
log "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test (unit, emulator, CLI against the emulator)"
cargo test --workspace --locked
if [ "${CI:-}" = true ]; then
  # That scripts/bench.sh still runs end to end (MSAL peer, curl loop, report): the debug build
  # the tests made, small directories, few runs, ~1 minute. Its figures mean nothing and are not
  # kept; docs/benchmarks.md comes from a release run (scripts/bench.sh).
  log "benchmark script smoke run (debug build, not a measurement)"
  BENCH_PROFILE=debug BENCH_RUNS=2 BENCH_LIST_RUNS=2 BENCH_PEER_LIST_RUNS=2 BENCH_USERS=3000 \
    BENCH_SMALL_USERS=1000 BENCH_OUT=target/bench-smoke.md bash scripts/bench.sh
fi
# Coverage-guided fuzzing, bounded: FUZZ_SECONDS per target (default 30; 0 skips).
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  log "fuzzing each target for ${FUZZ_SECONDS:-30}s (scripts/fuzz.sh)"
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
log "all checks passed"
