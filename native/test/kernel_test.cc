// Kernel-level tests of the native engine, without Node: every kernel set this CPU runs is checked against the
// portable set on every op, with shapes that are not multiples of the tile sizes, and the portable set against a
// double-precision reference. Built natively and, for ARM64, cross-compiled and run under qemu-aarch64 (see
// tests/backend/native_kernels.test.ts). Prints one line per kernel set; exits 1 on the first failure.
//
//   kernel_test [--only ISA]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "pack.h"
#include "runtime.h"

#if defined(VIP_TEST_EMULATED_VNNI)
namespace vip {
const Kernels& kernels_avxvnni_emulated();  // kernels_avxvnni_emulated.cc
}
#endif

using namespace vip;

namespace {

int failures = 0, checks = 0;

uint32_t seed = 12345;
float rnd() {  // uniform in [-1, 1)
  seed = seed * 1664525u + 1013904223u;
  return float(seed >> 8) / float(1 << 23) - 1.0f;
}
std::vector<float> randv(size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (float& x : v) x = rnd() * scale;
  return v;
}

// max |a - b| / max |b|
double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;  // the kernels never make NaN from these inputs
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return den > 0 ? num / den : num;
}

void expect(const std::string& what, double err, double budget) {
  ++checks;
  if (!(err <= budget)) {
    ++failures;
    std::printf("  FAIL %s: error %.3g > %.3g\n", what.c_str(), err, budget);
  }
}

const char* format_name(Format f) {
  const char* names[] = {"f32", "f16", "bf16", "bf16dot", "q8_0", "q4_0"};
  return names[f];
}

// y = x · Wᵀ + bias through ops.cc's linear() with kernel set k.
std::vector<float> run_linear(const Kernels& k, ThreadPool& pool, Format f, const std::vector<uint16_t>& w16, int64_t m, int64_t kk, int64_t n,
                              const std::vector<float>& x, const float* bias) {
  Buffer packed(packed_bytes(f, n, kk), false);
  pack_matrix(f, w16.data(), SRC_F16, n, kk, packed.data());
  std::vector<float> y(size_t(m * n));
  linear(Ctx{k, pool}, y.data(), x.data(), packed.data(), bias, m, kk, n, f);
  return y;
}

void test_linear(const Kernels& k, ThreadPool& pool) {
  const int64_t shapes[][3] = {{1, 37, 45}, {1, 64, 70}, {1, 1024, 96}, {2, 64, 33}, {3, 300, 64}, {4, 100, 130}, {5, 64, 64},
                               {8, 300, 70}, {9, 300, 70}, {17, 64, 96}, {70, 517, 97}, {13, 600, 40}, {2, 2100, 70}, {8, 2100, 45},
                               {13, 2100, 40}};  // past int8_kc (2048): int8 GEMMs accumulate over k blocks
  for (const auto& s : shapes) {
    const int64_t m = s[0], kk = s[1], n = s[2];
    std::vector<float> wf = randv(size_t(n * kk), 0.5f), x = randv(size_t(m * kk)), bias = randv(size_t(n));
    std::vector<uint16_t> w16(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) w16[i] = float_to_half(wf[i]);
    for (const bool with_bias : {false, true}) {
      const float* b = with_bias ? bias.data() : nullptr;
      // double reference of the fp16 weights
      std::vector<float> ref(size_t(m * n));
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) {
          double acc = b ? b[c] : 0.0;
          for (int64_t t = 0; t < kk; ++t) acc += double(x[r * kk + t]) * half_to_float(w16[c * kk + t]);
          ref[r * n + c] = float(acc);
        }
      for (const Format f : {PANEL_F32, PANEL_F16, PANEL_BF16, PANEL_BF16DOT, PANEL_Q8, PANEL_Q4}) {
        const std::string what = std::string("linear ") + format_name(f) + " m=" + std::to_string(m) + " k=" + std::to_string(kk) + " n=" +
                                 std::to_string(n) + (with_bias ? " +bias" : "");
        const std::vector<float> got = run_linear(k, pool, f, w16, m, kk, n, x, b);
        if (&k != &kernels_portable()) {
          const std::vector<float> want = run_linear(kernels_portable(), pool, f, w16, m, kk, n, x, b);
          // The same layout and the same int8 activations: only the order of float sums may differ (bf16 products
          // in hardware round their pair sums their own way).
          expect(what + " vs portable", rel_error(got, want), f == PANEL_BF16DOT ? 2e-3 : 2e-5);
        }
        // fp32 sums drift with k: 2e-6 up to k = 1024, proportionally beyond
        const double against_fp = f == PANEL_Q4 ? 0.15 : f == PANEL_Q8 ? 2e-2 : f == PANEL_BF16 || f == PANEL_BF16DOT ? 1.5e-2 : 2e-6 * std::max(1.0, kk / 1024.0);
        expect(what + " vs double", rel_error(got, ref), against_fp);
      }
    }
  }
}

void test_attention(const Kernels& k, ThreadPool& pool) {
  struct Case {
    int64_t batch, seq, rows, heads, kv_heads, d, kv_length, past, window;
  };
  const Case cases[] = {
      {1, 37, 37, 3, 3, 20, 37, -1, -1}, {2, 45, 50, 4, 2, 16, 48, 3, -1}, {2, 1, 70, 4, 1, 48, 66, 65, -1},
      {1, 40, 40, 2, 2, 36, 40, 0, 9},   {2, 3, 30, 2, 2, 8, 29, 26, 5},   {1, 5, 90, 8, 8, 64, 90, 85, -1},
  };
  for (const Case& c : cases) {
    for (const bool masked : {false, true}) {
      if (masked && c.past < 0) continue;
      for (const bool half : {false, true}) {
        const int64_t qw = c.heads * c.d, kw = c.kv_heads * c.d;
        std::vector<float> q = randv(size_t(c.batch * c.seq * qw)), kf = randv(size_t(c.batch * c.rows * kw)), vf = randv(kf.size());
        std::vector<uint16_t> kh(kf.size()), vh(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) {
          kh[i] = float_to_half(kf[i]);
          vh[i] = float_to_half(vf[i]);
        }
        std::vector<uint8_t> mask;
        if (masked) {
          mask.assign(size_t(c.batch * c.kv_length), 1);
          for (int64_t t = 0; t < std::min<int64_t>(5, c.kv_length); ++t) mask[size_t(t)] = 0;
        }
        AttentionShape s{c.batch, c.seq, c.rows, c.heads, c.kv_heads, c.d, c.kv_length, 1.0f / std::sqrt(float(c.d)), c.past, c.window};
        auto run = [&](const Kernels& kk) {
          std::vector<float> out(q.size());
          attention(Ctx{kk, pool}, out.data(), q.data(), half ? static_cast<const void*>(kh.data()) : kf.data(),
                    half ? static_cast<const void*>(vh.data()) : vf.data(), half, s, mask);
          return out;
        };
        const std::string what = "attention seq=" + std::to_string(c.seq) + " kv=" + std::to_string(c.kv_length) + " d=" + std::to_string(c.d) +
                                 (masked ? " masked" : "") + (half ? " fp16 cache" : "");
        expect(what, rel_error(run(k), run(kernels_portable())), 2e-5);
      }
    }
  }
}

void test_elementwise(const Kernels& k, ThreadPool& pool) {
  const Ctx ck{k, pool}, cp{kernels_portable(), pool};
  const int64_t rows = 7, h = 203;
  std::vector<float> x = randv(size_t(rows * h), 3.0f), w = randv(size_t(h)), b = randv(size_t(h));
  auto both = [&](const std::string& what, auto f, double budget) {
    std::vector<float> a(x.size()), p(x.size());
    f(ck, a.data());
    f(cp, p.data());
    expect(what, rel_error(a, p), budget);
  };
  both("layer norm", [&](Ctx c, float* y) { layer_norm(c, y, x.data(), w.data(), b.data(), rows, h, 1e-5f); }, 1e-6);
  both("rms norm", [&](Ctx c, float* y) { rms_norm(c, y, x.data(), w.data(), rows, h, 1e-6f); }, 1e-6);
  for (const Act a : {ACT_QUICK_GELU, ACT_SILU}) {  // the activations a kernel set computes (ops.cc: x_sigmoid); the others are shared code
    both("activation " + std::to_string(a), [&](Ctx c, float* y) { activation(c, y, x.data(), int64_t(x.size()), a); }, 2e-6);
  }
  std::vector<int32_t> pos(rows);
  for (int64_t r = 0; r < rows; ++r) pos[size_t(r)] = int32_t(r * 97 % 1000);
  std::vector<float> inv = {1.0f, 0.3f, 0.1f, 0.03f, 0.01f, 0.003f, 0.001f};
  std::vector<float> xr = randv(size_t(rows * 14 * 3));
  std::vector<float> a(xr.size()), p(xr.size());
  rope(ck, a.data(), xr.data(), rows, 14 * 3, pos, 14, inv, 1.25f);
  rope(cp, p.data(), xr.data(), rows, 14 * 3, pos, 14, inv, 1.25f);
  expect("rope", rel_error(a, p), 1e-6);
  // softmax pieces and fp16 conversions, odd lengths
  for (const int64_t n : {1, 7, 8, 13, 100}) {
    std::vector<float> s1 = randv(size_t(n), 20.0f), s2 = s1;
    const float m1 = k.scale_max(s1.data(), n, 0.3f), m2 = kernels_portable().scale_max(s2.data(), n, 0.3f);
    expect("scale_max n=" + std::to_string(n), std::fabs(m1 - m2) + rel_error(s1, s2), 1e-6);
    const double e1 = k.exp_shift_sum(s1.data(), n, m1), e2 = kernels_portable().exp_shift_sum(s2.data(), n, m2);
    expect("exp_shift_sum n=" + std::to_string(n), std::fabs(e1 - e2) / e2 + rel_error(s1, s2), 2e-6);
    std::vector<float> hx = randv(size_t(n), 70000.0f);
    hx[0] = 1e-6f;
    std::vector<uint16_t> h1(static_cast<size_t>(n)), h2(static_cast<size_t>(n));
    k.narrow_h(hx.data(), h1.data(), n);
    kernels_portable().narrow_h(hx.data(), h2.data(), n);
    expect("narrow_h n=" + std::to_string(n), h1 == h2 ? 0 : 1, 0);
    std::vector<float> w1(static_cast<size_t>(n)), w2(static_cast<size_t>(n));
    k.widen_h(h1.data(), w1.data(), n);
    kernels_portable().widen_h(h1.data(), w2.data(), n);
    expect("widen_h n=" + std::to_string(n), rel_error(w1, w2), 0);
  }
}

void test_probes(const Kernels& k) {
  expect("fp32 probe counts operations", k.probe(PROBE_FP32, 1000) > 0 ? 0 : 1, 0);
  expect("bf16 probe matches bf16dot", (k.probe(PROBE_BF16, 1000) > 0) == k.bf16dot ? 0 : 1, 0);
  // plain C++ has no int8 dot-product instruction to measure
  const bool int8 = std::strcmp(k.isa, "portable") != 0;
  expect("int8 probes", (k.probe(PROBE_INT8, 1000) > 0) == int8 && (k.probe(PROBE_Q8, 1000) > 0) == int8 ? 0 : 1, 0);
  std::vector<float> v(1000, 0.5f);
  expect("read_sum", std::fabs(k.read_sum(v.data(), 1000) - 500.0f), 1e-3);
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = argc > 2 && std::strcmp(argv[1], "--only") == 0 ? argv[2] : nullptr;
  ThreadPool pool(2);
  std::string missing;
  std::vector<const Kernels*> sets;
  for (const Kernels* k : built_kernels()) {
    if (kernels_named(k->isa)) sets.push_back(k);
    else missing += std::string(missing.empty() ? "" : ", ") + k->isa;
  }
#if defined(VIP_TEST_EMULATED_VNNI)
  if (kernels_named("avx2")) sets.push_back(&kernels_avxvnni_emulated());
#endif
  for (const Kernels* k : sets) {
    if (only && std::strcmp(only, k->isa) != 0) continue;
    const int before = failures, checked = checks;
    test_linear(*k, pool);
    if (k != &kernels_portable()) {  // the rest compares a set with the portable one
      test_attention(*k, pool);
      test_elementwise(*k, pool);
    }
    test_probes(*k);
    std::printf("%s %s: %d checks, %d failed (%s)\n", failures == before ? "ok" : "FAILED", k->isa, checks - checked, failures - before, k->instructions);
  }
  if (!missing.empty()) std::printf("not run: %s (this CPU lacks their instructions)\n", missing.c_str());
  return failures == 0 ? 0 : 1;
}
