// AVX-512 F/BW/VL/DQ + BF16 + VNNI kernels (compiled with those flags only; chosen at run time). A zmm holds 16
// columns of a panel row; 32 registers allow tiles of 6 rows × 64 columns.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
namespace {
#include "kernels_generic.inc"

// ---- AVX-512 micro-kernels --------------------------------------------------------------------------------
// A strip of NP panels side by side (panels `pstride` bytes apart) is V = 2·NP vectors of 16 columns. A tile
// multiplies R rows by the strip: R·V accumulators; each row's broadcast is shared by V vectors, which keeps
// broadcasts (a shuffle-port op on AMD) off the critical path. Two panels per strip (V = 4) with R = 6 is the
// prefill shape; partial strips and tail rows use smaller instances of the same template.
inline __mmask16 mask_v(int cols, int v) {
  const int c = cols - 16 * v;
  return c >= 16 ? __mmask16(0xFFFF) : c <= 0 ? __mmask16(0) : __mmask16((1u << c) - 1);
}

template <int R, int V>
inline void store_acc(float* y, int64_t ldy, __m512 (&a)[R][V], int cols, bool accumulate) {
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = mask_v(cols, v);
      __m512 out = a[r][v];
      if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(m, y + r * ldy + 16 * v));
      _mm512_mask_storeu_ps(y + r * ldy + 16 * v, m, out);
    }
  }
}

// fp32 compute: w(k, out[V]) widens row k of the strip to V float vectors.
template <int R, int V, class WL>
inline void tile_fp(const float* x, int64_t ldx, WL wl, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate) {
  __m512 a[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) a[r][v] = _mm512_setzero_ps();
  for (int64_t k = k0; k < k1; ++k) {
    __m512 w[V];
    wl(k, w);
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(x[r * ldx + k]);
      for (int v = 0; v < V; ++v) a[r][v] = _mm512_fmadd_ps(xv, w[v], a[r][v]);
    }
  }
  store_acc<R, V>(y, ldy, a, cols, accumulate);
}

template <class Elem, class Widen>
void gemm_fp512(const float* x, int64_t ldx, int m, const void* panel, size_t pstride, int np, int64_t k0, int64_t k1, float* y, int64_t ldy,
                int cols, bool accumulate, Widen widen) {
  const Elem* p0 = static_cast<const Elem*>(panel);
  const Elem* p1 = reinterpret_cast<const Elem*>(static_cast<const uint8_t*>(panel) + pstride);
  if (np == 2) {
    auto wl = [&](int64_t k, __m512 (&w)[4]) {
      w[0] = widen(p0 + k * PANEL);
      w[1] = widen(p0 + k * PANEL + 16);
      w[2] = widen(p1 + k * PANEL);
      w[3] = widen(p1 + k * PANEL + 16);
    };
    over_rows<6>(m, [&](auto R, int r) { tile_fp<R(), 4>(x + r * ldx, ldx, wl, k0, k1, y + r * ldy, ldy, cols, accumulate); });
  } else {
    auto wl = [&](int64_t k, __m512 (&w)[2]) {
      w[0] = widen(p0 + k * PANEL);
      w[1] = widen(p0 + k * PANEL + 16);
    };
    over_rows<8>(m, [&](auto R, int r) { tile_fp<R(), 2>(x + r * ldx, ldx, wl, k0, k1, y + r * ldy, ldy, cols, accumulate); });
  }
}

void gemm_f32(const float* x, int64_t ldx, int m, const void* p, size_t ps, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool acc) {
  gemm_fp512<float>(x, ldx, m, p, ps, np, k0, k1, y, ldy, cols, acc, [](const float* q) { return _mm512_loadu_ps(q); });
}
void gemm_f32_strided(const float* x, int64_t ldx, int m, const float* p, int64_t ldp, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool acc) {
  const __mmask16 m0 = mask_v(cols, 0), m1 = mask_v(cols, 1);
  auto wl = [&](int64_t k, __m512 (&w)[2]) {
    w[0] = _mm512_maskz_loadu_ps(m0, p + k * ldp);
    w[1] = _mm512_maskz_loadu_ps(m1, p + k * ldp + 16);
  };
  over_rows<8>(m, [&](auto R, int r) { tile_fp<R(), 2>(x + r * ldx, ldx, wl, k0, k1, y + r * ldy, ldy, cols, acc); });
}
void gemm_f16(const float* x, int64_t ldx, int m, const void* p, size_t ps, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool acc) {
  gemm_fp512<uint16_t>(x, ldx, m, p, ps, np, k0, k1, y, ldy, cols, acc,
                       [](const uint16_t* q) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q))); });
}
void gemm_bf16(const float* x, int64_t ldx, int m, const void* p, size_t ps, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool acc) {
  gemm_fp512<uint16_t>(x, ldx, m, p, ps, np, k0, k1, y, ldy, cols, acc, [](const uint16_t* q) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q))), 16));
  });
}

// bf16 products: pairs of k per 32-bit lane, vdpbf16ps.
template <int R, int V>
inline void tile_bf16dot(const uint16_t* xb, int64_t ldx, const uint16_t* const* ps, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate) {
  __m512 a[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) a[r][v] = _mm512_setzero_ps();
  for (int64_t k = k0; k < k1; k += 2) {
    __m512bh w[V];
    for (int v = 0; v < V; ++v) w[v] = (__m512bh)_mm512_loadu_si512(ps[v / 2] + (k / 2) * PANEL * 2 + 32 * (v % 2));
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, xb + r * ldx + k, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      for (int v = 0; v < V; ++v) a[r][v] = _mm512_dpbf16_ps(a[r][v], w[v], xv);
    }
  }
  store_acc<R, V>(y, ldy, a, cols, accumulate);
}

void gemm_bf16dot(const uint16_t* xb, int64_t ldx, int m, const void* p, size_t pstride, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool acc) {
  const uint16_t* ps[2] = {static_cast<const uint16_t*>(p), reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(p) + pstride)};
  if (np == 2) {
    over_rows<6>(m, [&](auto R, int r) { tile_bf16dot<R(), 4>(xb + r * ldx, ldx, ps, k0, k1, y + r * ldy, ldy, cols, acc); });
  } else {
    over_rows<8>(m, [&](auto R, int r) { tile_bf16dot<R(), 2>(xb + r * ldx, ldx, ps, k0, k1, y + r * ldy, ldy, cols, acc); });
  }
}

// Quantised: per 32-wide block, int32 dot products with vpdpbusd (unsigned weights × signed activations), then
// the offset correction, the two scales and a float accumulation.
template <int R, int V, bool Q4>
inline void tile_q(const QuantRows& x, int64_t ldq, int r0, const uint8_t* const* ps, int64_t b0, int64_t b1, float* y, int64_t ldy, int cols,
                   bool accumulate, size_t block_bytes) {
  const int64_t nb = ldq / QBLOCK;
  constexpr int32_t offset = Q4 ? 8 : 128;
  __m512 f[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) f[r][v] = _mm512_setzero_ps();
  const __m512i lo4 = _mm512_set1_epi8(15);
  for (int64_t b = b0; b < b1; ++b) {
    __m512i acc[R][V];
    for (int r = 0; r < R; ++r) {
      const __m512i start = _mm512_set1_epi32(-offset * x.sum[(r0 + r) * nb + b]);  // the offset correction, up front
      for (int v = 0; v < V; ++v) acc[r][v] = start;
    }
    for (int s = 0; s < 8; ++s) {
      __m512i w[V];
      for (int j = 0; j < V / 2; ++j) {
        const uint8_t* blk = ps[j] + b * block_bytes;
        if (Q4) {
          const __m512i both = _mm512_loadu_si512(blk + s * 64);
          w[2 * j] = _mm512_and_si512(both, lo4);
          w[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(both, 4), lo4);
        } else {
          w[2 * j] = _mm512_loadu_si512(blk + s * 128);
          w[2 * j + 1] = _mm512_loadu_si512(blk + s * 128 + 64);
        }
      }
      for (int r = 0; r < R; ++r) {
        int32_t quad;
        std::memcpy(&quad, x.q + (r0 + r) * ldq + b * QBLOCK + s * 4, 4);
        const __m512i xv = _mm512_set1_epi32(quad);
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], w[v], xv);
      }
    }
    __m512 d[V];
    for (int j = 0; j < V / 2; ++j) {
      const uint16_t* sc = reinterpret_cast<const uint16_t*>(ps[j] + b * block_bytes + block_bytes - PANEL * 2);
      d[2 * j] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc)));
      d[2 * j + 1] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + 16)));
    }
    for (int r = 0; r < R; ++r) {
      const __m512 dx = _mm512_set1_ps(x.scale[(r0 + r) * nb + b]);
      for (int v = 0; v < V; ++v) f[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), _mm512_mul_ps(d[v], dx), f[r][v]);
    }
  }
  store_acc<R, V>(y + r0 * ldy, ldy, f, cols, accumulate);
}

template <bool Q4>
void gemm_q512(const QuantRows& x, int64_t ldq, int m, const void* p, size_t pstride, int np, int64_t b0, int64_t b1, float* y, int64_t ldy, int cols,
               bool acc) {
  const size_t bb = vip::panel_bytes(Q4 ? vip::PANEL_Q4 : vip::PANEL_Q8, QBLOCK);
  const uint8_t* ps[2] = {static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + pstride};
  if (np == 2) {
    over_rows<2>(m, [&](auto R, int r) { tile_q<R(), 4, Q4>(x, ldq, r, ps, b0, b1, y, ldy, cols, acc, bb); });
  } else {
    over_rows<4>(m, [&](auto R, int r) { tile_q<R(), 2, Q4>(x, ldq, r, ps, b0, b1, y, ldy, cols, acc, bb); });
  }
}
void gemm_q8(const QuantRows& x, int64_t ldq, int m, const void* p, size_t ps, int np, int64_t b0, int64_t b1, float* y, int64_t ldy, int cols, bool acc) {
  gemm_q512<false>(x, ldq, m, p, ps, np, b0, b1, y, ldy, cols, acc);
}
void gemm_q4(const QuantRows& x, int64_t ldq, int m, const void* p, size_t ps, int np, int64_t b0, int64_t b1, float* y, int64_t ldy, int cols, bool acc) {
  gemm_q512<true>(x, ldq, m, p, ps, np, b0, b1, y, ldy, cols, acc);
}

// exp: 2^n · p(r), r = x - n·ln2 in two parts, degree-6 polynomial (a few ulp); x clamped to [-87.3, 88.7].
inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.3981999507e-3f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

float scale_max(float* x, int64_t n, float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), sc);
    _mm512_storeu_ps(x + i, v);
    mx = _mm512_max_ps(mx, v);
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sc);
    _mm512_mask_storeu_ps(x + i, m, v);
    mx = _mm512_mask_max_ps(mx, m, mx, v);
  }
  return _mm512_reduce_max_ps(mx);
}

double exp_shift_sum(float* x, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(m, e));
  }
  return _mm512_reduce_add_ps(acc);
}

void x_sigmoid(float* y, const float* x, int64_t n, float beta) {
  const __m512 one = _mm512_set1_ps(1.0f), nb = _mm512_set1_ps(-beta);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(y + i, _mm512_div_ps(v, _mm512_add_ps(one, exp512(_mm512_mul_ps(v, nb)))));
  }
  generic_x_sigmoid(y + i, x + i, n - i, beta);
}

float read_sum(const float* x, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + i + 48));
  }
  float rest = 0;
  for (; i < n; ++i) rest += x[i];
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) + rest;
}

// Twelve independent chains of the instruction the kernels use (chains() in kernels_generic.inc).
double probe(int kind, int64_t iters) {
  if (kind == vip::PROBE_FP32) {
    const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
    volatile float sink = _mm512_reduce_add_ps(chains(iters, [](int j) { return _mm512_set1_ps(0.1f * float(j)); }, [&](__m512 a) { return _mm512_fmadd_ps(a, b, c); }, [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); }));
    (void)sink;
    return 12.0 * 16 * 2 * double(iters);
  }
  if (kind == vip::PROBE_BF16) {
    const __m512bh b = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), c = (__m512bh)_mm512_set1_epi32(0x38d138d1);
    volatile float sink = _mm512_reduce_add_ps(chains(iters, [](int j) { return _mm512_set1_ps(0.1f * float(j)); }, [&](__m512 a) { return _mm512_dpbf16_ps(a, b, c); }, [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); }));
    (void)sink;
    return 12.0 * 16 * 4 * double(iters);
  }
  const __m512i b = _mm512_set1_epi32(0x01010101), c = _mm512_set1_epi32(0x02020202);
  volatile int sink = _mm512_reduce_add_epi32(chains(iters, [](int j) { return _mm512_set1_epi32(j); }, [&](__m512i a) { return _mm512_dpbusd_epi32(a, b, c); }, [](__m512i x, __m512i y) { return _mm512_add_epi32(x, y); }));
  (void)sink;
  return 12.0 * 16 * 8 * double(iters);
}


void widen_h(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  generic_widen_h(x + i, y + i, n - i);
}
void narrow_h(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  generic_narrow_h(x + i, y + i, n - i);
}

// 16 elements of a float32 or fp16 row from element e, the first `m` lanes only (tails).
template <bool H>
inline __m512 row16(const char* row, int64_t e, __mmask16 m = 0xffff) {
  if constexpr (H) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + e));
  else return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + e);
}

template <bool H>
void dots_t(const float* q, const char* rows, int64_t stride, int n, int64_t d, float* out) {
  const char* r[8];
  for (int j = 0; j < 8; ++j) r[j] = rows + std::min(j, n - 1) * stride;  // rows past n repeat the last (ignored)
  __m512 a[8];
  for (int j = 0; j < 8; ++j) a[j] = _mm512_setzero_ps();
  for (int64_t e = 0; e < d; e += 16) {
    const __mmask16 m = d - e >= 16 ? __mmask16(0xffff) : __mmask16((1u << (d - e)) - 1);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + e);
    for (int j = 0; j < 8; ++j) a[j] = _mm512_fmadd_ps(qv, row16<H>(r[j], e, m), a[j]);
  }
  // eight horizontal sums at once: halves added, then three rounds of pairwise adds
  __m256 s[8];
  for (int j = 0; j < 8; ++j) s[j] = _mm256_add_ps(_mm512_castps512_ps256(a[j]), _mm512_extractf32x8_ps(a[j], 1));
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(s[0], s[1]), _mm256_hadd_ps(s[2], s[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(s[4], s[5]), _mm256_hadd_ps(s[6], s[7]));
  alignas(32) float sums[8];
  _mm256_store_ps(sums, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
  for (int j = 0; j < n; ++j) out[j] = sums[j];
}
void dots(const float* q, const void* rows, int64_t stride, int n, int64_t d, bool half, float* out) {
  if (half) dots_t<true>(q, static_cast<const char*>(rows), stride, n, d, out);
  else dots_t<false>(q, static_cast<const char*>(rows), stride, n, d, out);
}

template <bool H>
void axpys_t(const float* p, const char* rows, int64_t stride, int n, int64_t d, float* acc) {
  for (int64_t e = 0; e < d; e += 16) {
    const __mmask16 m = d - e >= 16 ? __mmask16(0xffff) : __mmask16((1u << (d - e)) - 1);
    __m512 s = _mm512_maskz_loadu_ps(m, acc + e);
    for (int j = 0; j < n; ++j) s = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), row16<H>(rows + j * stride, e, m), s);
    _mm512_mask_storeu_ps(acc + e, m, s);
  }
}
void axpys(const float* p, const void* rows, int64_t stride, int n, int64_t d, bool half, float* acc) {
  if (half) axpys_t<true>(p, static_cast<const char*>(rows), stride, n, d, acc);
  else axpys_t<false>(p, static_cast<const char*>(rows), stride, n, d, acc);
}

}  // namespace

const Kernels& kernels_avx512() {
  static const Kernels k = {
      "avx512", "zmm FMA, vdpbf16ps (bf16), vpdpbusd (int8), F16C", true, 16, 256,
      gemm_f32, gemm_f32_strided, gemm_f16, gemm_bf16, gemm_bf16dot, gemm_q8, gemm_q4, widen_h, narrow_h, dots, axpys, generic_quantize_rows,
      scale_max, exp_shift_sum, x_sigmoid, generic_layer_norm_rows, generic_rms_norm_rows, generic_rope_row, probe, read_sum,
  };
  return k;
}

}  // namespace vip
