// Tensor handles: how a libtorch tensor lives inside a JavaScript value.
// A handle is a Napi::External owning a heap TensorBox. dispose() releases the tensor at once; the
// finalizer is only a safety net for handles that JavaScript drops without disposing.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

namespace scatter {

struct TensorBox {
  at::Tensor tensor;
  bool alive = true;
  // Whether the collector may be what frees it (made outside scopes, or escaped): only such handles'
  // storages are reported to V8 as external memory.
  bool gcManaged = true;
};

// Wraps a tensor in a new handle and counts it as live; outside scopes, its storage is reported to V8.
Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);
// The tensor behind a handle; throws a JS TypeError for anything else or a disposed handle.
const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what);
// The tensor behind a live handle, or nullptr (the hot path of argument conversion: no message built).
const at::Tensor* liveTensorOrNull(const Napi::Value& value);

// Native functions registered by handles.cc: dispose, isDisposed, markGcManaged, setScopeDepth, memory.
void registerHandles(Napi::Env env, Napi::Object exports);

}  // namespace scatter
