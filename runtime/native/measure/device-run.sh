#!/usr/bin/env bash
# The native runtime's measurements on a GPU machine, from the root of an
# unpacked mhc.tar.xz (pack-for-gpu.sh) with the node binary unpacked as ./node:
#   bash runtime/native/measure/device-run.sh OUTDIR
#  1. mhc verify examples/deepseek-v4-flash.mhc (builds its library into .mhc-cache)
#  2. the Python benchmark, scripts/gpu/bench_forward.py --no-compile, on the
#     libraries in scripts/gpu/generated
#  3. mhc bench on the very same libraries (--lib-dir) at the same shapes
#  4. mhc bench examples/deepseek-v4-flash.mhc (reuses the library of step 1)
#  5. the C launch loop on mhc_n4 at C = 7168 (mhc bench measured Node's at the same C)
# and prints Node's and Python's forward times side by side. Writes JSON into OUTDIR.
set -uo pipefail
out="${1:?usage: device-run.sh OUTDIR}"
mkdir -p "$out"
mhc=(./node dist/mhc.cjs)
gen=scripts/gpu/generated
status=0
step() { printf '\n== %s\n' "$*"; }

step device
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

step "mhc verify examples/deepseek-v4-flash.mhc"
start=$SECONDS
"${mhc[@]}" verify examples/deepseek-v4-flash.mhc --json > "$out/verify.json" || status=1
echo "exit ${status}, $((SECONDS - start)) s"
python3 - "$out/verify.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
print(r["device"]["name"], "| libraries:", r["libraries"])
for c in r["cases"]:
    worst = max(c["outputs"], key=lambda o: o["maxRel"])
    print(f'{c["connection"]} T={c["T"]} C={c["C"]} {c["dtype"]}: {"PASS" if c["ok"] else "FAIL"} ({len(c["outputs"])} outputs, worst {worst["output"]} max rel {worst["maxRel"]:.2e})')
print("failures:", r["failures"])
PY

step "python3 scripts/gpu/bench_forward.py --no-compile"
OUT="$out" python3 scripts/gpu/bench_forward.py --no-compile || status=1

step "mhc bench on the same libraries"
for spec in "mhc_n4 8192x7168,8192x4096,16x4096" "mhc_n8 8192x4096" "mhc_n16 8192x4096"; do
  set -- $spec
  "${mhc[@]}" bench examples/tiny.mhc --lib-dir "$gen/$1" --shapes "$2" --json > "$out/bench-node-$1.json" || status=1
done

step "mhc bench examples/deepseek-v4-flash.mhc"
"${mhc[@]}" bench examples/deepseek-v4-flash.mhc --shapes 8192x4096,16x4096 || status=1

step "C launch loop (mhc_n4 post, T = 1, C = 7168)"
if nvcc -O2 -o /tmp/mhc-launch-loop runtime/native/measure/launch-loop.c -ldl; then
  /tmp/mhc-launch-loop "$gen/mhc_n4/libmhc_n4.so" mhc_n4 4 7168 2000 | tee "$out/launch-c.json" || status=1
else
  status=1
fi

step "Node vs Python (forward = pre + post, ms, median of per-call CUDA events)"
python3 - "$out" <<'PY' || status=1
import json, os, sys
out = sys.argv[1]
py = {(r["T"], r["C"], r["n"]): r for r in json.load(open(os.path.join(out, "bench.json")))["rows"]}
print(f'{"shape":22} {"python":>9} {"node":>9} {"node/py":>8} {"pre py":>8} {"pre node":>9} {"post py":>8} {"post node":>9} {"node b2b":>9} {"copy py":>8} {"copy node":>9}')
for v in ("mhc_n4", "mhc_n8", "mhc_n16"):
    rec = json.load(open(os.path.join(out, f"bench-node-{v}.json")))
    for c in rec["connections"]:
        for s in c["shapes"]:
            p = py[(s["T"], s["C"], s["n"])]
            t = s["timings"]
            print(f'T={s["T"]} C={s["C"]} n={s["n"]:<3} {p["ours_ms"]:9.4f} {t["forward"]["median"]:9.4f} {t["forward"]["median"] / p["ours_ms"]:8.3f} {p["ours_pre_ms"]:8.4f} {t["pre"]["median"]:9.4f} {p["ours_post_ms"]:8.4f} {t["post"]["median"]:9.4f} {t["forwardBackToBack"]["median"]:9.4f} {p["copy_bandwidth_TBps"]:8.3f} {s["copy"]["bytesPerSecond"] / 1e12:9.3f}')
        l = c["launch"]
        print(f'  launch from Node at C={l["C"]}: ffi no args {l["ffiNoArgumentsUs"]:.3f} us, post no work {l["ffiPostNoWorkUs"]:.3f} us, host pre {l["hostPreUs"]:.2f} us, host post {l["hostPostUs"]:.2f} us, device pre {l["devicePreUs"]:.2f} us, device post {l["devicePostUs"]:.2f} us')
PY
exit $status
