// Portable kernels: plain C++ for any CPU (the fallback, and the only path off x86-64).
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
#define KERNELS_FN kernels_portable
#define KERNELS_NAME "portable"
#include "kernels_impl.inc"
}  // namespace vip
