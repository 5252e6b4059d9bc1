// Every native entry point runs inside guarded(): a libtorch exception becomes a JS Error carrying
// libtorch's message (without its C++ backtrace), so no input from JavaScript can crash the process.
#pragma once
#include <c10/util/Exception.h>
#include <napi.h>

#include <exception>
#include <string>

namespace scatter {

template <typename Body>
auto guarded(Napi::Env env, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "out of memory: the allocation could not be satisfied");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// Declares a native function whose body is guarded.
#define SCATTER_FN(name) \
  static Napi::Value name##Body(const Napi::CallbackInfo& info); \
  static Napi::Value name(const Napi::CallbackInfo& info) { \
    return guarded(info.Env(), [&] { return name##Body(info); }); \
  } \
  static Napi::Value name##Body(const Napi::CallbackInfo& info)

}  // namespace scatter
