// Loads the optional CUDA addon (build-cuda/Release/embedkit_cuda.node from `npm run
// build:cuda`, or prebuilds/<platform>-<arch>/embedkit_cuda.node) the first time a program
// asks for the GPU. Nothing here throws at import: a machine without the addon, a driver or
// a device gets cuda.available() === false and cuda.unavailableReason() says which.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../native';

/** Bumped with cuda/binding/addon.cc kCudaBindingAbi whenever entry points change. */
export const CUDA_BINDING_ABI = 9;

export interface CudaProbe {
  available: boolean;
  reason: string;
  deviceCount: number;
  driverVersion: number;
  runtimeVersion: number;
}

export interface CudaDevice {
  index: number;
  name: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** "9.0" for an H100. */
  computeCapability: string;
  multiprocessors: number;
}

export interface CudaAddon {
  abi: number;
  probe(): CudaProbe;
  devices(): CudaDevice[];
  fromHost(array: ArrayBufferView, device: number): unknown;
  empty(dtype: number, length: number, device: number): unknown;
  toHost<T extends ArrayBufferView>(handle: unknown, out: T): Promise<T>;
  write(handle: unknown, source: ArrayBufferView, offset: number): void;
  dispose(handle: unknown): void;
  synchronize(device: number): Promise<void>;
  copy(dst: unknown, src: unknown): void;
  gather(...args: unknown[]): unknown;
  embeddingBag(...args: unknown[]): unknown;
  rope(...args: unknown[]): unknown;
  ropeRerotate(...args: unknown[]): unknown;
  fwht(...args: unknown[]): unknown;
  project(...args: unknown[]): unknown;
  scatterPlan(indices: unknown, numRows: unknown): unknown[];
  scatterAdd(...args: unknown[]): unknown;
  spmm(...args: unknown[]): unknown;
  embeddingBagBackward(...args: unknown[]): unknown;
  embeddingBagWeightsBackward(...args: unknown[]): unknown;
  vqLogits(...args: unknown[]): unknown;
  vqRows(...args: unknown[]): unknown;
  vqTopK(...args: unknown[]): unknown;
  vqSample(...args: unknown[]): unknown;
  codebookAssign(...args: unknown[]): unknown;
  pqEncode(...args: unknown[]): unknown;
  pqDecode(...args: unknown[]): unknown;
  pqDistanceTable(...args: unknown[]): unknown;
  pqScan(...args: unknown[]): unknown;
}

let loaded: { addon?: CudaAddon; probe: CudaProbe } | undefined;

function candidates(root: string): string[] {
  return [
    path.join(root, 'build-cuda', 'Release', 'embedkit_cuda.node'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'embedkit_cuda.node'),
  ];
}

function unavailable(reason: string): { probe: CudaProbe } {
  return { probe: { available: false, reason, deviceCount: 0, driverVersion: 0, runtimeVersion: 0 } };
}

function load(): { addon?: CudaAddon; probe: CudaProbe } {
  if (process.env.EMBEDKIT_CUDA === '0') return unavailable('disabled by EMBEDKIT_CUDA=0');
  let root: string;
  try {
    root = packageRoot();
  } catch (e) {
    return unavailable((e as Error).message);
  }
  const file = candidates(root).find((f) => fs.existsSync(f));
  if (file === undefined) {
    return unavailable('the CUDA addon is not built: run `npm run build:cuda` (needs nvcc) in the embedkit package');
  }
  let addon: CudaAddon;
  try {
    addon = require(file) as CudaAddon;
  } catch (e) {
    return unavailable(`the CUDA addon at ${file} failed to load: ${(e as Error).message}`);
  }
  if (addon.abi !== CUDA_BINDING_ABI) {
    return unavailable(`the CUDA addon at ${file} is from another version (ABI ${addon.abi}, ` +
      `this package needs ${CUDA_BINDING_ABI}): rebuild it with \`npm run build:cuda\``);
  }
  const probe = addon.probe();
  if (!probe.available && probe.driverVersion === 0) {
    probe.reason = `no NVIDIA driver is installed (${probe.reason})`;
  }
  return { addon, probe };
}

export function cudaState(): { addon?: CudaAddon; probe: CudaProbe } {
  loaded ??= load();
  return loaded;
}

/** The addon of a machine with a usable GPU; an Error saying why otherwise. */
export function cudaAddon(): CudaAddon {
  const state = cudaState();
  if (!state.probe.available || state.addon === undefined) {
    throw new Error(`embedkit: CUDA is not available: ${state.probe.reason}`);
  }
  return state.addon;
}
