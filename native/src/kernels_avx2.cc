// AVX2 + FMA + F16C kernels (compiled with those flags only; chosen at run time when the CPU has them).
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
#define KERNELS_FN kernels_avx2
#define KERNELS_NAME "avx2"
#include "kernels_impl.inc"
}  // namespace vip
