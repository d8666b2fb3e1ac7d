// N-API entry points of the JL family: fwht, srht, fjlt, sparseProjection, the materialized
// sparse matrix and its product, and their Async forms. Each call is parsed and fully
// validated first (types, sizes, powers of two, seed, density, aliasing); only then is any
// array written. Default densities are chosen by lib/jl.ts; nothing here does arithmetic on
// data.
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../kernels/common/philox.h"
#include "../kernels/jl/jl.h"
#include "args.h"
#include "seed.h"
#include "async.h"
#include "family.h"

namespace embedkit::binding {
namespace {

std::string num(int64_t v) { return std::to_string(v); }

constexpr int64_t kMaxDim = int64_t{1} << jl::kMaxLog2;
// Limits of the projections (README): each thread keeps a padded row of scratch (inDim up to
// 2^26: 256 MiB), and the sparse matrices are drawn by visiting every entry once, so
// outDim x (padded) inDim is capped to keep one call under a minute.
constexpr int64_t kMaxProjectionDim = int64_t{1} << 26;
constexpr int64_t kMaxSparseEntries = int64_t{1} << 34;
constexpr int64_t kMaxSparseOutDim = int64_t{1} << 24;

void check_entries(Napi::Env env, int64_t k, int64_t m, const char* what) {
  if (k > kMaxSparseEntries / m) {
    throw_range_error(env, "outDim " + num(k) + " x " + what + " " + num(m) +
                               " exceeds the 2^34 entries a projection may draw");
  }
}

double get_density(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) throw_type_error(env, "density must be a number, got " + describe_value(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d > 0 && d <= 1)) {
    throw_range_error(env, "density must be in (0, 1], got " + v.ToString().Utf8Value());
  }
  return d;
}

// x (rows x inDim) and its row count.
struct Rows {
  ArrayView x;
  int64_t d = 0;
  int64_t rows = 0;
};

Rows parse_rows(Napi::Env env, const Napi::Value& x_arg, const Napi::Value& d_arg,
                int64_t max_dim) {
  Rows r;
  r.x = get_float32_array(env, x_arg, "x");
  r.d = get_integer(env, d_arg, "inDim", 1, max_dim);
  if (r.x.length % r.d != 0) {
    throw_range_error(env, "x.length " + num(r.x.length) + " is not a multiple of inDim " + num(r.d));
  }
  r.rows = r.x.length / r.d;
  return r;
}

// out: rows x k floats, fresh or the caller's, never sharing memory with the inputs.
ArrayView parse_out(Napi::Env env, const Napi::Value& out_arg, const Rows& r, int64_t k,
                    const ArrayView* others[], const char* other_names[], int num_others) {
  if (r.rows > kMaxSafeInteger / k) throw_range_error(env, "rows x outDim overflows");
  ArrayView out = output_float32(env, out_arg, r.rows * k,
                                 "rows " + num(r.rows) + " x outDim " + num(k));
  require_disjoint(env, out, "out", r.x, "x");
  for (int i = 0; i < num_others; ++i) require_disjoint(env, out, "out", *others[i], other_names[i]);
  return out;
}

enum class Op { Srht, Fjlt, Sparse };

struct ProjectCall {
  Op op = Op::Srht;
  Rows r;
  int64_t k = 0;
  uint64_t seed = 0;
  double density = 1;
  ArrayView out;
  void run() const {
    const float* x = static_cast<const float*>(r.x.data);
    float* y = static_cast<float*>(out.data);
    switch (op) {
      case Op::Srht: jl::srht(x, r.rows, r.d, k, seed, y); break;
      case Op::Fjlt: jl::fjlt(x, r.rows, r.d, k, seed, density, y); break;
      case Op::Sparse: jl::sparse_projection(x, r.rows, r.d, k, seed, density, y); break;
    }
  }
};

// args: x, inDim, outDim, seed, density (fjlt, sparse; ignored for srht), out?
void prepare_project(const Napi::CallbackInfo& info, Op op, ProjectCall* c) {
  Napi::Env env = info.Env();
  c->op = op;
  c->r = parse_rows(env, info[0], info[1], op == Op::Sparse ? kMaxDim : kMaxProjectionDim);
  const int64_t n = jl::padded_size(c->r.d);
  if (op == Op::Sparse) {
    c->k = get_integer(env, info[2], "outDim", 1, kMaxSparseOutDim);
    check_entries(env, c->k, c->r.d, "inDim");
  } else {
    if (!info[2].IsNumber()) {
      throw_type_error(env, "outDim must be a number, got " + describe_value(info[2]));
    }
    const double kd = info[2].As<Napi::Number>().DoubleValue();
    if (std::isfinite(kd) && kd == std::floor(kd) && kd > static_cast<double>(n)) {
      throw_range_error(env, "outDim " + info[2].ToString().Utf8Value() +
                                 " exceeds the padded size " + num(n) + " of inDim " + num(c->r.d));
    }
    c->k = get_integer(env, info[2], "outDim", 1, n);
    if (op == Op::Fjlt) check_entries(env, c->k, n, "padded inDim");
  }
  c->seed = get_seed(env, info[3]);
  if (op != Op::Srht) c->density = get_density(env, info[4]);
  c->out = parse_out(env, info[5], c->r, c->k, nullptr, nullptr, 0);
}

struct FwhtCall {
  ArrayView x;
  int64_t rows = 0;
  int log2n = 0;
  bool normalize = false;
  void run() const { jl::fwht(static_cast<float*>(x.data), rows, log2n, normalize); }
};

// args: x, n, normalize
void prepare_fwht(const Napi::CallbackInfo& info, FwhtCall* c) {
  Napi::Env env = info.Env();
  c->x = get_float32_array(env, info[0], "x");
  const int64_t n = get_integer(env, info[1], "n", 1, kMaxDim);
  if ((n & (n - 1)) != 0) {
    throw_range_error(env, "n must be a power of two from 1 to 2^30, got " + num(n) +
                               " (srht, fjlt and sparseProjection pad other lengths)");
  }
  if (c->x.length % n != 0) {
    throw_range_error(env, "x.length " + num(c->x.length) + " is not a multiple of n " + num(n));
  }
  if (!info[2].IsBoolean()) {
    throw_type_error(env, "normalize must be a boolean, got " + describe_value(info[2]));
  }
  c->normalize = info[2].As<Napi::Boolean>().Value();
  c->rows = c->x.length / n;
  while ((int64_t{1} << c->log2n) < n) ++c->log2n;
}

// The materialized k x d matrix of sparseProjection. args: inDim, outDim, seed, density.
// A sparse matrix as { rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array }.
Napi::Object csr_object(Napi::Env env, const jl::SparseMatrix& m) {
  const int64_t k = m.rows;
  const int64_t nnz = m.row_ptr.back();
  if (nnz > INT32_MAX) {
    throw_range_error(env, "the materialized matrix has " + num(nnz) +
                               " non-zeros, more than an Int32Array rowPtr holds; use the on-the-fly form");
  }
  Napi::Int32Array row_ptr = Napi::Int32Array::New(env, static_cast<size_t>(k + 1));
  for (int64_t i = 0; i <= k; ++i) row_ptr[static_cast<size_t>(i)] = static_cast<int32_t>(m.row_ptr[static_cast<size_t>(i)]);
  Napi::Int32Array col = Napi::Int32Array::New(env, static_cast<size_t>(nnz));
  Napi::Float32Array val = Napi::Float32Array::New(env, static_cast<size_t>(nnz));
  for (int64_t p = 0; p < nnz; ++p) {
    col[static_cast<size_t>(p)] = m.col[static_cast<size_t>(p)];
    val[static_cast<size_t>(p)] = m.val[static_cast<size_t>(p)];
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("rowPtr", row_ptr);
  result.Set("colIdx", col);
  result.Set("values", val);
  return result;
}

Napi::Value SparseProjectionMatrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t d = get_integer(env, info[0], "inDim", 1, kMaxDim);
  const int64_t k = get_integer(env, info[1], "outDim", 1, kMaxSparseOutDim);
  check_entries(env, k, d, "inDim");
  const uint64_t seed = get_seed(env, info[2]);
  const double density = get_density(env, info[3]);
  jl::SparseMatrix m;
  try {
    jl::make_sparse(seed, philox::kSparse, k, d, density, jl::sparse_value(density, k), &m);
  } catch (const std::bad_alloc&) {
    throw_range_error(env, "SparseProjection: cannot allocate the matrix");
  }
  return csr_object(env, m);
}

// jlParts(op, inDim, outDim, seed, density): the random parts of srht (op 0: signs and the
// sample), fjlt (1: signs and P) or sparseProjection (2: R), exactly as those ops draw them
// from the seed, for the GPU ops (lib/cuda/jl.ts), which take them as device arrays.
Napi::Value JlParts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto op = static_cast<Op>(get_integer(env, info[0], "op", 0, 2));
  const int64_t d = get_integer(env, info[1], "inDim", 1, op == Op::Sparse ? kMaxDim : kMaxProjectionDim);
  const int64_t n = jl::padded_size(d);
  const int64_t k = get_integer(env, info[2], "outDim", 1, op == Op::Sparse ? kMaxSparseOutDim : n);
  if (op != Op::Srht) check_entries(env, k, op == Op::Sparse ? d : n, op == Op::Sparse ? "inDim" : "padded inDim");
  const uint64_t seed = get_seed(env, info[3]);
  const double density = op == Op::Srht ? 1.0 : get_density(env, info[4]);
  Napi::Object result = Napi::Object::New(env);
  try {
    if (op != Op::Sparse) {
      Napi::Float32Array signs = Napi::Float32Array::New(env, static_cast<size_t>(n));
      jl::make_signs(seed, n, signs.Data());
      result.Set("signs", signs);
    }
    if (op == Op::Srht) {
      std::vector<int64_t> sel(static_cast<size_t>(k));
      jl::make_sample(seed, n, k, sel.data());
      Napi::Int32Array sample = Napi::Int32Array::New(env, static_cast<size_t>(k));
      for (int64_t t = 0; t < k; ++t) sample[static_cast<size_t>(t)] = static_cast<int32_t>(sel[static_cast<size_t>(t)]);
      result.Set("sample", sample);
      return result;
    }
    jl::SparseMatrix m;
    if (op == Op::Fjlt) {
      jl::make_sparse(seed, philox::kFjlt, k, n, density, jl::fjlt_value(density, k, n), &m);
    } else {
      jl::make_sparse(seed, philox::kSparse, k, d, density, jl::sparse_value(density, k), &m);
    }
    const Napi::Object csr = csr_object(env, m);
    for (const char* key : {"rowPtr", "colIdx", "values"}) result.Set(key, csr.Get(key));
  } catch (const std::bad_alloc&) {
    throw_range_error(env, "jlParts: cannot allocate the projection's random parts");
  }
  return result;
}

struct CsrCall {
  Rows r;
  ArrayView row_ptr_view, col_view, val_view, out;
  std::vector<int64_t> row_ptr;
  jl::Csr a;
  void run() const { jl::csr_project(static_cast<const float*>(r.x.data), r.rows, a, static_cast<float*>(out.data)); }
};

// args: x, inDim, outDim, rowPtr, colIdx, values, out?
void prepare_csr(const Napi::CallbackInfo& info, CsrCall* c) {
  Napi::Env env = info.Env();
  c->r = parse_rows(env, info[0], info[1], kMaxDim);
  const int64_t k = get_integer(env, info[2], "outDim", 1, kMaxSparseOutDim);
  c->row_ptr_view = get_typed_array(env, info[3], "rowPtr", napi_int32_array, "Int32Array");
  c->col_view = get_typed_array(env, info[4], "colIdx", napi_int32_array, "Int32Array");
  c->val_view = get_float32_array(env, info[5], "values");
  if (c->row_ptr_view.length != k + 1) {
    throw_range_error(env, "rowPtr.length must be outDim + 1 = " + num(k + 1) + ", got " +
                               num(c->row_ptr_view.length));
  }
  const int32_t* rp = static_cast<const int32_t*>(c->row_ptr_view.data);
  const int64_t nnz = c->col_view.length;
  if (c->val_view.length != nnz) {
    throw_range_error(env, "values.length must equal colIdx.length " + num(nnz) + ", got " +
                               num(c->val_view.length));
  }
  if (rp[0] != 0) throw_range_error(env, "rowPtr[0] must be 0, got " + num(rp[0]));
  for (int64_t i = 1; i <= k; ++i) {
    if (rp[i] < rp[i - 1] || rp[i] > nnz) {
      throw_range_error(env, "rowPtr[" + num(i) + "] = " + num(rp[i]) +
                                 " must be from rowPtr[" + num(i - 1) + "] = " + num(rp[i - 1]) +
                                 " to colIdx.length " + num(nnz));
    }
  }
  if (rp[k] != nnz) {
    throw_range_error(env, "rowPtr[outDim] = " + num(rp[k]) + " must equal colIdx.length " + num(nnz));
  }
  const int32_t* col = static_cast<const int32_t*>(c->col_view.data);
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t p = rp[i]; p < rp[i + 1]; ++p) {
      if (col[p] < 0 || col[p] >= c->r.d) {
        throw_range_error(env, "colIdx[" + num(p) + "] = " + num(col[p]) + " is out of range for inDim " + num(c->r.d));
      }
      // Ascending columns within a row: the sums then run in one defined order (jl.h).
      if (p > rp[i] && col[p] <= col[p - 1]) {
        throw_range_error(env, "colIdx[" + num(p) + "] = " + num(col[p]) + " must be greater than colIdx[" +
                                   num(p - 1) + "] = " + num(col[p - 1]) + " (columns ascend within row " + num(i) + ")");
      }
    }
  }
  const ArrayView* others[3] = {&c->row_ptr_view, &c->col_view, &c->val_view};
  const char* names[3] = {"rowPtr", "colIdx", "values"};
  c->out = parse_out(env, info[6], c->r, k, others, names, 3);
  c->row_ptr.assign(rp, rp + k + 1);
  c->a = jl::Csr{k, c->r.d, c->row_ptr.data(), col, static_cast<const float*>(c->val_view.data)};
}

template <class Call>
std::vector<HeldArray> held(const Call& c, std::initializer_list<std::pair<const ArrayView*, const char*>> all) {
  std::vector<HeldArray> h;
  for (const auto& a : all) {
    if (a.first->present) h.push_back({a.second, a.first->value});
  }
  return h;
}

Napi::Value Fwht(const Napi::CallbackInfo& info) {
  FwhtCall c;
  prepare_fwht(info, &c);
  c.run();
  return c.x.value;
}

Napi::Value FwhtAsync(const Napi::CallbackInfo& info) {
  auto c = std::make_shared<FwhtCall>();
  prepare_fwht(info, c.get());
  return KernelWorker::Start(info.Env(), "fwhtAsync", [c] { c->run(); }, c->x.value,
                             held(*c, {{&c->x, "x"}}));
}

// Runs a prepared call on this thread; scratch that cannot be allocated is a RangeError.
template <class Call>
void run_sync(Napi::Env env, const Call& c, const char* op) {
  try {
    c.run();
  } catch (const std::bad_alloc&) {
    throw_range_error(env, std::string(op) + ": cannot allocate its scratch memory");
  }
}

template <Op op>
Napi::Value Project(const Napi::CallbackInfo& info) {
  ProjectCall c;
  prepare_project(info, op, &c);
  run_sync(info.Env(), c, op == Op::Srht ? "srht" : op == Op::Fjlt ? "fjlt" : "sparseProjection");
  return c.out.value;
}

template <Op op>
Napi::Value ProjectAsync(const Napi::CallbackInfo& info) {
  auto c = std::make_shared<ProjectCall>();
  prepare_project(info, op, c.get());
  const char* name = op == Op::Srht ? "srhtAsync" : op == Op::Fjlt ? "fjltAsync" : "sparseProjectionAsync";
  return KernelWorker::Start(info.Env(), name, [c] { c->run(); }, c->out.value,
                             held(*c, {{&c->r.x, "x"}, {&c->out, "out"}}));
}

Napi::Value CsrProject(const Napi::CallbackInfo& info) {
  CsrCall c;
  prepare_csr(info, &c);
  run_sync(info.Env(), c, "SparseProjection.apply");
  return c.out.value;
}

Napi::Value CsrProjectAsync(const Napi::CallbackInfo& info) {
  auto c = std::make_shared<CsrCall>();
  prepare_csr(info, c.get());
  return KernelWorker::Start(info.Env(), "sparseProjectionApplyAsync", [c] { c->run(); }, c->out.value,
                             held(*c, {{&c->r.x, "x"}, {&c->row_ptr_view, "rowPtr"}, {&c->col_view, "colIdx"},
                                       {&c->val_view, "values"}, {&c->out, "out"}}));
}

}  // namespace

void register_jl(Napi::Env env, Napi::Object exports) {
  exports.Set("fwht", Napi::Function::New(env, Fwht, "fwht"));
  exports.Set("fwhtAsync", Napi::Function::New(env, FwhtAsync, "fwhtAsync"));
  exports.Set("srht", Napi::Function::New(env, Project<Op::Srht>, "srht"));
  exports.Set("srhtAsync", Napi::Function::New(env, ProjectAsync<Op::Srht>, "srhtAsync"));
  exports.Set("fjlt", Napi::Function::New(env, Project<Op::Fjlt>, "fjlt"));
  exports.Set("fjltAsync", Napi::Function::New(env, ProjectAsync<Op::Fjlt>, "fjltAsync"));
  exports.Set("sparseProjection", Napi::Function::New(env, Project<Op::Sparse>, "sparseProjection"));
  exports.Set("sparseProjectionAsync", Napi::Function::New(env, ProjectAsync<Op::Sparse>, "sparseProjectionAsync"));
  exports.Set("sparseProjectionMatrix", Napi::Function::New(env, SparseProjectionMatrix, "sparseProjectionMatrix"));
  exports.Set("jlParts", Napi::Function::New(env, JlParts, "jlParts"));
  exports.Set("csrProject", Napi::Function::New(env, CsrProject, "csrProject"));
  exports.Set("csrProjectAsync", Napi::Function::New(env, CsrProjectAsync, "csrProjectAsync"));
}

}  // namespace embedkit::binding
