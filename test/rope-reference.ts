// Float64 reference of the RoPE family, written from Hugging Face transformers'
// modeling_rope_utils.py formulas and the RoPE definition, independently of lib/rope.ts:
// the inverse frequencies and attention factor of each scaling type, and the rotation
// itself (angles and sin/cos in float64 via Math.cos / Math.sin).

export type Layout = 'neox' | 'gptj';

export interface RefFreq {
  invFreq: number[];
  attentionFactor: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** base^(-2i/d) for i < d/2. */
export function refDefault(d: number, base: number): number[] {
  return range(d / 2).map((i) => Math.pow(base, -(2 * i) / d));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function refFrequencies(d: number, base: number, s?: any): RefFreq {
  const type = s?.type ?? 'default';
  if (type === 'default') return { invFreq: refDefault(d, base), attentionFactor: 1 };
  if (type === 'linear') return { invFreq: refDefault(d, base).map((f) => f / s.factor), attentionFactor: 1 };
  if (type === 'dynamic') {
    const orig = s.originalMaxPosition;
    const len = Math.max(s.seqLen ?? orig, orig);
    const b = base * Math.pow((s.factor * len) / orig - (s.factor - 1), d / (d - 2));
    return { invFreq: refDefault(d, b), attentionFactor: 1 };
  }
  if (type === 'yarn') {
    const m = (scale: number, k: number) => (scale <= 1 ? 1 : 0.1 * k * Math.log(scale) + 1);
    const af = s.attentionFactor ?? (s.mscale && s.mscaleAllDim ? m(s.factor, s.mscale) / m(s.factor, s.mscaleAllDim) : m(s.factor, 1));
    const bf = s.betaFast || 32;
    const bs = s.betaSlow || 1;
    const dimFor = (rot: number) => (d * Math.log(s.originalMaxPosition / (rot * 2 * Math.PI))) / (2 * Math.log(base));
    const trunc = s.truncate ?? true;
    let lo = trunc ? Math.floor(dimFor(bf)) : dimFor(bf);
    let hi = trunc ? Math.ceil(dimFor(bs)) : dimFor(bs);
    lo = Math.max(lo, 0);
    hi = Math.min(hi, d - 1);
    if (lo === hi) hi += 0.001;
    const invFreq = range(d / 2).map((i) => {
      const p = Math.pow(base, (2 * i) / d);
      const ramp = Math.min(1, Math.max(0, (i - lo) / (hi - lo)));
      const extra = 1 - ramp; // the extrapolation weight
      return (1 / (s.factor * p)) * (1 - extra) + (1 / p) * extra;
    });
    return { invFreq, attentionFactor: af };
  }
  if (type === 'llama3') {
    const lowWl = s.originalMaxPosition / s.lowFreqFactor;
    const highWl = s.originalMaxPosition / s.highFreqFactor;
    const invFreq = refDefault(d, base).map((f) => {
      const wl = (2 * Math.PI) / f;
      if (wl < highWl) return f; // high frequency: kept
      if (wl > lowWl) return f / s.factor; // low frequency: interpolated
      const smooth = (s.originalMaxPosition / wl - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      return ((1 - smooth) * f) / s.factor + smooth * f;
    });
    return { invFreq, attentionFactor: 1 };
  }
  if (type === 'longrope') {
    const factor = s.maxPosition !== undefined ? s.maxPosition / s.originalMaxPosition : s.factor;
    const af = s.attentionFactor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(s.originalMaxPosition)));
    const ext: ArrayLike<number> = s.seqLen !== undefined && s.seqLen > s.originalMaxPosition ? s.longFactor : s.shortFactor;
    return { invFreq: range(d / 2).map((i) => 1 / (ext[i] * Math.pow(base, (2 * i) / d))), attentionFactor: af };
  }
  throw new Error(`refFrequencies: unknown type ${type}`);
}

export interface RefRopeArgs {
  x: Float32Array;
  heads: number;
  headDim: number;
  rotaryDim: number;
  layout: Layout;
  positions: number[];
  invFreq: ArrayLike<number>;
  attentionFactor: number;
  inverse?: boolean;
}

/** The rotation in float64: pair (a, b) of each head of token t by angle ±p_t f_i, times the attention factor. */
export function refRope(o: RefRopeArgs): Float64Array {
  const { x, heads, headDim: hd, rotaryDim: rot, layout, positions, invFreq, attentionFactor: af } = o;
  const y = Float64Array.from(x);
  const half = rot / 2;
  const sign = o.inverse ? -1 : 1;
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const theta = sign * p * invFreq[i];
      const c = af * Math.cos(theta);
      const s = af * Math.sin(theta);
      for (let h = 0; h < heads; h++) {
        const row = (t * heads + h) * hd;
        const a = row + (layout === 'neox' ? i : 2 * i);
        const b = row + (layout === 'neox' ? i + half : 2 * i + 1);
        y[a] = x[a] * c - x[b] * s;
        y[b] = x[b] * c + x[a] * s;
      }
    }
  });
  return y;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}
