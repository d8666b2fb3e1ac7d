// Every kernel path this CPU can run, forced with setIsa, against the float64 reference; paths
// this CPU cannot run are skipped with the reason in the test title. kernelCalls proves which
// path really ran. Plus EMBEDKIT_ISA at load, tested in child processes.
// Bound: relative error < 1e-6 for 'sum' / 'mean'; gather and 'max' exact.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, embeddingBag, gather, setIsa, type Isa } from '../lib/index';
import { BOUND, checkBag, checkGather } from './checks';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  MODES,
  Rng,
  bagOptions,
  describeCase,
  freshSeed,
  makeIndexArray,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
  sameBits,
} from './reference';

const ISAS: Isa[] = ['scalar', 'avx2', 'avx512', 'neon'];
const CJS = path.resolve(__dirname, '../dist/cjs/index.js');
const initial = capabilities();
const available = new Set<string>(initial.available);

// Dims around every vector width (4, 8, 16 lanes) and the 8-vector pooling block.
const DIMS = [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 127, 128, 129, 255, 256, 257, 1000];

afterAll(() => {
  setIsa(initial.isa);
  expect(capabilities().isa).toBe(initial.isa);
});

function callsOf(isa: Isa): number {
  return capabilities().kernelCalls[isa];
}

for (const isa of ISAS) {
  const ok = available.has(isa);
  const title = ok ? `isa ${isa}` : `isa ${isa}: not available on this CPU (available: ${initial.available.join(', ')})`;
  describe.skipIf(!ok)(title, () => {
    beforeAll(() => {
      expect(setIsa(isa)).toBe(isa);
    });
    afterAll(() => {
      setIsa(initial.isa);
    });

    it('is the active path', () => {
      expect(capabilities().isa).toBe(isa);
    });

    it('gather matches the reference exactly, and runs on this path', () => {
      const before = capabilities().kernelCalls;
      const seed = freshSeed();
      const rng = new Rng(seed);
      let calls = 0;
      for (const dim of DIMS) {
        for (const kind of INDEX_KINDS) {
          const rows = rng.int(1, 40);
          const table = randomTable(rng, rows, dim);
          const indices = makeIndexArray(kind, randomIndices(rng, rng.int(1, 40), rows));
          checkGather(table, dim, indices, describeCase({ isa, seed, dim, kind }), rng.bool());
          calls++;
        }
      }
      const after = capabilities().kernelCalls;
      expect(after[isa] - before[isa], `kernelCalls.${isa} counts the gather calls`).toBeGreaterThanOrEqual(calls);
      for (const other of ISAS) if (other !== isa) expect(after[other], `no ${other} kernel ran`).toBe(before[other]);
    });

    it(`embeddingBag matches the reference (bound ${BOUND}; max exact) in every mode, and runs on this path`, () => {
      const before = capabilities().kernelCalls;
      const seed = freshSeed();
      const rng = new Rng(seed);
      let calls = 0;
      for (const dim of DIMS) {
        for (const mode of MODES) {
          for (const weighted of mode === 'max' ? [false] : [false, true]) {
            const rows = rng.int(1, 30);
            const table = randomTable(rng, rows, dim);
            const lengths = randomLengths(rng, rng.int(1, 8), 12);
            const n = lengths.reduce((s, x) => s + x, 0);
            const indices = randomIndices(rng, n, rows);
            const paddingIdx = rng.bool() ? rng.int(-rows, rows - 1) : undefined;
            const weights = weighted ? randomWeights(rng, n) : undefined;
            const bounds = rng.pick(BOUNDS_KINDS);
            const kind = rng.pick(INDEX_KINDS);
            const o = bagOptions({ table, dim, mode, weights, paddingIdx }, indices, lengths, bounds, kind);
            checkBag(o, describeCase({ isa, seed, dim, mode, weighted, paddingIdx, bounds, kind }), rng.bool());
            calls++;
          }
        }
      }
      const after = capabilities().kernelCalls;
      expect(after[isa] - before[isa], `kernelCalls.${isa} counts the embeddingBag calls`).toBeGreaterThanOrEqual(calls);
      for (const other of ISAS) if (other !== isa) expect(after[other], `no ${other} kernel ran`).toBe(before[other]);
    });

    it('gives the same bits as the scalar path for gather and max', () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const dim = 77;
      const table = randomTable(rng, 50, dim);
      const lengths = randomLengths(rng, 20, 10);
      const indices = randomIndices(rng, lengths.reduce((s, x) => s + x, 0), 50);
      const max = bagOptions({ table, dim, mode: 'max' }, indices, lengths, 'offsets', 'int32');
      const results: Float32Array[][] = [];
      for (const p of [isa, 'scalar' as Isa]) {
        setIsa(p);
        results.push([gather({ table, dim, indices: Int32Array.from(indices) }), embeddingBag(max)]);
      }
      setIsa(isa);
      expect(sameBits(results[0][0], results[1][0]), `seed=${seed} gather`).toBe(true);
      expect(sameBits(results[0][1], results[1][1]), `seed=${seed} max`).toBe(true);
    });
  });
}

describe('setIsa', () => {
  it('rejects an unknown name with a RangeError naming the choices', () => {
    expect(() => setIsa('bogus' as Isa)).toThrow(RangeError);
    expect(() => setIsa('bogus' as Isa)).toThrow(/isa must be one of scalar, avx2, avx512, neon, got 'bogus'/);
    expect(() => setIsa('AVX2' as Isa)).toThrow(RangeError);
    expect(() => setIsa('' as Isa)).toThrow(RangeError);
    expect(capabilities().isa).toBe(initial.isa);
  });

  it('rejects a non-string with a TypeError', () => {
    expect(() => setIsa(2 as unknown as Isa)).toThrow(TypeError);
    expect(() => setIsa(undefined as unknown as Isa)).toThrow(/isa must be a string/);
  });

  for (const isa of ISAS.filter((i) => !available.has(i))) {
    it(`rejects ${isa} (not available on this CPU) with a RangeError`, () => {
      expect(() => setIsa(isa)).toThrow(RangeError);
      expect(() => setIsa(isa)).toThrow(new RegExp(`${isa}.*cannot run here`));
      expect(capabilities().isa, 'the active path is unchanged').toBe(initial.isa);
    });
  }

  it('capabilities() is consistent', () => {
    const caps = capabilities();
    expect(caps.available).toContain('scalar');
    expect(caps.available).toContain(caps.best);
    expect(caps.available).toContain(caps.isa);
    expect(Object.keys(caps.kernelCalls).sort()).toEqual([...ISAS].sort());
    if (process.arch === 'x64') {
      const { avx2, fma, f16c, popcnt, osYmm } = caps.features;
      expect(caps.available.includes('avx2')).toBe(avx2 && fma && f16c && popcnt && osYmm);
      if (caps.available.includes('avx512')) expect(caps.features.avx512f && caps.features.osZmm).toBe(true);
      expect(caps.available).not.toContain('neon');
    }
    if (process.arch === 'arm64') expect(caps.available).toContain('neon');
    // The default is the widest available path unless EMBEDKIT_ISA forced another.
    if (!process.env.EMBEDKIT_ISA) expect(initial.isa).toBe(initial.best);
  });
});

describe('EMBEDKIT_ISA (child processes loading dist/cjs)', () => {
  const script =
    `const e = require(${JSON.stringify(CJS)});` +
    `try { const c = e.capabilities(); process.stdout.write(JSON.stringify({ ok: true, isa: c.isa, best: c.best })); }` +
    `catch (err) { process.stdout.write(JSON.stringify({ ok: false, name: err.constructor.name, message: err.message })); }`;

  function runWith(value: string | undefined): { ok: boolean; isa?: string; best?: string; name?: string; message?: string } {
    const env = { ...process.env };
    delete env.EMBEDKIT_ISA;
    if (value !== undefined) env.EMBEDKIT_ISA = value;
    const stdout = execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 20_000 });
    return JSON.parse(stdout);
  }

  it('unset or empty: the best path', () => {
    expect(runWith(undefined)).toMatchObject({ ok: true, isa: initial.best });
    expect(runWith('')).toMatchObject({ ok: true, isa: initial.best });
  });

  it('EMBEDKIT_ISA=scalar gives scalar', () => {
    expect(runWith('scalar')).toMatchObject({ ok: true, isa: 'scalar', best: initial.best });
  });

  for (const isa of ISAS) {
    if (available.has(isa)) {
      it(`EMBEDKIT_ISA=${isa} gives ${isa}`, () => {
        expect(runWith(isa)).toMatchObject({ ok: true, isa });
      });
    } else {
      it(`EMBEDKIT_ISA=${isa} (not available on this CPU) fails to load with an error naming EMBEDKIT_ISA`, () => {
        const r = runWith(isa);
        expect(r.ok, JSON.stringify(r)).toBe(false);
        expect(r.message).toMatch(/EMBEDKIT_ISA/);
        expect(r.message).toMatch(new RegExp(`EMBEDKIT_ISA=${isa}\\b.*cannot run it`));
        expect(r.message).toMatch(/available: scalar/);
      });
    }
  }

  it('EMBEDKIT_ISA=bogus fails to load with an error naming EMBEDKIT_ISA and the choices', () => {
    const r = runWith('bogus');
    expect(r.ok, JSON.stringify(r)).toBe(false);
    expect(r.message).toMatch(/EMBEDKIT_ISA='bogus' is not an ISA name; use one of scalar, avx2, avx512, neon/);
  });
});
