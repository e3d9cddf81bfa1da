// Node-API surface of the native engine. Every op call checks nothing (the TypeScript wrapper has checked
// shapes), takes references to its buffers, and enqueues work on the executor thread; only read() and
// flush() return promises. Compute therefore never runs on the JavaScript thread.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "pack.h"
#include "runtime.h"

namespace {

using vip::BufferPtr;

struct Engine {
  const vip::Kernels* kernels;
  std::unique_ptr<vip::Executor> exec;
  Napi::ThreadSafeFunction tsfn;
  int pending = 0;  // promises not yet settled (the tsfn keeps the process alive while > 0)
};
Engine* g = nullptr;

// What a JavaScript handle owns: a reference to its buffer until collected or released.
struct Holder {
  BufferPtr buf;
  int64_t bytes;
};

Napi::Value wrap(Napi::Env env, BufferPtr b) {
  const int64_t bytes = int64_t(b->bytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return Napi::External<Holder>::New(env, new Holder{std::move(b), bytes}, [](Napi::Env e, Holder* h) {
    if (h->buf) Napi::MemoryManagement::AdjustExternalMemory(e, -h->bytes);
    delete h;
  });
}

BufferPtr buf(const Napi::Value& v) {
  BufferPtr b = v.As<Napi::External<Holder>>().Data()->buf;
  if (!b) throw Napi::Error::New(v.Env(), "native engine: a tensor was used after it was released (its tidy() scope had ended)");
  return b;
}

// release(handle): drops the handle's buffer now; queued ops that use it keep it until they have run.
Napi::Value Release(const Napi::CallbackInfo& info) {
  Holder* h = info[0].As<Napi::External<Holder>>().Data();
  if (h->buf) {
    h->buf.reset();
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -h->bytes);
  }
  return info.Env().Undefined();
}
BufferPtr buf_or_null(const Napi::Value& v) { return v.IsNull() || v.IsUndefined() ? nullptr : buf(v); }
int64_t i64(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
double f64(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

template <class T>
std::vector<T> copy_array(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return {};
  auto a = v.As<Napi::TypedArray>();
  const size_t bytes = a.ByteLength();
  std::vector<T> out(bytes / sizeof(T));
  std::memcpy(out.data(), static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(), bytes);
  return out;
}

vip::Ctx ctx() { return {*g->kernels, g->exec->pool()}; }

// n stored values (float32, fp16 or bf16) as float32; fp16 through the vector kernels.
void to_f32(const void* src, vip::SrcType st, float* out, int64_t n) {
  if (st == vip::SRC_F32) {
    std::memcpy(out, src, size_t(n) * 4);
  } else if (st == vip::SRC_F16) {
    g->kernels->widen_h(static_cast<const uint16_t*>(src), out, n);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = vip::bf16_to_float(static_cast<const uint16_t*>(src)[i]);
  }
}

// The names of the kernel sets this CPU runs, best first, as "avx2, portable".
std::string supported_names() {
  std::string names;
  for (const vip::Kernels* k : vip::supported_kernels()) names += (names.empty() ? "" : ", ") + std::string(k->isa);
  return names;
}

// The set called `isa`, or an error naming what this CPU (and build) can run instead.
const vip::Kernels& kernels_or_throw(Napi::Env env, const std::string& isa, const char* from) {
  if (const vip::Kernels* k = vip::kernels_named(isa.c_str())) return *k;
  bool built = false;
  for (const vip::Kernels* k : vip::built_kernels()) built = built || isa == k->isa;
  throw Napi::Error::New(env, std::string(from) + "\"" + isa + "\": " + (built ? "this CPU cannot run those kernels" : "no such kernel set in this build") +
                                  " (it runs: " + supported_names() + ")");
}

// Per-op timing, on when VIPLLAVA_PROFILE is set or setProfiling(true): seconds and calls by op name.
struct Profile {
  std::mutex mu;
  bool on = false;
  std::map<std::string, std::pair<double, int64_t>> ops;
};
Profile& g_profile = *new Profile();  // never destroyed: the executor may still record while the process exits

void submit(const char* name, std::function<void()> op) {
  if (!g_profile.on) {
    g->exec->submit(std::move(op));
    return;
  }
  g->exec->submit([name, op = std::move(op)] {
    const auto t0 = std::chrono::steady_clock::now();
    op();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(g_profile.mu);
    auto& e = g_profile.ops[name];
    e.first += dt;
    e.second += 1;
  });
}

// A promise settled on the JavaScript thread once the queue reaches it.
struct Settle {
  Napi::Promise::Deferred deferred;
  std::vector<float> data;
  bool with_data;
  std::string error;
};

void settle_on_js(Napi::Env env, Napi::Function, Settle* s) {
  if (env != nullptr) {
    if (!s->error.empty()) {
      s->deferred.Reject(Napi::Error::New(env, "native engine: " + s->error).Value());
    } else if (s->with_data) {
      auto arr = Napi::Float32Array::New(env, s->data.size());
      std::memcpy(arr.Data(), s->data.data(), s->data.size() * 4);
      s->deferred.Resolve(arr);
    } else {
      s->deferred.Resolve(env.Undefined());
    }
    if (--g->pending == 0) g->tsfn.Unref(env);
  }
  delete s;
}

Napi::Promise enqueue_settle(Napi::Env env, std::function<void(Settle*)> fill, bool with_data) {
  auto* s = new Settle{Napi::Promise::Deferred::New(env), {}, with_data, {}};
  if (g->pending++ == 0) g->tsfn.Ref(env);
  Napi::Promise p = s->deferred.Promise();
  submit("read", [s, fill] {
    try {
      fill(s);
    } catch (const std::exception& e) {
      s->error = e.what();
    }
    const std::string err = g->exec->take_error();
    if (s->error.empty() && !err.empty()) s->error = err;
    g->tsfn.BlockingCall(s, [](Napi::Env env, Napi::Function fn, Settle* st) { settle_on_js(env, fn, st); });
  });
  return p;
}

// ---- memory ------------------------------------------------------------------------------------------------
Napi::Value Info(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("isa", g->kernels->isa);
  o.Set("instructions", g->kernels->instructions);
  o.Set("bf16dot", g->kernels->bf16dot);
  auto sets = Napi::Array::New(info.Env());
  for (const vip::Kernels* k : vip::supported_kernels()) sets.Set(sets.Length(), k->isa);
  o.Set("kernelSets", sets);
  o.Set("threads", g->exec->threads());
  o.Set("physicalCores", vip::physical_cores());
  o.Set("liveBytes", double(vip::live_bytes()));
  return o;
}

// bf16dot() → whether the kernel set in use multiplies bf16 in hardware (asked at every linear-weight upload)
Napi::Value Bf16dot(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), g->kernels->bf16dot);
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  g->exec->set_threads(int(std::max<int64_t>(1, i64(info, 0))));
  return info.Env().Undefined();
}

Napi::Value SetKernels(const Napi::CallbackInfo& info) {
  g->kernels = &kernels_or_throw(info.Env(), info[0].As<Napi::String>(), "kernel set ");
  return info.Env().Undefined();
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), std::make_shared<vip::Buffer>(size_t(i64(info, 0)), info[1].As<Napi::Boolean>(), true));
}

Napi::Value FromHost(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::TypedArray>();
  auto b = std::make_shared<vip::Buffer>(a.ByteLength(), false);
  std::memcpy(b->data(), static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(), a.ByteLength());
  return wrap(info.Env(), b);
}

// Repacks src [n, k] into dst on the compute threads, split by panel (runs on the executor thread).
void pack_on_pool(vip::Format f, const void* src, vip::SrcType st, int64_t n, int64_t k, void* dst) {
  ctx().pool.run((n + vip::PANEL - 1) / vip::PANEL, 4, [&](int64_t p0, int64_t p1) { vip::pack_matrix(f, src, st, n, k, dst, p0, p1); });
}

// packWeight(typedArray, srcType, n, k, format): the checkpoint's [n, k] matrix repacked for linear().
Napi::Value PackWeight(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::TypedArray>();
  const auto st = vip::SrcType(i64(info, 1));
  const int64_t n = i64(info, 2), k = i64(info, 3);
  const auto f = vip::Format(i64(info, 4));
  auto b = std::make_shared<vip::Buffer>(vip::packed_bytes(f, n, k), false);
  // Packed on the compute threads; this call waits (upload is synchronous, and the source must stay put).
  const void* src = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  std::promise<void> done;
  submit("pack", [&] {
    pack_on_pool(f, src, st, n, k, b->data());
    done.set_value();
  });
  done.get_future().wait();
  return wrap(info.Env(), b);
}

// packBuffer(dst, src, srcType, n, k, format): the same, queued, from a buffer already on the engine
Napi::Value PackBuffer(const Napi::CallbackInfo& info) {
  BufferPtr d = buf(info[0]), s = buf(info[1]);
  const auto st = vip::SrcType(i64(info, 2));
  const int64_t n = i64(info, 3), k = i64(info, 4);
  const auto f = vip::Format(i64(info, 5));
  submit("pack", [=] { pack_on_pool(f, s->data(), st, n, k, d->data()); });
  return info.Env().Undefined();
}

// view(handle) → Uint8Array over the buffer's own memory, no copy (it keeps the buffer alive): a packed weight is
// written to a cache from it, and read from a cache into it. Only for buffers no queued op is writing.
Napi::Value View(const Napi::CallbackInfo& info) {
  BufferPtr b = buf(info[0]);
  auto* keep = new BufferPtr(b);
  auto ab = Napi::ArrayBuffer::New(info.Env(), b->data(), b->bytes, [](Napi::Env, void*, BufferPtr* k) { delete k; }, keep);
  return Napi::Uint8Array::New(info.Env(), b->bytes, ab, 0);
}

Napi::Value PackedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(vip::packed_bytes(vip::Format(i64(info, 0)), i64(info, 1), i64(info, 2))));
}

// read(buffer, srcType, offset, count) → Promise<Float32Array>
Napi::Value Read(const Napi::CallbackInfo& info) {
  BufferPtr b = buf(info[0]);
  const auto st = vip::SrcType(i64(info, 1));
  const int64_t off = i64(info, 2), n = i64(info, 3);
  return enqueue_settle(info.Env(), [b, st, off, n](Settle* s) {
    s->data.resize(size_t(n));
    to_f32(static_cast<const char*>(b->data()) + off * (st == vip::SRC_F32 ? 4 : 2), st, s->data.data(), n);
  }, true);
}

// readPacked(buffer, format, n, k) → Promise<Float32Array>: a packed weight back as [n, k] float32
Napi::Value ReadPacked(const Napi::CallbackInfo& info) {
  BufferPtr b = buf(info[0]);
  const auto f = vip::Format(i64(info, 1));
  const int64_t n = i64(info, 2), k = i64(info, 3);
  return enqueue_settle(info.Env(), [b, f, n, k](Settle* s) {
    s->data.resize(size_t(n * k));
    vip::unpack_matrix(f, b->data(), n, k, s->data.data());
  }, true);
}

// limits(seconds) → Promise<[fp32, bf16, int8, q8, readGBs]>: this machine's peaks with the current kernels
// and threads (the vip::Probe kinds, in G operations per second with every thread busy; 0 for an instruction
// the set lacks) and its memory read bandwidth.
Napi::Value Limits(const Napi::CallbackInfo& info) {
  const double seconds = f64(info, 0);
  auto* out = new std::vector<double>(5, 0.0);
  auto p = enqueue_settle(info.Env(), [seconds, out](Settle* s) {
    auto& pool = g->exec->pool();
    const int threads = pool.size();
    for (int kind = vip::PROBE_FP32; kind <= vip::PROBE_Q8; ++kind) {  // best of three short runs: the VM's clock and neighbours vary
      for (int rep = 0; rep < 3; ++rep) {
        std::vector<double> ops(threads, 0.0);
        const int64_t iters = int64_t(2e8 * seconds / 9);
        const auto t0 = std::chrono::steady_clock::now();
        pool.run(threads, 1, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) ops[i] = g->kernels->probe(kind, iters);
        });
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double total = 0;
        for (double o : ops) total += o;
        (*out)[kind] = std::max((*out)[kind], total / dt / 1e9);
      }
    }
    // read bandwidth: every thread sums its part of a 512 MiB buffer, best of three
    const size_t bytes = size_t(512) << 20;
    vip::Buffer buffer(bytes, true);
    const float* data = buffer.as<float>();
    const int64_t floats = int64_t(bytes / 4), part = floats / threads;
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<float> sums(threads, 0.0f);
      const auto t0 = std::chrono::steady_clock::now();
      pool.run(threads, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t t = i0; t < i1; ++t) sums[t] = g->kernels->read_sum(data + t * part, part);
      });
      best = std::max(best, double(bytes) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 1e9);
    }
    (*out)[4] = best;
    s->data.assign(out->begin(), out->end());
    delete out;
  }, true);
  return p;
}

Napi::Value SetProfiling(const Napi::CallbackInfo& info) {
  g_profile.on = info[0].As<Napi::Boolean>();
  return info.Env().Undefined();
}

// profile(reset) → { op: [seconds, calls] } for ops that have finished
Napi::Value GetProfile(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  std::lock_guard<std::mutex> lock(g_profile.mu);
  for (const auto& [name, e] : g_profile.ops) {
    auto a = Napi::Array::New(info.Env(), 2);
    a.Set(uint32_t(0), e.first);
    a.Set(uint32_t(1), double(e.second));
    o.Set(name, a);
  }
  if (info[0].ToBoolean()) g_profile.ops.clear();
  return o;
}

Napi::Value Flush(const Napi::CallbackInfo& info) {
  return enqueue_settle(info.Env(), [](Settle*) {}, false);
}

// ---- layout ------------------------------------------------------------------------------------------------
// widen(dst, src, srcType, count): half weights → float32
Napi::Value Widen(const Napi::CallbackInfo& info) {
  BufferPtr d = buf(info[0]), s = buf(info[1]);
  const auto st = vip::SrcType(i64(info, 2));
  const int64_t n = i64(info, 3);
  submit("widen", [d, s, st, n] {
    float* out = d->as<float>();
    const uint16_t* in = s->as<uint16_t>();
    ctx().pool.run(n, 1 << 14, [&](int64_t i0, int64_t i1) { to_f32(in + i0, st, out + i0, i1 - i0); });
  });
  return info.Env().Undefined();
}

// copy2d(dst, dstOffset, dstStride, src, srcOffset, srcStride, rows, rowLength, dstType, srcType), in elements;
// the types are float32 or float16 (the KV cache), converted as they are copied (rounding to nearest even).
// im2col(dst, src, images, channels, size, patch): float32 pixels [N, C, S, S] → one row per patch, row-major
// over the grid, columns ordered (channel, ky, kx) as a conv weight [hidden, C, p, p] flattens
Napi::Value Im2col(const Napi::CallbackInfo& info) {
  BufferPtr d = buf(info[0]), s = buf(info[1]);
  const int64_t images = i64(info, 2), ch = i64(info, 3), size = i64(info, 4), p = i64(info, 5);
  submit("im2col", [=] {
    const int64_t side = size / p, len = ch * p * p;
    const float* in = static_cast<const float*>(s->data());
    float* out = static_cast<float*>(d->data());
    ctx().pool.run(images * side, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {  // one row of patches of one image
        const int64_t n = r / side, py = r % side;
        for (int64_t px = 0; px < side; ++px) {
          float* o = out + ((n * side + py) * side + px) * len;
          for (int64_t c = 0; c < ch; ++c)
            for (int64_t ky = 0; ky < p; ++ky, o += p)
              std::memcpy(o, in + ((n * ch + c) * size + py * p + ky) * size + px * p, size_t(p) * 4);
        }
      }
    });
  });
  return info.Env().Undefined();
}

Napi::Value Copy2d(const Napi::CallbackInfo& info) {
  BufferPtr d = buf(info[0]), s = buf(info[3]);
  const int64_t doff = i64(info, 1), dstride = i64(info, 2), soff = i64(info, 4), sstride = i64(info, 5), rows = i64(info, 6), len = i64(info, 7);
  const bool dh = vip::SrcType(i64(info, 8)) == vip::SRC_F16, sh = vip::SrcType(i64(info, 9)) == vip::SRC_F16;
  submit("copy", [=] {
    const size_t de = dh ? 2 : 4, se = sh ? 2 : 4;
    char* out = static_cast<char*>(d->data()) + doff * de;
    const char* in = static_cast<const char*>(s->data()) + soff * se;
    ctx().pool.run(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, len)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        char* o = out + r * dstride * de;
        const char* i = in + r * sstride * se;
        if (dh == sh) {
          std::memmove(o, i, size_t(len) * de);
        } else if (sh) {
          ctx().k.widen_h(reinterpret_cast<const uint16_t*>(i), reinterpret_cast<float*>(o), len);
        } else {
          ctx().k.narrow_h(reinterpret_cast<const float*>(i), reinterpret_cast<uint16_t*>(o), len);
        }
      }
    });
  });
  return info.Env().Undefined();
}

// gather(dst, table, srcType, ids, width): rows of a [V, width] table (embedding lookup)
Napi::Value Gather(const Napi::CallbackInfo& info) {
  BufferPtr d = buf(info[0]), t = buf(info[1]);
  const auto st = vip::SrcType(i64(info, 2));
  auto ids = copy_array<int32_t>(info[3]);
  const int64_t h = i64(info, 4);
  submit("gather", [d, t, st, ids = std::move(ids), h] {
    float* out = d->as<float>();
    const size_t row_bytes = size_t(h) * (st == vip::SRC_F32 ? 4 : 2);
    for (size_t i = 0; i < ids.size(); ++i) to_f32(static_cast<const char*>(t->data()) + ids[i] * row_bytes, st, out + i * h, h);
  });
  return info.Env().Undefined();
}

// ---- math --------------------------------------------------------------------------------------------------
// linear(y, x, w, bias, m, k, n, format)
Napi::Value Linear(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), x = buf(info[1]), w = buf(info[2]), bias = buf_or_null(info[3]);
  const int64_t m = i64(info, 4), k = i64(info, 5), n = i64(info, 6);
  const auto f = vip::Format(i64(info, 7));
  submit(f == vip::PANEL_Q8 ? "linear q8_0" : f == vip::PANEL_Q4 ? "linear q4_0" : f == vip::PANEL_BF16DOT ? "linear bf16" : "linear fp32", [=] { vip::linear(ctx(), y->as<float>(), x->as<float>(), w->data(), bias ? bias->as<float>() : nullptr, m, k, n, f); });
  return info.Env().Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), a = buf(info[1]), b = buf(info[2]);
  const int64_t n = i64(info, 3), nb = i64(info, 4);
  submit("add", [=] { vip::add(ctx(), y->as<float>(), a->as<float>(), b->as<float>(), n, nb); });
  return info.Env().Undefined();
}

Napi::Value Mul(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), a = buf(info[1]), b = buf(info[2]);
  const int64_t n = i64(info, 3);
  submit("mul", [=] { vip::mul(ctx(), y->as<float>(), a->as<float>(), b->as<float>(), n); });
  return info.Env().Undefined();
}

Napi::Value Activation(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), x = buf(info[1]);
  const int64_t n = i64(info, 2);
  const auto kind = vip::Act(i64(info, 3));
  submit("activation", [=] { vip::activation(ctx(), y->as<float>(), x->as<float>(), n, kind); });
  return info.Env().Undefined();
}

Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), x = buf(info[1]), w = buf(info[2]), b = buf(info[3]);
  const int64_t rows = i64(info, 4), h = i64(info, 5);
  const float eps = float(f64(info, 6));
  submit("layerNorm", [=] { vip::layer_norm(ctx(), y->as<float>(), x->as<float>(), w->as<float>(), b->as<float>(), rows, h, eps); });
  return info.Env().Undefined();
}

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), x = buf(info[1]), w = buf(info[2]);
  const int64_t rows = i64(info, 3), h = i64(info, 4);
  const float eps = float(f64(info, 5));
  submit("rmsNorm", [=] { vip::rms_norm(ctx(), y->as<float>(), x->as<float>(), w->as<float>(), rows, h, eps); });
  return info.Env().Undefined();
}

// rope(y, x, rows, width, positions, headDim, invFreq, scaling)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  BufferPtr y = buf(info[0]), x = buf(info[1]);
  const int64_t rows = i64(info, 2), width = i64(info, 3), hd = i64(info, 5);
  auto pos = copy_array<int32_t>(info[4]);
  auto inv = copy_array<float>(info[6]);
  const float scaling = float(f64(info, 7));
  submit("rope", [=, pos = std::move(pos), inv = std::move(inv)] { vip::rope(ctx(), y->as<float>(), x->as<float>(), rows, width, pos, hd, inv, scaling); });
  return info.Env().Undefined();
}

// attention(out, q, k, v, [batch, seq, kvRows, heads, kvHeads, headDim, kvLength, past, window], scale, keyMask)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  BufferPtr o = buf(info[0]), q = buf(info[1]), k = buf(info[2]), v = buf(info[3]);
  auto dims = copy_array<double>(info[4]);
  vip::AttentionShape s{int64_t(dims[0]), int64_t(dims[1]), int64_t(dims[2]), int64_t(dims[3]), int64_t(dims[4]), int64_t(dims[5]), int64_t(dims[6]),
                        float(f64(info, 5)), int64_t(dims[7]), int64_t(dims[8])};
  auto mask = copy_array<uint8_t>(info[6]);
  const bool half = vip::SrcType(i64(info, 7)) == vip::SRC_F16;
  submit("attention", [=, mask = std::move(mask)] { vip::attention(ctx(), o->as<float>(), q->as<float>(), k->data(), v->data(), half, s, mask); });
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!g) {
    const char* forced = std::getenv("VIPLLAVA_ISA");
    const vip::Kernels& kernels = forced && *forced ? kernels_or_throw(env, forced, "$VIPLLAVA_ISA=") : *vip::supported_kernels().front();
    g = new Engine();
    g->kernels = &kernels;
    g->exec.reset(new vip::Executor(vip::physical_cores()));
    g->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "vipllava-native", 0, 1);
    g->tsfn.Unref(env);
    g_profile.on = std::getenv("VIPLLAVA_PROFILE") != nullptr;
  }
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"info", Info}, {"setThreads", SetThreads}, {"setKernels", SetKernels}, {"alloc", Alloc}, {"release", Release}, {"fromHost", FromHost},
      {"packWeight", PackWeight}, {"packBuffer", PackBuffer}, {"packedBytes", PackedBytes}, {"view", View}, {"bf16dot", Bf16dot}, {"read", Read}, {"readPacked", ReadPacked}, {"limits", Limits}, {"flush", Flush}, {"setProfiling", SetProfiling}, {"profile", GetProfile}, {"widen", Widen},
      {"copy2d", Copy2d}, {"im2col", Im2col}, {"gather", Gather}, {"linear", Linear}, {"add", Add}, {"mul", Mul}, {"activation", Activation},
      {"layerNorm", LayerNorm}, {"rmsNorm", RmsNorm}, {"rope", Rope}, {"attention", Attention},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace

NODE_API_MODULE(vipllava_native, Init)
