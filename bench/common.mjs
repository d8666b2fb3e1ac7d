// Timing and formatting helpers shared by the suites.
import { Bench } from 'tinybench';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** Iteration settings: full runs favour stable medians, --quick keeps CI under two minutes. */
export function timingProfile(quick) {
  return quick
    ? { time: 120, iterations: 3, warmupTime: 20, warmupIterations: 1 }
    : { time: 300, iterations: 5, warmupTime: 50, warmupIterations: 1 };
}

/**
 * Times `fn` with tinybench (warm-up, then samples until both the time budget and the minimum
 * iteration count are met). `batch` calls of the operation happen per sample (for sub-µs
 * calls whose cost is below the timer's resolution); the result is per operation.
 * Returns { ms (median), mad, min, samples }.
 */
export async function measure(fn, profile, { batch = 1 } = {}) {
  const bench = new Bench({ ...profile, throws: true });
  bench.add('task', fn);
  const load0 = cpuSnapshot();
  await bench.run();
  const load = foreignLoad(load0, cpuSnapshot());
  const task = bench.tasks[0];
  const r = task.result;
  if (r.state !== 'completed' || !r.latency) {
    throw r.error ?? new Error(`benchmark did not complete (state ${r.state})`);
  }
  return {
    ms: r.latency.p50 / batch,
    mad: r.latency.mad / batch,
    min: r.latency.min / batch,
    samples: task.runs,
    ...load,
  };
}

/**
 * `slow` (a pure-JS loop) and `fast` (embedkit) timed in alternation: `rounds` rounds of one
 * call of slow, one untimed call of fast and `calls` timed calls of fast. Returns the median
 * over the rounds of slow's time over fast's median time in the same round. This VM's memory
 * speed drifts by up to 2x within minutes, which moves a ratio of two medians taken seconds
 * apart; a ratio taken within each round sees both sides at the same speed. Both functions
 * must be warm (measured before).
 * `settle` runs untimed before every call: a full GC, so that neither side pays for
 * collecting the other's garbage (a fresh 512 MB output per call otherwise lands its unmapping
 * on whichever call comes next).
 */
export function pairedRatio(slow, fast, { rounds = 5, calls = 3, settle = () => {} } = {}) {
  const ratios = [];
  const timed = (fn) => {
    settle();
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  for (let r = 0; r < rounds; r++) {
    const slowMs = timed(slow);
    // One untimed call first: after the single-threaded JS loop the pool's second core was
    // idle, and on this VM the next multi-threaded calls then ran ~20% slower than
    // back-to-back ones (scatterAdd, 2 threads: 47-51 vs 38-42 ms, also after a 300 ms busy
    // wait instead of the loop): a hypervisor effect, not the kernel's.
    fast();
    const fastMs = [];
    for (let c = 0; c < calls; c++) fastMs.push(timed(fast));
    ratios.push(slowMs / median(fastMs));
  }
  return median(ratios);
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const USER_HZ = 100; // /proc/stat ticks per second on Linux

/** CPU time used on the machine (all processes) and by this process, and the wall clock. */
export function cpuSnapshot() {
  let busy = NaN;
  let steal = NaN;
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8');
    const v = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    busy = v[0] + v[1] + v[2] + v[5] + v[6];
    steal = v[7] ?? 0;
  } catch {
    // not Linux
  }
  const own = process.cpuUsage();
  return { busy, steal, own: (own.user + own.system) / 1e6, wall: performance.now() / 1000 };
}

/**
 * Over a measurement: cores' worth of CPU this process used (ownCores: ~2 means two threads
 * really ran), cores' worth of CPU used by other processes
 * (otherCores) and the share of the machine the hypervisor stole (stealPct).
 */
export function foreignLoad(a, b) {
  const wall = b.wall - a.wall;
  if (!(wall > 0) || Number.isNaN(a.busy)) return {};
  const all = (b.busy - a.busy) / USER_HZ;
  const own = b.own - a.own;
  const cores = os.cpus().length;
  return {
    ownCores: own / wall,
    otherCores: Math.max(0, (all - own) / wall),
    stealPct: (100 * (b.steal - a.steal)) / USER_HZ / wall / cores,
  };
}

/** A `gc()` function: the global one under --expose-gc, else one obtained at runtime. */
export function getGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    if (typeof gc === 'function') return gc;
  } catch {
    // fall through
  }
  return () => {};
}

export function machineInfo() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    cpu,
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    memGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function loadAvg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** xorshift32 PRNG, seeded: the same inputs every run. */
export function rng(seed = 0x9e3779b9) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Fills `a` with uniform floats in [-1, 1). */
export function fillRandom(a, seed) {
  const next = rng(seed);
  for (let i = 0; i < a.length; i++) a[i] = (next() / 2147483648) - 1;
  return a;
}

/** `count` uniform random row ids in [0, rows). */
export function randomIndices(count, rows, seed) {
  const next = rng(seed);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor((next() / 4294967296) * rows);
  return out;
}

// ---- formatting ----------------------------------------------------------------------------
export function fmtNum(x, digits = 3) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '-';
  const abs = Math.abs(x);
  if (abs >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (abs >= 100) return x.toFixed(0);
  return x.toPrecision(digits);
}

export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 0.01) return `${(ms * 1000).toFixed(3)}µs`.replace('µs', ' µs');
  if (ms < 1) return ms.toFixed(4);
  if (ms < 100) return ms.toFixed(2);
  return ms.toFixed(1);
}

/** Renders rows (arrays of strings) under headers, right-aligning all but the first `left` columns. */
export function table(headers, rows, left = 1) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells.map((c, i) => (i < left ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * Times one implementation of an op x shape group and records it. `prepare()` returns
 * `{ fn, batch?, note? }` (for embedkit impls it has already applied setIsa / setThreads);
 * `verify()` returns the relative error against the pure-JS reference (never called for the
 * reference itself); `units` is what rows/s counts. A forced embedkit path must move its
 * kernelCalls counter (proof it ran); errors become the record's note; the default ISA and
 * thread count are restored afterwards.
 */
export async function timeImpl(ctx, rec, im, { prepare, verify, units }) {
  const { ek } = ctx;
  let note = '';
  const addNote = (s) => {
    note = note ? `${note}; ${s}` : s;
  };
  try {
    const prepared = await prepare();
    if (prepared.note) addNote(prepared.note);
    const before = im.ek ? ek.capabilities().kernelCalls[im.isa] : 0;
    const m = await measure(prepared.fn, ctx.profile, { batch: prepared.batch ?? 1 });
    if (im.ek && !(ek.capabilities().kernelCalls[im.isa] > before)) {
      addNote(`kernelCalls.${im.isa} did not move: path not taken?`);
    }
    Object.assign(rec, {
      ms: m.ms,
      madMs: m.mad,
      samples: m.samples,
      ownCores: m.ownCores,
      otherCores: m.otherCores,
      stealPct: m.stealPct,
      gbps: rec.bytes / m.ms / 1e6,
      rowsPerSec: units / (m.ms / 1000),
      callsPerSec: 1000 / m.ms,
    });
    rec.roofPct = (100 * rec.gbps) / rec.roofGbps;
    if (!im.isRef) {
      const err = verify();
      rec.relErrVsJs = err;
      if (!(err <= 1e-5)) addNote(`WRONG RESULT: rel. error vs JS ${err.toExponential(2)}`);
    }
  } catch (error) {
    addNote(`error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    Object.assign(rec, { ms: NaN, gbps: NaN, roofPct: NaN });
  } finally {
    if (im.ek) {
      ek.setIsa(ctx.defaultIsa);
      ek.setThreads(ctx.allThreads);
    }
  }
  if (note) {
    rec.note = note;
    if (rec.shown) ctx.log(`  ! ${rec.op} ${rec.shape} ${im.impl} t=${im.threads}: ${note}`);
  }
  ctx.records.push(rec);
}

/** Sets ratioVsJs on every record of an op x shape group from its pure-JS record's time. */
export function fillRatiosVsJs(records, op, shape) {
  const js = records.find((r) => r.op === op && r.shape === shape && r.impl === 'js');
  for (const r of records) {
    if (r.op === op && r.shape === shape && r.ratioVsJs === undefined) {
      r.ratioVsJs = js?.ms && r.ms ? js.ms / r.ms : NaN;
    }
  }
}

/** ||got - ref|| / ||ref|| (Infinity when got holds NaN). */
export function relativeError(got, ref) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = got[i] - ref[i];
    num += e * e;
    den += ref[i] * ref[i];
  }
  return Number.isNaN(num) ? Infinity : Math.sqrt(num / (den || 1));
}
