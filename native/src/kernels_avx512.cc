// AVX-512 F/BW/VL/DQ + BF16 + VNNI kernels (compiled with those flags only; chosen at run time).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels.h"
namespace vip {
#define KERNELS_FN kernels_avx512
#define KERNELS_NAME "avx512"
#include "kernels_impl.inc"
}  // namespace vip
