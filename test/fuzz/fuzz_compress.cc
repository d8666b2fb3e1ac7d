// libFuzzer target for compressed tables: every table format (codes taken raw from the
// input for q8 / q4, so an odd dim's unused high nibble holds anything), optional pruning
// remaps (sometimes corrupt: find_remap_out_of_range must catch exactly those), gather and
// every pooling mode on the chosen ISA and thread count against the scalar reference,
// quantize -> dequantize staying within the documented bound, and qrEmbeddingBag (the table
// as the quotient, a second one of the same format as the remainder, every combine).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "compress/compress.h"
#include "fuzz_input.h"
#include "gather/gather.h"

namespace g = embedkit::gather;
namespace c = embedkit::compress;
using embedkit::IndexArray;
using embedkit::IndexType;

namespace {

bool same_value(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Random bags over n positions (the first starting at 0).
std::vector<int64_t> random_offsets(fuzz::Input& in, int64_t n) {
  std::vector<int64_t> offsets;
  const int64_t num_bags = in.between(1, 20);
  for (int64_t b = 0; b < num_bags; ++b) offsets.push_back(in.between(0, n));
  std::sort(offsets.begin(), offsets.end());
  offsets[0] = 0;
  return offsets;
}

// qrEmbeddingBag with `quotient` against the scalar path: max exact, sums within the rounding
// of FMA vs mul + add (count ulps of the sum of |weight x combined value|).
void fuzz_qr_bag(fuzz::Input& in, const g::Table& quotient) {
  const int64_t m = in.between(1, 12), dim = quotient.dim;
  std::vector<float> source(static_cast<size_t>(m * dim));
  for (auto& v : source) v = in.value();
  std::vector<uint8_t> codes(static_cast<size_t>(m * g::row_stride_bytes(quotient.format, dim)));
  std::vector<float> scales(static_cast<size_t>(m)), biases(static_cast<size_t>(m));
  c::quantize_table(source.data(), m, dim, quotient.format, {codes.data(), scales.data(), biases.data()});
  g::QrBagArgs a;
  a.remainder = quotient;
  a.remainder.rows = m;
  a.remainder.data = quotient.format == g::TableFormat::F32 ? reinterpret_cast<const float*>(codes.data()) : nullptr;
  a.remainder.codes = quotient.format == g::TableFormat::F32 ? nullptr : codes.data();
  const bool affine = quotient.format == g::TableFormat::Q8 || quotient.format == g::TableFormat::Q4;
  a.remainder.scales = affine ? scales.data() : nullptr;
  a.remainder.biases = affine ? biases.data() : nullptr;
  a.bag.table = quotient;
  a.combine = static_cast<g::QrCombine>(in.between(0, 2));
  const int64_t ids = g::qr_id_limit(quotient.rows, m);
  if (ids == 0) return;
  fuzz::TypedIndices indices = fuzz::typed_indices(in);
  const int64_t n = in.between(0, 80);
  for (int64_t i = 0; i < n; ++i) indices.push(in.between(0, ids - 1));
  a.bag.indices = indices.view();
  std::vector<int64_t> offsets = random_offsets(in, n);
  const auto num_bags = static_cast<int64_t>(offsets.size());
  a.bag.bags = g::Bags{IndexArray{offsets.data(), num_bags, IndexType::Int64}, num_bags, n};
  a.bag.mode = static_cast<g::PoolMode>(in.between(0, 2));
  std::vector<float> weights;
  if (a.bag.mode != g::PoolMode::Max && in.flag()) {
    for (int64_t i = 0; i < n; ++i) weights.push_back(in.value());
    a.bag.weights = weights.data();
  }
  a.bag.padding_idx = in.between(-1, ids - 1);
  const int64_t out_dim = a.out_dim();
  std::vector<float> out(static_cast<size_t>(num_bags * out_dim), 7.0f), ref(out.size(), 8.0f);
  a.bag.out = out.data();
  g::embedding_qr_bag(a);
  const embedkit::Isa isa = embedkit::active_isa();
  embedkit::set_active_isa(embedkit::Isa::Scalar);
  a.bag.out = ref.data();
  g::embedding_qr_bag(a);
  embedkit::set_active_isa(isa);
  std::vector<float> qp(static_cast<size_t>(quotient.rows * dim)), rp(source.size());
  c::dequantize_table(quotient, qp.data());
  c::dequantize_table(a.remainder, rp.data());
  for (int64_t b = 0; b < num_bags; ++b) {
    const int64_t p0 = a.bag.bags.start(b), p1 = a.bag.bags.end(b);
    for (int64_t col = 0; col < out_dim; ++col) {
      double magnitude = 0;
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t id = a.bag.indices.at(p);
        if (id == a.bag.padding_idx) continue;
        const double q = qp[id / m * dim + col % dim], r = rp[id % m * dim + col % dim];
        const double x = a.combine == g::QrCombine::Concat ? (col < dim ? q : r)
                         : a.combine == g::QrCombine::Sum  ? std::fabs(q) + std::fabs(r)
                                                           : q * r;
        magnitude += (a.bag.weights != nullptr ? std::fabs(a.bag.weights[p]) : 1.0) * std::fabs(x);
      }
      const float o = out[b * out_dim + col], rf = ref[b * out_dim + col];
      if (!std::isfinite(magnitude) || std::isnan(rf)) {
        if (!(std::isnan(o) == std::isnan(rf))) fuzz::fail("qr_embedding_bag NaN differs from the reference");
        continue;
      }
      const double tol = a.bag.mode == g::PoolMode::Max ? 0.0 : (p1 - p0 + 2) * 1.2e-7 * magnitude;
      if (!(std::fabs(static_cast<double>(o) - rf) <= tol)) fuzz::fail("qr_embedding_bag differs from the reference");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  fuzz::pick_path(in);
  const auto format = static_cast<g::TableFormat>(in.between(0, g::kNumTableFormats - 1));
  const int64_t rows = in.between(0, 40);
  const int64_t dim = in.between(1, 70);

  // A float source table, quantized; then, for q8 / q4, codes overwritten by raw input bytes.
  std::vector<float> source(static_cast<size_t>(rows * dim));
  for (auto& v : source) v = in.value();
  const int64_t stride = g::row_stride_bytes(format, dim);
  std::vector<uint8_t> codes(static_cast<size_t>(rows * stride));
  std::vector<float> scales(static_cast<size_t>(rows)), biases(static_cast<size_t>(rows));
  c::quantize_table(source.data(), rows, dim, format, {codes.data(), scales.data(), biases.data()});
  g::Table t;
  t.rows = rows;
  t.dim = dim;
  t.format = format;
  if (format == g::TableFormat::F32) {
    t.data = reinterpret_cast<const float*>(codes.data());
  } else {
    t.codes = codes.data();
  }
  if (format == g::TableFormat::Q8 || format == g::TableFormat::Q4) {
    t.scales = scales.data();
    t.biases = biases.data();
    // The documented bound holds for what quantize_table wrote...
    std::vector<float> back(source.size());
    c::dequantize_table(t, back.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = source.data() + r * dim;
      const auto [lo, hi] = std::minmax_element(x, x + dim);
      const double mag = std::max(std::fabs(*lo), std::fabs(*hi));
      for (int64_t col = 0; col < dim; ++col) {
        const double err = std::fabs(static_cast<double>(back[r * dim + col]) - x[col]);
        if (!(err <= scales[r] / 2.0 + 0x1p-22 * mag)) fuzz::fail("quantization error above the bound");
      }
    }
    // ...then the kernels read arbitrary codes.
    if (in.flag()) {
      for (auto& b : codes) b = in.u8();
    }
  }

  // A remap: usually valid, sometimes with an entry out of [-1, rows).
  std::vector<int32_t> remap;
  if (in.flag()) {
    const int64_t ids = in.between(0, 60);
    for (int64_t i = 0; i < ids; ++i) {
      const int64_t v = in.u8() % 32 == 0 ? in.index(rows) : in.between(-1, rows > 0 ? rows - 1 : -1);
      remap.push_back(static_cast<int32_t>(v));
    }
    int64_t want = -1;
    for (int64_t i = 0; i < ids && want < 0; ++i) {
      if (remap[i] < -1 || remap[i] >= rows) want = i;
    }
    if (c::find_remap_out_of_range(remap.data(), ids, rows) != want) {
      fuzz::fail("find_remap_out_of_range disagrees with a scan");
    }
    if (want >= 0) return 0;
    t.remap = remap.data();
    t.remap_length = ids;
  } else if (in.flag()) {
    fuzz_qr_bag(in, t);
    return 0;
  }

  fuzz::TypedIndices indices = fuzz::typed_indices(in);
  const int64_t n = in.between(0, 120);
  for (int64_t i = 0; i < n; ++i) indices.push(in.between(0, std::max<int64_t>(t.id_limit() - 1, 0)));
  const IndexArray idx = indices.view();
  if (t.id_limit() == 0 && n > 0) return 0;

  if (in.flag()) {
    std::vector<float> out(static_cast<size_t>(n * dim), 7.0f), ref(out.size(), 8.0f);
    g::gather(t, idx, out.data());
    g::reference_kernels().gather_rows(t, idx, 0, n, ref.data());
    for (size_t i = 0; i < out.size(); ++i) {
      if (!same_value(out[i], ref[i])) fuzz::fail("gather differs from the reference");
    }
    return 0;
  }

  std::vector<int64_t> offsets = random_offsets(in, n);
  const auto num_bags = static_cast<int64_t>(offsets.size());
  g::BagArgs args;
  args.table = t;
  args.indices = idx;
  args.bags = g::Bags{IndexArray{offsets.data(), num_bags, IndexType::Int64}, num_bags, n};
  args.mode = static_cast<g::PoolMode>(in.between(0, 2));
  std::vector<float> weights;
  if (args.mode != g::PoolMode::Max && in.flag()) {
    for (int64_t i = 0; i < n; ++i) weights.push_back(in.value());
    args.weights = weights.data();
  }
  args.padding_idx = t.id_limit() > 0 ? in.between(-1, t.id_limit() - 1) : -1;
  std::vector<float> out(static_cast<size_t>(num_bags * dim), 7.0f), ref(out.size(), 8.0f);
  args.out = out.data();
  g::embedding_bag(args);
  args.out = ref.data();
  g::reference_kernels().pool_bags(args, 0, num_bags, 0, dim);
  // Max is exact. Sums differ by rounding (fused multiply-adds on the SIMD paths): at most
  // about count ulps of the sum of magnitudes, which the decoded values bound.
  std::vector<float> plain(static_cast<size_t>(rows * dim));
  c::dequantize_table(t, plain.data());
  for (int64_t b = 0; b < num_bags; ++b) {
    const int64_t p0 = args.bags.start(b), p1 = args.bags.end(b);
    for (int64_t col = 0; col < dim; ++col) {
      double magnitude = 0;
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t id = idx.at(p);
        const int64_t r = t.remap != nullptr ? t.remap[id] : id;
        if (id == args.padding_idx || r < 0) continue;
        const double w = args.weights != nullptr ? std::fabs(args.weights[p]) : 1.0;
        magnitude += w * std::fabs(plain[r * dim + col]);
      }
      const float o = out[b * dim + col], rf = ref[b * dim + col];
      if (!std::isfinite(magnitude) || std::isnan(rf)) {
        if (!(std::isnan(o) == std::isnan(rf))) fuzz::fail("embedding_bag NaN differs from the reference");
        continue;
      }
      const double tol = args.mode == g::PoolMode::Max ? 0.0 : (p1 - p0 + 1) * 1.2e-7 * magnitude;
      if (!(std::fabs(static_cast<double>(o) - rf) <= tol)) fuzz::fail("embedding_bag differs from the reference");
    }
  }
  return 0;
}
