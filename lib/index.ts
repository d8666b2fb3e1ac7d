export { gather, gatherAsync, embeddingBag, embeddingBagAsync } from './gather';
export type { GatherOptions, EmbeddingBagOptions, EmbeddingBagArgmaxResult, PoolMode } from './gather';
export { rope, ropeAsync, ropeFrequencies, ropeRerotate, ropeRerotateAsync } from './rope';
export type {
  PositionArray,
  RopeFrequencies,
  RopeFrequenciesOptions,
  RopeLayout,
  RopeOptions,
  RopeRerotateOptions,
  RopeResult,
  RopeScaling,
  RopeScalingType,
} from './rope';
export { capabilities, setIsa, setThreads, getThreads } from './system';
export type { Capabilities, Isa } from './system';
export type { IndexArray } from './options';
export { adviseHugePages, allocFloat32 } from './memory';
export {
  ScatterPlan,
  scatterPlan,
  scatterPlanAsync,
  scatterAdd,
  scatterAddAsync,
  embeddingBagBackward,
  embeddingBagBackwardAsync,
  csrFromCoo,
  csrTranspose,
  spmm,
  spmmAsync,
} from './scatter';
export type {
  ScatterPlanOptions,
  ScatterAddOptions,
  EmbeddingBagBackwardOptions,
  SparseGradient,
  CsrMatrix,
  CsrFromCooOptions,
  SpmmOptions,
} from './scatter';
