// Bag boundaries (offsets, offsets with the end, or lengths) as embeddingBag and its
// backward pass both take them: parsed and validated once, in gather.cc.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "../kernels/gather/gather.h"
#include "args.h"

namespace embedkit::binding {

enum class BoundsKind : int { Offsets = 0, OffsetsWithEnd = 1, Lengths = 2 };

struct BagBounds {
  ArrayView view;
  const char* name = "offsets";
  std::vector<int64_t> from_lengths;  // the boundaries, when lengths were given
  gather::Bags bags;                  // points into view or from_lengths: do not copy
};

// bounds_arg holds offsets or lengths as kind_arg (a BoundsKind code) says, for an index
// array of n entries. Throws a RangeError naming the bad entry.
void parse_bag_bounds(Napi::Env env, const Napi::Value& bounds_arg, const Napi::Value& kind_arg,
                      int64_t n, BagBounds* out);

std::string bag_error_message(const gather::BagCheck& check, const char* name,
                              const IndexArray& b, int64_t num_indices);

}  // namespace embedkit::binding
