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
};

// Wraps a tensor in a new handle; counts it as live and reports its storage to V8.
Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);
// The tensor behind a handle; throws a JS TypeError for anything else or a disposed handle.
const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what);
bool isTensorHandle(const Napi::Value& value);

// Native functions registered by handles.cc: dispose, isDisposed, memory.
void registerHandles(Napi::Env env, Napi::Object exports);

}  // namespace scatter
