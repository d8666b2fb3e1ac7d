// embeddingBag's and hashedEmbeddingBag's returnArgmax on every ISA (the SIMD kernels and
// the scalar oracle), against a reference written from the definition: for each bag and
// column, the first non-padding entry whose value the max took (a later one only when
// strictly greater: never a NaN, never an equal value, -0 and +0 included), its id (for a
// hashed bag the row the id hashed to; a pruned id reads nothing), -1 and 0 for a bag with
// no such entry. Tables hold values from a small set (many ties), NaN and both zeros, in
// every stored format; dims cover whole blocks, single vectors and masked tails.
import { describe, expect } from 'vitest';
import {
  dequantizeTable,
  embeddingBag,
  hashedEmbeddingBag,
  pruneTable,
  quantizeTable,
  type TableFormat,
} from '../lib/index';
import { Rng, bagOptions, describeCase, firstBitMismatch, freshSeed, randomLengths, type IndexKind } from './reference';
import { refHashedRow } from './compress-reference';
import { itOnEachIsa } from './checks';

const DIMS = [1, 3, 8, 15, 16, 17, 33, 64, 100, 128, 129];
const FORMATS: readonly TableFormat[] = ['f32', 'f16', 'bf16', 'q8', 'q4'];
const KINDS: readonly IndexKind[] = ['int32', 'uint32', 'int64'];

/** rows x dim values from a small set with NaN and both zeros (f32 tables), or plain values to quantize. */
function specialTable(rng: Rng, rows: number, dim: number, specials: boolean): Float32Array {
  const values = [-2, -1, -0, 0, 1, 2, -Infinity, Infinity, Number.NaN];
  return Float32Array.from({ length: rows * dim }, () => (specials ? values[rng.int(0, values.length - 1)] : rng.int(-3, 3) / 2));
}

/**
 * The definition: `read(id)` is the row an id reads (-1: none), `winnerOf(id)` what argmax
 * records for it, `table` the decoded rows.
 */
function refMaxArgmax(
  table: Float32Array, dim: number, ids: number[], lengths: number[], padding: number | undefined,
  read: (id: number) => number, winnerOf: (id: number) => number,
): { out: Float32Array; argmax: Int32Array } {
  const out = new Float32Array(lengths.length * dim);
  const argmax = new Int32Array(lengths.length * dim).fill(-1);
  let p0 = 0;
  lengths.forEach((length, b) => {
    for (let c = 0; c < dim; c++) {
      let taken = false;
      for (let p = p0; p < p0 + length; p++) {
        const r = ids[p] === padding ? -1 : read(ids[p]);
        if (r < 0) continue;
        const v = table[r * dim + c];
        if (!taken || v > out[b * dim + c]) {
          out[b * dim + c] = v;
          argmax[b * dim + c] = winnerOf(ids[p]);
          taken = true;
        }
      }
    }
    p0 += length;
  });
  return { out, argmax };
}

function expectSame(got: { out: Float32Array; argmax: Int32Array }, want: { out: Float32Array; argmax: Int32Array }, ctx: string): void {
  expect(firstBitMismatch(got.out, want.out), `${ctx}: out`).toBe(-1);
  const bad = want.argmax.findIndex((w, e) => got.argmax[e] !== w);
  expect(bad, `${ctx}: argmax[${bad}] = ${got.argmax[bad]}, want ${want.argmax[bad]}`).toBe(-1);
}

describe('returnArgmax', () => {
  itOnEachIsa('plain f32 bags with NaN, both zeros and ties: the definition, and out = max without argmax', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const dim of DIMS) {
      for (const kind of KINDS) {
        const rows = rng.int(1, 30);
        const table = specialTable(rng, rows, dim, true);
        const lengths = randomLengths(rng, rng.int(1, 12), 9);
        const ids = Array.from({ length: lengths.reduce((s, x) => s + x, 0) }, () => rng.int(0, rows - 1));
        const paddingIdx = rng.bool() ? rng.int(0, rows - 1) : undefined;
        const o = bagOptions({ table, dim, mode: 'max', paddingIdx }, ids, lengths, rng.pick(['offsets', 'lengths'] as const), kind);
        const ctx = describeCase({ seed, dim, kind, rows, paddingIdx });
        const got = embeddingBag({ ...o, returnArgmax: true });
        expectSame(got, refMaxArgmax(table, dim, ids, lengths, paddingIdx, (id) => id, (id) => id), ctx);
        expect(firstBitMismatch(embeddingBag(o), got.out), `${ctx}: out without argmax`).toBe(-1);
        calls += 2;
      }
    }
    return calls;
  });

  itOnEachIsa('every stored format, a pruned table (ids) and a hashed bag (rows)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const format of FORMATS) {
      for (const dim of [1, 7, 16, 33, 128]) {
        const rows = rng.int(2, 30);
        const stored = quantizeTable({ table: specialTable(rng, rows, dim, format === 'f32'), dim, format });
        const decoded = dequantizeTable({ table: stored });
        const lengths = randomLengths(rng, rng.int(1, 10), 9);
        const n = lengths.reduce((s, x) => s + x, 0);
        const ctx = describeCase({ seed, format, dim, rows });

        const ids = Array.from({ length: n }, () => rng.int(0, rows - 1));
        const o = bagOptions({ table: decoded, dim, mode: 'max' }, ids, lengths, 'offsets', 'int32');
        expectSame(embeddingBag({ ...o, table: stored, dim: undefined, returnArgmax: true }),
          refMaxArgmax(decoded, dim, ids, lengths, undefined, (id) => id, (id) => id), `${ctx}: stored`);

        // Pruned: keep every other row; ids are original ids, some pruned (they read nothing).
        const keep = Int32Array.from({ length: rows }, (_, r) => r).filter((r) => r % 2 === 0);
        const pruned = pruneTable({ table: stored, keep });
        const keptDecoded = dequantizeTable({ table: pruned.table });
        const remap = pruned.remap;
        const pad = rng.bool() ? 1 : undefined;
        expectSame(
          embeddingBag({ ...o, table: pruned.table, dim: undefined, remap, paddingIdx: pad, returnArgmax: true }),
          refMaxArgmax(keptDecoded, dim, ids, lengths, pad, (id) => remap[id], (id) => id), `${ctx}: pruned`);

        // Hashed: ids past 2^31; the winners are rows.
        const hashedIds = Array.from({ length: n }, () => rng.int(0, 2 ** 40));
        const hashSeed = rng.int(0, 1000);
        const hashedPad = rng.bool() && n > 0 ? hashedIds[0] : undefined;
        const rowOf = (id: number) => refHashedRow(BigInt(id), BigInt(hashSeed), rows);
        const h = bagOptions({ table: decoded, dim, mode: 'max' }, hashedIds, lengths, 'lengths', 'int64');
        expectSame(
          hashedEmbeddingBag({ ...h, table: stored, dim: undefined, seed: hashSeed, paddingIdx: hashedPad, returnArgmax: true }),
          refMaxArgmax(decoded, dim, hashedIds, lengths, hashedPad, rowOf, rowOf), `${ctx}: hashed`);
        calls += 3;
      }
    }
    return calls;
  });
});
