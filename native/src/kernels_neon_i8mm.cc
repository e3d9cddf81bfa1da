// ARM64 kernels: NEON fmla, smmla and sdot (int8), bfdot (bf16) (see kernels_neon.inc), compiled with the flags of those features only.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
#define KERNELS_FN kernels_neon_i8mm
#define KERNELS_NAME "neon-i8mm"
#define KERNELS_INSTRUCTIONS "NEON fmla, smmla and sdot (int8), bfdot (bf16)"
#include "kernels_neon.inc"
}  // namespace vip
