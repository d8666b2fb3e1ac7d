#!/usr/bin/env node
// Packs what `bash scripts/gpu-check.sh` needs on a lent GPU machine that has no Node.js:
// this Node binary and the node_modules subset the GPU specs and builds use (vitest and
// its dependency closure, node-api-headers, node-addon-api), into
// .cache/device/gpu-kit.tar.xz. The device tool carries at most 64 MiB of ignored files, so
// everything else (onnxruntime, typescript, ...) stays behind: dist/ and build/Release are
// carried as built here.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modules = path.join(root, 'node_modules');
const wanted = new Set();

function packageDir(name, from) {
  // Node's lookup: nested node_modules first, then the top level.
  for (let dir = from; dir.startsWith(modules); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  const top = path.join(modules, name);
  return fs.existsSync(path.join(top, 'package.json')) ? top : undefined;
}

function visit(dir) {
  if (wanted.has(dir)) return;
  wanted.add(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const deps = { ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies };
  for (const name of Object.keys(deps)) {
    const found = packageDir(name, dir);
    if (found) visit(found);  // an optional dependency for another platform is simply absent
  }
}

for (const name of ['vitest', 'tinybench', 'node-api-headers', 'node-addon-api', 'node-gyp-build']) visit(path.join(modules, name));

const out = path.join(root, '.cache/device');
fs.mkdirSync(out, { recursive: true });
const staging = fs.mkdtempSync(path.join(out, 'kit-'));
fs.mkdirSync(path.join(staging, 'bin'));
fs.copyFileSync(process.execPath, path.join(staging, 'bin/node'));
fs.chmodSync(path.join(staging, 'bin/node'), 0o755);
const list = [...wanted].map((d) => path.relative(root, d)).sort();
fs.writeFileSync(path.join(staging, 'modules.txt'), list.join('\n') + '\n');
const kit = path.join(out, 'gpu-kit.tar.xz');
execFileSync('tar', ['-cJf', kit, '-C', staging, 'bin', 'modules.txt', '-C', root, ...list], {
  stdio: 'inherit', env: { ...process.env, XZ_OPT: '-6 -T2' },
});
fs.rmSync(staging, { recursive: true, force: true });
console.log(`${path.relative(root, kit)}: node ${process.version} + ${list.length} packages, ` +
  `${(fs.statSync(kit).size / 2 ** 20).toFixed(1)} MiB`);
