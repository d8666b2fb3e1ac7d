#!/usr/bin/env node
// embedkit benchmarks: `npm run bench [-- --quick] [--filter <substring>] [--json <file>]`.
//
// Runs every suite against the built package (dist/cjs/index.js; run `npm run compile` first),
// measures this machine's memory roof in the same run (bench/roof.mjs), and prints one table
// per op and shape: median time, calls/s, rows/s, effective GB/s, % of the roof and the ratio
// against the pure-JS baseline measured in the same run. --json writes the records.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMs, fmtNum, getGc, loadAvg, machineInfo, table, timingProfile } from './common.mjs';
import { measureRoof } from './roof.mjs';
import { FBGEMM_REFERENCES, runGatherSuite } from './gather.mjs';
import { ropeTargets, runRopeSuite } from './rope.mjs';
import { jlTargets, runJlSuite } from './jl.mjs';
import { runScatterSuite, scatterTargets } from './scatter.mjs';
import { codebookTargets, runCodebookSuite } from './codebook.mjs';
import { compressTargets, runCompressSuite } from './compress.mjs';
import * as ortb from './ort.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: npm run bench -- [--quick] [--filter <substring>] [--json <file>]
  --quick              fewer iterations, smaller shapes, and embedkit timed only on its
                       default ISA at all threads (CI's smoke run; the tests cover the others)
  --filter <substring> only records whose op, impl or shape contains it (case-insensitive)
  --json <file>        write the selected records as a JSON array
  --no-ort             skip the onnxruntime-node baselines
  --plain-alloc        allocate tables with new Float32Array instead of embedkit's
                       allocFloat32 (cache-line aligned, advised for huge pages)
  --peers <python>     then run bench/py-peers/compare.sh with that Python (torch, scipy and
                       faiss-cpu installed) for the scatter, codebook and jl families: PyTorch /
                       SciPy / FAISS on the same inputs, alternated rounds (minutes per family;
                       with --filter, only a family the filter names)`;

function parseArgs(argv) {
  const opts = { quick: false, filter: '', json: null, ort: true, plainAlloc: false, peers: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [key, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${key} needs a value`);
      return argv[++i];
    };
    switch (key) {
      case '--quick': opts.quick = true; break;
      case '--filter': opts.filter = value(); break;
      case '--json': opts.json = value(); break;
      case '--no-ort': opts.ort = false; break;
      case '--plain-alloc': opts.plainAlloc = true; break;
      case '--peers': opts.peers = value(); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  return opts;
}

function loadEmbedkit() {
  const entry = path.join(root, 'dist', 'cjs', 'index.js');
  if (!fs.existsSync(entry)) {
    throw new Error(`${entry} does not exist: run \`npm run compile\` first`);
  }
  return require(entry);
}

const pct = (x) => (Number.isFinite(x) ? `${x.toFixed(1)}%` : '-');
const ratio = (x) => (Number.isFinite(x) ? `${x >= 100 ? x.toFixed(0) : x.toFixed(2)}x` : '-');

function printGroup(recs, roof) {
  const r0 = recs[0];
  const mb = r0.bytes / 1e6;
  const roofLabel = r0.roofKind === 'copy' ? `copy roof ${roof.copy.toFixed(1)}` : `read roof ${roof.read.toFixed(1)}`;
  console.log(`\n${r0.op}  ${r0.shape}   (${mb >= 1 ? mb.toFixed(1) + ' MB' : (r0.bytes / 1e3).toFixed(2) + ' kB'} moved per call; ${roofLabel} GB/s)`);
  const rows = recs.map((r) => [
    r.impl,
    String(r.threads),
    fmtMs(r.ms),
    Number.isFinite(r.madMs) && r.ms > 0 ? `${((100 * r.madMs) / r.ms).toFixed(1)}%` : '-',
    fmtNum(r.callsPerSec),
    fmtNum(r.rowsPerSec),
    Number.isFinite(r.gbps) ? r.gbps.toFixed(2) : '-',
    pct(r.roofPct),
    ratio(r.ratioVsJs),
    Number.isFinite(r.ownCores) ? r.ownCores.toFixed(2) : '-',
    Number.isFinite(r.otherCores) ? r.otherCores.toFixed(2) : '-',
    r.note ?? '',
  ]);
  // The references were taken at the full shape (1M-row table, 16,384 bags x 32) only.
  const atReferenceShape = r0.op === 'embeddingBag/sum' && !r0.tiny && r0.shape.startsWith('1Mx');
  for (const ref of atReferenceShape ? FBGEMM_REFERENCES : []) {
    const fb = ref.rowsPerSec[r0.dim];
    if (!fb) continue;
    for (const t of Object.keys(fb)) {
      rows.push([ref.label, t, '', '', '', fmtNum(fb[t]), '', '', '', '', '', ref.note]);
    }
  }
  const headers = ['impl', 'thr', 'ms (median)', '±MAD', 'calls/s', 'rows/s', 'GB/s', 'roof', 'vs JS', 'cpu', 'other', 'note'];
  console.log(table(headers, rows, 2).replace(/\s+$/gm, ''));
}

function targets(all, ctx) {
  const lines = [];
  const main = all.filter((r) => !r.tiny && r.tableRows === ctx.mainRows && r.dim === 128 && Number.isFinite(r.ms));
  const find = (op, impl, threads) => main.find((r) => r.op === op && r.impl === impl && r.threads === threads);
  const ekImpl = `embedkit/${ctx.defaultIsa}`;
  const verdict = (ok) => (ok ? 'PASS' : 'MISS');
  const caveat = (...recs) => {
    const bad = recs.filter((r) => r.suspect);
    return bad.length
      ? `  [noisy: ${bad.map((r) => `${r.impl} t=${r.threads} ${r.note.replace(/^.*noisy: /, '')}`).join('; ')}]`
      : '';
  };
  const na = (what) => `n/a   ${what} (not measured in this run)`;

  const sum = find('embeddingBag/sum', ekImpl, ctx.allThreads);
  const sumJs = find('embeddingBag/sum', 'js', 1);
  if (sum && sumJs) {
    const x = sumJs.ms / sum.ms;
    const ok = x >= 10 && sum.roofPct >= 50;
    lines.push(
      `${verdict(ok)}  embeddingBag sum dim 128, ${ctx.allThreads} threads: ${x.toFixed(1)}x pure JS (>= 10x), ` +
        `${sum.roofPct.toFixed(1)}% of the read roof (>= 50%; ${sum.gbps.toFixed(2)} of ${ctx.roof.read.toFixed(2)} GB/s)` +
        caveat(sum, sumJs),
    );
  } else lines.push(na('embeddingBag sum dim 128 vs pure JS and roof'));

  const sum1 = find('embeddingBag/sum', ekImpl, 1);
  if (ctx.allThreads > 1 && sum && sum1) {
    const x = sum1.ms / sum.ms;
    lines.push(
      `${verdict(x >= 1.7)}  ${ctx.allThreads} threads vs 1 (embeddingBag sum dim 128): ${x.toFixed(2)}x (>= 1.7x; ` +
        `${fmtMs(sum1.ms)} ms -> ${fmtMs(sum.ms)} ms)` + caveat(sum1, sum),
    );
  } else lines.push(na(`${ctx.allThreads} threads vs 1`));

  const max = find('embeddingBag/max', ekImpl, ctx.allThreads);
  if (sum && max) {
    const x = max.ms / sum.ms;
    lines.push(
      `${verdict(x <= 1.5)}  max within 1.5x of sum (dim 128, ${ctx.allThreads} threads): max/sum = ${x.toFixed(2)} ` +
        `(${fmtMs(max.ms)} vs ${fmtMs(sum.ms)} ms)` + caveat(max, sum),
    );
  } else lines.push(na('max vs sum'));

  const tiny = all.find((r) => r.tiny && r.shape.startsWith('tiny') && r.op === 'embeddingBag/sum' && r.impl === ekImpl && Number.isFinite(r.ms));
  if (tiny) {
    lines.push(
      `${verdict(tiny.callsPerSec >= 500_000)}  tiny call (1 bag x 8 indices, dim 64): ${fmtNum(tiny.callsPerSec)} calls/s ` +
        `(>= 500k; ${(tiny.ms * 1000).toFixed(2)} µs/call)` + caveat(tiny),
    );
  } else lines.push(na('tiny call'));
  return lines;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;
  const progress = (what) => process.stderr.write(`[${elapsed()}] ${what}\n`);
  const gc = getGc();
  const ek = loadEmbedkit();
  const caps = ek.capabilities();
  const machine = machineInfo();
  const needle = opts.filter.toLowerCase();
  const matches = (...fields) => !needle || fields.some((f) => String(f).toLowerCase().includes(needle));

  let ortAvailable = false;
  let ortNote = 'disabled (--no-ort)';
  if (opts.ort) {
    const ort = ortb.loadOrt();
    ortAvailable = !(ort instanceof Error);
    ortNote = ortAvailable ? `onnxruntime-node ${ortb.ortVersion()} (CPU EP, in-memory ONNX models, opset 11)` : `unavailable: ${ort.message}`;
  }

  console.log('embedkit benchmarks');
  console.log(`machine : ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB.toFixed(1)} GiB, ${machine.platform}`);
  console.log(`embedkit: isa ${caps.isa} (best ${caps.best}; available ${caps.available.join(', ')}), ${caps.threads} threads`);
  console.log(`runtime : node ${machine.node}; baselines: pure JS, ${ortNote}`);
  console.log(`tables  : ${opts.plainAlloc ? 'new Float32Array (--plain-alloc)' : 'allocFloat32 (64-byte aligned, huge pages advised); --plain-alloc for new Float32Array'}; every impl reads the same table`);
  console.log(`mode    : ${opts.quick ? 'quick' : 'full'}${opts.filter ? `, filter "${opts.filter}"` : ''}; ` +
    `load average at start ${loadAvg()}`);

  progress('memory roof probe');
  const roofStart = await measureRoof({ quick: opts.quick, threads: caps.threads });
  gc();
  const roof = { read: roofStart.read, copy: roofStart.copy };

  const ctx = {
    ek,
    quick: opts.quick,
    allocTable: opts.plainAlloc ? (n) => new Float32Array(n) : (n) => ek.allocFloat32(n),
    profile: timingProfile(opts.quick),
    roof,
    matches,
    records: [],
    skipped: [],
    notes: [],
    log: (s) => console.log(s),
    progress,
    gc,
    // A quick run times the path callers get (and the baselines) only: timing every ISA at
    // one and all threads made CI's quick run take ~165 s.
    isas: opts.quick ? [caps.isa] : caps.available,
    defaultIsa: caps.isa,
    allThreads: ek.getThreads(),
    threadCounts: opts.quick || ek.getThreads() === 1 ? [ek.getThreads()] : [ek.getThreads(), 1],
    ortAvailable,
    mainRows: opts.quick ? 250_000 : 1_000_000,
  };

  // One suite per kernel family; a failing suite is reported and the others still run.
  const suites = [
    ['gather', runGatherSuite],
    ['rope', runRopeSuite],
    ['jl', runJlSuite],
    ['scatter', runScatterSuite],
    ['codebook', runCodebookSuite],
    ['compress', runCompressSuite],
  ];
  let failed = false;
  for (const [name, run] of suites) {
    try {
      progress(`${name} suite`);
      await run(ctx);
    } catch (error) {
      console.error(`bench: ${name} suite failed: ${error.stack ?? error}`);
      failed = true;
    } finally {
      ek.setIsa(ctx.defaultIsa);
      ek.setThreads(ctx.allThreads);
    }
    await ortb.releaseSessions();
    gc();
  }

  // A second roof probe after the suites (full runs): the roof is what the machine can do, so
  // the better of the two measurements defines it; both are printed.
  let roofEnd = null;
  if (!opts.quick) {
    progress('memory roof probe (again)');
    roofEnd = await measureRoof({ quick: opts.quick, threads: caps.threads });
    roof.read = Math.max(roof.read, roofEnd.read);
    roof.copy = Math.max(roof.copy, roofEnd.copy);
    for (const r of ctx.records) {
      r.roofGbps = roof[r.roofKind];
      r.roofPct = (100 * r.gbps) / r.roofGbps;
    }
  }

  // Flag measurements that another job disturbed: other processes used more than half a core,
  // or a multi-thread run did not get its cores.
  for (const r of ctx.records) {
    const starved = r.threads > 1 && r.ownCores < 0.75 * r.threads && r.otherCores > 0.3 && !r.tiny;
    if ((Number.isFinite(r.otherCores) && r.otherCores > 0.5) || starved) {
      r.suspect = true;
      const why = starved ? `got ${r.ownCores.toFixed(2)} of ${r.threads} cores` : `other load ${r.otherCores.toFixed(2)} cores`;
      r.note = r.note ? `${r.note}; noisy: ${why}` : `noisy: ${why}`;
    }
  }

  console.log(`\nmemory roof (streaming probes in Node/libc, independent of embedkit; ${roofStart.bufferBytes / 2 ** 20} MiB buffers; median of reps)`);
  const roofRows = [];
  for (const [when, m] of [['start', roofStart], ['end', roofEnd]]) {
    if (!m) continue;
    for (const t of m.byThreads) {
      roofRows.push([when, String(t.threads), t.cmp.toFixed(2), t.chr.toFixed(2), t.read.toFixed(2), t.copy.toFixed(2),
        Number.isFinite(t.otherCores) ? t.otherCores.toFixed(2) : '-']);
    }
  }
  console.log(table(['probe', 'threads', 'read memcmp', 'read memchr', 'read best', 'copy (r+w)', 'other'], roofRows, 1));
  console.log(`roof used: read ${roof.read.toFixed(2)} GB/s (embeddingBag), copy ${roof.copy.toFixed(2)} GB/s counting read+write (gather)`);

  console.log('\nlegend: ms = median per call; ±MAD = median absolute deviation; rows/s = table rows fetched per second;');
  console.log('  GB/s counts bytes a call must move: gather = rows read + rows written; embeddingBag = rows read +');
  console.log('  bags written + 4-byte indices (+ weights); roof = GB/s / roof; vs JS = JS loop time / this time;');
  console.log('  cpu = cores this process kept busy while timing (2 threads should show ~2; pool threads poll 100 us');
  console.log('  after each call before they sleep, which counts too); other = cores busy');
  console.log('  with other processes meanwhile (noise: another job on this machine; from /proc/stat).');
  console.log('  ort: Gather (gather), Gather + Reduce{Sum,Mean,Max} over axis 1 (fixed-length bags; materializes');
  console.log('  [bags, 32, dim]), Mul by weights for sum+w. js-set: out.set(table.subarray(...)) per row.');
  console.log('  rope: GB/s counts q and k read once and written once (copy roof); rows/s = tokens/s; in place;');
  console.log('  decode = 1 token x 32 heads x 128 (q only), batched calls; ort = com.microsoft RotaryEmbedding with a cos/sin cache.');
  console.log('  scatter: rows/s = source rows (scatterAdd, bagBackward) or nonzeros (spmm); bytes per bench/scatter.mjs.');
  console.log('  codebook: rows/s = logit rows (VQ), vectors (assign, encode) or query x vector pairs (scan); bytes per bench/codebook.mjs;');
  console.log('  js = expand to V then reduce in JS; embedkit-expand = vqLogits then the op over an identity map of V codes.');
  console.log('  compress: the shape names the table format; bytes count stored rows (+ scale and bias), see bench/compress.mjs;');
  console.log('  vs JS = the JS loop over the f32 table; the note gives the table memory and f32 / it.');

  const shown = ctx.records.filter((r) => r.shown);
  const groups = new Map();
  for (const r of shown) {
    const key = `${r.op}|${r.shape}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const recs of groups.values()) printGroup(recs, roof);
  if (shown.length === 0) console.log(`\nno record matches the filter "${opts.filter}"`);
  for (const s of ctx.skipped) console.log(`\nskipped: ${s}`);
  for (const s of ctx.notes) console.log(`\nnote: ${s}`);

  console.log('\ntargets (from this run)');
  for (const line of [...targets(ctx.records, ctx), ...ropeTargets(ctx.records, ctx), ...jlTargets(ctx.records, ctx), ...scatterTargets(ctx.records, ctx), ...codebookTargets(ctx.records, ctx), ...compressTargets(ctx.records, ctx)]) console.log(`  ${line}`);
  const others = ctx.records.map((r) => r.otherCores).filter(Number.isFinite);
  if (others.length) {
    const mean = others.reduce((a, b) => a + b, 0) / others.length;
    const busy = others.filter((x) => x > 0.3).length;
    console.log(`\nnoise: other processes used ${mean.toFixed(2)} cores on average during the measurements ` +
      `(> 0.3 cores during ${busy} of ${others.length}; max ${Math.max(...others).toFixed(2)})` +
      (busy ? ': multi-thread and roof figures are suspect where "other" is high' : ''));
  }
  console.log(`load average at end ${loadAvg()}; total ${elapsed()}`);

  for (const r of shown) {
    if (r.impl.startsWith('embedkit') && r.note && /error|WRONG/.test(r.note)) failed = true;
  }
  if (opts.json) {
    const out = shown.map(({ shown: _s, ...r }) => ({
      op: r.op, impl: r.impl, shape: r.shape, threads: r.threads, ms: r.ms, gbps: r.gbps,
      roofPct: r.roofPct, ratioVsJs: r.ratioVsJs, ...r, quick: opts.quick, defaultIsa: ctx.defaultIsa,
    }));
    fs.writeFileSync(opts.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${out.length} records to ${opts.json}`);
  }
  if (opts.peers) failed = !runPeers(opts) || failed;
  process.exitCode = failed ? 1 : 0;
}

/** --peers: compare.sh per family (its own rounds and table); false when one failed. */
function runPeers(opts) {
  let ok = true;
  for (const family of ['scatter', 'codebook', 'jl']) {
    if (opts.filter && !family.includes(opts.filter.toLowerCase())) continue;
    console.log(`\npeers: ${family}`);
    const rounds = opts.quick ? ['1', '3'] : ['3', '7'];
    const run = spawnSync('bash', [path.join(root, 'bench', 'py-peers', 'compare.sh'), family, opts.peers, ...rounds], { stdio: 'inherit' });
    if (run.status !== 0) {
      console.log(`peers: ${family} failed (exit ${run.status ?? run.signal})`);
      ok = false;
    }
  }
  return ok;
}

main().catch((error) => {
  console.error(error?.stack ?? String(error));
  process.exit(1);
});
