#!/usr/bin/env bash
# The GPU check of mhc_<name>_post_pre alone (design 4.2 item 4), one command from the repo root:
# builds the variants it needs (n = 16, the slowest to compile, in the background while the others
# are verified), verify_post_pre.py, compute-sanitizer memcheck on small shapes, bench_post_pre.py.
# The fused kernel is off by default (post-prenorm.ts POST_PRENORM_FUSED: measured slower); to check it,
# generate a tree with it on and point MHC_GPU_GEN at it:
#   MHC_GPU_GEN=scripts/gpu/generated-fused npx tsx scripts/gpu/generate.ts --only mhc_n1,mhc_n4,mhc_n8,mhc_n16 --fuse-post-prenorm
#   MHC_GPU_GEN=scripts/gpu/generated-fused bash scripts/gpu/post_pre_check.sh
# (without MHC_GPU_GEN: scripts/gpu/generated, where post_pre is post then pre). Results under $OUT.
# Exit status 0 when every step passed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gen="${MHC_GPU_GEN:-$here/generated}"
export OUT="${OUT:-$here/out}"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
CS="${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}"
status=0
build() {
  local v="$1"
  "$NVCC" -arch="${ARCH:-sm_90a}" -O3 -std=c++17 -shared -Xcompiler -fPIC -Xptxas -v -I"$gen/runtime" -I"$gen/runtime/include" "$gen/$v/$v.cu" -o "$gen/$v/lib$v.so" >"$gen/$v/build.log" 2>&1 \
    && echo "built $v" || { echo "FAILED to build $v"; grep -m 30 -i error "$gen/$v/build.log"; return 1; }
}
n16log="$(mktemp)"
build mhc_n16 >"$n16log" 2>&1 &
n16=$!
pids=()
for v in mhc_n1 mhc_n4 mhc_n8; do build "$v" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ $status -eq 0 ] || { echo "post_pre_check: build failed"; exit 1; }
echo "==== verify (n = 1, 4, 8)"
python3 "$here/verify_post_pre.py" --only mhc_n1,mhc_n4,mhc_n8 >"$OUT/verify_post_pre.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/verify_post_pre.log" | tail -n 30
echo "==== memcheck (small shapes)"
OUT="$(mktemp -d)" "$CS" --tool memcheck --error-exitcode 99 --print-limit 20 python3 "$here/verify_post_pre.py" --tiny --no-binding --only mhc_n1,mhc_n4,mhc_n8 >"$OUT/sanitize-memcheck-post-pre.log" 2>&1 || status=1
tail -n 4 "$OUT/sanitize-memcheck-post-pre.log"
echo "==== bench"
python3 "$here/bench_post_pre.py" >"$OUT/bench_post_pre.log" 2>&1 || status=1
cat "$OUT/bench_post_pre.log"
echo "==== n = 16 (post then pre inside post_pre)"
wait "$n16" && cat "$n16log" || { cat "$n16log"; status=1; }
OUT="$OUT/n16" python3 "$here/verify_post_pre.py" --only mhc_n16 --no-binding >"$OUT/verify_post_pre_n16.log" 2>&1 || status=1
grep -v '^PASS' "$OUT/verify_post_pre_n16.log" | tail -n 12
echo "post_pre_check: $([ $status -eq 0 ] && echo ALL STEPS PASSED || echo SOME STEPS FAILED)"
exit $status
