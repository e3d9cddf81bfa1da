// Which kernel sets this CPU runs: x86-64 features through cpuid (GCC/Clang builtins, which also check that the
// OS saves the vector registers), ARM64 features through the auxiliary vector (Linux) or sysctl (macOS).
#include <cstring>
#include <vector>

#include "kernels.h"

#if defined(VIP_ARM64) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(VIP_ARM64) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace vip {
namespace {

#if defined(VIP_ARM64) && defined(__APPLE__)
bool sysctl_flag(const char* name) {
  int value = 0;
  size_t size = sizeof(value);
  return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value != 0;
}
#endif

struct Features {
  bool avx512 = false, avxvnni = false, avx2 = false;  // each set's full requirement
  bool dotprod = false, i8mm = false, bf16 = false;
};

Features detect() {
  Features f;
#if defined(VIP_X86)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  f.avxvnni = f.avx2 && __builtin_cpu_supports("avxvnni");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni");
#elif defined(VIP_ARM64) && defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  f.dotprod = (hw & (1UL << 20)) != 0;  // HWCAP_ASIMDDP
  f.i8mm = (hw2 & (1UL << 13)) != 0;    // HWCAP2_I8MM
  f.bf16 = (hw2 & (1UL << 14)) != 0;    // HWCAP2_BF16
#elif defined(VIP_ARM64) && defined(__APPLE__)
  f.dotprod = sysctl_flag("hw.optional.arm.FEAT_DotProd");
  f.i8mm = sysctl_flag("hw.optional.arm.FEAT_I8MM");
  f.bf16 = sysctl_flag("hw.optional.arm.FEAT_BF16");
#endif
  return f;
}

}  // namespace

std::vector<const Kernels*> built_kernels() {
  std::vector<const Kernels*> all;
#if defined(VIP_X86)
  all = {&kernels_avx512(), &kernels_avxvnni(), &kernels_avx2()};
#elif defined(VIP_ARM64)
  all = {&kernels_neon_i8mm(), &kernels_neon_dotprod(), &kernels_neon()};
#endif
  all.push_back(&kernels_portable());
  return all;
}

std::vector<const Kernels*> supported_kernels() {
  static const std::vector<const Kernels*> sets = [] {
    const Features f = detect();
    std::vector<const Kernels*> s;
#if defined(VIP_X86)
    if (f.avx512) s.push_back(&kernels_avx512());
    if (f.avxvnni) s.push_back(&kernels_avxvnni());
    if (f.avx2) s.push_back(&kernels_avx2());
#elif defined(VIP_ARM64)
    if (f.dotprod && f.i8mm && f.bf16) s.push_back(&kernels_neon_i8mm());
    if (f.dotprod) s.push_back(&kernels_neon_dotprod());
    s.push_back(&kernels_neon());  // Advanced SIMD is part of every ARMv8-A CPU
#endif
    (void)f;
    s.push_back(&kernels_portable());
    return s;
  }();
  return sets;
}

const Kernels* kernels_named(const char* isa) {
  for (const Kernels* k : supported_kernels())
    if (std::strcmp(k->isa, isa) == 0) return k;
  return nullptr;
}

}  // namespace vip
