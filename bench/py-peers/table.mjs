// compare.sh's table: per op, the median over rounds of each implementation's time at each
// thread count, and for each embedkit form the fastest peer's time over its own at the same
// thread count (a peer printed without a check computes something else: it is left out
// when another peer computes our result, and stands in when none does, as for the JL
// projections, which draw their own random matrices).
// A result check that differs between the sides (relative 1e-4 of the sum) is marked.
import { readFileSync } from 'node:fs';
import { median } from '../common.mjs';

const records = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const ops = [...new Set(records.map((r) => r.op))];
const threads = [...new Set(records.map((r) => r.threads))].sort((a, b) => a - b);
const ms = (op, impl, t) => {
  const times = records.filter((r) => r.op === op && r.impl === impl && r.threads === t).map((r) => r.ms);
  return times.length ? median(times) : NaN;
};
const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(3)) : '');
const lines = [`| op | implementation | ${threads.map((t) => `ms (${t} thr)`).join(' | ')} | ${threads.map((t) => `peer / embedkit (${t} thr)`).join(' | ')} |`];
lines.push(`|---|---|${threads.map(() => '---:').join('|')}|${threads.map(() => '---:').join('|')}|`);
let disagreements = 0;
for (const op of ops) {
  const impls = [...new Set(records.filter((r) => r.op === op).map((r) => r.impl))];
  const ours = impls.filter((i) => i.startsWith('embedkit'));
  const peers = impls.filter((i) => !i.startsWith('embedkit'));
  const best = (list, t) => Math.min(...list.map((i) => ms(op, i, t)).filter(Number.isFinite));
  // Every checked result of the op against the first one (all are one computation).
  const checks = records.filter((r) => r.op === op && r.check);
  const agree = checks.every((r) => r.check.every((v, k) => Math.abs(v - checks[0].check[k]) <= 1e-4 * Math.max(1, Math.abs(checks[0].check[k]))));
  if (!agree) disagreements++;
  for (const impl of [...peers, ...ours]) {
    const ratios = threads.map((t) => {
      if (!impl.startsWith('embedkit')) return '';
      // Peers with our result if any; else (another random projection) every peer, on time.
      const same = peers.filter((p) => records.some((r) => r.op === op && r.impl === p && r.check));
      const peer = best(same.length ? same : peers, t);
      return Number.isFinite(peer) ? `${(peer / ms(op, impl, t)).toFixed(2)}×` : '';
    });
    lines.push(`| ${op}${agree ? '' : ' (RESULTS DIFFER)'} | ${impl} | ${threads.map((t) => fmt(ms(op, impl, t))).join(' | ')} | ${ratios.join(' | ')} |`);
  }
}
console.log(lines.join('\n'));
// Ops timed only (each side's own random start) print how good each side's result is.
for (const op of ops.filter((o) => records.some((r) => r.op === o && r.mse !== undefined))) {
  const impls = [...new Set(records.filter((r) => r.op === op && r.mse !== undefined).map((r) => r.impl))];
  const mse = (impl) => median(records.filter((r) => r.op === op && r.impl === impl).map((r) => r.mse));
  console.log(`${op}: mean squared error on its training rows, ${impls.map((i) => `${i} ${mse(i).toPrecision(4)}`).join(', ')}`);
}
console.log(disagreements ? `compare: ${disagreements} ops whose results differ` : 'compare: every checked result agrees');
