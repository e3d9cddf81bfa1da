// AVX2 + FMA + F16C kernels (compiled with those flags only; chosen at run time when the CPU has them).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
#define KERNELS_FN kernels_avx2
#define KERNELS_NAME "avx2"
#define KERNELS_INSTRUCTIONS "ymm FMA, F16C, vpmaddubsw + vpmaddwd (int8)"
#include "kernels_avx2.inc"
}  // namespace vip
