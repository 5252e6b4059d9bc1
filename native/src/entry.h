// The hot entry points (callOp, dispose) and the value tests they make on every call.
// Node's napi_value is a v8::Local<v8::Value> (js_native_api_v8.h); where that holds (checked once at load),
// these functions are made by V8 itself and read their arguments and values through V8: Node-API's callback
// wrapper and napi_get_cb_info were about 15 ns of each crossing, and napi_typeof tests five types before
// "external". Elsewhere the same bodies run behind Node-API.
#pragma once
#include <napi.h>

namespace scatter {

// Called first at load: whether napi_values are v8::Locals here.
void detectDirectV8(napi_env env);
bool directV8();

// An entry point's body: the call's arguments as an array; returns the result, or nullptr for undefined.
// Errors are thrown as C++ exceptions (Napi::Error, c10::Error, ...) and become one JS Error, as guarded().
using RawFunction = napi_value (*)(napi_env env, const napi_value* args, size_t count);
void exportRaw(Napi::Env env, Napi::Object exports, const char* name, RawFunction body);

// napi_typeof, napi_get_value_double and napi_get_value_external, by V8 where it can be used.
napi_valuetype typeOf(napi_env env, napi_value value);
double numberValue(napi_env env, napi_value value);
void* externalData(napi_env env, napi_value external);
// A new External holding `data` (tensor handles). Node 20's napi_create_external puts a heap-allocated
// wrapper behind every External, with a weak global handle that frees it after the collector finds the value
// dead, even without a finalizer; a handle needs neither, and making, scavenging and freeing them was about a
// tenth of a small operator's call. V8's own External has neither.
napi_value newExternal(napi_env env, void* data);

}  // namespace scatter
