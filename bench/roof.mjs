// The memory roof of this machine, measured in the same run as the kernels and independently
// of them: native-speed streaming probes that live in Node / libc, never in embedkit.
//
//   read  : Buffer.compare(a, b) of two equal buffers (memcmp reads both)  and
//           a.indexOf(1) + b.indexOf(1) on buffers holding no 1 byte (memchr reads both);
//           the faster of the two is the read figure. Bytes = bytes read.
//   copy  : b.set(a) on Uint8Arrays (memcpy). Bytes = bytes read + bytes written.
//
// Each probe runs on 1 thread (this one) and on N threads at once (N worker threads, each
// streaming its own private 1/N share; private ArrayBuffers because V8 copies
// SharedArrayBuffers with a slower relaxed-atomic memcpy). GB/s = total bytes / wall time
// from start to the last worker's finish. The roof is the best figure over thread counts.
// Buffers are far larger than any cache (512 MiB each; 256 MiB with --quick).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { cpuSnapshot, foreignLoad, median } from './common.mjs';

const PATTERN = 7; // fill byte; the memchr probe searches for 1, which is absent

function makeBuffers(bytes) {
  const a = Buffer.alloc(bytes, PATTERN);
  const b = Buffer.alloc(bytes, PATTERN);
  return { a, b };
}

/** Runs one probe over (a, b); returns the bytes it moved. */
function probe(kind, a, b) {
  switch (kind) {
    case 'cmp':
      if (Buffer.compare(a, b) !== 0) throw new Error('roof probe: buffers differ');
      return a.length + b.length;
    case 'chr':
      if (a.indexOf(1) !== -1 || b.indexOf(1) !== -1) throw new Error('roof probe: unexpected byte');
      return a.length + b.length;
    case 'copy':
      b.set(a);
      return 2 * a.length;
    default:
      throw new Error(`unknown probe ${kind}`);
  }
}

if (!isMainThread && workerData?.embedkitRoofWorker) {
  let bufs = makeBuffers(workerData.bytes);
  parentPort.on('message', (msg) => {
    if (msg === 'exit') {
      bufs = null;
      parentPort.close();
      return;
    }
    const moved = probe(msg, bufs.a, bufs.b);
    parentPort.postMessage(moved);
  });
  parentPort.postMessage('ready');
}

async function probeThreads(threads, totalBytes, reps) {
  const per = Math.floor(totalBytes / threads / 4096) * 4096;
  const workers = [];
  try {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL(import.meta.url), {
        workerData: { embedkitRoofWorker: true, bytes: per },
      });
      workers.push(w);
    }
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    })));
    const result = {};
    for (const kind of ['cmp', 'chr', 'copy']) {
      const rates = [];
      for (let r = 0; r < reps + 1; r++) {
        const t0 = performance.now();
        const moved = await Promise.all(
          workers.map((w) => new Promise((resolve) => {
            w.once('message', resolve);
            w.postMessage(kind);
          })),
        );
        const ms = performance.now() - t0;
        if (r > 0) rates.push(moved.reduce((x, y) => x + y, 0) / ms / 1e6); // first rep warms up
      }
      result[kind] = median(rates);
    }
    return result;
  } finally {
    for (const w of workers) {
      w.postMessage('exit');
      await w.terminate();
    }
  }
}

function probeHere(totalBytes, reps) {
  let { a, b } = makeBuffers(totalBytes);
  const result = {};
  for (const kind of ['cmp', 'chr', 'copy']) {
    const rates = [];
    for (let r = 0; r < reps + 1; r++) {
      const t0 = performance.now();
      const moved = probe(kind, a, b);
      const ms = performance.now() - t0;
      if (r > 0) rates.push(moved / ms / 1e6);
    }
    result[kind] = median(rates);
  }
  a = b = null;
  return result;
}

/**
 * Measures the roof. Returns { read, copy (GB/s, best over thread counts), byThreads: [{threads,
 * cmp, chr, copy, read, otherCores}], bufferBytes }.
 */
export async function measureRoof({ quick, threads }) {
  const bufferBytes = (quick ? 256 : 512) * 2 ** 20; // per buffer; two buffers per probe
  const reps = quick ? 3 : 7;
  const byThreads = [];
  let snap = cpuSnapshot();
  const one = probeHere(bufferBytes, reps);
  byThreads.push({ threads: 1, ...one, otherCores: foreignLoad(snap, cpuSnapshot()).otherCores });
  if (threads > 1) {
    snap = cpuSnapshot();
    const many = await probeThreads(threads, bufferBytes, reps);
    byThreads.push({ threads, ...many, otherCores: foreignLoad(snap, cpuSnapshot()).otherCores });
  }
  for (const t of byThreads) t.read = Math.max(t.cmp, t.chr);
  return {
    read: Math.max(...byThreads.map((t) => t.read)),
    copy: Math.max(...byThreads.map((t) => t.copy)),
    byThreads,
    bufferBytes,
  };
}
