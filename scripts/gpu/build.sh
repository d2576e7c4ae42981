#!/usr/bin/env bash
# Builds every generated variant into scripts/gpu/generated/<v>/lib<v>.so, in parallel.
# On a failure prints the nvcc command line, the source path and the log, and exits 1.
# Env: NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc), ARCH (sm_90a), JOBS,
# MHC_GPU_GEN (another generated tree, e.g. a baseline; default scripts/gpu/generated),
# NVCC_EXTRA (more nvcc flags, e.g. -DMHC_NO_BACKWARD for a forward-only build).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gen="${MHC_GPU_GEN:-$here/generated}"
if [ ! -f "$gen/variants.json" ]; then
  echo "build.sh: $gen/variants.json missing: run 'npx tsx scripts/gpu/generate.ts' on a machine with Node first" >&2
  exit 1
fi
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
ARCH="${ARCH:-sm_90a}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
runtime="$gen/runtime"
[ -d "$runtime" ] || runtime="$here/../../runtime/cuda"
"$NVCC" --version | tail -n 2

build_one() {
  local dir="$1" v
  v="$(basename "$dir")"
  local cmd=("$NVCC" -arch="$ARCH" -O3 -std=c++17 -shared -Xcompiler -fPIC -Xptxas -v -I"$runtime" -I"$runtime/include" ${NVCC_EXTRA:-} "$dir/$v.cu" -o "$dir/lib$v.so")
  local start=$SECONDS
  if "${cmd[@]}" >"$dir/build.log" 2>&1; then
    echo "built $v in $((SECONDS - start)) s"
  else
    echo "FAILED to build $v" >&2
    echo "  command: ${cmd[*]}" >&2
    echo "  source:  $dir/$v.cu" >&2
    sed 's/^/  | /' "$dir/build.log" | head -n 60 >&2
    return 1
  fi
}
export -f build_one
export NVCC ARCH runtime NVCC_EXTRA

dirs=()
for d in "$gen"/*/; do
  d="${d%/}"
  [ "$(basename "$d")" = runtime ] && continue
  [ -f "$d/$(basename "$d").cu" ] && dirs+=("$d")
done
printf '%s\n' "${dirs[@]}" | xargs -P "$JOBS" -I{} bash -c 'build_one "$@"' _ {}
status=$?
if [ $status -ne 0 ]; then
  echo "build.sh: at least one variant failed to build (see above)" >&2
  exit 1
fi
echo "build.sh: built ${#dirs[@]} libraries"
