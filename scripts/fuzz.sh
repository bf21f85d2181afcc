#!/usr/bin/env bash
# Builds graphd's coverage-guided fuzz targets (fuzz/, cargo-fuzz layout, libFuzzer) on the
# stable toolchain and runs each for a bounded time, printing libFuzzer's exec counts.
#
#   scripts/fuzz.sh                 # every target, 30 s each (what scripts/test.sh runs)
#   scripts/fuzz.sh 600 graph_page  # one target for 10 minutes
#
# Stable Rust has no -Zsanitizer, so this builds exactly as `cargo fuzz build --sanitizer none`
# does (the same -Cpasses=sancov-module / -Cllvm-args coverage flags, --cfg fuzzing, release
# with debug assertions), with plain cargo, so CI needs no extra tool. With cargo-fuzz
# installed (`cargo install cargo-fuzz`), `cd fuzz && cargo fuzz run --sanitizer none TARGET`
# is the same build. A crash stops the run (exit 1) and leaves its input in
# fuzz/artifacts/TARGET/; turn it into a regression test beside the code it crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-${FUZZ_SECONDS:-30}}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token_response graph_page next_link config certificate delta_state)
triple="$(rustc -vV | sed -n 's/^host: //p')"

log() { printf '==> %s\n' "$*" >&2; }

log "building fuzz targets (${targets[*]}) for $triple"
RUSTFLAGS="-Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  -Cllvm-args=-sanitizer-coverage-stack-depth \
  --cfg fuzzing -Cdebug-assertions -Coverflow-checks -Ccodegen-units=1" \
  cargo build --manifest-path fuzz/Cargo.toml --target "$triple" --release --locked \
  $(printf -- '--bin %s ' "${targets[@]}")

# The certificate target's seeds hold a private key, so they are made here, never committed.
seeds_cert=fuzz/corpus/certificate-seeds
if [ ! -s "$seeds_cert/cert_and_key" ]; then
  mkdir -p "$seeds_cert"
  tmp="$(mktemp -d)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=graphd-fuzz \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  { cat "$tmp/cert.pem"; printf '\0'; cat "$tmp/key.pem"; } > "$seeds_cert/cert_and_key"
  cat "$tmp/key.pem" "$tmp/cert.pem" > "$seeds_cert/combined"
  openssl rsa -in "$tmp/key.pem" -traditional -out "$tmp/pkcs1.pem" 2>/dev/null
  { cat "$tmp/cert.pem"; printf '\0'; cat "$tmp/pkcs1.pem"; } > "$seeds_cert/cert_and_pkcs1"
  rm -rf "$tmp"
fi

total=0
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  seeds="fuzz/seeds/$t"
  [ "$t" = certificate ] && seeds="$seeds_cert"
  log "fuzzing $t for ${secs}s"
  out="$(mktemp)"
  if ! "fuzz/target/$triple/release/$t" "$corpus" "$seeds" \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$out" 2>&1; then
    tail -40 "$out" >&2
    log "fuzz target $t failed: see fuzz/artifacts/$t/"
    exit 1
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")"
  cov="$(grep -o 'cov: [0-9]*' "$out" | tail -1)"
  printf 'fuzz %-15s %10s execs in %ss (%s, corpus %s files)\n' \
    "$t" "${execs:-?}" "$secs" "${cov:-cov: ?}" "$(ls "$corpus" | wc -l)"
  total=$((total + ${execs:-0}))
  rm -f "$out"
done
log "fuzzing done: $total execs, no crash"
echo "fuzz: ${#targets[@]} passed, 0 failed"
