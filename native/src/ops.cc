#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "pack.h"

namespace vip {

// ---- linear: y[m, n] = x[m, k] · W[n, k]ᵀ + bias, W packed in panels of 32 output features -----------------
void linear(Ctx c, float* y, const float* x, const void* w, const float* bias, int64_t m, int64_t k, int64_t n, Format f) {
  const int64_t panels = (n + PANEL - 1) / PANEL;
  const size_t pb = panel_bytes(f, k);
  const int64_t kp = padded_k(f, k);
  // Activation rows: as they are (fp32-compute formats), rounded to bf16, or quantised per block, into scratch
  // from the block cache (every element is written, so it need not be zeroed).
  const size_t nb = size_t(m * kp / QBLOCK);  // quantisation blocks
  Buffer scratch(f == PANEL_BF16DOT ? size_t(m * kp) * 2 : size_t(m * kp) + nb * 8, false, /*lazy=*/true);
  uint16_t* xb = nullptr;
  QuantRows qr{};
  if (f == PANEL_BF16DOT) {
    xb = scratch.as<uint16_t>();
    c.pool.run(m, 16, [&](int64_t r0, int64_t r1) { rows_to_bf16(x + r0 * k, r1 - r0, k, kp, xb + r0 * kp); });
  } else if (f == PANEL_Q8 || f == PANEL_Q4) {
    int8_t* q = scratch.as<int8_t>();  // [m][kp] int8, then [m][kp/32] scales, then [m][kp/32] sums
    qr = {q, reinterpret_cast<float*>(q + m * kp), reinterpret_cast<int32_t*>(q + m * kp + nb * 4)};
    c.pool.run(m, 16, [&](int64_t r0, int64_t r1) { c.k.quantize_rows(x, k, kp, qr, r0, r1); });
  }
  if (bias) {
    c.pool.run(m, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) std::memcpy(y + r * n, bias, size_t(n) * 4);
    });
  }
  // k blocks keep an x block in L2 and a panel slice in L1 while a thread walks its panels; one block for
  // decode-sized m when the kernel set's tiles cover a whole strip, so that the weights stream once.
  const int64_t kc = m <= c.k.whole_k_rows ? kp : f == PANEL_Q8 || f == PANEL_Q4 ? c.k.int8_kc : 256;
  const int64_t mc = 256;
  // Threads take strips of two panels (64 output features; the last strip may be one panel or partial).
  const int64_t strips = (panels + 1) / 2;
  c.pool.run(strips, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t r0 = 0; r0 < m; r0 += mc) {
      const int rows = int(std::min(mc, m - r0));
      for (int64_t k0 = 0; k0 < kp; k0 += kc) {
        const int64_t k1 = std::min(kp, k0 + kc);
        const bool acc = bias != nullptr || k0 > 0;
        for (int64_t st = s0; st < s1; ++st) {
          const int64_t p = 2 * st;
          const int np = int(std::min<int64_t>(2, panels - p));
          const uint8_t* panel = static_cast<const uint8_t*>(w) + p * pb;
          float* yp = y + r0 * n + p * PANEL;
          const int cols = int(std::min<int64_t>(np * PANEL, n - p * PANEL));
          switch (f) {
            case PANEL_F32: c.k.gemm_f32(x + r0 * k, k, rows, panel, pb, np, k0, k1, yp, n, cols, acc); break;  // kp == k
            case PANEL_F16: c.k.gemm_f16(x + r0 * k, k, rows, panel, pb, np, k0, k1, yp, n, cols, acc); break;
            case PANEL_BF16: c.k.gemm_bf16(x + r0 * k, k, rows, panel, pb, np, k0, k1, yp, n, cols, acc); break;
            case PANEL_BF16DOT: c.k.gemm_bf16dot(xb + r0 * kp, kp, rows, panel, pb, np, k0, k1, yp, n, cols, acc); break;
            case PANEL_Q8:
            case PANEL_Q4: {
              const QuantRows rq = {qr.q + r0 * kp, qr.scale + r0 * (kp / QBLOCK), qr.sum + r0 * (kp / QBLOCK)};
              (f == PANEL_Q8 ? c.k.gemm_q8 : c.k.gemm_q4)(rq, kp, rows, panel, pb, np, k0 / QBLOCK, k1 / QBLOCK, yp, n, cols, acc);
              break;
            }
          }
        }
      }
    }
  });
}

// ---- element-wise and normalisation ----------------------------------------------------------------------
void activation(Ctx c, float* y, const float* x, int64_t n, Act kind) {
  c.pool.run(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    switch (kind) {
      case ACT_SILU: c.k.x_sigmoid(y + i0, x + i0, i1 - i0, 1.0f); break;
      case ACT_QUICK_GELU: c.k.x_sigmoid(y + i0, x + i0, i1 - i0, 1.702f); break;
      case ACT_GELU:
        for (int64_t i = i0; i < i1; ++i) y[i] = float(0.5 * x[i] * (1.0 + std::erf(double(x[i]) * M_SQRT1_2)));
        break;
      case ACT_GELU_TANH:
        for (int64_t i = i0; i < i1; ++i) {
          const double v = x[i];
          y[i] = float(0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
        }
        break;
      case ACT_RELU:
        for (int64_t i = i0; i < i1; ++i) y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    }
  });
}

void add(Ctx c, float* y, const float* a, const float* b, int64_t n, int64_t nb) {
  c.pool.run(n / nb, std::max<int64_t>(1, (1 << 14) / nb), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
#pragma omp simd
      for (int64_t i = 0; i < nb; ++i) y[r * nb + i] = a[r * nb + i] + b[i];
    }
  });
}

void mul(Ctx c, float* y, const float* a, const float* b, int64_t n) {
  c.pool.run(n, 1 << 14, [&](int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] * b[i];
  });
}

void layer_norm(Ctx c, float* y, const float* x, const float* w, const float* b, int64_t rows, int64_t h, float eps) {
  c.pool.run(rows, 4, [&](int64_t r0, int64_t r1) { c.k.layer_norm_rows(y + r0 * h, x + r0 * h, w, b, r1 - r0, h, eps); });
}

void rms_norm(Ctx c, float* y, const float* x, const float* w, int64_t rows, int64_t h, float eps) {
  c.pool.run(rows, 4, [&](int64_t r0, int64_t r1) { c.k.rms_norm_rows(y + r0 * h, x + r0 * h, w, r1 - r0, h, eps); });
}

void rope(Ctx c, float* y, const float* x, int64_t rows, int64_t width, const std::vector<int32_t>& positions, int64_t head_dim,
          const std::vector<float>& inv_freq, float scaling) {
  const int64_t half = head_dim / 2;
  c.pool.run(rows, 4, [&](int64_t r0, int64_t r1) {
    std::vector<float> cs(half), sn(half);
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < half; ++i) {
        const float angle = inv_freq[i] * float(positions[r]);
        cs[i] = float(std::cos(double(angle))) * scaling;
        sn[i] = float(std::sin(double(angle))) * scaling;
      }
      c.k.rope_row(y + r * width, x + r * width, width, head_dim, cs.data(), sn.data());
    }
  });
}

// ---- attention ---------------------------------------------------------------------------------------------
namespace {

// Keys t in [first, last] that query s (of batch row b) may attend to.
struct KeyRange {
  int64_t first, last;
};
KeyRange key_range(const AttentionShape& s, int64_t q) {
  KeyRange r{0, s.kv_length - 1};
  if (s.past >= 0) {
    const int64_t qi = s.past + q;
    r.last = std::min(r.last, qi);
    if (s.window >= 0) r.first = std::max<int64_t>(0, qi - s.window + 1);
  }
  return r;
}

// Softmax weights, in place, of a row of n raw scores: scaled, with keys whose `keep` byte is 0 (when given)
// weighted 0. Returns 1 / Σ weights, or 0 when no key may be attended to (the row is then all zeros).
float softmax_row(Ctx c, float* sr, int64_t n, float scale, const uint8_t* keep) {
  if (!keep) return float(1.0 / c.k.exp_shift_sum(sr, n, c.k.scale_max(sr, n, scale)));
  const float ninf = -std::numeric_limits<float>::infinity();
  float mx = ninf;
  for (int64_t t = 0; t < n; ++t) mx = std::max(mx, sr[t] = keep[t] ? sr[t] * scale : ninf);
  if (mx == ninf) {
    std::fill(sr, sr + n, 0.0f);
    return 0.0f;
  }
  c.k.exp_shift_sum(sr, n, mx);
  double denom = 0;  // the exp kernels clamp their input, so masked keys are zeroed here, not left at ~1e-38
  for (int64_t t = 0; t < n; ++t) denom += keep[t] ? sr[t] : (sr[t] = 0.0f);
  return float(1.0 / denom);
}

}  // namespace

void attention(Ctx c, float* out, const float* q, const void* kv_k, const void* kv_v, bool half, const AttentionShape& s, const std::vector<uint8_t>& key_mask) {
  const int64_t d = s.head_dim, qw = s.heads * d, kw = s.kv_heads * d, rep = s.heads / s.kv_heads;
  // Batch row b's key mask (1: may be attended to), or null without padding.
  auto keep_row = [&](int64_t b) { return key_mask.empty() ? nullptr : key_mask.data() + b * s.kv_length; };

  if (s.seq <= 8) {
    // Decode: per (batch row, query row, chunk of heads) the keys are walked in order, each key row read across
    // the chunk's heads in one contiguous run. Walking one head at a time touched a new page per key (rows are
    // kw elements apart), which the hardware prefetcher does not follow; the rows AHEAD keys on are prefetched.
    const int64_t esize = half ? 2 : 4;
    const int64_t chunks = std::clamp<int64_t>(2 * c.pool.size() / (s.batch * s.seq), 1, s.kv_heads);
    const int64_t per = (s.kv_heads + chunks - 1) / chunks;  // kv heads per chunk
    constexpr int64_t AHEAD = 8;  // keys
    c.pool.run(s.batch * s.seq * chunks, 1, [&](int64_t i0, int64_t i1) {
      std::vector<float> scores, acc, inv;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t b = i / (s.seq * chunks), row = (i / chunks) % s.seq, g0 = (i % chunks) * per, g1 = std::min(s.kv_heads, g0 + per);
        if (g0 >= g1) continue;
        const int64_t h0 = g0 * rep, nh = (g1 - g0) * rep;  // query heads h0 .. h0 + nh
        const KeyRange kr = key_range(s, row);
        const int64_t n = kr.last - kr.first + 1;
        scores.resize(size_t(nh * n));  // [nh][n], every element written by dots
        const float* qh = q + (b * s.seq + row) * qw + h0 * d;
        const char* kb = static_cast<const char*>(kv_k) + ((b * s.kv_rows) * kw + g0 * d) * esize;
        const char* vb = static_cast<const char*>(kv_v) + ((b * s.kv_rows) * kw + g0 * d) * esize;
        const int64_t run = (g1 - g0) * d * esize, stride = kw * esize;  // bytes of the chunk in a key row; row pitch
        auto prefetch = [&](const char* p) {
          for (int64_t o = 0; o < run; o += 64) __builtin_prefetch(p + o, 0, 3);
        };
        for (int64_t t = kr.first; t <= kr.last; t += 8) {  // eight keys at a time, every head of the chunk
          const int m = int(std::min<int64_t>(8, kr.last + 1 - t));
          for (int64_t a = t + AHEAD; a < std::min(t + AHEAD + 8, kr.last + 1); ++a) prefetch(kb + a * stride);
          for (int64_t h = 0; h < nh; ++h) {
            c.k.dots(qh + h * d, kb + t * stride + (h / rep) * d * esize, stride, m, d, half, scores.data() + h * n + (t - kr.first));
          }
        }
        const uint8_t* keep = keep_row(b);
        inv.resize(size_t(nh));
        for (int64_t h = 0; h < nh; ++h) inv[size_t(h)] = softmax_row(c, scores.data() + h * n, n, s.scale, keep ? keep + kr.first : nullptr);
        acc.assign(size_t(nh * d), 0.0f);
        for (int64_t t = kr.first; t <= kr.last; t += 8) {
          const int m = int(std::min<int64_t>(8, kr.last + 1 - t));
          for (int64_t a = t + AHEAD; a < std::min(t + AHEAD + 8, kr.last + 1); ++a) prefetch(vb + a * stride);
          for (int64_t h = 0; h < nh; ++h) {
            c.k.axpys(scores.data() + h * n + (t - kr.first), vb + t * stride + (h / rep) * d * esize, stride, m, d, half, acc.data() + h * d);
          }
        }
        float* o = out + (b * s.seq + row) * qw + h0 * d;
        for (int64_t h = 0; h < nh; ++h) {
          for (int64_t e = 0; e < d; ++e) o[h * d + e] = acc[size_t(h * d + e)] * inv[size_t(h)];
        }
      }
    });
    return;
  }

  // Prefill: per (batch, kv head) the keys are packed in panels of 32 keys ([T/32][d][32]), so for a block of 32
  // queries the scores are a small GEMM; the weighted sum of values is another, reading float32 values in place
  // (an fp16 cache's values are widened once, [B, kv_length, kw]). Only a [32, T] block of scores exists at a time.
  const int64_t tp = (s.kv_length + PANEL - 1) / PANEL;
  Buffer kbuf(size_t(s.batch * s.kv_heads * tp * d * PANEL) * 4, false);  // from the block cache, no page faults
  float* const kpack = kbuf.as<float>();
  c.pool.run(s.batch * s.kv_heads * tp, 4, [&](int64_t i0, int64_t i1) {
    std::vector<float> wide(size_t(half ? d : 0));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / (s.kv_heads * tp), g = (i / tp) % s.kv_heads, p = i % tp;
      float* kd = kpack + i * d * PANEL;
      for (int j = 0; j < PANEL; ++j) {
        const int64_t t = p * PANEL + j, at = (b * s.kv_rows + t) * kw + g * d;
        if (t >= s.kv_length) {
          for (int64_t e = 0; e < d; ++e) kd[e * PANEL + j] = 0.0f;
          continue;
        }
        const float* ks = static_cast<const float*>(kv_k) + at;
        if (half) {
          c.k.widen_h(static_cast<const uint16_t*>(kv_k) + at, wide.data(), d);
          ks = wide.data();
        }
        for (int64_t e = 0; e < d; ++e) kd[e * PANEL + j] = ks[e];
      }
    }
  });
  const float* v = static_cast<const float*>(kv_v);
  int64_t v_rows = s.kv_rows;
  Buffer vbuf(half ? size_t(s.batch * s.kv_length * kw) * 4 : 0, false, /*lazy=*/true);
  if (half) {
    float* const wide = vbuf.as<float>();  // allocated here, not by the first pool thread to touch it
    c.pool.run(s.batch * s.kv_length, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t from = ((r / s.kv_length) * s.kv_rows + r % s.kv_length) * kw;
        c.k.widen_h(static_cast<const uint16_t*>(kv_v) + from, wide + r * kw, kw);
      }
    });
    v = wide;
    v_rows = s.kv_length;
  }
  constexpr int64_t QB = 32;
  const int64_t qblocks = (s.seq + QB - 1) / QB;
  c.pool.run(s.batch * s.heads * qblocks, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> scores(size_t(QB * tp * PANEL)), inv(QB);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / (s.heads * qblocks), h = (i / qblocks) % s.heads, qb = i % qblocks, g = h / rep;
      const int64_t r0 = qb * QB, rows = std::min(QB, s.seq - r0);
      const int64_t last = key_range(s, r0 + rows - 1).last;  // the last key any row of the block sees
      const int64_t panels = last / PANEL + 1, ld = panels * PANEL;
      const float* qh = q + (b * s.seq + r0) * qw + h * d;
      const float* kh = kpack + (b * s.kv_heads + g) * tp * d * PANEL;
      for (int64_t p = 0; p < panels; ++p) c.k.gemm_f32(qh, qw, int(rows), kh + p * d * PANEL, 0, 1, 0, d, scores.data() + p * PANEL, ld, PANEL, false);
      const uint8_t* keep = keep_row(b);
      for (int64_t r = 0; r < rows; ++r) {
        float* sr = scores.data() + r * ld;
        const KeyRange kr = key_range(s, r0 + r);
        std::fill(sr, sr + kr.first, 0.0f);
        std::fill(sr + kr.last + 1, sr + ld, 0.0f);
        inv[r] = softmax_row(c, sr + kr.first, kr.last - kr.first + 1, s.scale, keep ? keep + kr.first : nullptr);
      }
      const float* vh = v + b * v_rows * kw + g * d;  // [T, d], rows kw apart: read in place
      float* o = out + (b * s.seq + r0) * qw + h * d;
      const int64_t used = std::min(ld, s.kv_length);  // weights past `used` are 0
      for (int64_t e = 0; e < d; e += PANEL) {
        c.k.gemm_f32_strided(scores.data(), ld, int(rows), vh + e, kw, 0, used, o + e, qw, int(std::min<int64_t>(PANEL, d - e)), false);
      }
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t e = 0; e < d; ++e) o[r * qw + e] *= inv[r];
      }
    }
  });
}

}  // namespace vip
