// Bag-boundary checks, run before any kernel so that bad input writes nothing.
#include "gather.h"

namespace embedkit::gather {

BagCheck validate_offsets(const IndexArray& bounds, bool with_end, int64_t num_indices) {
  if (bounds.length == 0) return {};
  if (bounds.at(0) != 0) return {BagError::FirstNotZero, 0};
  int64_t previous = 0;
  for (int64_t i = 1; i < bounds.length; ++i) {
    const int64_t v = bounds.at(i);
    if (v < previous) return {BagError::Decreasing, i};
    if (v > num_indices) return {BagError::PastEnd, i};
    previous = v;
  }
  if (with_end && previous != num_indices) return {BagError::LastNotEnd, bounds.length - 1};
  return {};
}

BagCheck offsets_from_lengths(const IndexArray& lengths, int64_t num_indices,
                              std::vector<int64_t>* bounds) {
  bounds->assign(static_cast<size_t>(lengths.length) + 1, 0);
  int64_t total = 0;
  for (int64_t i = 0; i < lengths.length; ++i) {
    const int64_t n = lengths.at(i);
    if (n < 0) return {BagError::NegativeLength, i};
    if (n > num_indices - total) return {BagError::LengthSum, i};
    total += n;
    (*bounds)[static_cast<size_t>(i) + 1] = total;
  }
  if (total != num_indices) return {BagError::LengthSum, lengths.length};
  return {};
}

}  // namespace embedkit::gather
