// ropeFrequencies against the float64 reference of each Hugging Face scaling formula
// (test/rope-reference.ts), plus properties that pin the formulas down independently:
// factor 1 gives the default frequencies, Llama 3 keeps high frequencies and divides low ones,
// dynamic NTK is the identity up to the original context, and the known attention factors.
// Bound: every inverse frequency within 1e-12 relative of the reference (both float64).
import { describe, expect, it } from 'vitest';
import { ropeFrequencies, type RopeScaling } from '../lib/index';
import { Rng, freshSeed } from './reference';
import { refDefault, refFrequencies } from './rope-reference';

const BOUND = 1e-12;

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return m;
}

/** |a - b| / |b| < 1e-14. */
function expectClose(a: number, b: number, ctx = '') {
  expect(Math.abs(a - b) / Math.abs(b), `${ctx} ${a} vs ${b}`).toBeLessThan(1e-14);
}

function factors(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * rng.float());
}

function scalings(rng: Rng, d: number): RopeScaling[] {
  return [
    { type: 'default' },
    { type: 'linear', factor: 1 + 7 * rng.float() },
    { type: 'dynamic', factor: 2 + 6 * rng.float(), originalMaxPosition: 4096, seqLen: rng.int(1, 32768) },
    { type: 'dynamic', factor: 4, originalMaxPosition: 2048 },
    { type: 'yarn', factor: 4, originalMaxPosition: 4096 },
    { type: 'yarn', factor: 40, originalMaxPosition: 4096, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 0.707 },
    { type: 'yarn', factor: 32, originalMaxPosition: 4096, truncate: false, betaFast: 16, betaSlow: 2 },
    { type: 'yarn', factor: 8, originalMaxPosition: 8192, attentionFactor: 1.3 },
    { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 },
    { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 },
    {
      type: 'longrope', shortFactor: factors(rng, d / 2, 1, 1.5), longFactor: factors(rng, d / 2, 1, 60),
      originalMaxPosition: 4096, maxPosition: 131072, seqLen: rng.int(1, 131072),
    },
    { type: 'longrope', shortFactor: factors(rng, d / 2, 1, 2), longFactor: factors(rng, d / 2, 1, 9), originalMaxPosition: 4096, factor: 32 },
  ];
}

describe('ropeFrequencies matches the float64 reference of every scaling type', () => {
  for (const d of [2, 4, 32, 64, 80, 96, 128, 256]) {
    for (const base of [10000, 500000, 1e6]) {
      it(`rotaryDim ${d}, base ${base}`, () => {
        const seed = freshSeed();
        const rng = new Rng(seed);
        for (const scaling of scalings(rng, d)) {
          if (scaling.type === 'dynamic' && d === 2) continue;  // d / (d - 2) is undefined
          const ctx = `seed=${seed} d=${d} base=${base} ${JSON.stringify(scaling)}`;
          const got = ropeFrequencies({ rotaryDim: d, base, scaling });
          const ref = refFrequencies(d, base, scaling);
          expect(got.invFreq, ctx).toBeInstanceOf(Float64Array);
          expect(got.invFreq.length, ctx).toBe(d / 2);
          expect(maxRel(got.invFreq, ref.invFreq), ctx).toBeLessThan(BOUND);
          expect(Math.abs(got.attentionFactor - ref.attentionFactor), ctx).toBeLessThan(1e-15);
        }
      });
    }
  }
});

describe('properties of the formulas', () => {
  const d = 128;
  const base = 10000;
  const plain = refDefault(d, base);

  it('default: base^(-2i/d), attention factor 1; no scaling is the same', () => {
    const a = ropeFrequencies({ rotaryDim: d, base });
    expect(maxRel(a.invFreq, plain)).toBeLessThan(BOUND);
    expect(a.invFreq[0]).toBe(1);
    expect(a.attentionFactor).toBe(1);
    expect(ropeFrequencies({ rotaryDim: d, base, scaling: { type: 'default' } }).invFreq).toEqual(a.invFreq);
  });

  it('linear: default / factor', () => {
    const a = ropeFrequencies({ rotaryDim: d, base, scaling: { type: 'linear', factor: 4 } });
    for (let i = 0; i < d / 2; i++) expectClose(a.invFreq[i], plain[i] / 4);
  });

  it('dynamic: unscaled up to the original context, scaled beyond', () => {
    const s = { type: 'dynamic' as const, factor: 4, originalMaxPosition: 4096 };
    expect(maxRel(ropeFrequencies({ rotaryDim: d, base, scaling: { ...s, seqLen: 100 } }).invFreq, plain)).toBeLessThan(BOUND);
    const long = ropeFrequencies({ rotaryDim: d, base, scaling: { ...s, seqLen: 16384 } }).invFreq;
    expect(long[0]).toBe(1);
    for (let i = 1; i < d / 2; i++) expect(long[i]).toBeLessThan(plain[i]);
  });

  it('yarn: factor 1 is the default; the high frequencies are kept and the low ones divided by factor', () => {
    const one = ropeFrequencies({ rotaryDim: d, base, scaling: { type: 'yarn', factor: 1, originalMaxPosition: 4096 } });
    expect(maxRel(one.invFreq, plain)).toBeLessThan(BOUND);
    expect(one.attentionFactor).toBe(1);
    const y = ropeFrequencies({ rotaryDim: d, base, scaling: { type: 'yarn', factor: 16, originalMaxPosition: 4096 } });
    expect(y.invFreq[0]).toBe(plain[0]);
    expectClose(y.invFreq[d / 2 - 1], plain[d / 2 - 1] / 16);
    expectClose(y.attentionFactor, 0.1 * Math.log(16) + 1);
    // DeepSeek-V3 style: mscale = mscaleAllDim gives an attention factor of exactly 1.
    const ds = ropeFrequencies({ rotaryDim: 64, base, scaling: { type: 'yarn', factor: 40, originalMaxPosition: 4096, mscale: 1, mscaleAllDim: 1 } });
    expect(ds.attentionFactor).toBe(1);
  });

  it('llama3 (8B config): high frequencies kept, low ones divided by 8, the band between smoothed', () => {
    const b = 500000;
    const p = refDefault(d, b);
    const l = ropeFrequencies({ rotaryDim: d, base: b, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 } });
    let kept = 0;
    let divided = 0;
    let smoothed = 0;
    for (let i = 0; i < d / 2; i++) {
      const wl = (2 * Math.PI) / p[i];
      if (wl < 8192 / 4) {
        expectClose(l.invFreq[i], p[i]);
        kept++;
      } else if (wl > 8192) {
        expectClose(l.invFreq[i], p[i] / 8);
        divided++;
      } else {
        expect(l.invFreq[i]).toBeLessThan(p[i]);
        expect(l.invFreq[i]).toBeGreaterThan(p[i] / 8);
        smoothed++;
      }
    }
    expect(kept > 0 && divided > 0 && smoothed > 0).toBe(true);
  });

  it('longrope: short factors up to the original context, long beyond; sqrt(1 + ln f / ln L) attention', () => {
    const short = Array.from({ length: d / 2 }, (_, i) => 1 + i / 100);
    const long = Array.from({ length: d / 2 }, (_, i) => 1 + i);
    const s = { type: 'longrope' as const, shortFactor: short, longFactor: long, originalMaxPosition: 4096, maxPosition: 131072 };
    const a = ropeFrequencies({ rotaryDim: d, base, scaling: s });
    const b = ropeFrequencies({ rotaryDim: d, base, scaling: { ...s, seqLen: 8192 } });
    for (let i = 0; i < d / 2; i++) {
      expectClose(a.invFreq[i], plain[i] / short[i]);
      expectClose(b.invFreq[i], plain[i] / long[i]);
    }
    expectClose(a.attentionFactor, Math.sqrt(1 + Math.log(32) / Math.log(4096)));
    expect(ropeFrequencies({ rotaryDim: d, base, scaling: { ...s, attentionFactor: 1.5 } }).attentionFactor).toBe(1.5);
  });

  it('returns a fresh array each call', () => {
    const a = ropeFrequencies({ rotaryDim: 8, base });
    a.invFreq[0] = 42;
    expect(ropeFrequencies({ rotaryDim: 8, base }).invFreq[0]).toBe(1);
  });
});

describe('bad options', () => {
  const cases: Array<[string, unknown, ErrorConstructor, RegExp]> = [
    ['null', null, TypeError, /ropeFrequencies expects an options object/],
    ['rotaryDim odd', { rotaryDim: 63, base: 1e4 }, RangeError, /rotaryDim must be even, got 63/],
    ['rotaryDim 0', { rotaryDim: 0, base: 1e4 }, RangeError, /rotaryDim must be from 2/],
    ['rotaryDim 1.5', { rotaryDim: 1.5, base: 1e4 }, RangeError, /rotaryDim must be an integer, got 1.5/],
    ['rotaryDim string', { rotaryDim: '64', base: 1e4 }, TypeError, /rotaryDim must be a number, got '64'/],
    ['base NaN', { rotaryDim: 64, base: NaN }, RangeError, /base must be a finite number, got NaN/],
    ['base Infinity', { rotaryDim: 64, base: Infinity }, RangeError, /base must be a finite number, got Infinity/],
    ['base 1', { rotaryDim: 64, base: 1 }, RangeError, /base must be > 1, got 1/],
    ['base missing', { rotaryDim: 64 }, TypeError, /base must be a number, got undefined/],
    ['unknown type', { rotaryDim: 64, base: 1e4, scaling: { type: 'ntk-by-parts' } }, TypeError, /scaling.type must be one of 'default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope', got 'ntk-by-parts'/],
    ['scaling not an object', { rotaryDim: 64, base: 1e4, scaling: 'yarn' }, TypeError, /scaling must be an object, got 'yarn'/],
    ['linear factor 0', { rotaryDim: 64, base: 1e4, scaling: { type: 'linear', factor: 0 } }, RangeError, /scaling.factor must be > 0, got 0/],
    ['yarn factor NaN', { rotaryDim: 64, base: 1e4, scaling: { type: 'yarn', factor: NaN, originalMaxPosition: 4096 } }, RangeError, /scaling.factor must be a finite number, got NaN/],
    ['yarn missing originalMaxPosition', { rotaryDim: 64, base: 1e4, scaling: { type: 'yarn', factor: 4 } }, TypeError, /scaling.originalMaxPosition must be a number, got undefined/],
    ['yarn truncate string', { rotaryDim: 64, base: 1e4, scaling: { type: 'yarn', factor: 4, originalMaxPosition: 4096, truncate: 'yes' } }, TypeError, /scaling.truncate must be a boolean/],
    ['llama3 high <= low', { rotaryDim: 64, base: 1e4, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 4, highFreqFactor: 1, originalMaxPosition: 8192 } }, RangeError, /highFreqFactor must be greater than scaling.lowFreqFactor/],
    ['longrope short length', { rotaryDim: 64, base: 1e4, scaling: { type: 'longrope', shortFactor: [1, 2], longFactor: new Array(32).fill(1), originalMaxPosition: 4096, factor: 2 } }, RangeError, /scaling.shortFactor.length must be rotaryDim \/ 2 = 32, got 2/],
    ['longrope bad entry', { rotaryDim: 4, base: 1e4, scaling: { type: 'longrope', shortFactor: [1, NaN], longFactor: [1, 1], originalMaxPosition: 4096, factor: 2 } }, RangeError, /scaling.shortFactor\[1\] must be a finite number, got NaN/],
    ['dynamic rotaryDim 2', { rotaryDim: 2, base: 1e4, scaling: { type: 'dynamic', factor: 2, originalMaxPosition: 4096 } }, RangeError, /dynamic scaling needs rotaryDim > 2/],
  ];
  it.each(cases)('%s', (_n, options, cls, message) => {
    expect(() => ropeFrequencies(options as never)).toThrow(cls);
    expect(() => ropeFrequencies(options as never)).toThrow(message);
  });
});
