// libtorch's CPU allocator with freed small blocks kept for reuse.
//
// A scope frees its tensors together when it ends (Python frees each as its last reference goes), so a
// thousand small results are allocated, then a thousand freed. glibc's per-thread cache holds 7 blocks of a
// size; the rest went through its bins (posix_memalign's split remainders, consolidation), about a sixth of
// a 1-element add's time. Blocks up to 4 KiB are kept here in free lists by power-of-two class, 4 MiB a
// class; larger ones, and blocks beyond that, go back to c10::free_cpu as before. Blocks come from
// c10::alloc_cpu (64-byte alignment; c10's debug fill flags apply when a block is first made), with a
// 64-byte header before the data that names the block's class. Unlike c10's default allocator, this one
// does not report to libtorch's profiler, which scatter does not expose.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "modules.h"

namespace scatter {
namespace {

constexpr size_t kHeader = 64;  // c10's alignment, so the data keeps it
constexpr int kClasses = 7;     // 64 B, 128 B, ..., 4 KiB
constexpr size_t kSmallest = 64;
constexpr size_t kCachedBytesPerClass = 4 << 20;

size_t classBytes(int sizeClass) { return kSmallest << sizeClass; }

// The class of a request, or -1 where it is too large to keep.
int classOf(size_t nbytes) {
  int sizeClass = 0;
  while (sizeClass < kClasses && classBytes(sizeClass) < nbytes) ++sizeClass;
  return sizeClass < kClasses ? sizeClass : -1;
}

struct Header {
  int sizeClass;
};

// Blocks are freed on whichever thread drops the last reference (intra-op and autograd threads too).
class SpinLock {
 public:
  void lock() {
    while (held_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() { held_.clear(std::memory_order_release); }

 private:
  std::atomic_flag held_ = ATOMIC_FLAG_INIT;
};

struct FreeLists {
  SpinLock lock;
  std::vector<void*> blocks[kClasses];
};

// Never destroyed: tensors may be freed during static destruction at exit.
FreeLists& freeLists() {
  static auto* lists = new FreeLists();
  return *lists;
}

void* popBlock(int sizeClass) {
  FreeLists& lists = freeLists();
  lists.lock.lock();
  std::vector<void*>& blocks = lists.blocks[sizeClass];
  void* base = nullptr;
  if (!blocks.empty()) {
    base = blocks.back();
    blocks.pop_back();
  }
  lists.lock.unlock();
  return base;
}

bool pushBlock(int sizeClass, void* base) {
  FreeLists& lists = freeLists();
  lists.lock.lock();
  std::vector<void*>& blocks = lists.blocks[sizeClass];
  bool kept = blocks.size() < kCachedBytesPerClass / (kHeader + classBytes(sizeClass));
  if (kept) blocks.push_back(base);
  lists.lock.unlock();
  return kept;
}

void freeBlock(void* data) {
  if (data == nullptr) return;
  void* base = static_cast<char*>(data) - kHeader;
  int sizeClass = static_cast<Header*>(base)->sizeClass;
  if (sizeClass >= 0 && pushBlock(sizeClass, base)) return;
  c10::free_cpu(base);
}

at::DataPtr allocateBlock(size_t nbytes) {
  if (nbytes == 0) return {nullptr, nullptr, &freeBlock, at::Device(at::kCPU)};
  int sizeClass = classOf(nbytes);
  void* base = sizeClass >= 0 ? popBlock(sizeClass) : nullptr;
  if (base == nullptr) {
    base = c10::alloc_cpu(kHeader + (sizeClass >= 0 ? classBytes(sizeClass) : nbytes));
    static_cast<Header*>(base)->sizeClass = sizeClass;
  }
  void* data = static_cast<char*>(base) + kHeader;
  return {data, data, &freeBlock, at::Device(at::kCPU)};
}

// libtorch 1.x declares allocate() const and 2.x does not, and 2.3 adds copy_data(): all are defined, and
// each overrides whichever the base class has.
struct KeepingCpuAllocator final : at::Allocator {
  at::DataPtr allocate(size_t nbytes) const { return allocateBlock(nbytes); }
  at::DataPtr allocate(size_t nbytes) { return allocateBlock(nbytes); }
  void copy_data(void* dest, const void* src, size_t count) const { std::memcpy(dest, src, count); }
  at::DeleterFnPtr raw_deleter() const override { return &freeBlock; }
};

}  // namespace

void keepSmallCpuBlocks() {
  static auto* allocator = new KeepingCpuAllocator();  // never destroyed, as the free lists
  c10::SetCPUAllocator(allocator, /*priority=*/1);
}

}  // namespace scatter
