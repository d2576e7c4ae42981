#!/usr/bin/env bash
# The whole GPU check, one command from the repo root: build, verify, sanitize, bench.
# Needs scripts/gpu/generated/ (made by `npx tsx scripts/gpu/generate.ts` where Node is).
# Results under $OUT (default scripts/gpu/out): build.log, verify.json/.log, verify_backward.json/.log, verify_post_pre.json/.log,
# binding.log, compile.log, ddp.log (two or more GPUs), sanitize-*.log, bench.json/.log, bench_post_pre.json/.log. Exit status 0 when every step passed.
# VERIFY_ARGS / BENCH_ARGS pass options through (e.g. VERIFY_ARGS=--quick BENCH_ARGS=--no-compile).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export OUT="${OUT:-$here/out}"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
status=0
echo "==== build"
bash "$here/build.sh" >"$OUT/build.log" 2>&1 || { tail -n 60 "$OUT/build.log"; echo "run-all: build failed"; exit 1; }
tail -n 2 "$OUT/build.log"
echo "==== verify"
python3 "$here/verify_forward.py" ${VERIFY_ARGS:-} >"$OUT/verify.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/verify.log" | tail -n 60
echo "==== verify backward"
python3 "$here/verify_backward.py" ${VERIFY_ARGS:-} >"$OUT/verify_backward.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/verify_backward.log" | tail -n 40
echo "==== binding"
python3 "$here/test_binding.py" >"$OUT/binding.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/binding.log" | tail -n 30
python3 "$here/test_compile.py" >"$OUT/compile.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/compile.log" | tail -n 20
if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
  python3 "$here/test_ddp.py" >"$OUT/ddp.log" 2>&1 || status=1
  python3 "$here/test_ddp.py" --fsdp >>"$OUT/ddp.log" 2>&1 || status=1
  grep -v '^PASS' "$OUT/ddp.log" | tail -n 20
fi
echo "==== post_pre (post of l fused with the prenorm GEMM of l + 1)"
python3 "$here/verify_post_pre.py" >"$OUT/verify_post_pre.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/verify_post_pre.log" | tail -n 30
echo "==== sanitize"
bash "$here/sanitize.sh" || status=1
echo "==== bench"
python3 "$here/bench_forward.py" ${BENCH_ARGS:-} >"$OUT/bench.log" 2>&1 || status=1
tail -n 8 "$OUT/bench.log"
python3 "$here/bench_post_pre.py" >"$OUT/bench_post_pre.log" 2>&1 || status=1
tail -n 3 "$OUT/bench_post_pre.log"
echo
echo "run-all: $([ $status -eq 0 ] && echo ALL STEPS PASSED || echo SOME STEPS FAILED) (results in $OUT)"
exit $status
