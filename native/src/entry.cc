#include "entry.h"

#include <v8.h>

#include <cstring>
#include <vector>

#include "errors.h"

namespace scatter {
namespace {

bool useV8 = false;

v8::Local<v8::Value> asLocal(napi_value value) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(value) == sizeof(local), "a napi_value is a v8::Local");
  std::memcpy(static_cast<void*>(&local), &value, sizeof(local));
  return local;
}

napi_value asNapi(v8::Local<v8::Value> local) {
  napi_value value = nullptr;
  std::memcpy(&value, static_cast<void*>(&local), sizeof(value));
  return value;
}

napi_value v8External(void* data) { return asNapi(v8::External::New(v8::Isolate::GetCurrent(), data)); }

// The largest ATen operator takes about 20 arguments, plus callOp's id; more go to the heap.
constexpr size_t kStackArgs = 32;

struct Entry {
  napi_env env;
  RawFunction body;
};

// Runs a body as guarded() does; a JS Error to throw comes back as `error`.
napi_value run(const Entry& entry, const napi_value* args, size_t count, napi_value& error) {
  try {
    return guarded(Napi::Env(entry.env), [&] { return entry.body(entry.env, args, count); });
  } catch (const Napi::Error& e) {
    error = e.Value();
    return nullptr;
  }
}

// Node-API's napi_throw would park the error in the napi_env until a Node-API callback returns, so the
// V8 entry throws through the isolate.
void v8Entry(const v8::FunctionCallbackInfo<v8::Value>& info) {
  const auto& entry = *static_cast<const Entry*>(info.Data().As<v8::External>()->Value());
  size_t count = static_cast<size_t>(info.Length());
  napi_value stackArgs[kStackArgs];
  std::vector<napi_value> heapArgs(count > kStackArgs ? count : 0);
  napi_value* args = count > kStackArgs ? heapArgs.data() : stackArgs;
  for (size_t i = 0; i < count; ++i) args[i] = asNapi(info[static_cast<int>(i)]);
  napi_value error = nullptr;
  napi_value result = run(entry, args, count, error);
  if (error != nullptr) {
    info.GetIsolate()->ThrowException(asLocal(error));
  } else if (result != nullptr) {
    info.GetReturnValue().Set(asLocal(result));
  }
}

napi_value napiEntry(napi_env env, napi_callback_info info) {
  size_t count = kStackArgs;
  napi_value stackArgs[kStackArgs];
  void* data = nullptr;
  napi_get_cb_info(env, info, &count, stackArgs, nullptr, &data);
  std::vector<napi_value> heapArgs;
  napi_value* args = stackArgs;
  if (count > kStackArgs) {
    heapArgs.resize(count);
    napi_get_cb_info(env, info, &count, heapArgs.data(), nullptr, nullptr);
    args = heapArgs.data();
  }
  napi_value error = nullptr;
  napi_value result = run(*static_cast<const Entry*>(data), args, count, error);
  if (error != nullptr) napi_throw(env, error);
  return result;
}

}  // namespace

void detectDirectV8(napi_env env) {
  void* probe = reinterpret_cast<void*>(uintptr_t{0x5ca77e4});
  napi_value value = v8External(probe);
  napi_valuetype type = napi_undefined;
  useV8 = napi_typeof(env, value, &type) == napi_ok && type == napi_external && asLocal(value)->IsExternal() &&
          asLocal(value).As<v8::External>()->Value() == probe;
}

bool directV8() { return useV8; }

void exportRaw(Napi::Env env, Napi::Object exports, const char* name, RawFunction body) {
  auto* entry = new Entry{env, body};
  env.AddCleanupHook([entry] { delete entry; });
  if (useV8) {
    v8::Isolate* isolate = v8::Isolate::GetCurrent();
    v8::Local<v8::Function> function =
        v8::Function::New(isolate->GetCurrentContext(), v8Entry, v8::External::New(isolate, entry), 0,
                          v8::ConstructorBehavior::kThrow)
            .ToLocalChecked();
    function->SetName(v8::String::NewFromUtf8(isolate, name).ToLocalChecked());
    exports.Set(name, Napi::Value(env, asNapi(function)));
    return;
  }
  napi_value function = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, napiEntry, entry, &function));
  exports.Set(name, Napi::Value(env, function));
}

napi_valuetype typeOf(napi_env env, napi_value value) {
  if (useV8) {
    v8::Local<v8::Value> local = asLocal(value);
    if (local->IsExternal()) return napi_external;
    if (local->IsNumber()) return napi_number;
    if (local->IsNull()) return napi_null;
    if (local->IsUndefined()) return napi_undefined;
    if (local->IsBoolean()) return napi_boolean;
  }
  napi_valuetype type = napi_undefined;
  napi_typeof(env, value, &type);
  return type;
}

double numberValue(napi_env env, napi_value value) {
  if (useV8) return asLocal(value).As<v8::Number>()->Value();
  double number = 0;
  napi_get_value_double(env, value, &number);
  return number;
}

void* externalData(napi_env env, napi_value external) {
  if (useV8) return asLocal(external).As<v8::External>()->Value();
  void* data = nullptr;
  return napi_get_value_external(env, external, &data) == napi_ok ? data : nullptr;
}

napi_value newExternal(napi_env env, void* data) {
  if (useV8) return v8External(data);
  napi_value value = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_external(env, data, nullptr, nullptr, &value), nullptr);
  return value;
}

}  // namespace scatter
