// CUDA graphs for train.capture (src/train/capture.ts): a graph handle whose capture runs on a side stream
// of its own (capture_begin refuses the default stream), replayed on the caller's stream; and a side-stream
// region for the eager warm-up steps torch.cuda.graphs asks for before a capture. Every region joins the
// streams both ways (the side stream waits for the caller's work before, the caller's stream for the side's
// after), as torch.cuda.graph does. JavaScript drives what is captured: between cudaGraphCaptureBegin and
// cudaGraphCaptureEnd every operator call (and autograd's backward, which runs on its forward's stream) is
// recorded, not run.
//
// A graph may be made as the next part of another (cudaGraphCreate(device, previous)): it captures on the same side
// stream and into the same memory pool, as torch.cuda.make_graphed_callables captures a forward and its backward
// (graph_pool_handle, one capture stream), so that a later part's backward runs through the autograd graph an
// earlier part's capture recorded, on the stream those nodes ran on, reading what the earlier part left in the pool.
// Such parts must be replayed in the order they were captured.
//
// Compiled against CUDA only where libtorch.cjs defines SCATTER_WITH_CUDA (a CUDA libtorch); elsewhere the
// same functions exist and throw, and cudaGraphsBuilt() says false.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "convert.h"
#include "errors.h"
#include "modules.h"

#ifdef SCATTER_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace scatter {
namespace {

#ifdef SCATTER_WITH_CUDA

// A side stream made current for a while: entering makes it wait for the caller's stream, leaving restores
// the caller's stream and makes it wait for the side's work.
struct SideStream {
  explicit SideStream(c10::DeviceIndex device)
      : stream(c10::cuda::getStreamFromPool(false, device)), caller(c10::cuda::getCurrentCUDAStream(device)) {}

  void enter() {
    TORCH_CHECK(!guard.has_value(), "the side stream is current already");
    caller = c10::cuda::getCurrentCUDAStream(stream.device_index());
    join(caller, stream);
    guard.emplace(stream);
  }

  void leave() {
    if (!guard.has_value()) return;
    guard.reset();
    join(stream, caller);
  }

  // `waiter` waits (on the device, not the host) for what `done` has queued so far.
  static void join(const c10::cuda::CUDAStream& done, const c10::cuda::CUDAStream& waiter) {
    at::cuda::CUDAEvent event;
    event.record(done);
    event.block(waiter);
  }

  c10::cuda::CUDAStream stream;
  c10::cuda::CUDAStream caller;
  std::optional<c10::cuda::CUDAStreamGuard> guard;
};

// CUDAGraph is neither copyable nor movable in recent libtorch: held by pointer. The side stream and the pool are
// shared with the graph's other parts.
struct GraphBox {
  explicit GraphBox(c10::DeviceIndex device)
      : side(std::make_shared<SideStream>(device)),
        pool(at::cuda::graph_pool_handle()),
        graph(std::make_unique<at::cuda::CUDAGraph>()) {}
  GraphBox(std::shared_ptr<SideStream> side, decltype(at::cuda::graph_pool_handle()) pool)
      : side(std::move(side)), pool(pool), graph(std::make_unique<at::cuda::CUDAGraph>()) {}
  std::shared_ptr<SideStream> side;
  decltype(at::cuda::graph_pool_handle()) pool;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  bool capturing = false;
  bool captured = false;
};

constexpr napi_type_tag kGraphTag = {0x6a1e3c0f5d2b4e71ULL, 0x8b94c2d7a3f15e06ULL};
constexpr napi_type_tag kSideTag = {0x2f7d9b41c6e80a53ULL, 0xd15e6a0b93c7f248ULL};

template <typename T>
T& unwrapBox(const Napi::Value& value, const napi_type_tag& tag, const char* what) {
  if (!value.IsExternal() || !value.As<Napi::External<T>>().CheckTypeTag(&tag)) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected its handle");
  }
  return *value.As<Napi::External<T>>().Data();
}

// The CUDA device a handle works on: 'cuda' is the current device, 'cuda:N' device N.
c10::DeviceIndex cudaDevice(const Napi::Value& value) {
  c10::Device device = parseDevice(value);
  TORCH_CHECK(device.is_cuda(), "CUDA graphs and side streams are for cuda devices, got ", device);
  return device.has_index() ? device.index() : c10::cuda::current_device();
}

// cudaGraphCreate(device[, previous]): a graph, or the next part of `previous` (its side stream and pool).
SCATTER_FN(cudaGraphCreate) {
  c10::DeviceIndex device = cudaDevice(info[0]);
  std::unique_ptr<GraphBox> box;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    GraphBox& previous = unwrapBox<GraphBox>(info[1], kGraphTag, "cudaGraphCreate previous");
    TORCH_CHECK(previous.side->stream.device_index() == device, "cudaGraphCreate: the next part is on another device");
    box = std::make_unique<GraphBox>(previous.side, previous.pool);
  } else {
    box = std::make_unique<GraphBox>(device);
  }
  auto handle = Napi::External<GraphBox>::New(info.Env(), box.release(), [](Napi::Env, GraphBox* dropped) {
    // A graph dropped in the middle of a capture still gives its stream back to the caller (only then: the stream
    // may be another part's, capturing now).
    if (dropped->capturing) dropped->side->leave();
    delete dropped;
  });
  handle.TypeTag(&kGraphTag);
  return handle;
}

// Starts recording on the graph's side stream (which first waits for the caller's queued work).
SCATTER_FN(cudaGraphCaptureBegin) {
  GraphBox& box = unwrapBox<GraphBox>(info[0], kGraphTag, "cudaGraphCaptureBegin");
  TORCH_CHECK(!box.capturing && !box.captured, "cudaGraphCaptureBegin: this graph has been captured (reset it first)");
  box.side->enter();
  try {
    box.graph->capture_begin(box.pool);
  } catch (...) {
    box.side->leave();
    throw;
  }
  box.capturing = true;
  return info.Env().Undefined();
}

// Ends the recording and instantiates the graph; the caller's stream is current again whether or not
// capture_end succeeds (a failed capture leaves nothing to replay).
SCATTER_FN(cudaGraphCaptureEnd) {
  GraphBox& box = unwrapBox<GraphBox>(info[0], kGraphTag, "cudaGraphCaptureEnd");
  TORCH_CHECK(box.capturing, "cudaGraphCaptureEnd: no capture is under way");
  box.capturing = false;
  try {
    box.graph->capture_end();
  } catch (...) {
    box.side->leave();
    throw;
  }
  box.side->leave();
  box.captured = true;
  return info.Env().Undefined();
}

// Launches the captured work on the caller's current stream.
SCATTER_FN(cudaGraphReplay) {
  GraphBox& box = unwrapBox<GraphBox>(info[0], kGraphTag, "cudaGraphReplay");
  TORCH_CHECK(box.captured, "cudaGraphReplay: nothing was captured");
  box.graph->replay();
  return info.Env().Undefined();
}

// Frees the graph and its hold on the memory pool (the pool goes when no part holds it); the handle can capture
// again, into a new pool. Tensors made during the capture must not be used after this (their memory was the pool's).
SCATTER_FN(cudaGraphReset) {
  GraphBox& box = unwrapBox<GraphBox>(info[0], kGraphTag, "cudaGraphReset");
  TORCH_CHECK(!box.capturing, "cudaGraphReset: a capture is under way");
  box.graph = std::make_unique<at::cuda::CUDAGraph>();
  box.pool = at::cuda::graph_pool_handle();
  box.captured = false;
  return info.Env().Undefined();
}

SCATTER_FN(cudaSideStreamCreate) {
  auto side = std::make_unique<SideStream>(cudaDevice(info[0]));
  auto handle = Napi::External<SideStream>::New(info.Env(), side.release(), [](Napi::Env, SideStream* dropped) {
    dropped->leave();
    delete dropped;
  });
  handle.TypeTag(&kSideTag);
  return handle;
}

SCATTER_FN(cudaSideStreamEnter) {
  unwrapBox<SideStream>(info[0], kSideTag, "cudaSideStreamEnter").enter();
  return info.Env().Undefined();
}

SCATTER_FN(cudaSideStreamLeave) {
  unwrapBox<SideStream>(info[0], kSideTag, "cudaSideStreamLeave").leave();
  return info.Env().Undefined();
}

SCATTER_FN(cudaGraphsBuilt) { return Napi::Boolean::New(info.Env(), true); }

#else  // !SCATTER_WITH_CUDA

[[noreturn]] void withoutCuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": scatter was built without CUDA");
}

SCATTER_FN(cudaGraphCreate) { withoutCuda("cudaGraphCreate"); }
SCATTER_FN(cudaGraphCaptureBegin) { withoutCuda("cudaGraphCaptureBegin"); }
SCATTER_FN(cudaGraphCaptureEnd) { withoutCuda("cudaGraphCaptureEnd"); }
SCATTER_FN(cudaGraphReplay) { withoutCuda("cudaGraphReplay"); }
SCATTER_FN(cudaGraphReset) { withoutCuda("cudaGraphReset"); }
SCATTER_FN(cudaSideStreamCreate) { withoutCuda("cudaSideStreamCreate"); }
SCATTER_FN(cudaSideStreamEnter) { withoutCuda("cudaSideStreamEnter"); }
SCATTER_FN(cudaSideStreamLeave) { withoutCuda("cudaSideStreamLeave"); }
SCATTER_FN(cudaGraphsBuilt) { return Napi::Boolean::New(info.Env(), false); }

#endif  // SCATTER_WITH_CUDA

}  // namespace

void registerGraphs(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaGraphCreate", Napi::Function::New(env, cudaGraphCreate));
  exports.Set("cudaGraphCaptureBegin", Napi::Function::New(env, cudaGraphCaptureBegin));
  exports.Set("cudaGraphCaptureEnd", Napi::Function::New(env, cudaGraphCaptureEnd));
  exports.Set("cudaGraphReplay", Napi::Function::New(env, cudaGraphReplay));
  exports.Set("cudaGraphReset", Napi::Function::New(env, cudaGraphReset));
  exports.Set("cudaSideStreamCreate", Napi::Function::New(env, cudaSideStreamCreate));
  exports.Set("cudaSideStreamEnter", Napi::Function::New(env, cudaSideStreamEnter));
  exports.Set("cudaSideStreamLeave", Napi::Function::New(env, cudaSideStreamLeave));
  exports.Set("cudaGraphsBuilt", Napi::Function::New(env, cudaGraphsBuilt));
}

}  // namespace scatter
