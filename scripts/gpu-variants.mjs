#!/usr/bin/env node
// The comparison gpu-check.sh prints after GPU_VARIANTS runs: every op's ms for the main
// build (bench-gpu.json) and each variant (bench-<name>.json), with the variant / main ratio.
//   node scripts/gpu-variants.mjs <results dir> "name:flags;name:flags"
import * as fs from 'node:fs';
import * as path from 'node:path';

const [dir, spec = ''] = process.argv.slice(2);
const names = spec.split(';').filter(Boolean).map((v) => v.split(':')[0]);
function ours(file) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')).filter((r) => r.impl === 'embedkit-cuda');
  } catch {
    return [];
  }
}
const main = ours('bench-gpu.json');
const runs = names.map((name) => ({ name, records: ours(`bench-${name}.json`) }));
const cell = (s, w) => String(s).padStart(w);
console.log(`\n${'op'.padEnd(24)}${cell('main ms', 10)}${runs.map((r) => cell(`${r.name} ms`, 12) + cell('ratio', 8)).join('')}`);
for (const m of main) {
  let line = `${m.op.padEnd(24)}${cell(m.ms.toFixed(3), 10)}`;
  for (const r of runs) {
    const v = r.records.find((x) => x.op === m.op);
    line += v ? cell(v.ms.toFixed(3), 12) + cell(`${(v.ms / m.ms).toFixed(2)}x`, 8) : cell('-', 12) + cell('-', 8);
  }
  console.log(line);
}
console.log('ratio: variant ms / main ms (below 1: the variant is faster). Same machine, one run each: rerun before trusting < 5%.');
