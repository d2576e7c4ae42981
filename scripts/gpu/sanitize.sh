#!/usr/bin/env bash
# compute-sanitizer memcheck and racecheck over the verification at small shapes
# (every kernel, both dtypes, the scalar and vector paths, the bad-input calls).
# Writes $OUT/sanitize-<tool>.log; exits 1 if a tool reports an error. racecheck takes
# about 3 minutes on an H200 (python + torch under the tool).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$here/out}"
mkdir -p "$OUT"
CS="${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}"
ONLY="${SANITIZE_ONLY:-mhc_n1,mhc_n3,mhc_n4,mhc_n16,mhc_lite_n4,residual,mixed_n4}"
status=0
for tool in memcheck racecheck; do
  log="$OUT/sanitize-$tool.log"
  echo "== compute-sanitizer --tool $tool ($ONLY)"
  # the verification's own verify.json goes to a subfolder, not over the main one
  OUT="$OUT/sanitize-$tool" "$CS" --tool "$tool" --error-exitcode 99 --print-limit 20 python3 "$here/verify_forward.py" --tiny --only "$ONLY" >"$log" 2>&1
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
