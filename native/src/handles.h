// Tensor handles: how a libtorch tensor lives inside a JavaScript value.
// A handle is an External (made through V8: see entry.h) whose pointer value encodes a slot of a
// native table (index and generation), not an allocation: it needs no native finalizer, so nothing waits
// for the event loop when a synchronous training loop makes and disposes thousands of tensors. dispose()
// empties the slot at once; a stale handle (disposed, slot reused) is recognised by its generation. The
// safety net for tensors that JavaScript drops undisposed is a FinalizationRegistry on the TypeScript side.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

namespace scatter {

// Wraps a tensor in a new handle and counts it as live; outside scopes, its storage is reported to V8.
Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);
// The tensor behind a handle; throws a JS TypeError for anything else or a disposed handle.
const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what);
// The tensor behind a live handle, or nullptr (the hot path of argument conversion: no message built).
const at::Tensor* liveTensorOrNull(const Napi::Value& value);
// The same for a value already known to be an External (callOp's argument conversion checked its type).
const at::Tensor* liveTensorOfExternal(napi_env env, napi_value external);

// Native functions registered by handles.cc: dispose, markGcManaged, setScopeDepth, memory.
void registerHandles(Napi::Env env, Napi::Object exports);

}  // namespace scatter
