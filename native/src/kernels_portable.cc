// Portable kernels: plain C++ for any CPU (the fallback, and the reference the SIMD sets are tested against in
// native/test). Compiled without ISA flags.
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
}  // namespace

const Kernels& kernels_portable() {
  static const Kernels k = {
      "portable", "plain C++ (compiler-vectorised fp32 for the build's baseline ISA)", false, 16, 256,
      generic_gemm_f32, generic_gemm_f32_strided, generic_gemm_f16, generic_gemm_bf16, generic_gemm_bf16dot, generic_gemm_q8, generic_gemm_q4,
      generic_widen_h, generic_narrow_h, generic_dots, generic_axpys, generic_quantize_rows, generic_scale_max, generic_exp_shift_sum, generic_x_sigmoid,
      generic_layer_norm_rows, generic_rms_norm_rows, generic_rope_row, generic_probe, generic_read_sum,
  };
  return k;
}

}  // namespace vip
