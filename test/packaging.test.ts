// The built package (npm run compile): CommonJS and ES module entry points load, expose the same
// functions and share one addon; the ESM import resolves through package.json's exports map;
// the type declarations exist where package.json points.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const requireHere = createRequire(__filename);
const API = ['capabilities', 'embeddingBag', 'embeddingBagAsync', 'gather', 'gatherAsync', 'getThreads', 'setIsa', 'setThreads'];

function functionNames(m: Record<string, unknown>): string[] {
  return Object.keys(m)
    .filter((k) => typeof m[k] === 'function')
    .sort();
}

describe('packaging', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

  it('CommonJS: require(dist/cjs/index.js) exposes the API and computes', () => {
    const cjs = requireHere('../dist/cjs/index.js') as Record<string, unknown> & typeof import('../lib/index');
    expect(functionNames(cjs)).toEqual(expect.arrayContaining(API));
    const out = cjs.embeddingBag({ table: Float32Array.of(1, 2, 3, 4), dim: 2, indices: Int32Array.of(1, 0), offsets: Int32Array.of(0), mode: 'sum' });
    expect(Array.from(out)).toEqual([4, 6]);
  });

  it('CommonJS via the package name (exports "require" condition), in a child process', () => {
    const stdout = execFileSync(
      process.execPath,
      ['-e', `const e = require('embedkit'); process.stdout.write(JSON.stringify({ file: require.resolve('embedkit'), names: Object.keys(e).filter((k) => typeof e[k] === 'function').sort() }))`],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    const r = JSON.parse(stdout);
    expect(r.file).toBe(path.join(ROOT, 'dist/cjs/index.js'));
    expect(r.names).toEqual(expect.arrayContaining(API));
  });

  it('ES module: import from "embedkit" (exports "import" condition) gives the same functions as CommonJS', () => {
    const script =
      `import * as e from 'embedkit';` +
      `import { createRequire } from 'node:module';` +
      `const cjs = createRequire(process.cwd() + '/')('embedkit');` +
      `const names = Object.keys(e).filter((k) => typeof e[k] === 'function').sort();` +
      `const cjsNames = Object.keys(cjs).filter((k) => typeof cjs[k] === 'function').sort();` +
      `const same = names.every((k) => e[k] === cjs[k]);` +
      `const r = e.gather({ table: Float32Array.of(1, 2, 3, 4), dim: 2, indices: Int32Array.of(1) });` +
      `process.stdout.write(JSON.stringify({ names, cjsNames, same, url: import.meta.resolve('embedkit'), r: Array.from(r), caps: e.capabilities().isa === cjs.capabilities().isa }));`;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    const r = JSON.parse(stdout);
    expect(r.names).toEqual(expect.arrayContaining(API));
    expect(r.names).toEqual(r.cjsNames);
    expect(r.same, 'the ESM exports are the CommonJS functions (one addon, one thread pool)').toBe(true);
    expect(r.url).toBe(`file://${path.join(ROOT, 'dist/esm/index.mjs')}`);
    expect(r.r).toEqual([3, 4]);
    expect(r.caps).toBe(true);
  });

  it('the ES module file itself loads by path', () => {
    const stdout = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const e = await import(${JSON.stringify(path.join(ROOT, 'dist/esm/index.mjs'))}); process.stdout.write(Object.keys(e).sort().join(','))`],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
    expect(stdout.split(',')).toEqual(expect.arrayContaining(API));
  });

  it('the .d.ts files exist where package.json points', () => {
    for (const f of ['dist/cjs/index.d.ts', 'dist/esm/index.d.mts']) expect(existsSync(path.join(ROOT, f)), f).toBe(true);
    expect(pkg.exports['.'].import.types).toBe('./dist/esm/index.d.mts');
    expect(pkg.exports['.'].require.types).toBe('./dist/cjs/index.d.ts');
    expect(existsSync(path.join(ROOT, pkg.types))).toBe(true);
    expect(existsSync(path.join(ROOT, pkg.exports['.'].import.default))).toBe(true);
    expect(existsSync(path.join(ROOT, pkg.exports['.'].require.default))).toBe(true);
    const dts = readFileSync(path.join(ROOT, 'dist/cjs/index.d.ts'), 'utf8');
    for (const name of API) expect(dts, `index.d.ts exports ${name}`).toMatch(new RegExp(`\\b${name}\\b`));
    for (const type of ['GatherOptions', 'EmbeddingBagOptions', 'PoolMode', 'Capabilities', 'Isa', 'IndexArray']) expect(dts).toMatch(new RegExp(`\\b${type}\\b`));
  });

  it('the source API (lib/) and the built API export the same functions', async () => {
    const src = (await import('../lib/index')) as Record<string, unknown>;
    const cjs = requireHere('../dist/cjs/index.js') as Record<string, unknown>;
    expect(functionNames(cjs)).toEqual(functionNames(src));
  });
});
