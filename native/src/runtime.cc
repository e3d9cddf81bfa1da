#include "runtime.h"

#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <map>
#include <new>
#include <set>
#include <stdexcept>
#include <utility>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vip {

static std::atomic<int64_t> g_live{0};

int64_t live_bytes() { return g_live.load(); }

namespace {

// Freed activation-sized blocks are kept for reuse: a fresh block costs a page fault per 4 KiB on first touch,
// which in a VM made element-wise ops several times slower than their memory traffic. Sizes are rounded up to
// eighths of a power of two; at most kCacheLimit bytes wait in the cache.
constexpr size_t kCacheMin = size_t(64) << 10, kCacheLimit = size_t(1) << 30;

struct BlockCache {
  std::mutex mu;
  std::multimap<size_t, void*> free;
  size_t held = 0;
};
// Never destroyed: engine threads may still free buffers while the process exits.
BlockCache& g_cache = *new BlockCache();

size_t size_class(size_t n) {
  size_t p = 64;
  while (p < n) p <<= 1;
  const size_t step = std::max<size_t>(64, p / 8);
  return (n + step - 1) / step * step;
}

// Memory for a new block: 64-byte aligned; from 2 MiB on, aligned to 2 MiB and, on Linux, backed by huge pages
// where the kernel has them to give (transparent huge pages on request): a kernel streaming a weight matrix then
// crosses a page, where the hardware prefetcher stops and the TLB misses, every 2 MiB instead of every 4 KiB.
void* fresh(size_t bytes) {
  constexpr size_t huge = size_t(2) << 20;
  if (bytes < huge) return std::aligned_alloc(64, bytes);
  void* p = nullptr;
  if (posix_memalign(&p, huge, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, bytes / huge * huge, MADV_HUGEPAGE);  // advice only: without huge pages the block is as it was
#endif
  return p;
}

}  // namespace

Buffer::Buffer(size_t n, bool zero, bool lazy) : bytes(n), zero_(zero) {
  if (!lazy) allocate();
}

void Buffer::allocate() {
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  if (cls >= kCacheMin) {
    std::lock_guard<std::mutex> lock(g_cache.mu);
    auto it = g_cache.free.find(cls);
    if (it != g_cache.free.end()) {
      data_ = it->second;
      g_cache.free.erase(it);
      g_cache.held -= cls;
    }
  }
  if (!data_) data_ = fresh(cls);
  if (!data_) throw std::bad_alloc();
  if (zero_) std::memset(data_, 0, cls);
  g_live += int64_t(bytes);
}

Buffer::~Buffer() {
  if (!data_) return;
  g_live -= int64_t(bytes);
  void* data = data_;
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  if (cls >= kCacheMin && cls <= kCacheLimit / 4) {
    std::lock_guard<std::mutex> lock(g_cache.mu);
    if (g_cache.held + cls <= kCacheLimit) {
      g_cache.free.emplace(cls, data);
      g_cache.held += cls;
      return;
    }
  }
  std::free(data);
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on_current_job() {
  for (;;) {
    const int64_t begin = next_.fetch_add(chunk_);
    if (begin >= n_) break;
    (*job_)(begin, std::min(n_, begin + chunk_));
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    work_on_current_job();
    if (active_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int threads = size();
  const int64_t chunk = std::max<int64_t>(grain, (n + threads * 4 - 1) / (threads * 4));
  if (threads == 1 || n <= chunk) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    n_ = n;
    chunk_ = chunk;
    next_ = 0;
    active_ = int(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  work_on_current_job();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return active_.load() == 0; });
  job_ = nullptr;
}

Executor::Executor(int threads) : pool_(new ThreadPool(threads)), thread_([this] { loop(); }) {}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Executor::submit(std::function<void()> op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

void Executor::loop() {
  for (;;) {
    std::function<void()> op;
    {
      std::unique_lock<std::mutex> lock(mu_);
      busy_ = false;
      if (queue_.empty()) idle_.notify_all();
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_ && queue_.empty()) return;
      op = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    try {
      op();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      if (error_.empty()) error_ = e.what();
    }
  }
}

void Executor::set_threads(int threads) {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  pool_.reset(new ThreadPool(threads));
}

std::string Executor::take_error() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(error_, std::string());
}

int physical_cores() {
  static const int n = [] {  // the topology does not change: read it once
    std::set<std::pair<std::string, std::string>> cores;
    const unsigned logical = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned cpu = 0; cpu < logical; ++cpu) {
      const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream core(base + "core_id"), pkg(base + "physical_package_id");
      std::string c, p;
      if (!(core >> c) || !(pkg >> p)) return int(logical);
      cores.insert({p, c});
    }
    return cores.empty() ? int(logical) : int(cores.size());
  }();
  return n;
}

}  // namespace vip
