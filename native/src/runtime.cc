// Process-wide state: random seeds and generator state, threads, CUDA availability, version.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/Generator.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <mutex>

#ifdef __linux__
#include <sys/prctl.h>
#endif

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

// Autocast's thread-local state for one device type. libtorch 2.4 replaced the per-device functions
// (set_cpu_enabled, set_autocast_cpu_dtype, ...) with ones that take the device type.
struct AutocastState {
  bool enabled;
  at::ScalarType dtype;
};

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
AutocastState getAutocast(c10::DeviceType type) {
  return {at::autocast::is_autocast_enabled(type), at::autocast::get_autocast_dtype(type)};
}
void setAutocast(c10::DeviceType type, AutocastState state) {
  at::autocast::set_autocast_enabled(type, state.enabled);
  at::autocast::set_autocast_dtype(type, state.dtype);
}
#else
AutocastState getAutocast(c10::DeviceType type) {
  if (type == c10::kCPU) return {at::autocast::is_cpu_enabled(), at::autocast::get_autocast_cpu_dtype()};
  return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
}
void setAutocast(c10::DeviceType type, AutocastState state) {
  if (type == c10::kCPU) {
    at::autocast::set_cpu_enabled(state.enabled);
    at::autocast::set_autocast_cpu_dtype(state.dtype);
  } else {
    at::autocast::set_enabled(state.enabled);
    at::autocast::set_autocast_gpu_dtype(state.dtype);
  }
}
#endif

c10::DeviceType autocastDeviceType(const Napi::Value& value) {
  c10::DeviceType type = parseDevice(value).type();
  if (type != c10::kCPU && type != c10::kCUDA) throw Napi::Error::New(value.Env(), "autocast: only cpu and cuda are supported");
  return type;
}

// autocastEnter(device, enabled, dtype): switches autocast for the device type and returns the previous
// [enabled, dtype] for autocastExit; nested regions share the cast cache, as in PyTorch's torch.autocast.
SCATTER_FN(autocastEnter) {
  Napi::Env env = info.Env();
  c10::DeviceType type = autocastDeviceType(info[0]);
  AutocastState previous = getAutocast(type);
  setAutocast(type, {info[1].ToBoolean().Value(), parseDtype(info[2])});
  at::autocast::increment_nesting();
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Boolean::New(env, previous.enabled));
  result.Set(1u, Napi::String::New(env, dtypeName(previous.dtype)));
  return result;
}

// autocastExit(device, enabled, dtype): restores the state autocastEnter returned; leaving the outermost
// region frees the cached low-precision copies of the weights.
SCATTER_FN(autocastExit) {
  c10::DeviceType type = autocastDeviceType(info[0]);
  setAutocast(type, {info[1].ToBoolean().Value(), parseDtype(info[2])});
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  return info.Env().Undefined();
}

SCATTER_FN(cudaIsAvailable) { return Napi::Boolean::New(info.Env(), cudaDeviceCount() > 0); }

SCATTER_FN(cudaDeviceCountFn) { return Napi::Number::New(info.Env(), cudaDeviceCount()); }

SCATTER_FN(version) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("libtorch", Napi::String::New(info.Env(), TORCH_VERSION));
  result.Set("cuda", Napi::Boolean::New(info.Env(), at::detail::getCUDAHooks().hasCUDA()));
  result.Set("parallel", Napi::String::New(info.Env(), at::get_parallel_info()));
  return result;
}

// setParentDeathSignal(signo): Linux's PR_SET_PDEATHSIG, so that a rank dies with the launcher that started it
// however the launcher ends (kill -9 included). Returns false where the system has no such setting.
SCATTER_FN(setParentDeathSignal) {
#ifdef __linux__
  int signal = static_cast<int>(toInt(info[0], "setParentDeathSignal"));
  if (prctl(PR_SET_PDEATHSIG, signal) != 0) throw std::runtime_error("prctl(PR_SET_PDEATHSIG) failed");
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
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
  exports.Set("autocastEnter", Napi::Function::New(env, autocastEnter));
  exports.Set("autocastExit", Napi::Function::New(env, autocastExit));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, setParentDeathSignal));
}

}  // namespace scatter
