// The RoPE family: rotary position embedding of q and k (NeoX and GPT-J layouts, partial
// rotary, inverse), the inverse frequencies of every scaling Hugging Face transformers ships,
// and re-rotation of cached keys to new positions or new frequencies.
//
// Frequencies are O(rotaryDim) and computed here in float64; the kernels take them with the
// attention factor, compute each token's angles position x frequency in float64 (range
// reduction and sin/cos included) once per token and rotate every head in float32.
import { native } from './native';
import { describe, enumCode, requireOptions, startAsync } from './options';

/** Per-token positions: one non-negative position per token. */
export type PositionArray = Int32Array | Uint32Array | BigInt64Array;

export type RopeLayout = 'neox' | 'gptj';
const LAYOUTS: readonly RopeLayout[] = ['neox', 'gptj'];

/**
 * RoPE scaling, as in Hugging Face transformers' `rope_scaling` (`modeling_rope_utils.py`),
 * with camelCase names. `d` below is `rotaryDim`, `i` runs over the `d / 2` pairs and
 * `f_i = base^(-2i/d)` is the default inverse frequency.
 */
export type RopeScaling =
  | { type: 'default' }
  /** Position interpolation: `f_i / factor`. Attention factor 1. */
  | { type: 'linear'; factor: number }
  /**
   * Dynamic NTK: `base' = base * (factor * L / originalMaxPosition - (factor - 1))^(d / (d - 2))`
   * with `L = max(seqLen, originalMaxPosition)` (seqLen defaults to originalMaxPosition, which
   * leaves the frequencies unscaled), then `f_i = base'^(-2i/d)`. Attention factor 1.
   * originalMaxPosition plays transformers' `max_position_embeddings`.
   */
  | { type: 'dynamic'; factor: number; originalMaxPosition: number; seqLen?: number }
  /**
   * YaRN: with `corr(r) = d * ln(originalMaxPosition / (2 pi r)) / (2 ln base)`,
   * `low = max(floor(corr(betaFast)), 0)`, `high = min(ceil(corr(betaSlow)), d - 1)` (no
   * floor / ceil when `truncate` is false), `ramp_i = clamp((i - low) / (high - low), 0, 1)`
   * (high + 0.001 when equal) and `e_i = 1 - ramp_i`:
   * `inv_i = f_i / factor * (1 - e_i) + f_i * e_i`.
   * Attention factor: `attentionFactor` if given, else `m(factor, mscale) / m(factor, mscaleAllDim)`
   * when both are given and non-zero, else `m(factor, 1)`, where `m(s, k) = 1` for `s <= 1`
   * and `0.1 k ln s + 1` otherwise. betaFast defaults to 32, betaSlow to 1.
   */
  | {
      type: 'yarn';
      factor: number;
      originalMaxPosition: number;
      betaFast?: number;
      betaSlow?: number;
      mscale?: number;
      mscaleAllDim?: number;
      attentionFactor?: number;
      truncate?: boolean;
    }
  /**
   * Llama 3.1: wavelength `w_i = 2 pi / f_i`; `w_i > originalMaxPosition / lowFreqFactor`:
   * `f_i / factor`; `w_i < originalMaxPosition / highFreqFactor`: `f_i`; between:
   * `(1 - s) f_i / factor + s f_i` with `s = (originalMaxPosition / w_i - lowFreqFactor) /
   * (highFreqFactor - lowFreqFactor)`. Attention factor 1.
   */
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPosition: number }
  /**
   * LongRoPE (Phi-3): `inv_i = 1 / (ext_i * base^(2i/d))` with `ext = longFactor` when
   * `seqLen > originalMaxPosition`, else `shortFactor` (d / 2 entries each). The factor is
   * `maxPosition / originalMaxPosition` when maxPosition is given, else `factor`; attention
   * factor: `attentionFactor` if given, else 1 for factor <= 1, else
   * `sqrt(1 + ln(factor) / ln(originalMaxPosition))`.
   */
  | {
      type: 'longrope';
      shortFactor: ArrayLike<number>;
      longFactor: ArrayLike<number>;
      originalMaxPosition: number;
      factor?: number;
      maxPosition?: number;
      seqLen?: number;
      attentionFactor?: number;
    };

export type RopeScalingType = RopeScaling['type'];
const SCALING_TYPES: readonly RopeScalingType[] = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'];

export interface RopeFrequencies {
  /** `rotaryDim / 2` inverse frequencies (radians per position), float64. */
  invFreq: Float64Array;
  /** Multiplies cos and sin (transformers' `attention_scaling`). */
  attentionFactor: number;
}

export interface RopeFrequenciesOptions {
  /** The rotated width of a head: even, >= 2. */
  rotaryDim: number;
  /** The RoPE base (theta), finite and > 1. */
  base: number;
  scaling?: RopeScaling;
}

// ---- option checks -------------------------------------------------------------------------

function requireNumber(v: unknown, name: string): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number, got ${v}`);
  return v;
}

function positive(v: unknown, name: string): number {
  const x = requireNumber(v, name);
  if (!(x > 0)) throw new RangeError(`${name} must be > 0, got ${x}`);
  return x;
}

function optionalNumber(v: unknown, name: string): number | undefined {
  return v === undefined || v === null ? undefined : requireNumber(v, name);
}

// The widest rotary width frequencies are computed for: far beyond any model (head dims are
// at most a few hundred), small enough that a mistaken size cannot allocate gigabytes.
const MAX_ROTARY_DIM = 65536;

function rotaryDimOf(v: unknown, name: string): number {
  const d = requireNumber(v, name);
  if (!Number.isInteger(d)) throw new RangeError(`${name} must be an integer, got ${d}`);
  if (d < 2 || d > MAX_ROTARY_DIM) throw new RangeError(`${name} must be from 2 to ${MAX_ROTARY_DIM}, got ${d}`);
  if (d % 2 !== 0) throw new RangeError(`${name} must be even, got ${d}`);
  return d;
}

function factorArray(v: unknown, name: string, half: number): ArrayLike<number> {
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`${name} must be an array of numbers, got ${describe(v)}`);
  }
  const a = v as ArrayLike<number>;
  if (a.length !== half) throw new RangeError(`${name}.length must be rotaryDim / 2 = ${half}, got ${a.length}`);
  for (let i = 0; i < half; i++) positive(a[i], `${name}[${i}]`);
  return a;
}

// ---- frequencies ---------------------------------------------------------------------------

/** f_i = base^(-2i/d), i < d/2 (transformers' `_compute_default_rope_parameters`). */
function defaultInvFreq(d: number, base: number): Float64Array {
  const f = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) f[i] = 1 / base ** ((2 * i) / d);
  return f;
}

function yarnMscale(scale: number, m: number): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

function computeFrequencies(d: number, baseArg: unknown, scaling: unknown): RopeFrequencies {
  const base = requireNumber(baseArg, 'base');
  if (!(base > 1)) throw new RangeError(`base must be > 1, got ${base}`);
  if (scaling === undefined || scaling === null) return { invFreq: defaultInvFreq(d, base), attentionFactor: 1 };
  if (typeof scaling !== 'object') throw new TypeError(`scaling must be an object, got ${describe(scaling)}`);
  const s = scaling as Record<string, unknown>;
  const type = SCALING_TYPES[enumCode(s.type, SCALING_TYPES, 'scaling.type')];
  const half = d / 2;
  switch (type) {
    case 'default':
      return { invFreq: defaultInvFreq(d, base), attentionFactor: 1 };
    case 'linear': {
      // _compute_linear_scaling_rope_parameters: inv_freq / factor.
      const factor = positive(s.factor, 'scaling.factor');
      const f = defaultInvFreq(d, base);
      for (let i = 0; i < half; i++) f[i] /= factor;
      return { invFreq: f, attentionFactor: 1 };
    }
    case 'dynamic': {
      // _compute_dynamic_ntk_parameters.
      const factor = positive(s.factor, 'scaling.factor');
      const orig = positive(s.originalMaxPosition, 'scaling.originalMaxPosition');
      const seqLen = optionalNumber(s.seqLen, 'scaling.seqLen');
      if (d <= 2) throw new RangeError(`dynamic scaling needs rotaryDim > 2 (the exponent is d / (d - 2)), got ${d}`);
      const len = seqLen !== undefined && seqLen > orig ? seqLen : orig;
      const scaledBase = base * ((factor * len) / orig - (factor - 1)) ** (d / (d - 2));
      if (!(scaledBase > 1) || !Number.isFinite(scaledBase)) {
        throw new RangeError(`dynamic scaling gives base ${scaledBase} for factor ${factor}, seqLen ${len}; it must be finite and > 1`);
      }
      return { invFreq: defaultInvFreq(d, scaledBase), attentionFactor: 1 };
    }
    case 'yarn': {
      // _compute_yarn_parameters.
      const factor = positive(s.factor, 'scaling.factor');
      const orig = positive(s.originalMaxPosition, 'scaling.originalMaxPosition');
      const betaFast = optionalNumber(s.betaFast, 'scaling.betaFast') || 32;
      const betaSlow = optionalNumber(s.betaSlow, 'scaling.betaSlow') || 1;
      const mscale = optionalNumber(s.mscale, 'scaling.mscale');
      const mscaleAllDim = optionalNumber(s.mscaleAllDim, 'scaling.mscaleAllDim');
      let attentionFactor = optionalNumber(s.attentionFactor, 'scaling.attentionFactor');
      if (s.truncate !== undefined && typeof s.truncate !== 'boolean') {
        throw new TypeError(`scaling.truncate must be a boolean, got ${describe(s.truncate)}`);
      }
      const truncate = s.truncate ?? true;
      if (attentionFactor === undefined) {
        attentionFactor = mscale && mscaleAllDim
          ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
          : yarnMscale(factor, 1);
      }
      if (!(attentionFactor > 0)) throw new RangeError(`scaling.attentionFactor must be > 0, got ${attentionFactor}`);
      const corr = (rotations: number) => (d * Math.log(orig / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
      let low = corr(betaFast);
      let high = corr(betaSlow);
      if (truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, d - 1);
      if (low === high) high += 0.001;
      const f = new Float64Array(half);
      for (let i = 0; i < half; i++) {
        const pos = base ** ((2 * i) / d);
        const extrapolation = 1 / pos;
        const interpolation = 1 / (factor * pos);
        const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
        const e = 1 - ramp;
        f[i] = interpolation * (1 - e) + extrapolation * e;
      }
      return { invFreq: f, attentionFactor };
    }
    case 'llama3': {
      // _compute_llama3_parameters.
      const factor = positive(s.factor, 'scaling.factor');
      const lowFreqFactor = positive(s.lowFreqFactor, 'scaling.lowFreqFactor');
      const highFreqFactor = positive(s.highFreqFactor, 'scaling.highFreqFactor');
      const orig = positive(s.originalMaxPosition, 'scaling.originalMaxPosition');
      if (!(highFreqFactor > lowFreqFactor)) {
        throw new RangeError(`scaling.highFreqFactor must be greater than scaling.lowFreqFactor, got ${highFreqFactor} and ${lowFreqFactor}`);
      }
      const lowWavelen = orig / lowFreqFactor;
      const highWavelen = orig / highFreqFactor;
      const f = defaultInvFreq(d, base);
      for (let i = 0; i < half; i++) {
        const wavelen = (2 * Math.PI) / f[i];
        const g = wavelen > lowWavelen ? f[i] / factor : f[i];
        if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
          const smooth = (orig / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
          f[i] = ((1 - smooth) * g) / factor + smooth * g;
        } else {
          f[i] = g;
        }
      }
      return { invFreq: f, attentionFactor: 1 };
    }
    case 'longrope': {
      // _compute_longrope_parameters.
      const shortFactor = factorArray(s.shortFactor, 'scaling.shortFactor', half);
      const longFactor = factorArray(s.longFactor, 'scaling.longFactor', half);
      const orig = positive(s.originalMaxPosition, 'scaling.originalMaxPosition');
      const maxPosition = optionalNumber(s.maxPosition, 'scaling.maxPosition');
      const seqLen = optionalNumber(s.seqLen, 'scaling.seqLen');
      let attentionFactor = optionalNumber(s.attentionFactor, 'scaling.attentionFactor');
      let factor: number;
      if (maxPosition !== undefined) {
        factor = maxPosition / positive(orig, 'scaling.originalMaxPosition');
      } else {
        factor = positive(s.factor, 'scaling.factor (or scaling.maxPosition)');
      }
      if (attentionFactor === undefined) {
        attentionFactor = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(orig));
      }
      if (!(attentionFactor > 0) || !Number.isFinite(attentionFactor)) {
        throw new RangeError(`scaling.attentionFactor must be a finite number > 0, got ${attentionFactor}`);
      }
      const ext = seqLen !== undefined && seqLen > orig ? longFactor : shortFactor;
      const f = new Float64Array(half);
      for (let i = 0; i < half; i++) f[i] = 1 / (ext[i] * base ** ((2 * i) / d));
      return { invFreq: f, attentionFactor };
    }
  }
  throw new TypeError(`unknown scaling type ${describe(type)}`);
}

/**
 * The inverse frequencies and attention factor of a RoPE configuration, computed in float64
 * with the formulas of Hugging Face transformers' `modeling_rope_utils.py` (see
 * {@link RopeScaling} for each). Pass the result as `frequencies` to {@link rope} to skip
 * recomputing it per call.
 */
export function ropeFrequencies(options: RopeFrequenciesOptions): RopeFrequencies {
  requireOptions(options, 'ropeFrequencies');
  const d = rotaryDimOf(options.rotaryDim, 'rotaryDim');
  return computeFrequencies(d, options.base, options.scaling);
}

// Unscaled frequencies are cached by (rotaryDim, base): a decode step then costs no pow().
const defaultCache = new Map<string, RopeFrequencies>();
let lastDim = 0;
let lastBase = NaN;
let lastFreq: RopeFrequencies | undefined;

function frequenciesFor(o: { rotaryDim?: number; headDim: number; base?: number; frequencies?: RopeFrequencies; scaling?: RopeScaling }, op: string): RopeFrequencies {
  const hasBase = o.base !== undefined && o.base !== null;
  const hasFreq = o.frequencies !== undefined && o.frequencies !== null;
  if (hasBase === hasFreq) throw new TypeError(`${op} needs exactly one of base and frequencies`);
  if (hasFreq) {
    if (o.scaling !== undefined && o.scaling !== null) {
      throw new TypeError('scaling applies with base; frequencies already include it');
    }
    const f = o.frequencies as unknown;
    if (f === null || typeof f !== 'object') throw new TypeError(`frequencies must be an object { invFreq, attentionFactor }, got ${describe(f)}`);
    return f as RopeFrequencies;
  }
  const given = o.rotaryDim !== undefined && o.rotaryDim !== null;
  const d = rotaryDimOf(given ? o.rotaryDim : o.headDim, given ? 'rotaryDim' : 'headDim');
  if (o.scaling === undefined || o.scaling === null) {
    if (typeof o.base === 'number') {
      if (d === lastDim && o.base === lastBase && lastFreq) return lastFreq;
      const key = `${d}|${o.base}`;
      let f = defaultCache.get(key);
      if (!f) {
        f = computeFrequencies(d, o.base, undefined);
        if (defaultCache.size >= 64) defaultCache.clear();
        defaultCache.set(key, f);
      }
      lastDim = d;
      lastBase = o.base;
      lastFreq = f;
      return f;
    }
  }
  return computeFrequencies(d, o.base, o.scaling);
}

// ---- rope ----------------------------------------------------------------------------------

export interface RopeOptions {
  /** Queries: tokens x numHeads x headDim float32, rotated in place unless `out` is given. */
  q: Float32Array;
  /** Keys: tokens x numKvHeads x headDim float32, rotated in place unless `outK` is given. */
  k?: Float32Array;
  numHeads: number;
  /** Heads of k (GQA / MQA); defaults to numHeads. */
  numKvHeads?: number;
  /** Even. */
  headDim: number;
  /** The rotated leading width of each head (even, <= headDim; default headDim). The rest is untouched. */
  rotaryDim?: number;
  /** One position per token. Give this or `offset`. */
  positions?: PositionArray;
  /** Token t is at position offset + t (default 0 when positions is not given). */
  offset?: number;
  /** 'neox': pairs (i, i + rotaryDim/2); 'gptj': pairs (2i, 2i + 1). */
  layout: RopeLayout;
  /** The RoPE base (theta). Give this (with optional `scaling`) or `frequencies`. */
  base?: number;
  scaling?: RopeScaling;
  /** From {@link ropeFrequencies}: precomputed inverse frequencies and attention factor. */
  frequencies?: RopeFrequencies;
  /**
   * From {@link ropeCache}: precomputed cos/sin tables (instead of base / frequencies). Gives
   * the same bits as the frequencies it was made from; every position must be below
   * `cache.maxPosition`.
   */
  cache?: RopeCache;
  /** Rotate by -theta (with the same attention factor): the transpose, i.e. the backward pass. */
  inverse?: boolean;
  /** Destination for q's result (q is then only read). */
  out?: Float32Array;
  /** Destination for k's result (k is then only read). */
  outK?: Float32Array;
}

export interface RopeResult {
  /** The rotated queries (`out`, or `q` itself). */
  q: Float32Array;
  /** The rotated keys (`outK`, or `k` itself), when k was given. */
  k: Float32Array | undefined;
}

type NativeRope<R> = (
  q: unknown, k: unknown, numHeads: unknown, numKvHeads: unknown, headDim: unknown, rotaryDim: unknown, layout: number,
  positions: unknown, offset: unknown, invFreq: unknown, attentionFactor: unknown, inverse: unknown, out: unknown, outK: unknown,
  cacheCos?: unknown, cacheSin?: unknown,
) => R;

export function callRope<R>(fn: NativeRope<R>, o: RopeOptions, op: string): R {
  requireOptions(o, op);
  const layout = enumCode(o.layout, LAYOUTS, 'layout');
  if (o.cache !== undefined && o.cache !== null) {
    const c = cacheFor(o, op);
    return fn(o.q, o.k, o.numHeads, o.numKvHeads, o.headDim, o.rotaryDim, layout, o.positions, o.offset,
      undefined, undefined, o.inverse ?? false, o.out, o.outK, c.cos, c.sin);
  }
  const f = frequenciesFor(o, op);
  return fn(o.q, o.k, o.numHeads, o.numKvHeads, o.headDim, o.rotaryDim, layout, o.positions, o.offset,
    f.invFreq, f.attentionFactor, o.inverse ?? false, o.out, o.outK);
}

// The cache of a rope call, checked against the call's rotaryDim (the binding checks the
// arrays' lengths and the positions against them).
function cacheFor(o: RopeOptions, op: string): RopeCache {
  if (o.base !== undefined || o.frequencies !== undefined || o.scaling !== undefined) {
    throw new TypeError(`${op}: give base / scaling / frequencies or cache, not both`);
  }
  const c = o.cache as unknown;
  if (typeof c !== 'object' || c === null) {
    throw new TypeError(`cache must be an object from ropeCache, got ${describe(c)}`);
  }
  const cache = c as RopeCache;
  const given = o.rotaryDim !== undefined && o.rotaryDim !== null;
  const d = given ? o.rotaryDim : o.headDim;
  if (cache.rotaryDim !== d) {
    throw new RangeError(`cache.rotaryDim ${String(cache.rotaryDim)} must equal the call's ${given ? 'rotaryDim' : 'headDim'} ${String(d)}`);
  }
  return cache;
}

/**
 * Rotary position embedding: for each token at position p and each pair i of the first
 * rotaryDim columns of every head of q (and k), `(x1, x2) -> a * (x1 cos - x2 sin, x2 cos +
 * x1 sin)` with angle `p * invFreq[i]` and attention factor `a` (by -angle with `inverse`).
 * Angles and sin/cos are computed in float64 once per token (error < 1e-6 up to position
 * 2^22 and beyond), then applied to all heads in float32.
 */
export function rope(options: RopeOptions): RopeResult {
  const q = callRope(native().rope, options, 'rope');
  return { q, k: options.k === undefined || options.k === null ? undefined : (options.outK ?? options.k) };
}

/** {@link rope} on the libuv thread pool; the arrays are held until the promise settles. */
export function ropeAsync(options: RopeOptions): Promise<RopeResult> {
  return startAsync(options, 'ropeAsync', () => {
    const promise = callRope(native().ropeAsync, options, 'ropeAsync');
    const k = options.k === undefined || options.k === null ? undefined : (options.outK ?? options.k);
    return promise.then((q) => ({ q, k }));
  });
}

// ---- cos/sin cache ------------------------------------------------------------------------

/** Precomputed RoPE tables for positions 0 .. maxPosition - 1 (from {@link ropeCache}). */
export interface RopeCache {
  readonly rotaryDim: number;
  readonly maxPosition: number;
  /** The attention factor, already multiplied into cos and sin. */
  readonly attentionFactor: number;
  /** maxPosition x rotaryDim / 2: row p holds `attentionFactor * cos(p * invFreq[i])`, rounded to float32. */
  readonly cos: Float32Array;
  /** maxPosition x rotaryDim / 2: row p holds `attentionFactor * sin(p * invFreq[i])`, rounded to float32. */
  readonly sin: Float32Array;
}

export interface RopeCacheOptions {
  rotaryDim: number;
  /** Rows: positions 0 .. maxPosition - 1 can be looked up. */
  maxPosition: number;
  /** The RoPE base; give this (with optional `scaling`) or `frequencies`. */
  base?: number;
  scaling?: RopeScaling;
  frequencies?: RopeFrequencies;
}

/**
 * Precomputes the cos/sin tables of positions 0 .. maxPosition - 1 (angles in float64 as
 * {@link rope} computes them, attention factor included), trading `maxPosition x rotaryDim x
 * 4` bytes for the per-token sin/cos. `rope({ ..., cache })` then gives exactly the bits of
 * `rope({ ..., frequencies })`. Built on the thread pool.
 */
export function ropeCache(options: RopeCacheOptions): RopeCache {
  requireOptions(options, 'ropeCache');
  const d = rotaryDimOf(options.rotaryDim, 'rotaryDim');
  const maxPosition = requireNumber(options.maxPosition, 'maxPosition');
  if (!Number.isSafeInteger(maxPosition) || maxPosition < 1) {
    throw new RangeError(`maxPosition must be a positive integer, got ${maxPosition}`);
  }
  const f = frequenciesFor({ rotaryDim: d, headDim: d, base: options.base, scaling: options.scaling, frequencies: options.frequencies }, 'ropeCache');
  const n = maxPosition * (d / 2);
  let cos: Float32Array;
  let sin: Float32Array;
  try {
    cos = new Float32Array(n);
    sin = new Float32Array(n);
  } catch {
    throw new RangeError(`cannot allocate a cache of 2 x ${n} floats (maxPosition ${maxPosition} x rotaryDim / 2 ${d / 2})`);
  }
  native().ropeCacheFill(cos, sin, d, f.invFreq, f.attentionFactor);
  return Object.freeze({ rotaryDim: d, maxPosition, attentionFactor: f.attentionFactor, cos, sin });
}

// ---- rerotate ------------------------------------------------------------------------------

export interface RopeRerotateOptions {
  /** Cached keys already rotated at `from`: tokens x numKvHeads x headDim, rotated in place unless `out` is given. */
  k: Float32Array;
  numKvHeads: number;
  headDim: number;
  rotaryDim?: number;
  layout: RopeLayout;
  /** The positions the keys were rotated at (or `fromOffset`, default 0). */
  fromPositions?: PositionArray;
  fromOffset?: number;
  /** The positions to move them to (or `toOffset`, default 0). */
  toPositions?: PositionArray;
  toOffset?: number;
  /** One frequency set (base + scaling, or frequencies): keys move from `from` to `to` positions. */
  base?: number;
  scaling?: RopeScaling;
  frequencies?: RopeFrequencies;
  /**
   * Two frequency sets (e.g. a LongRoPE short -> long switch): the keys were rotated with
   * fromFrequencies at `from` and end as if rotated with toFrequencies at `to`, their
   * attention factor changed from one to the other.
   */
  fromFrequencies?: RopeFrequencies;
  toFrequencies?: RopeFrequencies;
  out?: Float32Array;
}

type NativeRerotate<R> = (
  k: unknown, numKvHeads: unknown, headDim: unknown, rotaryDim: unknown, layout: number, fromPositions: unknown,
  fromOffset: unknown, toPositions: unknown, toOffset: unknown, fromInvFreq: unknown, fromFactor: unknown,
  toInvFreq: unknown, toFactor: unknown, out: unknown,
) => R;

export function callRerotate<R>(fn: NativeRerotate<R>, o: RopeRerotateOptions, op: string): R {
  requireOptions(o, op);
  const layout = enumCode(o.layout, LAYOUTS, 'layout');
  const twoSets = (o.fromFrequencies !== undefined && o.fromFrequencies !== null) ||
    (o.toFrequencies !== undefined && o.toFrequencies !== null);
  if (twoSets) {
    if (!o.fromFrequencies || !o.toFrequencies || typeof o.fromFrequencies !== 'object' || typeof o.toFrequencies !== 'object') {
      throw new TypeError(`${op} needs both fromFrequencies and toFrequencies (objects from ropeFrequencies)`);
    }
    if (o.base !== undefined || o.frequencies !== undefined || o.scaling !== undefined) {
      throw new TypeError(`${op}: give base / scaling / frequencies, or fromFrequencies and toFrequencies, not both`);
    }
    const from = o.fromFrequencies;
    const to = o.toFrequencies;
    return fn(o.k, o.numKvHeads, o.headDim, o.rotaryDim, layout, o.fromPositions, o.fromOffset, o.toPositions,
      o.toOffset, from.invFreq, from.attentionFactor, to.invFreq, to.attentionFactor, o.out);
  }
  const f = frequenciesFor(o, op);
  return fn(o.k, o.numKvHeads, o.headDim, o.rotaryDim, layout, o.fromPositions, o.fromOffset, o.toPositions,
    o.toOffset, undefined, undefined, f.invFreq, undefined, o.out);
}

/**
 * Re-rotates cached keys without recomputing them: a key rotated at position `from` becomes
 * the key rotated at `to` (R(to) R(from)^T = R(to - from), the difference taken exactly in
 * integers), e.g. after a context shift; or, with fromFrequencies / toFrequencies, from one
 * frequency set to another (angle `to * g_i - from * f_i` in float64, magnitude scaled by
 * toFrequencies.attentionFactor / fromFrequencies.attentionFactor).
 */
export function ropeRerotate(options: RopeRerotateOptions): Float32Array {
  return callRerotate(native().ropeRerotate, options, 'ropeRerotate');
}

/** {@link ropeRerotate} on the libuv thread pool. */
export function ropeRerotateAsync(options: RopeRerotateOptions): Promise<Float32Array> {
  return startAsync(options, 'ropeRerotateAsync', () => callRerotate(native().ropeRerotateAsync, options, 'ropeRerotateAsync'));
}
