#!/usr/bin/env bash
# Packs what `mhc verify` and `mhc bench` need on a GPU machine that has no Node
# (README.md here, "On a GPU machine without Node"):
#   DEST/node.xz      this machine's node binary, xz-compressed (x86-64 Linux)
#   DEST/mhc.tar.xz   the bundled CLI (dist/mhc.cjs, dist/mhc-core.cjs and its code
#                     cache), package.json, the CUDA runtime headers, the prelude,
#                     the diagnostic explanations, examples/, scripts/gpu/ (with
#                     scripts/gpu/generated when present), and the run-time
#                     node_modules: koffi with its linux-x64 binary only, and
#                     tfjs-core with what it loads (the bundle imports it at start)
# Usage, from the repository root after `npm run build`:
#   bash runtime/native/pack-for-gpu.sh DEST
set -euo pipefail
dest="${1:?usage: pack-for-gpu.sh DEST}"
[ -f dist/mhc.cjs ] || { echo "pack-for-gpu.sh: dist/mhc.cjs missing: run 'npm run build' first" >&2; exit 1; }
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

copy() { # copy PATH... into the stage, keeping their relative paths
  for p in "$@"; do
    mkdir -p "$stage/$(dirname "$p")"
    cp -R "$p" "$stage/$p"
  done
}
copy package.json dist/mhc.cjs dist/mhc-core.cjs runtime/cuda compiler/std/std.mhc compiler/diagnostics/explain examples runtime/native/measure
[ -f dist/mhc-core.cache ] && copy dist/mhc-core.cache
copy scripts/gpu
rm -rf "$stage/scripts/gpu/__pycache__"
copy node_modules/koffi
rm -rf "$stage/node_modules/koffi/doc" "$stage/node_modules/koffi/vendor"
copy node_modules/@koromix/koffi-linux-x64
rm -rf "$stage/node_modules/@koromix/koffi-linux-x64/musl_x64"
copy node_modules/@tensorflow/tfjs-core/package.json node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js
for m in seedrandom long node-fetch whatwg-url tr46 webidl-conversions; do [ -d "node_modules/$m" ] && copy "node_modules/$m"; done

tar -C "$stage" -cJf "$dest/mhc.tar.xz" .
node_bin="$(command -v node)"
# Compressing node takes minutes: keep a node.xz made from this same binary.
if [ ! -f "$dest/node.xz" ] || [ "$node_bin" -nt "$dest/node.xz" ]; then
  xz -c "$node_bin" > "$dest/node.xz.tmp" && mv "$dest/node.xz.tmp" "$dest/node.xz"
fi
du -ch "$dest/mhc.tar.xz" "$dest/node.xz" | tail -n 1
