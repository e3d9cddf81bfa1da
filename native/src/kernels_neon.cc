// ARM64 kernels: NEON fmla, smull + sadalp (int8) (see kernels_neon.inc), compiled with the flags of those features only.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
#define KERNELS_FN kernels_neon
#define KERNELS_NAME "neon"
#define KERNELS_INSTRUCTIONS "NEON fmla, smull + sadalp (int8)"
#include "kernels_neon.inc"
}  // namespace vip
