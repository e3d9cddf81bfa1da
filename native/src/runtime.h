// Memory, threads and the op queue of the native engine.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vip {

// A 64-byte-aligned allocation, shared by the JavaScript handle and the queued ops that use it. An op's output
// is created when the op is enqueued but gets its memory only when first used on the executor thread, so
// memory is taken in execution order and blocks freed by earlier ops are reused.
struct Buffer {
  size_t bytes = 0;
  // `lazy`: allocate on first use (zeroed if `zero`); otherwise now.
  Buffer(size_t bytes, bool zero, bool lazy = false);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() {
    if (!data_) allocate();
    return data_;
  }
  template <class T>
  T* as() { return static_cast<T*>(data()); }

 private:
  void allocate();
  void* data_ = nullptr;
  bool zero_ = false;
};
using BufferPtr = std::shared_ptr<Buffer>;
// Bytes held by live buffers (weights, activations, caches) right now.
int64_t live_bytes();

// Worker threads for data-parallel loops; the thread that calls run() takes part, so `threads` in all.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int size() const { return int(workers_.size()) + 1; }
  // fn(begin, end) over [0, n) in chunks of at least `grain`, handed out dynamically.
  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop();
  void work_on_current_job();
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, chunk_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// One thread that runs queued ops in order; ops use the pool for their inner parallel loops.
class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();
  void submit(std::function<void()> op);
  ThreadPool& pool() { return *pool_; }
  int threads() const { return pool_->size(); }
  // Replaces the pool once the queue is empty (waits for that).
  void set_threads(int threads);
  // The first error an op raised since the last call, or "".
  std::string take_error();

 private:
  void loop();
  std::unique_ptr<ThreadPool> pool_;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false, busy_ = false;
  std::string error_;
  std::thread thread_;  // last: members are constructed in this order, and the thread uses all of the above
};

// Physical cores (SMT siblings counted once), from /sys; std::thread::hardware_concurrency() otherwise.
int physical_cores();

}  // namespace vip
