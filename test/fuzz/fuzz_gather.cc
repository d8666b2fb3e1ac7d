// libFuzzer target for the gather family: arbitrary table shapes, index types and values,
// offsets / boundaries / lengths, modes, weights and padding. The validators must agree
// with a plain scan (and never read out of bounds); whatever they accept must run on the
// chosen ISA and thread count without touching memory it shouldn't (ASan) and match the
// scalar reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_input.h"
#include "gather/gather.h"

namespace g = embedkit::gather;
using embedkit::IndexArray;
using embedkit::IndexType;

namespace {

// What a plain scan says find_index_out_of_range must return.
int64_t first_out_of_range(const IndexArray& a, int64_t limit) {
  for (int64_t i = 0; i < a.length; ++i) {
    if (a.at(i) < 0 || a.at(i) >= limit) return i;
  }
  return -1;
}

// libFuzzer inputs are small, so the table's contents come from a seeded generator.
std::vector<float> make_table(uint64_t seed, int64_t n) {
  std::vector<float> t(static_cast<size_t>(n));
  for (auto& v : t) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>(static_cast<int>(seed >> 56) - 128) / 32.0f;
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const embedkit::Isa isa = fuzz::pick_path(in);
  const int64_t rows = in.between(0, 64);
  const int64_t dim = in.between(1, 70);
  const std::vector<float> table = make_table(in.u64(), rows * dim);

  fuzz::TypedIndices indices = fuzz::typed_indices(in);
  const int64_t num_indices = in.between(0, 200);
  for (int64_t i = 0; i < num_indices; ++i) indices.push(in.index(rows));
  const IndexArray idx = indices.view();
  const int64_t bad = embedkit::find_index_out_of_range(idx, rows);
  if (bad != first_out_of_range(idx, rows)) fuzz::fail("find_index_out_of_range disagrees with a scan");
  if (bad >= 0) return 0;
  const g::Table t{table.data(), rows, dim};

  if (in.flag()) {  // gather
    std::vector<float> out(static_cast<size_t>(num_indices * dim)), ref(out.size());
    g::gather(t, idx, out.data());
    g::reference_kernels().gather_rows(t, idx, 0, num_indices, ref.data());
    if (out != ref) fuzz::fail("gather differs from the reference");
    return 0;
  }

  // Bag boundaries: offsets, offsets with the end, or lengths; usually valid, sometimes not.
  fuzz::TypedIndices bounds = fuzz::typed_indices(in);
  const int64_t num_bags = in.between(0, 40);
  const int form = static_cast<int>(in.between(0, 2));  // 0 offsets, 1 with end, 2 lengths
  std::vector<int64_t> cut;
  for (int64_t b = 0; b < num_bags; ++b) cut.push_back(in.between(0, num_indices));
  std::sort(cut.begin(), cut.end());
  if (!cut.empty()) cut[0] = 0;
  const int64_t entries = num_bags + (form == 1 ? 1 : 0);
  for (int64_t b = 0; b < entries; ++b) {
    const int64_t start = b < num_bags ? cut[b] : num_indices;
    const int64_t next = b + 1 < num_bags ? cut[b + 1] : num_indices;
    const int64_t v = form == 2 ? next - start : start;
    bounds.push(in.u8() % 16 == 0 ? in.index(num_indices + 1) : v);  // sometimes corrupted
  }
  std::vector<int64_t> from_lengths;
  g::BagCheck check;
  IndexArray bound_view = bounds.view();
  if (form == 2) {
    check = g::offsets_from_lengths(bound_view, num_indices, &from_lengths);
    if (check.error == g::BagError::None) {
      if (static_cast<int64_t>(from_lengths.size()) != num_bags + 1 || from_lengths.front() != 0 ||
          from_lengths.back() != num_indices) {
        fuzz::fail("offsets_from_lengths accepted lengths but gave bad boundaries");
      }
      bound_view = IndexArray{from_lengths.data(), num_bags + 1, IndexType::Int64};
    }
  } else {
    check = g::validate_offsets(bound_view, form == 1, num_indices);
  }
  if (check.error != g::BagError::None) {
    if (check.position < 0 || check.position >= bounds.view().length + 1) fuzz::fail("bag error at an impossible position");
    return 0;
  }
  // Accepted: boundaries must be non-decreasing, within [0, num_indices], and start at 0.
  g::Bags bags{bound_view, num_bags, num_indices};
  for (int64_t b = 0; b < num_bags; ++b) {
    if (bags.start(b) < 0 || bags.start(b) > bags.end(b) || bags.end(b) > num_indices) {
      fuzz::fail("validate_offsets accepted bags that are out of order or out of range");
    }
  }

  g::BagArgs args;
  args.table = t;
  args.indices = idx;
  args.bags = bags;
  args.mode = static_cast<g::PoolMode>(in.between(0, 2));
  std::vector<float> weights;
  if (args.mode != g::PoolMode::Max && in.flag()) {
    for (int64_t i = 0; i < num_indices; ++i) weights.push_back(in.value());
    args.weights = weights.data();
  }
  args.padding_idx = rows > 0 ? in.between(-1, rows - 1) : -1;
  std::vector<float> out(static_cast<size_t>(num_bags * dim), 7.0f), ref(out.size(), 7.0f);
  args.out = out.data();
  g::embedding_bag(args);
  args.out = ref.data();
  g::reference_kernels().pool_bags(args, 0, num_bags, 0, dim);
  // Max is exact; sums differ from the reference by rounding (fused multiply-adds on the
  // SIMD paths): at most about n ulps of the sum of magnitudes.
  for (int64_t b = 0; b < num_bags; ++b) {
    const int64_t n = bags.end(b) - bags.start(b);
    for (int64_t c = 0; c < dim; ++c) {
      double magnitude = 0;
      for (int64_t p = bags.start(b); p < bags.end(b); ++p) {
        const double w = args.weights != nullptr ? std::fabs(args.weights[p]) : 1.0;
        magnitude += w * std::fabs(table[idx.at(p) * dim + c]);
      }
      const double tol = args.mode == g::PoolMode::Max ? 0.0 : (n + 1) * 1.2e-7 * magnitude;
      const float o = out[b * dim + c], r = ref[b * dim + c];
      if (!(std::fabs(static_cast<double>(o) - r) <= tol)) fuzz::fail("embedding_bag differs from the reference");
    }
  }
  if (args.mode == g::PoolMode::Max) {
    // With winners (returnArgmax): the dispatched kernel against the oracle, values bit for
    // bit and winners exactly.
    std::vector<float> max_out(out.size(), 7.0f), max_ref(out.size(), 7.0f);
    std::vector<int32_t> winners(out.size(), -7), winners_ref(out.size(), -7);
    args.out = max_out.data();
    g::embedding_bag_max_argmax(args, winners.data());
    args.out = max_ref.data();
    g::reference_kernels().pool_bags_max_argmax(args, 0, num_bags, 0, dim, winners_ref.data());
    if (!max_out.empty() && std::memcmp(max_out.data(), max_ref.data(), max_out.size() * sizeof(float)) != 0) {
      fuzz::fail("embedding_bag_max_argmax's values differ from the reference");
    }
    if (winners != winners_ref) fuzz::fail("embedding_bag_max_argmax's winners differ from the reference");
  }
  (void)isa;
  return 0;
}
