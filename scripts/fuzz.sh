#!/usr/bin/env bash
# Build the libFuzzer harnesses (clang) and run each one.
#   scripts/fuzz.sh [SECONDS]   fuzz each harness for SECONDS (default 60)
# Each run reads tests/fuzz/corpus/<parser>/ (the committed seeds and kept
# regression inputs) and writes new inputs to a scratch corpus, so the
# committed corpus stays small. A crash stops the run; the input is saved in
# build-fuzz/artifacts/ -- fix the bug, then add the input to the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${BUILD_FUZZ:-build-fuzz}
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DESTKIT_FUZZ=ON \
	-DESTKIT_WERROR=ON >/dev/null
targets=()
for src in tests/fuzz/fuzz_*.c; do
	targets+=("$(basename "$src" .c)")
done
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
mkdir -p "$build/artifacts"
run_one() {
	local name=$1 parser=${1#fuzz_}
	local scratch="$build/scratch/$parser"
	mkdir -p "$scratch"
	"$build/tests/fuzz/$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=0 -artifact_prefix="$build/artifacts/$name-" \
		"$scratch" "tests/fuzz/corpus/$parser" > "$build/$name.log" 2>&1 || {
		echo "FAIL $name: see $build/$name.log"; tail -n 30 "$build/$name.log"; return 1; }
	echo "ok - $name: $(grep -Eo 'Done [0-9]+ runs' "$build/$name.log" || echo 'ran') in ${seconds}s"
}
export -f run_one
export build seconds
if ! printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'; then
	echo "fuzz: a harness failed"
	exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
