// Product-quantizer kernels: encode through nearest.cu, decode and tables one thread per
// output element, and the scan as sort keys (top_k.h) per batch of queries.
#include <algorithm>

#include "../common/lane_groups.cuh"
#include "../common/scratch.h"
#include "pq.h"
#include "top_k.h"

namespace embedkit::cuda::codebook {
namespace {

__global__ void decode_kernel(DevicePq pq, const uint8_t* codes, int64_t n, float* out) {
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e >= n * pq.dim) return;
  const int64_t r = e / pq.dim, col = e % pq.dim;
  const int64_t dsub = pq.dsub(), s = col / dsub;
  out[e] = pq.codebooks[(s * pq.ksub + codes[r * pq.m + s]) * dsub + col % dsub];
}

// One thread per (query, subspace, code): the CPU's exact_score, float64, unfused.
__global__ void table_kernel(DevicePq pq, const float* queries, int64_t nq, bool l2, float* tables) {
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e >= nq * pq.m * pq.ksub) return;
  const int64_t c = e % pq.ksub, s = (e / pq.ksub) % pq.m, q = e / (pq.ksub * pq.m);
  const int64_t dsub = pq.dsub();
  const float* x = queries + q * pq.dim + s * dsub;
  const float* code = pq.codebooks + (s * pq.ksub + c) * dsub;
  double sum = 0;
  for (int64_t k = 0; k < dsub; ++k) {
    const double d = static_cast<double>(x[k]) - code[k];
    sum = __dadd_rn(sum, l2 ? __dmul_rn(d, d) : __dmul_rn(static_cast<double>(x[k]), static_cast<double>(code[k])));
  }
  tables[e] = static_cast<float>(sum);
}

// A coded vector's asymmetric distance: float32, subspaces in order, from 0 (the CPU's loop).
__device__ float scan_sum(const float* table, const uint8_t* code, int64_t m, int64_t ksub) {
  float sum = 0.0f;
  for (int64_t s = 0; s < m; ++s) sum += table[s * ksub + code[s]];
  return sum;
}

__global__ void scan_keys_kernel(DevicePq pq, const float* tables, int64_t q0, int64_t queries, bool descending,
                                 const uint8_t* codes, int64_t n, int id_bits, uint64_t* keys) {
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e >= queries * n) return;
  const int64_t local = e / n, i = e % n;
  const float sum = scan_sum(tables + (q0 + local) * pq.m * pq.ksub, codes + i * pq.m, pq.m, pq.ksub);
  keys[e] = sort_key(local, rank_bits(sum, descending), i, id_bits);
}

__global__ void scan_take_kernel(DevicePq pq, const float* tables, int64_t q0, int64_t queries, const uint8_t* codes,
                                 int64_t n, int64_t k, int id_bits, const uint64_t* sorted, int32_t* ids,
                                 float* distances) {
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e >= queries * k) return;
  const int64_t local = e / k, j = e % k;
  const int64_t id = static_cast<int64_t>(sorted[local * n + j] & ((uint64_t{1} << id_bits) - 1));
  const int64_t out = (q0 + local) * k + j;
  ids[out] = static_cast<int32_t>(id);
  // The score again from the table: the exact bits (a NaN's payload included).
  distances[out] = scan_sum(tables + (q0 + local) * pq.m * pq.ksub, codes + id * pq.m, pq.m, pq.ksub);
}

}  // namespace

size_t pq_encode_scratch_bytes(const DevicePq& pq) { return aligned(static_cast<size_t>(pq.m * pq.ksub) * 4); }

cudaError_t pq_encode(const DevicePq& pq, const float* x, int64_t n, uint8_t* codes, void* scratch, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  float* norms = static_cast<float*>(scratch);
  cudaError_t e = code_norms(pq.codebooks, pq.m, pq.ksub, pq.dsub(), norms, stream);
  if (e != cudaSuccess) return e;
  NearestArgs a;
  a.x = x;
  a.rows = n;
  a.dim = pq.dsub();
  a.row_stride = pq.dim;
  a.groups = pq.m;
  a.codebooks = pq.codebooks;
  a.norms = norms;
  a.num_codes = pq.ksub;
  a.metric = Metric::L2;
  a.codes8 = codes;
  return nearest_codes(a, stream);
}

cudaError_t pq_decode(const DevicePq& pq, const uint8_t* codes, int64_t n, float* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  decode_kernel<<<blocks_for(n * pq.dim), kBlockThreads, 0, stream>>>(pq, codes, n, out);
  return cudaGetLastError();
}

cudaError_t pq_distance_table(const DevicePq& pq, const float* queries, int64_t nq, Metric metric, float* tables,
                              cudaStream_t stream) {
  if (nq == 0) return cudaSuccess;
  table_kernel<<<blocks_for(nq * pq.m * pq.ksub), kBlockThreads, 0, stream>>>(pq, queries, nq, metric == Metric::L2,
                                                                              tables);
  return cudaGetLastError();
}

size_t pq_scan_scratch_bytes(int64_t nq, int64_t n) {
  const int64_t per_batch = std::min(nq, segments_per_batch(n, id_bits_for(n)));
  return sort_scratch_bytes(per_batch, n);
}

cudaError_t pq_scan(const DevicePq& pq, const float* tables, int64_t nq, Metric metric, const uint8_t* codes, int64_t n,
                    int64_t k, int32_t* ids, float* distances, void* scratch, cudaStream_t stream) {
  if (nq == 0 || k == 0) return cudaSuccess;
  const int id_bits = id_bits_for(n);
  const int64_t per_batch = std::min(nq, segments_per_batch(n, id_bits));
  const SortBatch batch = carve_sort_scratch(scratch, per_batch, n);
  const bool descending = metric == Metric::InnerProduct;
  for (int64_t q0 = 0; q0 < nq; q0 += per_batch) {
    const int64_t queries = std::min(per_batch, nq - q0);
    scan_keys_kernel<<<blocks_for(queries * n), kBlockThreads, 0, stream>>>(pq, tables, q0, queries, descending, codes, n,
                                                                            id_bits, batch.keys);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = sort_batch(batch, queries * n, 32 + id_bits + id_bits_for(queries), stream);
    if (e != cudaSuccess) return e;
    scan_take_kernel<<<blocks_for(queries * k), kBlockThreads, 0, stream>>>(pq, tables, q0, queries, codes, n, k, id_bits,
                                                                            batch.sorted, ids, distances);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace embedkit::cuda::codebook
