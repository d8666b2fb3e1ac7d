// vLLM's CPU rotary embedding, compiled from the caller's vLLM checkout (never copied here):
// this file includes its csrc/cpu/pos_encoding.cpp whole, so that the kernels in that file's
// unnamed namespace (rotary_embedding_impl for NeoX, rotary_embedding_gptj_impl for GPT-J)
// can be called directly, without a torch::Tensor. Built by bench/vllm/compare.sh with the
// checkout's csrc/cpu and PyTorch's headers on the include path, -march=native and OpenMP.
#include <omp.h>

#include <cstdint>

#include VLLM_POS_ENCODING

void vllm_set_threads(int n) { omp_set_num_threads(n); }

// In place, as vLLM applies it: q is tokens x heads x head_size, k tokens x kv_heads x
// head_size, cos_sin_cache max_position x rot_dim (rot_dim / 2 cosines, then as many sines).
void vllm_rope(bool neox, const int64_t* positions, float* q, float* k, const float* cos_sin_cache,
               int rot_dim, int heads, int kv_heads, int head_size, int tokens) {
  const int64_t q_stride = int64_t{heads} * head_size, k_stride = int64_t{kv_heads} * head_size;
  if (neox) {
    rotary_embedding_impl<float>(positions, q, k, cos_sin_cache, rot_dim, q_stride, k_stride, heads,
                                 kv_heads, head_size, tokens);
  } else {
    rotary_embedding_gptj_impl<float>(positions, q, k, cos_sin_cache, rot_dim, q_stride, k_stride,
                                      heads, kv_heads, head_size, tokens);
  }
}
