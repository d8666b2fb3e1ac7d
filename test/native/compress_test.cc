// Compressed tables: the scalar f16 / bf16 conversions on special values, the quantization
// rule's error bound, and the gather family's row decoders for every format, on every ISA
// this CPU runs, against the scalar reference.
//
// Bounds (say them where they are asserted):
//   f16 / bf16 rounding:           exact bit patterns (round to nearest even).
//   decoders (gather, Max pool):   bitwise equal to the reference on every ISA (the decode
//                                  is one fma in both), and to an f32 table holding the
//                                  dequantized values.
//   Sum / Mean pool:               bitwise equal to the same ISA pooling the dequantized
//                                  f32 table (identical arithmetic); against the scalar
//                                  reference the gather family's bound (1e-6 relative to
//                                  sum |w x row|, FMA vs mul+add).
//   q8 / q4:                       |x - decoded| <= scale / 2 + 2^-22 max(|min|, |max|).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/half.h"
#include "common/index_array.h"
#include "common/isa.h"
#include "common/parallel.h"
#include "compress/compress.h"
#include "gather/gather.h"
#include "harness.h"

namespace {

namespace ek = embedkit;
namespace g = embedkit::gather;
namespace h = embedkit::half;
using g::TableFormat;
using harness::Rng;

const TableFormat kFormats[] = {TableFormat::F32, TableFormat::F16, TableFormat::BF16,
                                TableFormat::Q8, TableFormat::Q4};
const char* format_name(TableFormat f) {
  switch (f) {
    case TableFormat::F32: return "f32";
    case TableFormat::F16: return "f16";
    case TableFormat::BF16: return "bf16";
    case TableFormat::Q8: return "q8";
    case TableFormat::Q4: return "q4";
  }
  return "?";
}

TEST(f16_rounding_special_values) {
  const float inf = std::numeric_limits<float>::infinity();
  struct Case { float x; uint16_t want; };
  const Case cases[] = {
      {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000},
      {65504.0f, 0x7bff},                    // the largest finite half
      {65519.996f, 0x7bff}, {65520.0f, 0x7c00},  // the tie rounds to even: up, to Inf
      {1e10f, 0x7c00}, {inf, 0x7c00}, {-inf, 0xfc00},
      {0x1p-14f, 0x0400},                    // the smallest normal half
      {0x1p-24f, 0x0001},                    // the smallest subnormal half
      {0x1p-25f, 0x0000}, {-0x1p-25f, 0x8000},  // ties to even: down to (signed) zero
      {0x1.8p-24f, 0x0002},                  // 1.5 units ties to 2 (even)
      {0x1.4p-24f, 0x0001},                  // 1.25 units rounds to 1
      {0x1.ffcp-15f, 0x0400},                // the largest subnormal rounding up to normal
      {1.0f + 0x1p-11f, 0x3c00},             // halfway between 1 and 1 + 2^-10: even (down)
      {1.0f + 0x1.8p-10f, 0x3c02},           // halfway between odd and even: up
      {1e-10f, 0x0000},
  };
  for (const Case& c : cases) {
    CHECK_MSG(h::float_to_f16(c.x) == c.want, c.x, " -> ", h::float_to_f16(c.x), " want ", c.want);
  }
  const uint16_t nan = h::float_to_f16(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
  CHECK((h::float_to_f16(-std::numeric_limits<float>::quiet_NaN()) & 0x8000) != 0);
  // Every non-NaN half survives the round trip through float, exactly.
  for (uint32_t v = 0; v < 0x10000; ++v) {
    const bool is_nan = (v & 0x7c00) == 0x7c00 && (v & 0x3ff) != 0;
    if (is_nan) {
      CHECK(std::isnan(h::f16_to_float(static_cast<uint16_t>(v))));
      continue;
    }
    if (!CHECK_MSG(h::float_to_f16(h::f16_to_float(static_cast<uint16_t>(v))) == v, "half ", v)) break;
  }
  // Random floats against a rounding computed in double.
  Rng rng(harness::test_seed());
  for (int i = 0; i < 20000; ++i) {
    const float x = from_bits(static_cast<uint32_t>(rng.next()) & 0xc7ffffffu);  // |x| < 2^16 - ish
    if (!std::isfinite(x) || std::fabs(x) >= 65504.0f) continue;  // overflow: checked above
    const uint16_t got = h::float_to_f16(x);
    const double back = h::f16_to_float(got);
    // No half is nearer to x; on a tie, got is even.
    const uint16_t below = static_cast<uint16_t>(got - 1), above = static_cast<uint16_t>(got + 1);
    const double err = std::fabs(back - x);
    for (uint16_t n : {below, above}) {
      if ((n & 0x7c00) == 0x7c00 || (n & 0x7fff) == 0x7fff) continue;
      if ((got & 0x7fff) == 0 && n == below) continue;  // wraps across the sign
      const double other = std::fabs(static_cast<double>(h::f16_to_float(n)) - x);
      CHECK_MSG(err < other || (err == other && (got & 1) == 0), "x=", x, " got ", got);
    }
  }
}

TEST(bf16_rounding_special_values) {
  const float inf = std::numeric_limits<float>::infinity();
  struct Case { float x; uint16_t want; };
  const Case cases[] = {
      {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3f80}, {-1.0f, 0xbf80},
      {inf, 0x7f80}, {-inf, 0xff80},
      {1.0f + 0x1p-8f, 0x3f80},        // halfway, even below: down
      {1.0f + 0x1.8p-7f, 0x3f82},      // halfway, odd below: up
      {1.0f + 0x1.2p-8f, 0x3f81},      // past halfway: up
      {0x1p-130f, 0x0008},             // float subnormals keep their top bits
      {from_bits(0x7f7f8000u), 0x7f80},  // halfway past the largest bf16 (odd): Inf
      {std::numeric_limits<float>::max(), 0x7f80},
  };
  for (const Case& c : cases) {
    CHECK_MSG(h::float_to_bf16(c.x) == c.want, c.x, " -> ", h::float_to_bf16(c.x), " want ", c.want);
  }
  const uint16_t nan = h::float_to_bf16(from_bits(0x7f800001u));  // a NaN whose payload is low
  CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
  for (uint32_t v = 0; v < 0x10000; ++v) {
    if ((v & 0x7f80) == 0x7f80 && (v & 0x7f) != 0) continue;  // NaN: quieted, checked above
    if (!CHECK_MSG(h::float_to_bf16(h::bf16_to_float(static_cast<uint16_t>(v))) == v, "bf16 ", v)) break;
  }
}

// A quantized table and the float32 table it came from.
struct Quantized {
  std::vector<float> source;
  std::vector<uint8_t> codes;
  std::vector<float> scales, biases;
  g::Table table;
};

Quantized quantize(const std::vector<float>& source, int64_t rows, int64_t dim, TableFormat f) {
  Quantized q;
  q.source = source;
  // A byte past the end, so that reads past a row would show up under ASan only if beyond.
  q.codes.assign(static_cast<size_t>(rows * g::row_stride_bytes(f, dim)), 0xa5);
  q.scales.assign(static_cast<size_t>(rows), -1.0f);
  q.biases.assign(static_cast<size_t>(rows), -1.0f);
  ek::compress::quantize_table(q.source.data(), rows, dim, f,
                               {q.codes.data(), q.scales.data(), q.biases.data()});
  q.table.rows = rows;
  q.table.dim = dim;
  q.table.format = f;
  if (f == TableFormat::F32) {
    q.table.data = reinterpret_cast<const float*>(q.codes.data());
  } else {
    q.table.codes = q.codes.data();
  }
  if (f == TableFormat::Q8 || f == TableFormat::Q4) {
    q.table.scales = q.scales.data();
    q.table.biases = q.biases.data();
  }
  return q;
}

std::vector<float> dequantized(const g::Table& t) {
  std::vector<float> out(static_cast<size_t>(t.rows * t.dim), -7.0f);
  ek::compress::dequantize_table(t, out.data());
  return out;
}

TEST(quantize_error_bounds) {
  Rng rng(harness::test_seed());
  for (int64_t dim : {1, 2, 3, 7, 16, 33, 128, 129}) {
    for (TableFormat f : kFormats) {
      SCOPED_CONTEXT(format_name(f), " dim=", dim);
      const int64_t rows = rng.between(1, 20);
      std::vector<float> src(static_cast<size_t>(rows * dim));
      const float spread = rng.coin(0.5) ? 1.0f : 1000.0f;
      const float offset = rng.uniform(-5.0f, 5.0f) * spread;
      for (float& x : src) x = offset + spread * rng.nonzero();
      if (rows > 1) std::fill(src.begin(), src.begin() + dim, 3.25f);  // a constant row
      const Quantized q = quantize(src, rows, dim, f);
      const std::vector<float> back = dequantized(q.table);
      for (int64_t r = 0; r < rows; ++r) {
        const float* x = src.data() + r * dim;
        const auto [lo, hi] = std::minmax_element(x, x + dim);
        const double mag = std::max(std::fabs(*lo), std::fabs(*hi));
        for (int64_t c = 0; c < dim; ++c) {
          const double err = std::fabs(static_cast<double>(back[r * dim + c]) - x[c]);
          double bound = 0.0;
          switch (f) {
            case TableFormat::F32: bound = 0.0; break;
            case TableFormat::F16: bound = std::fabs(x[c]) * 0x1p-11 + 0x1p-25; break;
            case TableFormat::BF16: bound = std::fabs(x[c]) * 0x1p-8; break;
            case TableFormat::Q8:
            case TableFormat::Q4: bound = q.scales[r] / 2.0 + 0x1p-22 * mag; break;
          }
          if (!CHECK_MSG(err <= bound, "row ", r, " col ", c, " x=", x[c], " got ",
                         back[r * dim + c], " err ", err, " bound ", bound)) {
            return;
          }
        }
        if (f == TableFormat::Q8 || f == TableFormat::Q4) {
          CHECK_EQ(q.biases[r], *lo);
          const int levels = f == TableFormat::Q8 ? 255 : 15;
          CHECK(std::fabs(q.scales[r] - (static_cast<double>(*hi) - *lo) / levels) <=
                0x1p-23 * q.scales[r]);
        }
      }
      if (f == TableFormat::Q4 && dim % 2 == 1) {
        // Odd dim: the high nibble of every row's last byte is left 0.
        const int64_t stride = (dim + 1) / 2;
        for (int64_t r = 0; r < rows; ++r) CHECK((q.codes[r * stride + stride - 1] >> 4) == 0);
      }
    }
  }
}

TEST(q4_nibble_order) {
  // Row [0, 1, ..., 15] x (scale 1): the even column goes into the low nibble.
  std::vector<float> src(16);
  for (int i = 0; i < 16; ++i) src[i] = static_cast<float>(i);
  const Quantized q = quantize(src, 1, 16, TableFormat::Q4);
  CHECK_EQ(q.scales[0], 1.0f);
  CHECK_EQ(q.biases[0], 0.0f);
  for (int b = 0; b < 8; ++b) CHECK_EQ(int{q.codes[b]}, (2 * b) | ((2 * b + 1) << 4));
}

// The f16 decoders (F16C, AVX-512, NEON) on every half bit pattern, against the scalar one.
TEST(f16_and_bf16_decoders_every_bit_pattern) {
  const int64_t dim = 16, rows = 0x10000 / dim;
  std::vector<uint16_t> codes(0x10000);
  for (uint32_t v = 0; v < 0x10000; ++v) codes[v] = static_cast<uint16_t>(v);
  std::vector<int32_t> ids(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) ids[r] = static_cast<int32_t>(r);
  const ek::IndexArray idx{ids.data(), rows, ek::IndexType::Int32};
  for (TableFormat f : {TableFormat::F16, TableFormat::BF16}) {
    g::Table t;
    t.rows = rows;
    t.dim = dim;
    t.format = f;
    t.codes = codes.data();
    std::vector<float> ref(0x10000);
    g::reference_kernels().gather_rows(t, idx, 0, rows, ref.data());
    for (uint32_t v = 0; v < 0x10000; ++v) {
      const float want = f == TableFormat::F16 ? h::f16_to_float(static_cast<uint16_t>(v))
                                               : h::bf16_to_float(static_cast<uint16_t>(v));
      if (!CHECK_MSG(bits(ref[v]) == bits(want), format_name(f), " ", v)) break;
    }
    for (ek::Isa isa : runnable_isas()) {
      SCOPED_CONTEXT(format_name(f), " isa ", ek::isa_name(isa));
      std::vector<float> out(0x10000, -9.0f);
      g::kernels_for(isa).gather_rows(t, idx, 0, rows, out.data());
      for (uint32_t v = 0; v < 0x10000; ++v) {
        // NaN: any NaN of the same sign (hardware may quiet a signaling one).
        const bool same = std::isnan(ref[v]) ? std::isnan(out[v]) && std::signbit(out[v]) == std::signbit(ref[v])
                                             : bits(out[v]) == bits(ref[v]);
        if (!CHECK_MSG(same, "pattern ", v, " got ", bits(out[v]), " want ", bits(ref[v]))) break;
      }
    }
  }
}

struct Problem {
  int64_t rows, dim, ids;
  Quantized q;
  std::vector<float> plain;    // the dequantized table as float32
  std::vector<int32_t> remap;  // empty: none
  std::vector<int64_t> indices;
  std::vector<int64_t> offsets;
  std::vector<float> weights;
};

Problem make_problem(Rng& rng, int64_t dim, TableFormat f, bool pruned) {
  Problem p;
  p.rows = rng.between(1, 30);
  p.dim = dim;
  std::vector<float> src(static_cast<size_t>(p.rows * dim));
  for (float& x : src) x = rng.nonzero();
  p.q = quantize(src, p.rows, dim, f);
  p.plain = dequantized(p.q.table);
  p.ids = p.rows;
  if (pruned) {
    p.ids = p.rows + rng.between(0, 20);
    p.remap.assign(static_cast<size_t>(p.ids), -1);
    for (auto& r : p.remap) {
      if (rng.coin(0.6)) r = static_cast<int32_t>(rng.below(p.rows));
    }
    p.q.table.remap = p.remap.data();
    p.q.table.remap_length = p.ids;
  }
  const int64_t bags = rng.between(1, 12);
  p.offsets.push_back(0);
  for (int64_t b = 0; b < bags; ++b) {
    const int64_t len = rng.coin(0.15) ? 0 : rng.between(1, 9);
    for (int64_t i = 0; i < len; ++i) p.indices.push_back(rng.below(p.ids));
    if (b + 1 < bags) p.offsets.push_back(static_cast<int64_t>(p.indices.size()));
  }
  // Pruned ids at the first and last position, whatever the draw.
  if (pruned && !p.indices.empty()) {
    p.remap[p.indices.front()] = -1;
    p.remap[p.indices.back()] = -1;
  }
  for (size_t i = 0; i < p.indices.size(); ++i) p.weights.push_back(rng.nonzero());
  return p;
}

g::BagArgs bag_args(const Problem& p, const g::Table& t, g::PoolMode mode, bool weighted,
                    int64_t padding, float* out) {
  g::BagArgs a;
  a.table = t;
  a.indices = {p.indices.data(), static_cast<int64_t>(p.indices.size()), ek::IndexType::Int64};
  a.bags.bounds = {p.offsets.data(), static_cast<int64_t>(p.offsets.size()), ek::IndexType::Int64};
  a.bags.num_bags = static_cast<int64_t>(p.offsets.size());
  a.bags.num_indices = static_cast<int64_t>(p.indices.size());
  a.mode = mode;
  a.weights = weighted ? p.weights.data() : nullptr;
  a.padding_idx = padding;
  a.out = out;
  return a;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // memcmp must not see the null data() of an empty vector, even for 0 bytes (UBSan).
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST(decoders_match_reference_every_format) {
  Rng rng(harness::test_seed());
  const g::PoolMode modes[] = {g::PoolMode::Sum, g::PoolMode::Mean, g::PoolMode::Max};
  int64_t cases = 0;
  for (int64_t dim : {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 127, 128, 129, 200, 256}) {
    for (TableFormat f : kFormats) {
      for (bool pruned : {false, true}) {
        const Problem p = make_problem(rng, dim, f, pruned);
        SCOPED_CONTEXT(format_name(f), " dim=", dim, pruned ? " pruned" : "", " rows=", p.rows);
        // The same problem over the dequantized float32 table.
        g::Table plain_t;
        plain_t.data = p.plain.data();
        plain_t.rows = p.rows;
        plain_t.dim = dim;
        plain_t.remap = p.q.table.remap;
        plain_t.remap_length = p.q.table.remap_length;
        const int64_t n = static_cast<int64_t>(p.indices.size());
        const ek::IndexArray idx{p.indices.data(), n, ek::IndexType::Int64};
        std::vector<float> gref(static_cast<size_t>(n * dim));
        g::reference_kernels().gather_rows(p.q.table, idx, 0, n, gref.data());
        for (int64_t i = 0; i < n; ++i) {
          const int64_t r = pruned ? p.remap[p.indices[i]] : p.indices[i];
          for (int64_t c = 0; c < dim; ++c) {
            const float want = r < 0 ? 0.0f : p.plain[r * dim + c];
            CHECK(bits(gref[i * dim + c]) == bits(want));
          }
        }
        const int64_t bags = static_cast<int64_t>(p.offsets.size());
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa));
          const g::Kernels& k = g::kernels_for(isa);
          std::vector<float> gout(static_cast<size_t>(n * dim), -9.0f);
          k.gather_rows(p.q.table, idx, 0, n, gout.data());
          CHECK(same_bits(gout, gref));
          for (g::PoolMode mode : modes) {
            for (bool weighted : {false, true}) {
              const int64_t padding = rng.coin(0.5) ? rng.below(p.ids) : -1;
              SCOPED_CONTEXT("mode ", static_cast<int>(mode), weighted ? " weighted" : "",
                             " padding ", padding);
              std::vector<float> ref(static_cast<size_t>(bags * dim), -9.0f);
              std::vector<float> out(ref.size(), -9.0f), plain_out(ref.size(), -8.0f);
              g::reference_kernels().pool_bags(bag_args(p, p.q.table, mode, weighted, padding, ref.data()), 0, bags, 0, dim);
              k.pool_bags(bag_args(p, p.q.table, mode, weighted, padding, out.data()), 0, bags, 0, dim);
              k.pool_bags(bag_args(p, plain_t, mode, weighted, padding, plain_out.data()), 0, bags, 0, dim);
              CHECK_MSG(same_bits(out, plain_out), "differs from the dequantized f32 table");
              // A column split (multiples of 16 columns, as split_bags makes them) agrees.
              if (dim > 16) {
                std::vector<float> split(ref.size(), -9.0f);
                const g::BagArgs a = bag_args(p, p.q.table, mode, weighted, padding, split.data());
                k.pool_bags(a, 0, bags, 0, 16);
                k.pool_bags(a, 0, bags, 16, dim);
                CHECK_MSG(same_bits(split, out), "column split");
              }
              for (int64_t b = 0; b < bags; ++b) {
                const int64_t p0 = p.offsets[b], p1 = b + 1 < bags ? p.offsets[b + 1] : n;
                for (int64_t c = 0; c < dim; ++c) {
                  const float got = out[b * dim + c], want = ref[b * dim + c];
                  if (mode == g::PoolMode::Max) {
                    CHECK_MSG(bits(got) == bits(want), "bag ", b, " col ", c);
                    continue;
                  }
                  double scale = 0.0;
                  for (int64_t q = p0; q < p1; ++q) {
                    const int64_t r = pruned ? p.remap[p.indices[q]] : p.indices[q];
                    if (p.indices[q] == padding || r < 0) continue;
                    scale += std::fabs((weighted ? p.weights[q] : 1.0f) * p.plain[r * dim + c]);
                  }
                  CHECK_MSG(std::fabs(got - want) <= 1e-6 * scale + 1e-30, "bag ", b, " col ", c,
                            " got ", got, " want ", want);
                }
              }
              ++cases;
            }
          }
        }
      }
    }
  }
  CHECK(cases > 0);
}

// Through the dispatcher and the pool: any thread count, the same bits.
TEST(compressed_embedding_bag_thread_invariance) {
  Rng rng(harness::test_seed());
  const int64_t rows = 5000, dim = 129, n = 40000, bags = 2000;
  std::vector<float> src(static_cast<size_t>(rows * dim));
  for (float& x : src) x = rng.nonzero();
  std::vector<int64_t> indices(static_cast<size_t>(n)), offsets(static_cast<size_t>(bags));
  for (auto& i : indices) i = rng.below(rows);
  for (int64_t b = 0; b < bags; ++b) offsets[b] = n * b / bags;
  for (TableFormat f : kFormats) {
    const Quantized q = quantize(src, rows, dim, f);
    for (ek::Isa isa : runnable_isas()) {
      SCOPED_CONTEXT(format_name(f), " isa ", ek::isa_name(isa));
      CHECK_EQ(ek::set_active_isa(isa), std::string());
      std::vector<float> first;
      for (int threads : {1, 2, 3}) {
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        std::vector<float> out(static_cast<size_t>(bags * dim), -9.0f);
        g::BagArgs a;
        a.table = q.table;
        a.indices = {indices.data(), n, ek::IndexType::Int64};
        a.bags.bounds = {offsets.data(), bags, ek::IndexType::Int64};
        a.bags.num_bags = bags;
        a.bags.num_indices = n;
        a.mode = g::PoolMode::Mean;
        a.out = out.data();
        g::embedding_bag(a);
        if (threads == 1) {
          first = out;
        } else {
          CHECK_MSG(same_bits(out, first), threads, " threads");
        }
      }
    }
  }
  CHECK_EQ(ek::set_active_isa(ek::best_isa()), std::string());
}

// Hashed tables: every format and ISA, against the same ISA pooling the rows the ids hash
// to (bitwise) and against the reference; hashed_row stays in range and matches fixed points
// of its definition (computed once from the documented formula).
TEST(hashed_bags_match_reference) {
  Rng rng(harness::test_seed());
  CHECK_EQ(g::hashed_row(0, 0, 1000), int64_t{0});
  for (int i = 0; i < 1000; ++i) {
    const int64_t rows = rng.between(1, 1 << 20);
    const int64_t r = g::hashed_row(rng.next() >> 1, rng.next(), rows);
    if (!CHECK_MSG(r >= 0 && r < rows, "row ", r, " of ", rows)) break;
  }
  for (TableFormat f : kFormats) {
    for (int64_t dim : {1, 7, 16, 129}) {
      SCOPED_CONTEXT(format_name(f), " dim=", dim);
      const int64_t rows = rng.between(1, 30);
      std::vector<float> src(static_cast<size_t>(rows * dim));
      for (float& x : src) x = rng.nonzero();
      Quantized q = quantize(src, rows, dim, f);
      q.table.hashed = true;
      q.table.hash_seed = rng.next();
      const int64_t n = rng.between(1, 60), bags = rng.between(1, 8);
      std::vector<int64_t> ids(static_cast<size_t>(n)), rows_read(static_cast<size_t>(n)), offsets;
      for (int64_t i = 0; i < n; ++i) {
        ids[i] = static_cast<int64_t>(rng.next() >> 1);
        rows_read[i] = g::hashed_row(static_cast<uint64_t>(ids[i]), q.table.hash_seed, rows);
      }
      for (int64_t b = 0; b < bags; ++b) offsets.push_back(n * b / bags);
      g::Table plain = q.table;
      plain.hashed = false;
      for (ek::Isa isa : runnable_isas()) {
        SCOPED_CONTEXT("isa ", ek::isa_name(isa));
        for (g::PoolMode mode : {g::PoolMode::Sum, g::PoolMode::Mean, g::PoolMode::Max}) {
          g::BagArgs a;
          a.indices = {ids.data(), n, ek::IndexType::Int64};
          a.bags.bounds = {offsets.data(), bags, ek::IndexType::Int64};
          a.bags.num_bags = bags;
          a.bags.num_indices = n;
          a.mode = mode;
          a.padding_idx = ids[0];  // an id, not a row
          std::vector<float> hashed(static_cast<size_t>(bags * dim), -9.0f), direct(hashed.size(), -8.0f),
              ref(hashed.size(), -7.0f);
          a.table = q.table;
          a.out = hashed.data();
          g::kernels_for(isa).pool_bags(a, 0, bags, 0, dim);
          a.out = ref.data();
          g::reference_kernels().pool_bags(a, 0, bags, 0, dim);
          a.table = plain;
          a.indices = {rows_read.data(), n, ek::IndexType::Int64};
          a.padding_idx = -1;
          // The same positions without the padding id: drop them by pointing at no row.
          std::vector<int64_t> kept_offsets;
          std::vector<int64_t> filtered;
          for (int64_t b = 0; b < bags; ++b) {
            kept_offsets.push_back(static_cast<int64_t>(filtered.size()));
            const int64_t p1 = b + 1 < bags ? offsets[b + 1] : n;
            for (int64_t p = offsets[b]; p < p1; ++p) {
              if (ids[p] != ids[0]) filtered.push_back(rows_read[p]);
            }
          }
          a.indices = {filtered.data(), static_cast<int64_t>(filtered.size()), ek::IndexType::Int64};
          a.bags.bounds = {kept_offsets.data(), bags, ek::IndexType::Int64};
          a.bags.num_indices = static_cast<int64_t>(filtered.size());
          a.out = direct.data();
          g::kernels_for(isa).pool_bags(a, 0, bags, 0, dim);
          CHECK_MSG(same_bits(hashed, direct), "mode ", static_cast<int>(mode));
          for (size_t e = 0; e < ref.size(); ++e) {
            // Rounding only (FMA vs mul + add over up to 60 rows of |x| < 2.5); a wrong row is
            // off by O(1).
            if (!CHECK_MSG(std::fabs(hashed[e] - ref[e]) <= 2e-4f * (1.0f + std::fabs(ref[e])), "element ", e)) break;
          }
        }
      }
    }
  }
}

TEST(compress_checks) {
  const float values[] = {1.0f, 2.0f, std::numeric_limits<float>::infinity(), NAN};
  CHECK_EQ(ek::compress::find_non_finite(values, 2), int64_t{-1});
  CHECK_EQ(ek::compress::find_non_finite(values, 4), int64_t{2});
  const int32_t remap[] = {-1, 0, 4, 5, -2};
  CHECK_EQ(ek::compress::find_remap_out_of_range(remap, 3, 5), int64_t{-1});
  CHECK_EQ(ek::compress::find_remap_out_of_range(remap, 4, 5), int64_t{3});
  CHECK_EQ(ek::compress::find_remap_out_of_range(remap, 5, 6), int64_t{4});
}

// Quotient-remainder bags (qrEmbeddingBag), every format, combine, mode and ISA, with padding
// and 1 / 2 threads: bitwise equal to the same ISA pooling a float32 table that holds each
// position's combined row (materialized: q + r or q x r rounded once, or q then r for concat),
// since the fused kernel must do exactly that arithmetic; and against the scalar reference,
// rounding only (max: bitwise).
TEST(qr_bags_match_reference) {
  Rng rng(harness::test_seed());
  const g::QrCombine combines[] = {g::QrCombine::Sum, g::QrCombine::Mul, g::QrCombine::Concat};
  for (TableFormat f : kFormats) {
    for (int64_t dim : {1, 7, 16, 129}) {
      SCOPED_CONTEXT(format_name(f), " dim=", dim);
      const int64_t q_rows = rng.between(1, 20), m = rng.between(1, 20);
      std::vector<float> q_src(static_cast<size_t>(q_rows * dim)), r_src(static_cast<size_t>(m * dim));
      for (float& x : q_src) x = rng.nonzero();
      for (float& x : r_src) x = rng.nonzero();
      const Quantized qt = quantize(q_src, q_rows, dim, f), rt = quantize(r_src, m, dim, f);
      const std::vector<float> qp = dequantized(qt.table), rp = dequantized(rt.table);
      const int64_t n = rng.between(1, 60), bags = rng.between(1, 8);
      std::vector<int64_t> ids(static_cast<size_t>(n)), offsets, positions(static_cast<size_t>(n));
      for (auto& id : ids) id = rng.below(q_rows * m);
      for (int64_t b = 0; b < bags; ++b) offsets.push_back(n * b / bags);
      std::vector<float> weights(static_cast<size_t>(n));
      for (float& w : weights) w = rng.nonzero();
      // The materialized problem: position p reads row p, padding positions row n (skipped).
      for (int64_t p = 0; p < n; ++p) positions[p] = ids[p] == ids[0] ? n : p;
      for (g::QrCombine combine : combines) {
        const int64_t out_dim = combine == g::QrCombine::Concat ? 2 * dim : dim;
        std::vector<float> rows(static_cast<size_t>((n + 1) * out_dim), 0.0f);
        for (int64_t p = 0; p < n; ++p) {
          const float* qr = qp.data() + ids[p] / m * dim;
          const float* rr = rp.data() + ids[p] % m * dim;
          float* dst = rows.data() + p * out_dim;
          for (int64_t c = 0; c < dim; ++c) {
            if (combine == g::QrCombine::Concat) {
              dst[c] = qr[c];
              dst[dim + c] = rr[c];
            } else {
              dst[c] = combine == g::QrCombine::Sum ? qr[c] + rr[c] : qr[c] * rr[c];
            }
          }
        }
        g::Table plain;
        plain.data = rows.data();
        plain.rows = n + 1;
        plain.dim = out_dim;
        for (g::PoolMode mode : {g::PoolMode::Sum, g::PoolMode::Mean, g::PoolMode::Max}) {
          SCOPED_CONTEXT("combine ", static_cast<int>(combine), " mode ", static_cast<int>(mode));
          g::QrBagArgs a;
          a.bag.table = qt.table;
          a.remainder = rt.table;
          a.combine = combine;
          a.bag.indices = {ids.data(), n, ek::IndexType::Int64};
          a.bag.bags.bounds = {offsets.data(), bags, ek::IndexType::Int64};
          a.bag.bags.num_bags = bags;
          a.bag.bags.num_indices = n;
          a.bag.mode = mode;
          a.bag.weights = mode == g::PoolMode::Max ? nullptr : weights.data();
          a.bag.padding_idx = ids[0];
          g::BagArgs direct_args = a.bag;
          direct_args.table = plain;
          direct_args.indices = {positions.data(), n, ek::IndexType::Int64};
          direct_args.padding_idx = n;
          std::vector<float> ref(static_cast<size_t>(bags * out_dim), -7.0f);
          CHECK_EQ(ek::set_active_isa(ek::Isa::Scalar), std::string());
          a.bag.out = ref.data();
          g::embedding_qr_bag(a);
          for (ek::Isa isa : runnable_isas()) {
            SCOPED_CONTEXT("isa ", ek::isa_name(isa));
            CHECK_EQ(ek::set_active_isa(isa), std::string());
            std::vector<float> direct(ref.size(), -8.0f);
            direct_args.out = direct.data();
            g::embedding_bag(direct_args);
            for (int threads : {1, 2}) {
              CHECK_EQ(ek::set_thread_count(threads), std::string());
              std::vector<float> got(ref.size(), -9.0f);
              a.bag.out = got.data();
              g::embedding_qr_bag(a);
              CHECK_MSG(same_bits(got, direct), threads, " threads");
              for (size_t e = 0; e < ref.size(); ++e) {
                // Rounding only (FMA vs mul + add over up to 60 rows of |x| < 7); a wrong row
                // is off by O(1). Max selects values: exact.
                const float tol = mode == g::PoolMode::Max ? 0.0f : 2e-4f * (1.0f + std::fabs(ref[e]));
                if (!CHECK_MSG(std::fabs(got[e] - ref[e]) <= tol, "element ", e)) break;
              }
            }
          }
        }
      }
    }
  }
  CHECK_EQ(ek::set_thread_count(1), std::string());
  CHECK_EQ(ek::set_active_isa(ek::best_isa()), std::string());
  CHECK_EQ(g::qr_id_limit(0, 5), int64_t{0});
  CHECK_EQ(g::qr_id_limit(3, 5), int64_t{15});
  CHECK_EQ(g::qr_id_limit(int64_t{1} << 40, int64_t{1} << 40), INT64_MAX);
}

}  // namespace
