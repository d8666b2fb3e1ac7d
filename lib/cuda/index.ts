// The `cuda` namespace: the GPU backend. Importing embedkit never loads the CUDA addon;
// the first call here does, and a machine without the addon, a driver or a GPU gets
// available() === false (and unavailableReason() saying which) instead of an error.
import { cudaAddon, cudaState, type CudaDevice } from './addon';
import { DeviceArray, getDevice, setDevice } from './device-array';
import { embeddingBag, gather } from './gather';
import { fjlt, fwht, sparseProjection, srht } from './jl';
import { rope, ropeRerotate } from './rope';
import { embeddingBagBackward, embeddingBagWeightsBackward, scatterAdd, scatterPlan, spmm } from './scatter';
import { DeviceTable } from './table';
import { DeviceVqMap, vqCrossEntropy, vqLogits, vqLogSoftmax, vqLogSumExp, vqSample, vqTopK } from './codebook';
import { codebookAssign, pqDecode, pqDistanceTable, pqEncode, pqScan } from './quantizer';

/** Whether a CUDA GPU is usable from this process. Never throws. */
function available(): boolean {
  return cudaState().probe.available;
}

/** Why {@link available} is false ('' when it is true). */
function unavailableReason(): string {
  return cudaState().probe.reason;
}

/** The GPUs the driver reports (an empty list where CUDA is unavailable). */
function devices(): CudaDevice[] {
  const state = cudaState();
  return state.probe.available && state.addon !== undefined ? state.addon.devices() : [];
}

/**
 * Settles once every op queued so far on `device` has run; rejects with the CUDA error if
 * one of them faulted.
 */
function synchronize(device: number = getDevice()): Promise<void> {
  return cudaAddon().synchronize(device);
}

/** Queues a device-to-device copy of `src` into `dst` (same dtype, length and device). */
function copy(dst: DeviceArray, src: DeviceArray): void {
  if (!(dst instanceof DeviceArray) || dst.disposed) throw new TypeError('dst must be a live DeviceArray');
  if (!(src instanceof DeviceArray) || src.disposed) throw new TypeError('src must be a live DeviceArray');
  cudaAddon().copy(dst.handle, src.handle);
}

export const cuda = {
  available, unavailableReason, devices, getDevice, setDevice, synchronize, copy, DeviceArray, DeviceTable,
  gather, embeddingBag, rope, ropeRerotate, fwht, srht, fjlt, sparseProjection, scatterPlan, scatterAdd, spmm,
  embeddingBagBackward, embeddingBagWeightsBackward, DeviceVqMap, vqLogits, vqLogSumExp, vqLogSoftmax, vqCrossEntropy, vqTopK, vqSample,
  codebookAssign, pqEncode, pqDecode, pqDistanceTable, pqScan,
} as const;

export { DeviceArray } from './device-array';
export { DeviceTable } from './table';
export { DeviceScatterPlan } from './scatter';
export { DeviceVqMap } from './codebook';
export type { CudaVqOptions } from './codebook';
export type { CudaCodebookAssignOptions, CudaPqScanOptions, DeviceProductQuantizer } from './quantizer';
export type { CudaEmbeddingBagBackwardOptions, CudaEmbeddingBagWeightsBackwardOptions, CudaSparseGradient, CudaScatterAddOptions, CudaScatterPlanOptions, CudaSpmmOptions, DeviceCsrMatrix } from './scatter';
export type { DeviceTableFormat, HostTable } from './table';
export type { DeviceDtype, HostArray, HostArrayOf } from './device-array';
export type { CudaDevice } from './addon';
export type { CudaGatherOptions, CudaEmbeddingBagOptions } from './gather';
export type { CudaFjltOptions, CudaFwhtOptions, CudaSparseProjectionOptions, CudaSrhtOptions } from './jl';
export type { CudaRopeOptions, CudaRopeRerotateOptions, CudaRopeResult } from './rope';
