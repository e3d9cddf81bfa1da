// AVX2 + FMA + F16C kernels with AVX-VNNI (vpdpbusd on ymm: Intel since Alder Lake, AMD Zen 5), compiled with -mavxvnni.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
#define KERNELS_FN kernels_avxvnni
#define KERNELS_NAME "avxvnni"
#define KERNELS_INSTRUCTIONS "ymm FMA, F16C, vpdpbusd (AVX-VNNI, int8)"
#include "kernels_avx2.inc"
}  // namespace vip
