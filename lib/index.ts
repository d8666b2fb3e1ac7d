export { gather, gatherAsync, embeddingBag, embeddingBagAsync, hashedEmbeddingBag, hashedEmbeddingBagAsync } from './gather';
export type { GatherOptions, EmbeddingBagOptions, EmbeddingBagArgmaxResult, HashedEmbeddingBagOptions, PoolMode } from './gather';
export {
  qrEmbeddingBag,
  qrEmbeddingBagAsync,
  qrEmbeddingBagBackward,
  qrEmbeddingBagBackwardAsync,
  qrEmbeddingBagWeightsBackward,
  qrEmbeddingBagWeightsBackwardAsync,
} from './qr-bag';
export type {
  QrArgmax, QrEmbeddingBagArgmaxResult, QrEmbeddingBagOptions, QrCombine, QrEmbeddingBagBackwardOptions,
  QrEmbeddingBagWeightsBackwardOptions, QrGradient,
} from './qr-bag';
export { rope, ropeAsync, ropeCache, ropeFrequencies, ropeRerotate, ropeRerotateAsync } from './rope';
export type {
  PositionArray,
  RopeCache,
  RopeCacheOptions,
  RopeFrequencies,
  RopeFrequenciesOptions,
  RopeLayout,
  RopeOptions,
  RopeRerotateOptions,
  RopeResult,
  RopeScaling,
  RopeScalingType,
} from './rope';
export {
  quantizeTable, quantizeTableAsync, dequantizeTable, dequantizeTableAsync, tableBytes, pruneTable, usedRows,
} from './compress';
export type {
  TableFormat, EmbeddingTable, TableInput, QuantizeTableOptions, DequantizeTableOptions, UsedRowsOptions,
  PruneTableOptions, PrunedTable,
} from './compress';
export { capabilities, setIsa, setThreads, getThreads } from './system';
export type { Capabilities, Isa } from './system';
export type { IndexArray } from './options';
export { adviseHugePages, allocFloat32 } from './memory';
export {
  fwht, fwhtAsync, srht, srhtAsync, fjlt, fjltAsync, sparseProjection, sparseProjectionAsync,
  SparseProjection, makeSparseProjection, jlDimension, fjltDensity, paddedSize,
} from './jl';
export type {
  FwhtOptions, SrhtOptions, FjltOptions, SparseProjectionOptions, SparseDensity, MakeSparseProjectionOptions,
  JlDimensionOptions, Seed,
} from './jl';
export {
  ScatterPlan,
  scatterPlan,
  scatterPlanAsync,
  scatterAdd,
  scatterAddAsync,
  embeddingBagBackward,
  embeddingBagBackwardAsync,
  hashedEmbeddingBagBackward,
  hashedEmbeddingBagBackwardAsync,
  embeddingBagWeightsBackward,
  embeddingBagWeightsBackwardAsync,
  hashedEmbeddingBagWeightsBackward,
  hashedEmbeddingBagWeightsBackwardAsync,
  csrFromCoo,
  csrFromCooAsync,
  csrTranspose,
  csrTransposeAsync,
  spmm,
  spmmAsync,
} from './scatter';
export type {
  ScatterPlanOptions,
  ScatterAddOptions,
  EmbeddingBagBackwardOptions,
  HashedEmbeddingBagBackwardOptions,
  EmbeddingBagWeightsBackwardOptions,
  HashedEmbeddingBagWeightsBackwardOptions,
  SparseGradient,
  CsrMatrix,
  CsrFromCooOptions,
  SpmmOptions,
} from './scatter';
export { cuda, DeviceArray, DeviceScatterPlan, DeviceTable, DeviceVqMap } from './cuda';
export type {
  CudaDevice, CudaEmbeddingBagOptions, CudaFjltOptions, CudaFwhtOptions, CudaSparseProjectionOptions, CudaSrhtOptions, CudaGatherOptions, CudaRopeOptions, CudaRopeRerotateOptions, CudaRopeResult,
  CudaEmbeddingBagBackwardOptions, CudaEmbeddingBagWeightsBackwardOptions, CudaVqOptions, CudaScatterAddOptions, CudaScatterPlanOptions, CudaSpmmOptions, DeviceCsrMatrix,
  DeviceDtype, DeviceTableFormat, HostArray, HostArrayOf, HostTable,
} from './cuda';
export {
  VqMap, makeVqMap, vqLogits, vqLogitsAsync, vqLogSumExp, vqLogSumExpAsync, vqLogSoftmax, vqLogSoftmaxAsync,
  vqCrossEntropy, vqCrossEntropyAsync, vqTopK, vqTopKAsync, vqSample, vqSampleAsync, codebookAssign, codebookAssignAsync,
  pqTrain, pqTrainAsync, pqEncode, pqEncodeAsync, pqDecode, pqDecodeAsync, pqDistanceTable, pqDistanceTableAsync,
  pqScan, pqScanAsync, pqEmbeddingBag, pqEmbeddingBagAsync,
} from './codebook';
export type {
  VqMapOptions, VqOptions, VqLogitsOptions, VqCrossEntropyOptions, VqCrossEntropyResult, VqTopKOptions, VqTopKResult,
  VqSampleOptions, Metric, CodebookAssignOptions, CodebookAssignResult, ProductQuantizer, PqTrainOptions, PqEncodeOptions,
  PqDecodeOptions, PqDistanceTableOptions, PqScanOptions, PqScanResult, PqBagMode, PqEmbeddingBagOptions,
} from './codebook';
