// Process-wide state: random seeds and generator state, threads, CUDA availability, version.
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <mutex>

#include "convert.h"
#include "errors.h"
#include "handles.h"
#include "modules.h"

namespace scatter {
namespace {

int cudaDeviceCount() { return at::detail::getCUDAHooks().getNumGPUs(); }

SCATTER_FN(manualSeed) {
  uint64_t seed = static_cast<uint64_t>(toInt(info[0], "manualSeed"));
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_current_seed(seed);
  }
  for (int i = 0; i < cudaDeviceCount(); ++i) {
    auto generator = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_current_seed(seed);
  }
  return info.Env().Undefined();
}

at::Generator generatorFor(const Napi::Value& device) {
  if (device.IsUndefined() || device.IsNull()) return at::detail::getDefaultCPUGenerator();
  return at::globalContext().defaultGenerator(parseDevice(device));
}

// getRngState(device?): the generator's state as a uint8 tensor, for exact resumption.
SCATTER_FN(getRngState) {
  auto generator = generatorFor(info[0]);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return wrapTensor(info.Env(), at::Tensor(generator.get_state()));
}

SCATTER_FN(setRngState) {
  auto generator = generatorFor(info[1]);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(unwrapTensor(info[0], "setRngState").cpu());
  return info.Env().Undefined();
}

SCATTER_FN(setNumThreads) {
  int64_t threads = toInt(info[0], "setNumThreads");
  if (threads < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: expected at least 1 thread");
  at::set_num_threads(static_cast<int>(threads));
  return info.Env().Undefined();
}

SCATTER_FN(getNumThreads) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

SCATTER_FN(cudaIsAvailable) { return Napi::Boolean::New(info.Env(), cudaDeviceCount() > 0); }

SCATTER_FN(cudaDeviceCountFn) { return Napi::Number::New(info.Env(), cudaDeviceCount()); }

SCATTER_FN(version) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("libtorch", Napi::String::New(info.Env(), TORCH_VERSION));
  result.Set("cuda", Napi::Boolean::New(info.Env(), at::detail::getCUDAHooks().hasCUDA()));
  result.Set("parallel", Napi::String::New(info.Env(), at::get_parallel_info()));
  return result;
}

}  // namespace

void registerRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("manualSeed", Napi::Function::New(env, manualSeed));
  exports.Set("getRngState", Napi::Function::New(env, getRngState));
  exports.Set("setRngState", Napi::Function::New(env, setRngState));
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, getNumThreads));
  exports.Set("cudaIsAvailable", Napi::Function::New(env, cudaIsAvailable));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, cudaDeviceCountFn));
  exports.Set("version", Napi::Function::New(env, version));
}

}  // namespace scatter
