// The engine's ops on raw buffers, run on the executor thread with the pool for their loops.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels.h"
#include "runtime.h"

namespace vip {

struct Ctx {
  const Kernels& k;
  ThreadPool& pool;
};

void linear(Ctx c, float* y, const float* x, const void* w, const float* bias, int64_t m, int64_t k, int64_t n, Format f);

enum Act : int { ACT_GELU = 0, ACT_QUICK_GELU = 1, ACT_SILU = 2, ACT_GELU_TANH = 3, ACT_RELU = 4 };
void activation(Ctx c, float* y, const float* x, int64_t n, Act kind);
void add(Ctx c, float* y, const float* a, const float* b, int64_t n, int64_t nb);
void mul(Ctx c, float* y, const float* a, const float* b, int64_t n);
void layer_norm(Ctx c, float* y, const float* x, const float* w, const float* b, int64_t rows, int64_t h, float eps);
void rms_norm(Ctx c, float* y, const float* x, const float* w, int64_t rows, int64_t h, float eps);
void rope(Ctx c, float* y, const float* x, int64_t rows, int64_t width, const std::vector<int32_t>& positions, int64_t head_dim,
          const std::vector<float>& inv_freq, float scaling);

struct AttentionShape {
  int64_t batch, seq, kv_rows, heads, kv_heads, head_dim, kv_length;
  float scale;
  int64_t past = -1;    // causal when ≥ 0: query s sits at key index past + s
  int64_t window = -1;  // sliding window when ≥ 0
};
// k and v are [batch, kv_rows, kv_heads·head_dim], float32 or (half) fp16.
void attention(Ctx c, float* out, const float* q, const void* k, const void* v, bool half, const AttentionShape& s, const std::vector<uint8_t>& key_mask);

}  // namespace vip
