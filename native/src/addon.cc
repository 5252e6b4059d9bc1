// Entry point of scatter's Node-API addon over libtorch.
#include <napi.h>

#include <cstdlib>
#include <string>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "entry.h"
#include "handles.h"
#include "modules.h"

namespace scatter {

namespace {

// A training step frees all its activations at once (when its scope ends) and allocates them again in
// the next step. glibc's defaults then hand the freed heap back to the kernel and fault it in again page
// by page every step (measured: 5x the page faults of Python PyTorch, which frees progressively, and a
// 25% slower ResNet-32 step). Keeping freed memory for reuse, and serving blocks up to glibc's 32 MiB
// maximum from the heap, removes that churn. Small blocks are also kept by libtorch's CPU allocator
// (allocator.cc). SCATTER_KEEP_GLIBC_MALLOC=1 leaves glibc's defaults and libtorch's own allocator.
void keepFreedMemoryForReuse() {
  const char* keepDefaults = std::getenv("SCATTER_KEEP_GLIBC_MALLOC");
  if (keepDefaults != nullptr && std::string(keepDefaults) == "1") return;
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
#endif
  keepSmallCpuBlocks();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  keepFreedMemoryForReuse();
  detectDirectV8(env);
  registerHandles(env, exports);
  registerOps(env, exports);
  registerTensors(env, exports);
  registerAutograd(env, exports);
  registerRuntime(env, exports);
  registerDistributed(env, exports);
  registerWhitening(env, exports);
  registerGraphs(env, exports);
  return exports;
}

}  // namespace scatter

static Napi::Object initScatter(Napi::Env env, Napi::Object exports) { return scatter::init(env, exports); }

NODE_API_MODULE(scatter, initScatter)
