// Hostile values for every option of the CUDA ops: each call must throw a TypeError or
// RangeError with the output untouched, or succeed. (The CPU suite's fast-check generator is
// not used here: the lent GPU machine carries only vitest. The list below is walked
// exhaustively instead: every option x every hostile value.)
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceArray, cuda } from '../../lib/index';
import { gpuReady } from './setup';

const live: DeviceArray[] = [];
function keep<T extends DeviceArray>(d: T): T {
  live.push(d);
  return d;
}
afterAll(() => live.forEach((d) => d.dispose()));

function hostileValues(): Array<[string, () => unknown]> {
  return [
    ['undefined', () => undefined], ['null', () => null], ['NaN', () => Number.NaN], ['-1', () => -1],
    ['1.5', () => 1.5], ['2^53', () => 2 ** 53], ['Infinity', () => Infinity], ['string', () => '4'],
    ['BigInt', () => 4n], ['object', () => ({})], ['host Float32Array', () => new Float32Array(8)],
    ['host Int32Array', () => Int32Array.of(0, 1)],
    ['disposed', () => { const d = DeviceArray.fromHost(Int32Array.of(0)); d.dispose(); return d; }],
    ['uint8 device array', () => keep(DeviceArray.fromHost(new Uint8Array(12)))],
    ['float32 device array', () => keep(DeviceArray.fromHost(new Float32Array(12)))],
    ['int32 device array, out of range', () => keep(DeviceArray.fromHost(Int32Array.of(0, 99)))],
    ['int64 device array, negative', () => keep(DeviceArray.fromHost(BigInt64Array.of(-1n, 0n)))],
    ['uint32 device array at 2^32-1', () => keep(DeviceArray.fromHost(Uint32Array.of(4294967295)))],
  ];
}

describe.skipIf(!gpuReady)('cuda ops under hostile options', () => {
  const cases: Array<{ name: string; call: (o: Record<string, unknown>) => unknown; base: () => Record<string, unknown> }> = [
    {
      name: 'cuda.gather', call: (o) => cuda.gather(o as never),
      base: () => ({
        table: keep(DeviceArray.fromHost(new Float32Array(40).fill(1))), dim: 4,
        indices: keep(DeviceArray.fromHost(Int32Array.of(1, 9, 0))), out: keep(DeviceArray.fromHost(new Float32Array(12).fill(5))),
      }),
    },
    {
      name: 'cuda.embeddingBag', call: (o) => cuda.embeddingBag(o as never),
      base: () => ({
        table: keep(DeviceArray.fromHost(new Float32Array(40).fill(1))), dim: 4, mode: 'mean',
        indices: keep(DeviceArray.fromHost(Int32Array.of(1, 9, 0))), offsets: keep(DeviceArray.fromHost(Int32Array.of(0, 2))),
        weights: keep(DeviceArray.fromHost(Float32Array.of(1, 2, 3))), paddingIdx: 9,
        out: keep(DeviceArray.fromHost(new Float32Array(8).fill(5))),
      }),
    },
    {
      name: 'cuda.embeddingBagBackward (sparse)', call: (o) => cuda.embeddingBagBackward(o as never),
      base: () => ({
        gradOutput: keep(DeviceArray.fromHost(new Float32Array(8).fill(1))), dim: 4, mode: 'mean', numRows: 10, sparse: true,
        indices: keep(DeviceArray.fromHost(Int32Array.of(1, 9, 0))), offsets: keep(DeviceArray.fromHost(Int32Array.of(0, 2))),
        weights: keep(DeviceArray.fromHost(Float32Array.of(1, 2, 3))), paddingIdx: 9,
      }),
    },
    {
      name: 'cuda.embeddingBagWeightsBackward', call: (o) => cuda.embeddingBagWeightsBackward(o as never),
      base: () => ({
        gradOutput: keep(DeviceArray.fromHost(new Float32Array(8).fill(1))), table: keep(DeviceArray.fromHost(new Float32Array(40).fill(2))),
        dim: 4, mode: 'mean', paddingIdx: 9,
        indices: keep(DeviceArray.fromHost(Int32Array.of(1, 9, 0))), offsets: keep(DeviceArray.fromHost(Int32Array.of(0, 2))),
        out: keep(DeviceArray.fromHost(new Float32Array(3).fill(5))),
      }),
    },
    {
      name: 'cuda.codebookAssign', call: (o) => cuda.codebookAssign(o as never),
      base: () => ({
        x: keep(DeviceArray.fromHost(new Float32Array(12).fill(1))), dim: 4,
        codebook: keep(DeviceArray.fromHost(new Float32Array(8).fill(2))), numCodes: 2, metric: 'ip',
      }),
    },
    {
      name: 'cuda.pqDecode', call: (o) => cuda.pqDecode(o as never),
      base: () => ({
        codes: keep(DeviceArray.fromHost(Uint8Array.of(0, 1, 3, 2))),
        pq: { dim: 4, m: 2, bits: 2, codebooks: keep(DeviceArray.fromHost(new Float32Array(16).fill(1))) },
        out: keep(DeviceArray.fromHost(new Float32Array(8).fill(5))),
      }),
    },
    {
      name: 'cuda.pqScan', call: (o) => cuda.pqScan(o as never),
      base: () => ({
        tables: keep(DeviceArray.fromHost(new Float32Array(16).fill(1))), k: 2, metric: 'l2',
        codes: keep(DeviceArray.fromHost(Uint8Array.of(0, 1, 3, 2))),
        pq: { dim: 4, m: 2, bits: 2, codebooks: keep(DeviceArray.fromHost(new Float32Array(16).fill(1))) },
      }),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: every option x every hostile value throws TypeError/RangeError or succeeds`, async () => {
      const keys = Object.keys(c.base()).concat(['lengths', 'includeLastOffset']);
      for (const key of keys) {
        for (const [label, make] of hostileValues()) {
          const o = c.base();
          // Ops without an `out` option write only fresh arrays: the error class is what counts.
          const out = o.out as DeviceArray<'float32'> | undefined;
          const before = out && await out.toHost();
          o[key] = make();
          let threw: unknown;
          try {
            c.call(o);
          } catch (e) {
            threw = e;
          }
          const ctx = `${c.name} ${key} = ${label}`;
          if (threw !== undefined) {
            expect(threw instanceof TypeError || threw instanceof RangeError, `${ctx}: ${String(threw)}`).toBe(true);
            if (out && key !== 'out') expect(await out.toHost(), ctx).toEqual(before);
          }
        }
      }
      await cuda.synchronize();  // nothing that was launched faulted
    });
  }
});
