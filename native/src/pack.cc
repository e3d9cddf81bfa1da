#include "pack.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vip {

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0);  // inf / nan
  if (ax >= 0x477ff000u) return sign | 0x7c00;                                      // rounds to inf
  if (ax < 0x38800000u) {                                                            // subnormal half (or zero)
    const float v = std::fabs(f) * 16777216.0f;                                       // × 2^24: units of 2^-24
    return sign | uint16_t(std::nearbyint(v));
  }
  const uint32_t rounded = ax + 0xfff + ((ax >> 13) & 1);  // round to nearest even at bit 13
  return sign | uint16_t((rounded - 0x38000000u) >> 13);
}

uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet nan
  return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static float src_at(const void* src, SrcType st, int64_t i) {
  switch (st) {
    case SRC_F32: return static_cast<const float*>(src)[i];
    case SRC_F16: return half_to_float(static_cast<const uint16_t*>(src)[i]);
    default: return bf16_to_float(static_cast<const uint16_t*>(src)[i]);
  }
}

int64_t padded_k(Format f, int64_t k) {
  if (f == PANEL_BF16DOT) return (k + 1) / 2 * 2;
  if (f == PANEL_Q8 || f == PANEL_Q4) return (k + QBLOCK - 1) / QBLOCK * QBLOCK;
  return k;
}

size_t panel_bytes(Format f, int64_t k) {
  switch (f) {
    case PANEL_F32: return size_t(k) * PANEL * 4;
    case PANEL_F16:
    case PANEL_BF16: return size_t(k) * PANEL * 2;
    case PANEL_BF16DOT: return size_t(padded_k(f, k)) * PANEL * 2;
    case PANEL_Q8: return size_t(padded_k(f, k) / QBLOCK) * (QBLOCK * PANEL + PANEL * 2);
    case PANEL_Q4: return size_t(padded_k(f, k) / QBLOCK) * (QBLOCK * PANEL / 2 + PANEL * 2);
  }
  return 0;
}

size_t packed_bytes(Format f, int64_t n, int64_t k) { return size_t((n + PANEL - 1) / PANEL) * panel_bytes(f, k); }

void pack_matrix(Format f, const void* src, SrcType st, int64_t n, int64_t k, void* dst, int64_t p0, int64_t p1) {
  const int64_t panels = (n + PANEL - 1) / PANEL;
  const size_t pb = panel_bytes(f, k);
  const int64_t kp = padded_k(f, k);
  std::vector<float> col(kp);
  for (int64_t p = p0; p < (p1 < 0 ? panels : p1); ++p) {
    uint8_t* out = static_cast<uint8_t*>(dst) + p * pb;
    std::memset(out, 0, pb);
    for (int j = 0; j < PANEL; ++j) {
      const int64_t row = p * PANEL + j;
      if (row >= n) break;
      // Same-dtype panels copy bits, so fp16/bf16 weights stay exact.
      if (f == PANEL_F32) {
        for (int64_t t = 0; t < k; ++t) reinterpret_cast<float*>(out)[t * PANEL + j] = src_at(src, st, row * k + t);
        continue;
      }
      if ((f == PANEL_F16 && st == SRC_F16) || (f == PANEL_BF16 && st == SRC_BF16)) {
        const uint16_t* s = static_cast<const uint16_t*>(src) + row * k;
        for (int64_t t = 0; t < k; ++t) reinterpret_cast<uint16_t*>(out)[t * PANEL + j] = s[t];
        continue;
      }
      for (int64_t t = 0; t < kp; ++t) col[t] = t < k ? src_at(src, st, row * k + t) : 0.0f;
      if (f == PANEL_F16 || f == PANEL_BF16) {
        for (int64_t t = 0; t < k; ++t) reinterpret_cast<uint16_t*>(out)[t * PANEL + j] = f == PANEL_F16 ? float_to_half(col[t]) : float_to_bf16(col[t]);
      } else if (f == PANEL_BF16DOT) {
        uint16_t* o = reinterpret_cast<uint16_t*>(out);
        for (int64_t t = 0; t < kp; ++t) o[(t / 2) * PANEL * 2 + j * 2 + (t % 2)] = st == SRC_BF16 && t < k ? static_cast<const uint16_t*>(src)[row * k + t] : float_to_bf16(col[t]);
      } else {
        const bool q4 = f == PANEL_Q4;
        const size_t bb = panel_bytes(f, QBLOCK);
        for (int64_t b = 0; b < kp / QBLOCK; ++b) {
          uint8_t* blk = out + b * bb;
          const float* v = col.data() + b * QBLOCK;
          float scale = 0;
          uint8_t q[QBLOCK];
          if (q4) {  // llama.cpp's Q4_0: the value of largest magnitude maps to -8
            float mx = 0;
            for (int t = 0; t < QBLOCK; ++t) if (std::fabs(v[t]) > std::fabs(mx)) mx = v[t];
            scale = mx / -8.0f;
            const float inv = scale != 0 ? 1.0f / scale : 0.0f;
            for (int t = 0; t < QBLOCK; ++t) q[t] = uint8_t(std::min(15, int(v[t] * inv + 8.5f)));
          } else {  // Q8_0: max |w| maps to 127
            float amax = 0;
            for (int t = 0; t < QBLOCK; ++t) amax = std::max(amax, std::fabs(v[t]));
            scale = amax / 127.0f;
            const float inv = scale != 0 ? 1.0f / scale : 0.0f;
            for (int t = 0; t < QBLOCK; ++t) q[t] = uint8_t(int(std::nearbyint(v[t] * inv)) + 128);
          }
          reinterpret_cast<uint16_t*>(blk + bb - PANEL * 2)[j] = float_to_half(scale);
          for (int t = 0; t < QBLOCK; ++t) {
            const int s = t / 4;
            if (q4) {
              uint8_t& byte = blk[s * 64 + (j % 16) * 4 + (t % 4)];
              byte |= j < 16 ? q[t] : uint8_t(q[t] << 4);
            } else {
              blk[s * PANEL * 4 + j * 4 + (t % 4)] = q[t];
            }
          }
        }
      }
    }
  }
}

void unpack_matrix(Format f, const void* src, int64_t n, int64_t k, float* dst) {
  const size_t pb = panel_bytes(f, k);
  for (int64_t row = 0; row < n; ++row) {
    const uint8_t* panel = static_cast<const uint8_t*>(src) + (row / PANEL) * pb;
    const int j = int(row % PANEL);
    for (int64_t t = 0; t < k; ++t) {
      float v = 0;
      switch (f) {
        case PANEL_F32: v = reinterpret_cast<const float*>(panel)[t * PANEL + j]; break;
        case PANEL_F16: v = half_to_float(reinterpret_cast<const uint16_t*>(panel)[t * PANEL + j]); break;
        case PANEL_BF16: v = bf16_to_float(reinterpret_cast<const uint16_t*>(panel)[t * PANEL + j]); break;
        case PANEL_BF16DOT: v = bf16_to_float(reinterpret_cast<const uint16_t*>(panel)[(t / 2) * PANEL * 2 + j * 2 + t % 2]); break;
        case PANEL_Q8:
        case PANEL_Q4: {
          const size_t bb = panel_bytes(f, QBLOCK);
          const uint8_t* blk = panel + (t / QBLOCK) * bb;
          const float scale = half_to_float(reinterpret_cast<const uint16_t*>(blk + bb - PANEL * 2)[j]);
          const int u = int(t % QBLOCK), s = u / 4;
          if (f == PANEL_Q8) {
            v = float(int(blk[s * PANEL * 4 + j * 4 + u % 4]) - 128) * scale;
          } else {
            const uint8_t byte = blk[s * 64 + (j % 16) * 4 + u % 4];
            v = float(int(j < 16 ? byte & 15 : byte >> 4) - 8) * scale;
          }
          break;
        }
      }
      dst[row * k + t] = v;
    }
  }
}

void rows_to_bf16(const float* x, int64_t m, int64_t k, int64_t kp, uint16_t* out) {
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t t = 0; t < k; ++t) out[r * kp + t] = float_to_bf16(x[r * k + t]);
    for (int64_t t = k; t < kp; ++t) out[r * kp + t] = 0;
  }
}

}  // namespace vip
