// The AVX-VNNI kernel set with vpdpbusd emulated exactly on AVX2 (for kernel_test on CPUs without AVX-VNNI; not
// part of the addon).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.h"

namespace vip {
#define VIP_EMULATED_VNNI 1
#define KERNELS_FN kernels_avxvnni_emulated
#define KERNELS_NAME "avxvnni-emulated"
#define KERNELS_INSTRUCTIONS "the avxvnni kernels, vpdpbusd emulated exactly with AVX2"
#include "../src/kernels_avx2.inc"
}  // namespace vip
