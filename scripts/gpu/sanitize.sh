#!/usr/bin/env bash
# compute-sanitizer memcheck and racecheck over the verification at small shapes
# (every kernel, both dtypes, the scalar and vector paths, the bad-input calls; racecheck on fewer shapes).
# Writes $OUT/sanitize-<tool>.log; exits 1 if a tool reports an error. racecheck takes
# about 3 minutes on an H200 (python + torch under the tool).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$here/out}"
mkdir -p "$OUT"
CS="${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}"
ONLY="${SANITIZE_ONLY:-mhc_n1,mhc_n3,mhc_n4,mhc_n8,mhc_n16,mhc_lite_n4,residual,mixed_n4,ortho_n8}"
# racecheck: the variants whose kernels share memory differently (tile shapes, lane groups); RACE_ONLY overrides
RACE_ONLY="${RACE_ONLY:-${SANITIZE_ONLY:-mhc_n1,mhc_n4,mhc_n8,mhc_n16,residual}}"
status=0
for tool in memcheck racecheck; do
  log="$OUT/sanitize-$tool.log"
  # the verification's own verify.json goes to a subfolder, not over the main one
  # racecheck instruments every shared-memory access: fewer shapes (one still with the pre-split GEMM)
  shapes=--tiny variants="$ONLY"
  [ "$tool" = racecheck ] && shapes=--race variants="$RACE_ONLY"
  echo "== compute-sanitizer --tool $tool ($variants, $shapes)"
  OUT="$OUT/sanitize-$tool" "$CS" --tool "$tool" --error-exitcode 99 --print-limit 20 python3 "$here/verify_forward.py" "$shapes" --only "$variants" >"$log" 2>&1
  rc=$?
  tail -n 3 "$log"
  if [ $rc -ne 0 ]; then
    echo "SANITIZE FAIL $tool (exit $rc, see $log)"
    grep -m 20 -E "Invalid|Race|Hazard|ERROR" "$log" || true
    status=1
  else
    echo "SANITIZE PASS $tool"
  fi
done
exit $status
