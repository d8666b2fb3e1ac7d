// Loads the CPU addon once and checks that it is this package's own build. node-gyp-build
// looks in build/Release (a source build) and then prebuilds/<platform>-<arch>/; a binary
// built from another version of the package, or for another binding ABI, is refused with
// the fix, never called.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bumped with csrc/binding/family.h kBindingAbi whenever native signatures change. */
export const BINDING_ABI = 9;

/** The raw addon surface. Positional arguments; lib/ validates the option objects. */
export interface NativeAddon {
  abi: number;
  version: string;
  capabilities(): NativeCapabilities;
  setIsa(isa: string): string;
  setThreads(n: number): number;
  getThreads(): number;
  adviseHugePages(array: ArrayBufferView): number;
  adviseFresh(array: ArrayBufferView): void;
  cacheLineOffset(array: ArrayBufferView): number;
  gather(...args: unknown[]): Float32Array;
  gatherAsync(...args: unknown[]): Promise<Float32Array>;
  embeddingBag(...args: unknown[]): Float32Array;
  embeddingBagAsync(...args: unknown[]): Promise<Float32Array>;
  qrEmbeddingBag(...args: unknown[]): Float32Array;
  qrEmbeddingBagAsync(...args: unknown[]): Promise<Float32Array>;
  qrEmbeddingBagBackward(...args: unknown[]): unknown;
  qrEmbeddingBagBackwardAsync(...args: unknown[]): Promise<unknown>;
  qrEmbeddingBagWeightsBackward(...args: unknown[]): Float32Array;
  qrEmbeddingBagWeightsBackwardAsync(...args: unknown[]): Promise<Float32Array>;
  quantizeTable(...args: unknown[]): Uint8Array | Uint16Array | Float32Array;
  quantizeTableAsync(...args: unknown[]): Promise<Uint8Array | Uint16Array | Float32Array>;
  dequantizeTable(...args: unknown[]): Float32Array;
  dequantizeTableAsync(...args: unknown[]): Promise<Float32Array>;
  rope(...args: unknown[]): Float32Array;
  ropeAsync(...args: unknown[]): Promise<Float32Array>;
  ropeRerotate(...args: unknown[]): Float32Array;
  ropeRerotateAsync(...args: unknown[]): Promise<Float32Array>;
  ropeCacheFill(...args: unknown[]): void;
  fwht(...args: unknown[]): Float32Array;
  fwhtAsync(...args: unknown[]): Promise<Float32Array>;
  srht(...args: unknown[]): Float32Array;
  srhtAsync(...args: unknown[]): Promise<Float32Array>;
  fjlt(...args: unknown[]): Float32Array;
  fjltAsync(...args: unknown[]): Promise<Float32Array>;
  sparseProjection(...args: unknown[]): Float32Array;
  sparseProjectionAsync(...args: unknown[]): Promise<Float32Array>;
  sparseProjectionMatrix(...args: unknown[]): { rowPtr: Int32Array; colIdx: Int32Array; values: Float32Array };
  jlParts(...args: unknown[]): JlParts;
  csrProject(...args: unknown[]): Float32Array;
  csrProjectAsync(...args: unknown[]): Promise<Float32Array>;
  scatterAdd(...args: unknown[]): Float32Array;
  scatterAddAsync(...args: unknown[]): Promise<Float32Array>;
  scatterPlan(...args: unknown[]): NativePlan;
  scatterPlanAsync(...args: unknown[]): Promise<NativePlan>;
  scatterPlanRows(handle: unknown): Float64Array;
  embeddingBagBackward(...args: unknown[]): unknown;
  embeddingBagBackwardAsync(...args: unknown[]): Promise<unknown>;
  embeddingBagWeightsBackward(...args: unknown[]): Float32Array;
  embeddingBagWeightsBackwardAsync(...args: unknown[]): Promise<Float32Array>;
  csrFromCoo(...args: unknown[]): NativeCsr;
  csrFromCooAsync(...args: unknown[]): Promise<NativeCsr>;
  csrTranspose(...args: unknown[]): NativeCsr;
  csrTransposeAsync(...args: unknown[]): Promise<NativeCsr>;
  spmm(...args: unknown[]): Float32Array;
  spmmAsync(...args: unknown[]): Promise<Float32Array>;
  vqMapBuild(...args: unknown[]): void;
  vqLogits(...args: unknown[]): Float32Array;
  vqLogitsAsync(...args: unknown[]): Promise<Float32Array>;
  vqLogSumExp(...args: unknown[]): Float32Array;
  vqLogSumExpAsync(...args: unknown[]): Promise<Float32Array>;
  vqLogSoftmax(...args: unknown[]): Float32Array;
  vqLogSoftmaxAsync(...args: unknown[]): Promise<Float32Array>;
  vqCrossEntropy(...args: unknown[]): { loss: Float32Array; grad: Float32Array };
  vqCrossEntropyAsync(...args: unknown[]): Promise<{ loss: Float32Array; grad: Float32Array }>;
  vqTopK(...args: unknown[]): { ids: Int32Array; logProbs: Float32Array };
  vqTopKAsync(...args: unknown[]): Promise<{ ids: Int32Array; logProbs: Float32Array }>;
  vqSample(...args: unknown[]): Int32Array;
  vqSampleAsync(...args: unknown[]): Promise<Int32Array>;
  codebookAssign(...args: unknown[]): { codes: Int32Array; distances: Float32Array };
  codebookAssignAsync(...args: unknown[]): Promise<{ codes: Int32Array; distances: Float32Array }>;
  pqTrain(...args: unknown[]): Float32Array;
  pqTrainAsync(...args: unknown[]): Promise<Float32Array>;
  pqEncode(...args: unknown[]): Uint8Array;
  pqEncodeAsync(...args: unknown[]): Promise<Uint8Array>;
  pqDecode(...args: unknown[]): Float32Array;
  pqDecodeAsync(...args: unknown[]): Promise<Float32Array>;
  pqDistanceTable(...args: unknown[]): Float32Array;
  pqDistanceTableAsync(...args: unknown[]): Promise<Float32Array>;
  pqScan(...args: unknown[]): { ids: Int32Array; distances: Float32Array };
  pqScanAsync(...args: unknown[]): Promise<{ ids: Int32Array; distances: Float32Array }>;
  pqEmbeddingBag(...args: unknown[]): Float32Array;
  pqEmbeddingBagAsync(...args: unknown[]): Promise<Float32Array>;
}

/** The random parts of a JL projection (csrc/binding/jl.cc JlParts), for the GPU ops. */
export interface JlParts {
  signs?: Float32Array;
  sample?: Int32Array;
  rowPtr?: Int32Array;
  colIdx?: Int32Array;
  values?: Float32Array;
}

/** A scatter plan as the binding returns it (lib/scatter.ts wraps it in ScatterPlan). */
export interface NativePlan {
  handle: unknown;
  numRows: number;
  length: number;
  uniqueRows?: number;
}

export interface NativeCsr {
  rowPtr: Int32Array | BigInt64Array;
  colIdx: Int32Array | BigInt64Array;
  values?: Float32Array;
  numRows: number;
  numCols: number;
}

export interface NativeCapabilities {
  isa: string;
  best: string;
  available: string[];
  features: Record<string, boolean>;
  threads: number;
  kernelCalls: Record<string, number>;
}

export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string };
        if (pkg.name === 'embedkit') return dir;
      } catch {
        // not ours; keep looking upward
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`embedkit: cannot find the package root above ${__dirname}`);
    dir = parent;
  }
}

function libcDescription(): string {
  if (process.platform !== 'linux') return 'n/a';
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'musl or unknown';
}

function loadError(root: string, cause: unknown): Error {
  const tried = [
    path.join(root, 'build', 'Release', 'embedkit.node'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, '*.node'),
  ];
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `embedkit: no native binary loads on platform=${process.platform} arch=${process.arch} ` +
      `libc=${libcDescription()} node=${process.versions.node} (N-API ${process.versions.napi}).\n` +
      `Tried: ${tried.join(', ')}.\nCause: ${reason}\n` +
      'Fix: a prebuilt binary ships for the supported platforms; elsewhere embedkit builds from ' +
      'source, which needs python3, make and a C++17 compiler. Run `npm rebuild embedkit` (approve ' +
      "its install script if your package manager blocks scripts, e.g. npm's allowScripts or " +
      "pnpm's onlyBuiltDependencies), and if you bundle your code, mark embedkit as external so " +
      'its .node file stays next to its package.json.',
  );
}

function load(): NativeAddon {
  const root = packageRoot();
  let addon: NativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = nodeGypBuild(root);
  } catch (error) {
    if (error instanceof Error && /EMBEDKIT_ISA/.test(error.message)) throw error;
    throw loadError(root, error);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require(path.join(root, 'package.json')) as { version: string };
  if (addon.abi !== BINDING_ABI || addon.version !== pkg.version) {
    throw new Error(
      `embedkit: the native binary found under ${root} is stale or foreign (binary version ` +
        `${String(addon.version)}, binding ABI ${String(addon.abi)}; this package is ` +
        `${pkg.version}, ABI ${BINDING_ABI}). Rebuild it with \`npm rebuild embedkit\` ` +
        '(or `npm run build:native` in a checkout), or delete its build/ folder.',
    );
  }
  return addon;
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  if (cached === undefined) cached = load();
  return cached;
}
