#!/bin/bash
# Runs every fuzz_* target built in BUILD_DIR for SECONDS each, over a fresh copy of its seed
# corpus tests/fuzz/corpus/<name>/ (the seeds themselves are never modified). Crashes go to
# BUILD_DIR/fuzz-artifacts/<name>/, full logs to BUILD_DIR/fuzz-logs/<name>.log.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?build dir}
secs=${2:-10}

mapfile -t targets < <(find "$build" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz_* targets in $build (none written yet)"
	exit 0
fi
failed=()
for bin in "${targets[@]}"; do
	name=$(basename "$bin")
	run="$build/fuzz-corpus/$name"
	art="$build/fuzz-artifacts/$name"
	log="$build/fuzz-logs/$name.log"
	rm -rf "$run"
	mkdir -p "$run" "$art" "$(dirname "$log")"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -r "tests/fuzz/corpus/$name/." "$run/"
	else
		echo "fuzz: warning: no seed corpus tests/fuzz/corpus/$name/"
	fi
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$art/" -print_final_stats=1 "$run" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
		echo "fuzz: $name ok (${execs:-?} runs, ${cov:-no cov})"
	else
		echo "fuzz: $name FAILED, log $log:"
		tail -n 60 "$log"
		failed+=("$name")
	fi
done
if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: failed: ${failed[*]}"
	exit 1
fi
