#!/usr/bin/env bash
# The Windows test suite: the real graphd.exe (built by scripts/build-windows.sh) run under Wine
# against the emulator running natively on 127.0.0.1 (tests/cli/windows.rs).
#
# Makes a throwaway Wine prefix, builds the ProcessPrng shim Wine 8 lacks
# (tests/support/processprng.c: a test fixture, never shipped) into its system32, then runs
# `cargo test --test tests cli::windows -- --ignored`. Installs missing Debian packages when run
# as root. Idempotent: the prefix is made fresh and removed on exit; WINE_KEEP_PREFIX=1 keeps it
# (its path is printed) for a look after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'test-windows: %s\n' "$*" >&2; exit 1; }

missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }
need_pkg wine                 # the wine and wineboot commands
need_pkg wine64               # the 64-bit loader and wineserver graphd.exe runs under
need_pkg gcc-mingw-w64-x86-64 # builds the ProcessPrng shim DLL
need_pkg openssl              # the tests make PKCS#12 files and thumbprints with it
command -v python3 >/dev/null || missing+=(python3) # tests/support/pty_drive.py (the no-echo prompt)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing Debian packages: ${missing[*]} (and no apt-get)"
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The executables (a no-op when scripts/build-windows.sh just ran).
bash scripts/build-windows.sh
out="${WINDOWS_TARGET_DIR:-$PWD/target/windows}/x86_64-pc-windows-gnu/$([ "${RELEASE:-0}" = 1 ] && echo release || echo debug)"
export GRAPHD_WINDOWS_EXE="$out/graphd.exe"
export GRAPHD_WINDOWS_FIXTURE="$out/examples/win-test-store.exe"
for f in "$GRAPHD_WINDOWS_EXE" "$GRAPHD_WINDOWS_FIXTURE"; do
  [ -f "$f" ] || die "$f is missing after scripts/build-windows.sh"
done

# Debian's `wine` wrapper picks the loader; calling the 64-bit one directly spares its notices.
if [ -x /usr/lib/wine/wine64 ]; then export GRAPHD_WINE=/usr/lib/wine/wine64; else export GRAPHD_WINE=wine; fi
command -v wineboot >/dev/null || die "wineboot not found (package wine)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/graphd-wine.XXXXXX")"
export WINEPREFIX="$tmp/prefix" WINEDEBUG=-all
cleanup() {
  wineserver -k >/dev/null 2>&1 || true
  if [ "${WINE_KEEP_PREFIX:-0}" = 1 ]; then log "kept the Wine prefix $WINEPREFIX"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
unset DISPLAY WAYLAND_DISPLAY

log "making a Wine prefix in $WINEPREFIX ($(wine --version 2>/dev/null))"
started=$SECONDS
# No Mono or Gecko: graphd needs neither, and without them wineboot asks no question.
WINEDLLOVERRIDES="mscoree=;mshtml=" timeout 600 wineboot -i >"$tmp/wineboot.log" 2>&1 ||
  { cat "$tmp/wineboot.log" >&2; die "wineboot failed"; }
system32="$WINEPREFIX/drive_c/windows/system32"
[ -d "$system32" ] || die "no $system32 after wineboot"
# Wine 8 has no bcryptprimitives.dll; Rust's std calls its ProcessPrng before main.
x86_64-w64-mingw32-gcc -shared -O2 -o "$system32/bcryptprimitives.dll" \
  tests/support/processprng.c -ladvapi32
# One wineserver for the whole run, so that each test's `wine` connects rather than starting
# one: wineboot's stays up while the prefix's services run; -p keeps it up regardless (it
# refuses, harmlessly, when one already runs). `wineserver -k` on exit ends it.
wineserver -p 2>/dev/null || true
version="$("$GRAPHD_WINE" "$GRAPHD_WINDOWS_EXE" --version 2>&1)" ||
  die "graphd.exe --version failed under Wine (exit $?; 53 means the ProcessPrng shim is missing): $version"
log "prefix ready in $((SECONDS - started)) s; $version runs under Wine"

log "cargo test --test tests cli::windows -- --ignored (graphd.exe under Wine against the emulator)"
# Every Windows test must have run: a filter that stopped matching would otherwise pass with 0.
expected="$(grep -c '^#\[ignore = "needs graphd.exe under Wine' tests/cli/windows.rs)"
results="$(mktemp)"
cargo test --locked --test tests cli::windows -- --ignored --test-threads=2 2>&1 | tee "$results"
grep -q "test result: ok. $expected passed" "$results" ||
  die "expected $expected Windows tests to pass, saw: $(grep 'test result' "$results")"
rm -f "$results"
log "Windows suite passed ($expected tests)"
