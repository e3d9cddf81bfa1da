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

/** Every kernel set of this build, best first, with whether this CPU runs it: the one list of both. */
struct Entry {
  const Kernels* set;
  bool runs;
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = [] {
    const Features f = detect();
    (void)f;
    return std::vector<Entry>{
#if defined(VIP_X86)
        {&kernels_avx512(), f.avx512},
        {&kernels_avxvnni(), f.avxvnni},
        {&kernels_avx2(), f.avx2},
#elif defined(VIP_ARM64)
        {&kernels_neon_i8mm(), f.dotprod && f.i8mm && f.bf16},
        {&kernels_neon_dotprod(), f.dotprod},
        {&kernels_neon(), true},  // Advanced SIMD is part of every ARMv8-A CPU
#endif
        {&kernels_portable(), true},
    };
  }();
  return entries;
}

std::vector<const Kernels*> sets_where(bool (*keep)(const Entry&)) {
  std::vector<const Kernels*> out;
  for (const Entry& e : table())
    if (keep(e)) out.push_back(e.set);
  return out;
}

}  // namespace

const std::vector<const Kernels*>& built_kernels() {
  static const std::vector<const Kernels*> all = sets_where([](const Entry&) { return true; });
  return all;
}

const std::vector<const Kernels*>& supported_kernels() {
  static const std::vector<const Kernels*> runs = sets_where([](const Entry& e) { return e.runs; });
  return runs;
}

const Kernels* kernels_named(const char* isa) {
  for (const Kernels* k : supported_kernels())
    if (std::strcmp(k->isa, isa) == 0) return k;
  return nullptr;
}

}  // namespace vip
