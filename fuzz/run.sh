#!/bin/sh
# Runs the fuzz targets (all, or those named) for FUZZ_SECONDS each (60 by default),
# starting from the corpus kept in fuzz/corpus/<target>. Inputs libFuzzer finds along the
# way go to a scratch directory, so the kept corpus stays small; a crash stops the run and
# leaves its input in fuzz/artifacts/<target>/ (turn it into a regression test).
set -eu
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
targets="${*:-frame request ipc_line start_options parsers}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
for target in $targets; do
  scratch=$(mktemp -d)
  echo "fuzz: $target for ${seconds}s"
  status=0
  cargo +nightly fuzz run -O "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 || status=$?
  rm -rf "$scratch"
  [ "$status" -eq 0 ] || exit "$status"
done
