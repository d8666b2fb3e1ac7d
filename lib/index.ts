export { gather, gatherAsync, embeddingBag, embeddingBagAsync } from './gather';
export type { GatherOptions, EmbeddingBagOptions, PoolMode } from './gather';
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
export { capabilities, setIsa, setThreads, getThreads } from './system';
export type { Capabilities, Isa } from './system';
export type { IndexArray } from './options';
export { adviseHugePages, allocFloat32 } from './memory';
