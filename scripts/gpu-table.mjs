#!/usr/bin/env node
// The README's GPU table rows from a gpu-check run: ours and the PyTorch peer from the main
// bench record, or ours from a variant's record (`--ours bench-<name>.json`, same run) with
// the main record's peer.
//   node scripts/gpu-table.mjs <bench-gpu.json> [--ours <bench-variant.json>]
import * as fs from 'node:fs';

const args = process.argv.slice(2);
const main = args[0];
const oursAt = args.indexOf('--ours');
if (!main || (oursAt >= 0 && !args[oursAt + 1])) {
  console.error('usage: node scripts/gpu-table.mjs <bench-gpu.json> [--ours <bench-variant.json>]');
  process.exit(2);
}
const read = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const records = read(main);
const ours = (oursAt >= 0 ? read(args[oursAt + 1]) : records).filter((r) => r.impl === 'embedkit-cuda');
const torch = records.filter((r) => r.impl === 'torch');
const ms = (x) => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

console.log('| op | shape | ours ms | GB/s | % copy roof | PyTorch ms | PyTorch / ours |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of ours) {
  // A peer named "op (variant)" (RoPE's torch.compile) competes too: the faster one counts.
  const peers = torch.filter((t) => t.op === r.op || t.op.startsWith(`${r.op} (`));
  let peerMs = '-';
  let ratio = '-';
  if (peers.length > 0) {
    const fastest = peers.reduce((a, b) => (a.ms < b.ms ? a : b));
    const plain = peers.find((p) => p.op === r.op) ?? fastest;
    peerMs = fastest === plain ? ms(plain.ms) : `${ms(plain.ms)} (${ms(fastest.ms)} compiled)`;
    ratio = `${(fastest.ms / r.ms).toFixed(2)}×`;
  }
  const roof = r.roofPct == null ? '-' : `${r.roofPct.toFixed(1)}%`;
  console.log(`| ${r.op} | ${r.shape} | ${ms(r.ms)} | ${Math.round(r.gbps)} | ${roof} | ${peerMs} | ${ratio} |`);
}
