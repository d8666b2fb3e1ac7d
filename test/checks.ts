// Shared assertions: run an op, compare with the float64 reference, check that every output
// element was written (the output is poisoned with NaN first) and that inputs are untouched.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { capabilities, embeddingBag, gather, getThreads, setIsa, setThreads, type Isa } from '../lib/index';
import { cond } from './scatter-reference';
import { bytesOf, sameBytes, firstBitMismatch, firstMismatch, firstNaN, poisoned, refEmbeddingBag, refEmbeddingBagAbs, conditionNumber, refGather, relErr, type BagProblem, type IndexArray } from './reference';

/**
 * Relative error bound for 'sum' and 'mean' (float32 accumulation of short bags). Where the
 * random signs make a sum cancel, it is scaled by the sum's condition number (see checkBag).
 */
export const BOUND = 1e-6;

export function checkGather(table: Float32Array, dim: number, indices: IndexArray, ctx: string, outGiven: boolean) {
  const ref = refGather(table, dim, indices);
  const tableBefore = bytesOf(table);
  const indicesBefore = bytesOf(indices);
  const out = outGiven ? poisoned(ref.length) : undefined;
  const got = gather({ table, dim, indices, out });
  expect(got, ctx).toBeInstanceOf(Float32Array);
  if (out) expect(got === out, `${ctx}: returns the given out`).toBe(true);
  expect(got.length, ctx).toBe(ref.length);
  expect(firstNaN(got), `${ctx}: every output element written`).toBe(-1);
  expect(firstMismatch(got, ref), `${ctx}: gather copies rows exactly`).toBe(-1);
  expect(sameBytes(bytesOf(table), tableBefore), `${ctx}: table untouched`).toBe(true);
  expect(sameBytes(bytesOf(indices), indicesBefore), `${ctx}: indices untouched`).toBe(true);
}

/** Runs embeddingBag on `o` and checks it against the reference. */
export function checkBag(o: BagProblem, ctx: string, outGiven: boolean): Float32Array {
  const ref = refEmbeddingBag(o);
  const tableBefore = bytesOf(o.table);
  const out = outGiven ? poisoned(ref.length) : undefined;
  const got = embeddingBag({ ...o, out });
  expect(got, ctx).toBeInstanceOf(Float32Array);
  if (out) expect(got === out, `${ctx}: returns the given out`).toBe(true);
  expect(got.length, ctx).toBe(ref.length);
  expect(firstNaN(got), `${ctx}: every output element written`).toBe(-1);
  if (o.mode === 'max') {
    expect(firstMismatch(got, ref), `${ctx}: max selects table values exactly`).toBe(-1);
  }
  // Bound: ||out - ref|| / ||ref|| < BOUND x cond, where cond = ||refAbs|| / ||ref|| is the
  // condition number of the sums (exactly 1 for max, and for sums that do not cancel).
  const cond = o.mode === 'max' ? 1 : conditionNumber(ref, refEmbeddingBagAbs(o));
  expect(relErr(got, ref), `${ctx}: relative error bound ${BOUND} x cond ${cond.toPrecision(3)}`).toBeLessThan(BOUND * cond);
  expect(sameBytes(bytesOf(o.table), tableBefore), `${ctx}: table untouched`).toBe(true);
  return got;
}


/** Asserts `got` is within the bag bound of the reference for `o` (see checkBag). */
export function expectBagClose(got: Float32Array, o: BagProblem | Parameters<typeof refEmbeddingBag>[0], ctx: string): void {
  const ref = refEmbeddingBag(o);
  expect(got.length, ctx).toBe(ref.length);
  expect(firstNaN(got), `${ctx}: every output element written`).toBe(-1);
  if (o.mode === 'max') {
    expect(firstMismatch(got, ref), `${ctx}: max selects table values exactly`).toBe(-1);
    return;
  }
  const cond = conditionNumber(ref, refEmbeddingBagAbs(o));
  expect(relErr(got, ref), `${ctx}: relative error bound ${BOUND} x cond ${cond.toPrecision(3)}`).toBeLessThan(BOUND * cond);
}

const ALL_ISAS: Isa[] = ['scalar', 'avx2', 'avx512', 'neon'];

/**
 * One test per ISA: `body(isa)` runs with that path forced (setIsa) and returns how many
 * kernel calls it made; kernelCalls must show at least that many on this path and none on
 * any other. Paths this CPU cannot run are skipped with the reason in the title.
 */
/**
 * `run` on 1, 2 and 3 threads (the previous count restored afterwards, also when it throws),
 * expecting the same bits every time; returns the 1-thread result.
 */
export function expectSameBitsOnThreads(run: () => Float32Array, ctx: string): Float32Array {
  const initial = getThreads();
  const runs: Float32Array[] = [];
  try {
    for (const threads of [1, 2, 3]) {
      setThreads(threads);
      runs.push(run());
    }
  } finally {
    setThreads(initial);
  }
  for (let i = 1; i < runs.length; i++) expect(firstBitMismatch(runs[i], runs[0]), `${ctx}: ${i + 1} threads vs 1`).toBe(-1);
  return runs[0];
}

export function itOnEachIsa(what: string, body: (isa: Isa) => number): void {
  const initial = capabilities();
  const available = new Set<string>(initial.available);
  for (const isa of ALL_ISAS) {
    const ok = available.has(isa);
    const title = ok ? `isa ${isa}: ${what}` : `isa ${isa}: not available on this CPU (available: ${initial.available.join(', ')})`;
    describe.skipIf(!ok)(title, () => {
      it('matches the reference and runs on this path (kernelCalls)', () => {
        expect(setIsa(isa)).toBe(isa);
        try {
          const before = capabilities().kernelCalls;
          const calls = body(isa);
          const after = capabilities().kernelCalls;
          expect(after[isa] - before[isa], `kernelCalls.${isa}`).toBeGreaterThanOrEqual(calls);
          for (const other of ALL_ISAS) if (other !== isa) expect(after[other], `no ${other} kernel ran`).toBe(before[other]);
        } finally {
          setIsa(initial.isa);
        }
      });
    });
  }
}

/** Every typed array in an options object, nested objects (a CSR matrix) included, by path. */
function arraysOf(o: unknown, into = new Map<string, ArrayBufferView>(), prefix = ''): Map<string, ArrayBufferView> {
  if (o === null || typeof o !== 'object') return into;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (ArrayBuffer.isView(v)) into.set(prefix + k, v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) arraysOf(v, into, `${prefix}${k}.`);
  }
  return into;
}

/** Snapshots every (attached) typed array in `o`; the returned check asserts none changed. */
export function watchArrays(o: unknown): (ctx: string) => void {
  const before = new Map<string, Uint8Array>();
  for (const [k, v] of arraysOf(o)) if (v.buffer.byteLength > 0) before.set(k, bytesOf(v));
  return (ctx) => {
    const now = arraysOf(o);
    for (const [k, bytes] of before) {
      expect(sameBytes(bytesOf(now.get(k) as ArrayBufferView), bytes), `${ctx}: ${k} unchanged after the error`).toBe(true);
    }
  };
}

/**
 * Bad input: `sync(make())` throws `cls` with a message matching `message`; `async(make())`,
 * when given, does not throw but rejects the same way. `watch(o)` snapshots the arguments
 * before each call and returns the check that nothing was written, run after it.
 */
export async function expectThrowsAndRejects(
  op: string,
  make: () => unknown,
  cls: ErrorConstructor,
  message: RegExp,
  sync: (o: unknown) => unknown,
  async: ((o: unknown) => Promise<unknown>) | undefined,
  watch: (o: unknown) => (ctx: string) => void = watchArrays,
): Promise<void> {
  const o = make();
  const unchanged = watch(o);
  let error: unknown;
  try {
    sync(o);
  } catch (e) {
    error = e;
  }
  expect(error, `${op}: throws`).toBeInstanceOf(cls);
  expect((error as Error).message).toMatch(message);
  unchanged(op);
  if (!async) return;
  const o2 = make();
  const unchanged2 = watch(o2);
  let promise: Promise<unknown> | undefined;
  expect(() => {
    promise = async(o2);
  }, `${op}Async does not throw synchronously`).not.toThrow();
  const rejection = await promise!.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(rejection, `${op}Async rejects`).toBeInstanceOf(cls);
  expect((rejection as Error).message).toMatch(message);
  unchanged2(`${op}Async`);
}

/** Runs `source` (CommonJS) in a worker thread and resolves with the one message it posts. */
export function runEvalWorker<T>(source: string, workerData: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData });
    let message: unknown;
    w.once('message', (m) => (message = m));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0 || message === undefined) reject(new Error(`worker exited with code ${code} and no result`));
      else resolve(message as T);
    });
  });
}

/** sum a_i b_i in float64, and sum |a_i b_i|: one side of an adjoint identity and its rounding scale. */
export function dotAndScale(a: ArrayLike<number>, b: ArrayLike<number>): { dot: number; scale: number } {
  let dot = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    scale += Math.abs(a[i] * b[i]);
  }
  return { dot, scale };
}

/**
 * A forward that is linear in its per-sample weights w: <gradOutput, forward(w)> must equal
 * sum_p w_p x grad_p (grad: the weights' gradient), up to the float32 rounding of both sides.
 */
export function expectLinearInWeights(forward: Float32Array, gradOutput: Float32Array, weights: Float32Array, grad: Float32Array, ctx: string): void {
  const { dot: lhs, scale } = dotAndScale(forward, gradOutput);
  const { dot: rhs } = dotAndScale(grad, weights);
  expect(Math.abs(lhs - rhs), `${ctx}: ${lhs} vs ${rhs}`).toBeLessThan(1e-5 * (1 + scale));
}

/**
 * A float64 reference's bound: `got` has the reference's length, every element written (no
 * NaN left from the poisoning), and ||got - ref|| / ||ref|| < BOUND x cond(ref, abs), abs the
 * sums of the terms' magnitudes.
 */
export function expectNearReference(got: Float32Array, want: { ref: Float64Array; abs: Float64Array }, ctx: string): void {
  expect(got.length, ctx).toBe(want.ref.length);
  expect(firstNaN(got), `${ctx}: every element written`).toBe(-1);
  expect(relErr(got, want.ref), `${ctx}: bound ${BOUND} x cond`).toBeLessThan(BOUND * cond(want.ref, want.abs));
}
