// ARM64 kernels: NEON fmla, sdot (int8) (see kernels_neon.inc), compiled with the flags of those features only.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
#define KERNELS_FN kernels_neon_dotprod
#define KERNELS_NAME "neon-dotprod"
#define KERNELS_INSTRUCTIONS "NEON fmla, sdot (int8)"
#include "kernels_neon.inc"
}  // namespace vip
