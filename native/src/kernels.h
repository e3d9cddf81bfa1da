// The kernel table: one instance per instruction set, chosen at run time (cpu.cc). x86-64: AVX-512
// (F/BW/VL/DQ + BF16 + VNNI), AVX2 + FMA + F16C with AVX-VNNI's vpdpbusd, the same without it; ARM64: NEON with
// i8mm + bf16 + dotprod, NEON with dotprod, plain NEON; everywhere: portable C++.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vip {

// Linear-layer weights are repacked at load time into panels of PANEL output features, k-major inside a
// panel, so a micro-kernel multiplies a few activation rows by a whole panel with broadcast-FMAs. Every kernel
// set reads the same layouts: an 8-lane (ymm, 2×NEON) or 16-lane (zmm) vector is a slice of a panel row.
constexpr int PANEL = 32;
constexpr int QBLOCK = 32;  // quantisation block along k (llama.cpp's Q8_0 / Q4_0 block size)

enum Format : int {
  PANEL_F32 = 0,      // float    [panels][K][32]
  PANEL_F16 = 1,      // fp16     [panels][K][32], fp32 compute
  PANEL_BF16 = 2,     // bf16     [panels][K][32], fp32 compute
  PANEL_BF16DOT = 3,  // bf16     [panels][Kp/2][32][2], bf16 products (vdpbf16ps, bfdot), Kp = K rounded up to 2
  PANEL_Q8 = 4,       // per panel, per 32-wide k block: u8 (q + 128) [8][32][4], fp16 scales [32]
  PANEL_Q4 = 5,       // per panel, per 32-wide k block: nibbles (q + 8) [8][64] (two k-steps a byte), fp16 scales [32]
};

// Bytes of one panel of K inputs in a format.
size_t panel_bytes(Format f, int64_t k);

// Activations prepared for a quantised or bf16 GEMM (one row per input row).
struct QuantRows {
  int8_t* q;        // [m][Kp] int8 values
  float* scale;     // [m][Kp/32]
  int32_t* sum;     // [m][Kp/32] Σ q over the block (for the weight offset correction)
};

// Peak-probe kinds: what `probe` runs on full vectors of the set's widest registers.
enum Probe : int {
  PROBE_FP32 = 0,  // fp32 FMA (vfmadd ymm/zmm, NEON fmla)
  PROBE_BF16 = 1,  // bf16 pair dots (vdpbf16ps, bfdot); 0 operations where the set has none
  PROBE_INT8 = 2,  // the int8 instruction the Q4_0 kernels issue per four k (vpmaddubsw, vpdpbusd, sdot, smmla)
  PROBE_Q8 = 3,    // what an 8-bit × 8-bit dot into int32 costs (AVX2: vpmaddubsw + vpmaddwd; elsewhere as PROBE_INT8)
};

struct Kernels {
  const char* isa;           // the set's name: VIPLLAVA_ISA and info() use it
  const char* instructions;  // what its kernels are built on, for info() and the benchmarks
  bool bf16dot;              // bf16 products in hardware: bfloat16 weights pack as PANEL_BF16DOT, else PANEL_BF16
  // linear() walks the whole of K in one pass for m ≤ this many rows (its tiles then cover a panel or strip of
  // features, so the weights stream once); larger m is split into k blocks that stay in cache: 256 inputs for
  // the float formats, int8_kc for the quantised ones.
  int whole_k_rows;
  int int8_kc;

  // y[r, 0:cols] = (accumulate ? y : 0) + Σ_{k in [k0, k1)} x[r, k] · strip[k, 0:cols] for r < m, where the strip is
  // np (1 or 2) panels `pstride` bytes apart and cols ≤ 32·np. x rows are ldx apart, y rows ldy apart.
  void (*gemm_f32)(const float* x, int64_t ldx, int m, const void* panel, size_t pstride, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate);
  // The same for one 32-column strip of a plain row-major matrix whose rows are ldp floats apart (attention's
  // values used in place); only the first `cols` columns are read.
  void (*gemm_f32_strided)(const float* x, int64_t ldx, int m, const float* b, int64_t ldp, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate);
  void (*gemm_f16)(const float* x, int64_t ldx, int m, const void* panel, size_t pstride, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate);
  void (*gemm_bf16)(const float* x, int64_t ldx, int m, const void* panel, size_t pstride, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate);
  // bf16 activations xb [m][ldx] (bf16), k0, k1 even.
  void (*gemm_bf16dot)(const uint16_t* xb, int64_t ldx, int m, const void* panel, size_t pstride, int np, int64_t k0, int64_t k1, float* y, int64_t ldy, int cols, bool accumulate);
  // Quantised: blocks [b0, b1) of 32; x quantised per row and block; panel points at the panel's first block.
  void (*gemm_q8)(const QuantRows& x, int64_t ldq, int m, const void* panel, size_t pstride, int np, int64_t b0, int64_t b1, float* y, int64_t ldy, int cols, bool accumulate);
  void (*gemm_q4)(const QuantRows& x, int64_t ldq, int m, const void* panel, size_t pstride, int np, int64_t b0, int64_t b1, float* y, int64_t ldy, int cols, bool accumulate);
  // fp16 conversions (the KV cache in fp16, half weights): y[i] = float(x[i]); y[i] = fp16(x[i]) rounding to nearest even.
  void (*widen_h)(const uint16_t* x, float* y, int64_t n);
  void (*narrow_h)(const float* x, uint16_t* y, int64_t n);
  // Decode attention over n ≤ 8 rows `stride` bytes apart (float32, or fp16 when half), each of length d:
  // out[j] = q · row_j, and acc += Σ_j p[j] · row_j.
  void (*dots)(const float* q, const void* rows, int64_t stride, int n, int64_t d, bool half, float* out);
  void (*axpys)(const float* p, const void* rows, int64_t stride, int n, int64_t d, bool half, float* acc);
  // Activations for the quantised GEMMs: rows [r0, r1) of x [.., k], per 32-wide block int8 with a float scale
  // (max |x| / 127, values rounded to nearest even) and the block's sum, laid out for kp columns.
  void (*quantize_rows)(const float* x, int64_t k, int64_t kp, const QuantRows& out, int64_t r0, int64_t r1);
  // x[i] *= scale for i < n; returns the largest result
  float (*scale_max)(float* x, int64_t n, float scale);
  // x[i] = exp(x[i] - shift) for i < n (inputs clamped to ±~88), returns their sum
  double (*exp_shift_sum)(float* x, int64_t n, float shift);
  // y[i] = x[i] · sigmoid(beta · x[i]): SiLU (beta 1) and quick_gelu (beta 1.702)
  void (*x_sigmoid)(float* y, const float* x, int64_t n, float beta);
  // Rows of h: y = (x - mean) / sqrt(var + eps) · w + b, and y = x / sqrt(mean(x²) + eps) · w (double sums)
  void (*layer_norm_rows)(float* y, const float* x, const float* w, const float* b, int64_t rows, int64_t h, float eps);
  void (*rms_norm_rows)(float* y, const float* x, const float* w, int64_t rows, int64_t h, float eps);
  // Rotary embedding of one row of `width` (heads of head_dim, halves rotated) with cos/sin [head_dim / 2].
  void (*rope_row)(float* y, const float* x, int64_t width, int64_t head_dim, const float* cs, const float* sn);
  // Peak probe: `iters` rounds of 12 independent instructions of a Probe kind on full vectors; returns the
  // arithmetic operations done (multiply and add counted separately), 0 when the set has no such instruction.
  double (*probe)(int kind, int64_t iters);
  // Σ x[i] for i < n, streaming (the memory-bandwidth probe)
  float (*read_sum)(const float* x, int64_t n);
};

const Kernels& kernels_portable();
#if defined(VIP_X86)
const Kernels& kernels_avx2();
const Kernels& kernels_avxvnni();
const Kernels& kernels_avx512();
#endif
#if defined(VIP_ARM64)
const Kernels& kernels_neon();
const Kernels& kernels_neon_dotprod();
const Kernels& kernels_neon_i8mm();
#endif

// The kernel sets this CPU can run, best first (cpu.cc).
const std::vector<const Kernels*>& supported_kernels();
// A supported set by name, or null.
const Kernels* kernels_named(const char* isa);
// Every set this build carries, supported here or not (for messages).
const std::vector<const Kernels*>& built_kernels();

// Conversions shared by packing and the portable kernels.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bf16(float f);  // round to nearest even

}  // namespace vip
