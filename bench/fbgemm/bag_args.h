// The embedkit side of the FBGEMM drivers (compare.cc, count.cc): an embedding_bag sum over
// a float32 table with int32 ids and FBGEMM-style int32 offsets (bags + 1 of them).
#pragma once

#include <cstdint>

#include "gather/gather.h"

inline embedkit::gather::BagArgs sum_bag_args(const float* table, int64_t rows, int64_t dim,
                                              const int32_t* ids, int64_t num_ids,
                                              const int32_t* offsets, int64_t bags, float* out) {
  embedkit::gather::BagArgs a;
  a.table.data = table;
  a.table.rows = rows;
  a.table.dim = dim;
  a.indices = embedkit::IndexArray{ids, num_ids, embedkit::IndexType::Int32};
  a.bags.bounds = embedkit::IndexArray{offsets, bags, embedkit::IndexType::Int32};
  a.bags.num_bags = bags;
  a.bags.num_indices = num_ids;
  a.mode = embedkit::gather::PoolMode::Sum;
  a.out = out;
  return a;
}
