// Small helpers shared by every op's option handling. Numeric and array checks live in the
// native binding (one place, one message style); here only the option object's shape and
// string enums are checked.

import { adviseFresh } from './memory';

export type IndexArray = Int32Array | Uint32Array | BigInt64Array;

export function requireOptions(options: unknown, op: string): void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${op} expects an options object, got ${options === null ? 'null' : typeof options}`);
  }
}

/**
 * Starts an async call: the options' arrays must keep their memory until it settles. A
 * resizable ArrayBuffer can shrink, and give its pages back, while the kernel runs on a
 * libuv thread, so async calls refuse views of one (a TypeError, as a rejection); sync calls
 * take them, since no JS runs during a sync call. Growable SharedArrayBuffers never shrink.
 * Arrays one object deep (a cache, a frequencies object, a matrix) are checked too.
 */
export function startAsync<R>(options: unknown, op: string, start: () => Promise<R>): Promise<R> {
  try {
    requireFixedBuffers(options, op, '');
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}

function requireFixedBuffers(o: unknown, op: string, prefix: string): void {
  if (o === null || typeof o !== 'object' || ArrayBuffer.isView(o)) return;
  for (const [key, v] of Object.entries(o)) {
    if (ArrayBuffer.isView(v)) {
      if ((v.buffer as { resizable?: boolean }).resizable === true) {
        throw new TypeError(`${op}: ${prefix}${key}'s ArrayBuffer is resizable, and could shrink while the call runs; pass a fixed-size copy, or use the sync form`);
      }
    } else if (prefix === '' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      requireFixedBuffers(v, op, `${key}.`);
    }
  }
}

/** The position of `value` in `names`, or a TypeError naming the option and its choices. */
export function enumCode<T extends string>(value: unknown, names: readonly T[], option: string): number {
  const code = names.indexOf(value as T);
  if (code < 0) {
    throw new TypeError(`${option} must be one of ${names.map((n) => `'${n}'`).join(', ')}, got ${describe(value)}`);
  }
  return code;
}

/**
 * An op's returnArgmax option: without it, `call(undefined)`'s result; with it, `{ out, argmax }`
 * (once the call settles, for an async one), `argmax` being what `winners()` made (the
 * caller's destination or fresh arrays) and `call(argmax)` having filled it.
 */
export function withArgmax<A>(returnArgmax: unknown, winners: () => A, call: (argmax: A | undefined) => unknown): unknown {
  if (returnArgmax === undefined || returnArgmax === false) return call(undefined);
  if (returnArgmax !== true) throw new TypeError(`returnArgmax must be a boolean, got ${describe(returnArgmax)}`);
  const argmax = winners();
  const result = call(argmax);
  if (result instanceof Promise) return result.then((out: unknown) => ({ out, argmax }));
  return { out: result, argmax };
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return value.constructor?.name ?? 'object';
}

/** The element count of a typed array, or -1 for anything else (the binding reports it). */
export function lengthOf(value: unknown): number {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) ? (value as Int32Array).length : -1;
}

/**
 * A fresh output of rows x dim floats, allocated here because a JS allocation is far cheaper
 * than one made from native code. When the shape is not plausible this returns undefined and
 * the binding names the bad argument; when memory runs out it is a RangeError.
 */
export function freshOutput(rows: number, dim: unknown, shape: string): Float32Array | undefined {
  if (rows < 0 || typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 1) return undefined;
  const n = rows * dim;
  if (!Number.isSafeInteger(n)) return undefined;
  let out: Float32Array;
  try {
    out = new Float32Array(n);
  } catch {
    throw new RangeError(`cannot allocate the output of ${n} floats (${shape} = ${rows} x ${dim})`);
  }
  return adviseFresh(out);
}

