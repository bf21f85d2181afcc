#!/usr/bin/env bash
# Cross-builds graphd.exe for Windows (x86_64-pc-windows-gnu) on Debian, with no rustup target
# and no Windows: Debian's Rust (rustc-web, cargo-web) builds the standard library from its
# source (rust-web-src) with -Zbuild-std, mingw-w64 links, and OpenSSL is built from source
# (the openssl crate's `vendored` feature, enabled for Windows only in Cargo.toml).
#
# Also runs clippy for the Windows target (WINDOWS_CLIPPY=0 skips it) and builds the test
# fixture scripts/test-windows.sh needs: graphd-win's `win-test-store` example (imports a PFX
# into a Wine prefix's certificate store, signs with an ephemeral CNG key). Never shipped.
#
# Output: target/windows/x86_64-pc-windows-gnu/debug/graphd.exe (a debug build; RELEASE=1 for a
# release one). Its own target directory, so the Linux build in target/debug is never touched;
# keep it between runs: a cold build of the dependencies takes ~13 minutes of 2 cores, a warm
# one seconds. Installs missing Debian packages when run as root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-windows: %s\n' "$*" >&2; exit 1; }

TARGET=x86_64-pc-windows-gnu
export CARGO_TARGET_DIR="${WINDOWS_TARGET_DIR:-$PWD/target/windows}"

missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }
need_pkg rustc-web            # Debian's rustc 1.96: /usr/bin/rustc, with -Zbuild-std under RUSTC_BOOTSTRAP
need_pkg cargo-web            # Debian's cargo to match: /usr/bin/cargo
need_pkg rust-web-src         # the standard library's source, which -Zbuild-std compiles for the target
need_pkg gcc-mingw-w64-x86-64 # the linker and C compiler for the target (aws-lc, OpenSSL, the std's C bits)
need_pkg perl                 # OpenSSL's Configure (openssl-src)
need_pkg make                 # OpenSSL's build (openssl-src)
if [ "${WINDOWS_CLIPPY:-1}" = 1 ]; then
  need_pkg rust-web-clippy    # clippy for the Windows target: the cfg(windows) code Linux's clippy never sees
fi
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing Debian packages: ${missing[*]} (and no apt-get)"
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or apt-get install them; WINDOWS_CLIPPY=0 does without rust-web-clippy)"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's cargo and rustc, never rustup's (which has no std source for this target): /usr/bin
# first, and no rustup toolchain override leaking in.
export PATH="/usr/bin:$PATH"
unset RUSTUP_TOOLCHAIN RUSTC RUSTC_WRAPPER RUSTDOC CARGO
export RUSTC=/usr/bin/rustc
CARGO=/usr/bin/cargo
[ -x "$CARGO" ] && [ -x "$RUSTC" ] || die "/usr/bin/cargo or /usr/bin/rustc missing (packages cargo-web, rustc-web)"
sysroot="$("$RUSTC" --print sysroot)"
[ -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock" ] ||
  die "no standard library source under $sysroot/lib/rustlib/src (package rust-web-src)"
command -v x86_64-w64-mingw32-gcc >/dev/null || die "x86_64-w64-mingw32-gcc not found (package gcc-mingw-w64-x86-64)"
# -Zbuild-std is unstable: RUSTC_BOOTSTRAP lets Debian's stable compiler accept it.
export RUSTC_BOOTSTRAP=1

profile_flag=()
profile=debug
if [ "${RELEASE:-0}" = 1 ]; then profile_flag=(--release); profile=release; fi
build=("$CARGO" build --locked -Zbuild-std=std,panic_abort --target "$TARGET" "${profile_flag[@]}")

log "building graphd.exe ($profile, $("$RUSTC" --version), target dir $CARGO_TARGET_DIR)"
started=$SECONDS
if [ "${WINDOWS_CLIPPY:-1}" = 1 ]; then
  # graphd's Windows-only code and graphd-win's FFI (every unsafe block documented): the lints
  # scripts/test.sh runs for Linux, here for the Windows target. WINDOWS_CLIPPY=0 skips it.
  log "clippy for $TARGET (-D warnings)"
  "$CARGO" clippy --locked -Zbuild-std=std,panic_abort --target "$TARGET" "${profile_flag[@]}" \
    -p graphd -p graphd-win --lib --bins --examples -- -D warnings
fi
"${build[@]}" -p graphd --bin graphd
"${build[@]}" -p graphd-win --example win-test-store
out="$CARGO_TARGET_DIR/$TARGET/$profile"
[ -f "$out/graphd.exe" ] || die "the build finished but $out/graphd.exe is missing"
log "built $out/graphd.exe and $out/examples/win-test-store.exe in $((SECONDS - started)) s"
