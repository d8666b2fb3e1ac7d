// Row decoders: how the gather and pooling bodies (body.h) read a table row as float32
// vectors, one per table format. The body is written once over a decoder; only this file
// knows how a format stores its rows. Included by body.h inside its anonymous namespace.
//
// A decoder D (for vector type V and widening helpers W) has
//   D(const Table&)
//   struct Row;  Row row(int64_t r, int64_t col) const;
//                                                row r from column col on, ready to read
//                                                (address, scale, bias)
//   Reg load(const Row&, int64_t off) const;     V::kLanes values from column col + off
//   Reg load_tail(const Row&, int64_t off, int n, Mask m) const;
//                                                n < kLanes values (mask m), zeros after
// (The body passes off = k x kLanes with k a compile-time constant, so the loads use constant
// displacements from one row pointer.)
//   int64_t bytes(int64_t cols) const;           bytes that cols columns occupy, for prefetch
//   const uint8_t* address(int64_t r, int64_t col) const;   where column col of row r lives
//   void prefetch_params(int64_t r) const;       prefetches row r's per-row data (scale, bias)
// Columns and offsets passed to Q4 are even (the body's blocks, remainder blocks and column
// splits start at multiples of a vector, 4 columns or more), so a Q4 vector always starts on a byte.
//
// W, per ISA, widens V::kLanes stored values into a float vector:
//   f16(const uint16_t*), bf16(const uint16_t*), u8(const uint8_t*),
//   u4(const uint8_t*)  (kLanes / 2 bytes, low nibble first)

template <class V, class W>
struct F32Rows {
  using Reg = typename V::Reg;
  struct Row { const float* p; };
  const float* data;
  int64_t dim;
  explicit F32Rows(const Table& t) : data(t.data), dim(t.dim) {}
  Row row(int64_t r, int64_t col) const { return {data + r * dim + col}; }
  Reg load(const Row& r, int64_t off) const { return V::load(r.p + off); }
  Reg load_tail(const Row& r, int64_t off, int, typename V::Mask m) const {
    return V::load_masked(r.p + off, m);
  }
  int64_t bytes(int64_t cols) const { return cols * 4; }
  const uint8_t* address(int64_t r, int64_t col) const {
    return reinterpret_cast<const uint8_t*>(data + r * dim + col);
  }
  void prefetch_params(int64_t) const {}
};

// Shared by the 16-bit and 8-bit formats: a row of `Code` values widened by W.
template <class V, class Code>
struct CodeRows {
  const Code* codes;
  int64_t dim;
  explicit CodeRows(const Table& t) : codes(static_cast<const Code*>(t.codes)), dim(t.dim) {}
  int64_t bytes(int64_t cols) const { return cols * static_cast<int64_t>(sizeof(Code)); }
  const uint8_t* address(int64_t r, int64_t col) const {
    return reinterpret_cast<const uint8_t*>(codes + r * dim + col);
  }
  void prefetch_params(int64_t) const {}
};

// Copies the last n < kLanes codes of a row into a zeroed buffer of kLanes, so that a full
// widening load never reads a byte past the row.
template <class V, class Code>
struct TailCodes {
  Code codes[V::kLanes] = {};
  TailCodes(const Code* p, int n) { __builtin_memcpy(codes, p, static_cast<size_t>(n) * sizeof(Code)); }
};

template <class V, class W>
struct F16Rows : CodeRows<V, uint16_t> {
  using Reg = typename V::Reg;
  struct Row { const uint16_t* p; };
  using CodeRows<V, uint16_t>::CodeRows;
  Row row(int64_t r, int64_t col) const { return {this->codes + r * this->dim + col}; }
  Reg load(const Row& r, int64_t off) const { return W::f16(r.p + off); }
  Reg load_tail(const Row& r, int64_t off, int n, typename V::Mask) const {
    return W::f16(TailCodes<V, uint16_t>(r.p + off, n).codes);
  }
};

template <class V, class W>
struct BF16Rows : CodeRows<V, uint16_t> {
  using Reg = typename V::Reg;
  struct Row { const uint16_t* p; };
  using CodeRows<V, uint16_t>::CodeRows;
  Row row(int64_t r, int64_t col) const { return {this->codes + r * this->dim + col}; }
  Reg load(const Row& r, int64_t off) const { return W::bf16(r.p + off); }
  Reg load_tail(const Row& r, int64_t off, int n, typename V::Mask) const {
    return W::bf16(TailCodes<V, uint16_t>(r.p + off, n).codes);
  }
};

// The affine part of Q8 and Q4: x = code * scale + bias, one fused multiply-add (the
// reference uses std::fma, so every path decodes to the same bits).
template <class V>
struct AffineRow {
  const uint8_t* p;
  typename V::Reg scale, bias;
};

// A q8 / q4 row's scale and bias live in two other arrays: two more lines to fetch ahead.
EMBEDKIT_HOT void prefetch_affine(const float* scales, const float* biases, int64_t r) {
  prefetch_read(scales + r);
  prefetch_read(biases + r);
}

template <class V, class W>
struct Q8Rows : CodeRows<V, uint8_t> {
  using Reg = typename V::Reg;
  using Row = AffineRow<V>;
  const float* scales;
  const float* biases;
  explicit Q8Rows(const Table& t) : CodeRows<V, uint8_t>(t), scales(t.scales), biases(t.biases) {}
  Row row(int64_t r, int64_t col) const {
    return {this->codes + r * this->dim + col, V::set1(scales[r]), V::set1(biases[r])};
  }
  Reg load(const Row& r, int64_t off) const { return V::fma(W::u8(r.p + off), r.scale, r.bias); }
  EMBEDKIT_HOT void prefetch_params(int64_t r) const { prefetch_affine(scales, biases, r); }
  Reg load_tail(const Row& r, int64_t off, int n, typename V::Mask) const {
    return V::fma(W::u8(TailCodes<V, uint8_t>(r.p + off, n).codes), r.scale, r.bias);
  }
};

template <class V, class W>
struct Q4Rows {
  using Reg = typename V::Reg;
  using Row = AffineRow<V>;
  const uint8_t* codes;
  int64_t stride;  // bytes per row
  const float* scales;
  const float* biases;
  explicit Q4Rows(const Table& t)
      : codes(static_cast<const uint8_t*>(t.codes)),
        stride((t.dim + 1) / 2),
        scales(t.scales),
        biases(t.biases) {}
  Row row(int64_t r, int64_t col) const {
    return {codes + r * stride + col / 2, V::set1(scales[r]), V::set1(biases[r])};
  }
  Reg load(const Row& r, int64_t off) const { return V::fma(W::u4(r.p + off / 2), r.scale, r.bias); }
  Reg load_tail(const Row& r, int64_t off, int n, typename V::Mask) const {
    uint8_t buf[V::kLanes / 2 > 0 ? V::kLanes / 2 : 1] = {};
    __builtin_memcpy(buf, r.p + off / 2, static_cast<size_t>(n + 1) / 2);
    // An odd count ends mid-byte: that byte's high nibble is past the row (for an odd dim,
    // the unused half of the row's last byte), so it decodes as code 0, like the zero fill.
    if (n % 2 != 0) buf[n / 2] &= 0x0f;
    return V::fma(W::u4(buf), r.scale, r.bias);
  }
  int64_t bytes(int64_t cols) const { return (cols + 1) / 2; }
  EMBEDKIT_HOT void prefetch_params(int64_t r) const { prefetch_affine(scales, biases, r); }
  const uint8_t* address(int64_t r, int64_t col) const { return codes + r * stride + col / 2; }
};
