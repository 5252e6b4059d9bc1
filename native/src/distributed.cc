// Distributed training through libtorch's c10d: a TCPStore for the rendezvous and a Gloo (CPU) or
// NCCL (CUDA) process group for the collectives. Collectives block until done, like PyTorch's
// synchronous calls, and a failure (a peer that died, a timeout) becomes a JS Error.
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <cstdlib>
#include <functional>
#include <sstream>

// Debian ships Gloo's headers in libgloo-dev, not libtorch-dev; without them the addon builds without
// the gloo backend. USE_C10D_GLOO and USE_C10D_NCCL are torch's build flags that also guard its
// headers, so a consumer has to state them itself.
#if __has_include(<gloo/algorithm.h>)
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define SCATTER_WITH_GLOO 1
#endif

#if defined(SCATTER_WITH_CUDA) && __has_include(<nccl.h>) && __has_include(<cuda_runtime_api.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define SCATTER_WITH_NCCL 1
#endif

#include "errors.h"
#include "handles.h"
#include "modules.h"

namespace scatter {
namespace {

// Since libtorch 2.0 the Gloo and NCCL classes are c10d::Backends (a ProcessGroup dispatches to one per
// device type); in 1.x they were ProcessGroups. Both carry the collectives used here.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

// A process group and the store its ranks met through; null once destroyed.
struct GroupBox {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> group;
};

// Tells group handles from tensor handles, which are Externals too.
constexpr napi_type_tag kGroupTag = {0x5ca77e4d15751b0dULL, 0x9c3f2a61e8b04d27ULL};

GroupBox& unwrapGroup(const Napi::Value& value, const std::string& what) {
  if (!value.IsExternal() || !value.As<Napi::External<GroupBox>>().CheckTypeTag(&kGroupTag)) {
    throw Napi::TypeError::New(value.Env(), what + ": expected a process group handle");
  }
  GroupBox* box = value.As<Napi::External<GroupBox>>().Data();
  if (!box->group) throw Napi::Error::New(value.Env(), what + ": the process group was destroyed");
  return *box;
}

// Runs a libtorch call, prefixing the message of anything it throws with what was being done.
template <typename Body>
void withContext(Napi::Env env, const std::string& context, Body body) {
  try {
    body();
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, context + ": " + e.what());
  }
}

std::string stringField(const Napi::Object& options, const char* name) {
  Napi::Value value = options.Get(name);
  if (!value.IsString()) {
    throw Napi::TypeError::New(options.Env(), std::string("createProcessGroup: ") + name + " must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

int64_t intField(const Napi::Object& options, const char* name, int64_t min, int64_t max) {
  Napi::Value value = options.Get(name);
  double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1.0;
  if (!value.IsNumber() || number != static_cast<double>(static_cast<int64_t>(number)) || number < min || number > max) {
    throw Napi::RangeError::New(options.Env(), std::string("createProcessGroup: ") + name + " must be an integer in [" +
                                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int64_t>(number);
}

#ifdef SCATTER_WITH_GLOO
bool isLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

// Where Gloo listens: GLOO_SOCKET_IFNAME's interfaces as in PyTorch; loopback when the master is
// loopback (every rank is on this host, and the hostname may resolve to an address peers can't
// reach); otherwise the address this host's name resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> glooDevices(const std::string& masterAddr) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME");
  if (interfaces != nullptr && *interfaces != '\0') {
    std::istringstream list(interfaces);
    for (std::string name; std::getline(list, name, ',');) {
      if (!name.empty()) devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
  } else if (isLoopback(masterAddr)) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(masterAddr));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}
#endif

// Makes a process group over a store once every rank has its store connected.
using GroupFactory = std::function<c10::intrusive_ptr<Collectives>(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, std::chrono::milliseconds timeout)>;

// The factory of a backend, or a clear error where this build lacks it, before any socket is opened.
GroupFactory backendFactory(Napi::Env env, const std::string& backend, const std::string& masterAddr) {
  if (backend == "gloo") {
#ifdef SCATTER_WITH_GLOO
    return [masterAddr](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                        std::chrono::milliseconds timeout) -> c10::intrusive_ptr<Collectives> {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices = glooDevices(masterAddr);
      return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
    };
#else
    throw Napi::Error::New(env, "createProcessGroup: backend 'gloo' is missing: scatter was built without Gloo's "
                                "headers (install libgloo-dev and rebuild the addon)");
#endif
  }
  if (backend == "nccl") {
#ifdef SCATTER_WITH_NCCL
    return [](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
              std::chrono::milliseconds timeout) -> c10::intrusive_ptr<Collectives> {
      // Without blocking wait, NCCL's wait() only orders CUDA streams: it neither blocks the host nor
      // honours the timeout, so a dead peer would hang the next synchronisation instead of throwing.
      // (libtorch 2.2 renamed the variables with a TORCH_ prefix; each version reads its own.)
      if (std::getenv("NCCL_BLOCKING_WAIT") == nullptr && std::getenv("NCCL_ASYNC_ERROR_HANDLING") == nullptr) {
        setenv("NCCL_BLOCKING_WAIT", "1", 0);
        setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
      }
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
    };
#else
    throw Napi::Error::New(env, "createProcessGroup: backend 'nccl' needs a CUDA libtorch with NCCL, and scatter "
                                "was built without one: use backend 'gloo'");
#endif
  }
  throw Napi::Error::New(env, "createProcessGroup: unknown backend '" + backend + "' (expected 'gloo' or 'nccl')");
}

// createProcessGroup({backend, rank, worldSize, masterAddr, masterPort, timeoutMs}): joins the group,
// blocking until every rank has arrived or the timeout passes. Rank 0 hosts the store.
SCATTER_FN(createProcessGroup) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "createProcessGroup: expected an options object");
  Napi::Object options = info[0].As<Napi::Object>();
  std::string backend = stringField(options, "backend");
  int64_t worldSize = intField(options, "worldSize", 1, INT32_MAX);
  int64_t rank = intField(options, "rank", 0, worldSize - 1);
  std::string masterAddr = stringField(options, "masterAddr");
  int64_t masterPort = intField(options, "masterPort", 1, 65535);
  std::chrono::milliseconds timeout(intField(options, "timeoutMs", 1, INT64_C(1) << 52));
  GroupFactory makeGroup = backendFactory(env, backend, masterAddr);

  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<std::uint16_t>(masterPort);
  storeOptions.isServer = rank == 0;
  storeOptions.numWorkers = static_cast<std::size_t>(worldSize);
  storeOptions.timeout = timeout;
  auto box = std::make_unique<GroupBox>();
  std::string joining = "createProcessGroup: rank " + std::to_string(rank) + " of " + std::to_string(worldSize) +
                        " could not join through " + masterAddr + ":" + std::to_string(masterPort);
  withContext(env, joining, [&] {
    box->store = c10::make_intrusive<c10d::TCPStore>(masterAddr, storeOptions);
    box->group = makeGroup(box->store, static_cast<int>(rank), static_cast<int>(worldSize), timeout);
  });

  auto handle = Napi::External<GroupBox>::New(env, box.release(), [](Napi::Env, GroupBox* dropped) { delete dropped; });
  handle.TypeTag(&kGroupTag);
  return handle;
}

c10d::ReduceOp parseReduceOp(Napi::Env env, const std::string& name) {
  if (name == "sum" || name == "avg") return c10d::ReduceOp::SUM;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  throw Napi::Error::New(env, "allReduce: unknown op '" + name + "' (expected sum, avg, max, min or product)");
}

// Waits for a collective; whatever went wrong on the wire is reported with the collective's name.
void await(Napi::Env env, const std::string& kind, const c10::intrusive_ptr<c10d::Work>& work) {
  withContext(env, kind + " failed", [&] { work->wait(); });
}

// Runs an in-place collective on a contiguous buffer, since the backends read raw memory, and copies
// the result back into a tensor that was not contiguous.
template <typename Run>
void inPlace(const at::Tensor& tensor, Run run) {
  std::vector<at::Tensor> buffer{tensor.contiguous()};
  run(buffer);
  if (!buffer[0].is_same(tensor)) tensor.copy_(buffer[0]);
}

// processGroupCollective(group, kind, tensors, option): allReduce (option: the op) and broadcast
// (option: the root rank) work in place on tensors[0]; allGather returns worldSize new tensors; barrier
// takes no tensor.
SCATTER_FN(processGroupCollective) {
  Napi::Env env = info.Env();
  GroupBox& box = unwrapGroup(info[0], "processGroupCollective");
  std::string kind = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, kind + ": expected an array of tensors");
  Napi::Array handles = info[2].As<Napi::Array>();
  std::vector<at::Tensor> tensors;
  for (uint32_t i = 0; i < handles.Length(); ++i) tensors.push_back(unwrapTensor(handles.Get(i), kind.c_str()));
  size_t expected = kind == "barrier" ? 0 : 1;
  if (tensors.size() != expected) {
    throw Napi::Error::New(env, kind + ": expected " + std::to_string(expected) + " tensor(s), got " +
                                    std::to_string(tensors.size()));
  }
  // Collectives are outside autograd; this also lets them write into leaves that require grad.
  at::NoGradGuard noGrad;
  Collectives& group = *box.group;

  if (kind == "allReduce") {
    std::string opName = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
    c10d::AllreduceOptions options;
    options.reduceOp = parseReduceOp(env, opName);
    const at::Tensor& tensor = tensors[0];
    // Gloo in libtorch 1.13 has no AVG: sum, then divide by the number of ranks. Checked before the
    // collective so that every rank fails alike instead of one waiting for the others.
    bool average = opName == "avg";
    if (average && !at::isFloatingType(tensor.scalar_type()) && !at::isComplexType(tensor.scalar_type())) {
      throw Napi::TypeError::New(env, std::string("allReduce: op 'avg' needs a floating-point tensor, got ") +
                                          c10::toString(tensor.scalar_type()));
    }
    inPlace(tensor, [&](std::vector<at::Tensor>& buffer) { await(env, kind, group.allreduce(buffer, options)); });
    if (average) tensor.div_(group.getSize());
    return env.Undefined();
  }
  if (kind == "broadcast") {
    if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "broadcast: expected the source rank as a number");
    int64_t root = info[3].As<Napi::Number>().Int64Value();
    if (root < 0 || root >= group.getSize()) {
      throw Napi::RangeError::New(env, "broadcast: source rank " + std::to_string(root) + " is not in [0, " +
                                           std::to_string(group.getSize()) + ")");
    }
    c10d::BroadcastOptions options;
    options.rootRank = root;
    inPlace(tensors[0], [&](std::vector<at::Tensor>& buffer) { await(env, kind, group.broadcast(buffer, options)); });
    return env.Undefined();
  }
  if (kind == "allGather") {
    std::vector<at::Tensor> input{tensors[0].contiguous()};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int i = 0; i < group.getSize(); ++i) outputs[0].push_back(at::empty_like(input[0]));
    await(env, kind, group.allgather(outputs, input));
    Napi::Array result = Napi::Array::New(env, outputs[0].size());
    for (size_t i = 0; i < outputs[0].size(); ++i) result.Set(static_cast<uint32_t>(i), wrapTensor(env, outputs[0][i]));
    return result;
  }
  if (kind == "barrier") {
    await(env, kind, group.barrier());
    return env.Undefined();
  }
  throw Napi::Error::New(env, "processGroupCollective: unknown collective '" + kind +
                                  "' (expected allReduce, broadcast, allGather or barrier)");
}

// destroyProcessGroup(group): leaves the group now; the handle then refuses every use.
SCATTER_FN(destroyProcessGroup) {
  GroupBox& box = unwrapGroup(info[0], "destroyProcessGroup");
  box.group.reset();
  box.store.reset();
  return info.Env().Undefined();
}

}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("createProcessGroup", Napi::Function::New(env, createProcessGroup));
  exports.Set("processGroupCollective", Napi::Function::New(env, processGroupCollective));
  exports.Set("destroyProcessGroup", Napi::Function::New(env, destroyProcessGroup));
}

}  // namespace scatter
