// Thread-to-work mapping shared by the row kernels: a "group" of G consecutive lanes
// (G a power of two, at most a warp) owns one work item, each lane a RowVector of its row
// slice. G is chosen on the host so that a row of `dim` floats fills the group: small rows
// share a warp instead of leaving most lanes idle.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace embedkit::cuda {

constexpr int kWarpSize = 32;
constexpr int kBlockThreads = 256;

// Blocks of kBlockThreads for one thread per item.
inline unsigned blocks_for(int64_t threads) {
  return static_cast<unsigned>((threads + kBlockThreads - 1) / kBlockThreads);
}

// The lanes for `work` items of one thing (a row's vectors, a bag's entries): the next power
// of two, at most a warp.
inline int lanes_for(int64_t work) {
  int lanes = 1;
  while (lanes < kWarpSize && lanes < work) lanes *= 2;
  return lanes;
}

// Whether a device pointer allows 16-byte (float4) accesses.
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

struct LaneGroups {
  int group_size = kWarpSize;    // G
  int64_t chunks_per_item = 1;   // a row wider than G vectors is split into chunks
  int64_t items = 0;             // rows or bags
  int vector_width = 4;          // floats per lane: 4 or 1

  int64_t groups() const { return items * chunks_per_item; }
  int64_t blocks() const {
    const int64_t threads = groups() * group_size;
    return (threads + kBlockThreads - 1) / kBlockThreads;
  }
};

// Width 4 needs rows of a multiple of 4 floats and 16-byte aligned base pointers.
inline LaneGroups plan_lane_groups(int64_t items, int64_t dim, bool aligned16) {
  LaneGroups g;
  g.items = items;
  g.vector_width = (dim % 4 == 0 && aligned16) ? 4 : 1;
  const int64_t lanes_needed = (dim + g.vector_width - 1) / g.vector_width;
  g.group_size = lanes_for(lanes_needed);
  const int64_t chunk_floats = int64_t{g.group_size} * g.vector_width;
  g.chunks_per_item = (dim + chunk_floats - 1) / chunk_floats;
  return g;
}

// Where the calling thread sits: which item and column it owns, and its lane in the group.
struct LanePosition {
  int64_t item;
  int64_t column;  // first float of this lane's slice
  int lane;        // in the group
  unsigned mask;   // the group's lanes within the warp, for shuffles
  bool valid;      // the item exists

  __device__ static LanePosition of(int group_size, int64_t chunks_per_item, int64_t items,
                                    int vector_width) {
    LanePosition p;
    const int64_t thread = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
    const int64_t group = thread / group_size;
    p.lane = static_cast<int>(thread % group_size);
    p.item = group / chunks_per_item;
    const int64_t chunk = group % chunks_per_item;
    p.column = (chunk * group_size + p.lane) * vector_width;
    const int first_lane = static_cast<int>(threadIdx.x % kWarpSize) - p.lane;
    p.mask = (group_size == kWarpSize ? 0xffffffffu : ((1u << group_size) - 1u)) << first_lane;
    p.valid = p.item < items;
    return p;
  }
};

template <typename IndexT>
__device__ __forceinline__ int64_t load_index(const void* data, int64_t i) {
  return static_cast<int64_t>(__ldg(static_cast<const IndexT*>(data) + i));
}

}  // namespace embedkit::cuda
