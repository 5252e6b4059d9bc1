// The one door to libtorch's operators: JavaScript names an ATen operator (e.g. "aten::conv2d", overload
// ""), gets a small integer for it once, then calls it with plain values. Arguments are converted by the
// operator's own schema and the call goes through libtorch's dispatcher, so autograd, CPU and CUDA
// kernels are exactly PyTorch's.
#include <ATen/core/dispatch/Dispatcher.h>

#include <vector>

#include "convert.h"
#include "errors.h"
#include "modules.h"

namespace scatter {
namespace {

std::vector<c10::OperatorHandle>& operators() {
  static std::vector<c10::OperatorHandle> handles;
  return handles;
}

SCATTER_FN(findOp) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) {
    throw Napi::Error::New(info.Env(), "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  }
  operators().push_back(*handle);
  return Napi::Number::New(info.Env(), static_cast<double>(operators().size() - 1));
}

SCATTER_FN(opSchema) {
  size_t id = static_cast<size_t>(toInt(info[0], "op id"));
  if (id >= operators().size()) throw Napi::RangeError::New(info.Env(), "unknown op id");
  std::ostringstream text;
  text << operators()[id].schema();
  return Napi::String::New(info.Env(), text.str());
}

// callOp(id, args, discardResult): args are positional in schema order; undefined takes the default.
SCATTER_FN(callOp) {
  Napi::Env env = info.Env();
  size_t id = static_cast<size_t>(toInt(info[0], "op id"));
  if (id >= operators().size()) throw Napi::RangeError::New(env, "unknown op id");
  const c10::OperatorHandle& op = operators()[id];
  const c10::FunctionSchema& schema = op.schema();
  Napi::Array args = info[1].As<Napi::Array>();
  const auto& formals = schema.arguments();
  if (args.Length() > formals.size()) {
    throw Napi::TypeError::New(env, schema.name() + ": takes " + std::to_string(formals.size()) +
                                        " arguments, got " + std::to_string(args.Length()));
  }
  torch::jit::Stack stack;
  stack.reserve(formals.size());
  for (size_t i = 0; i < formals.size(); ++i) {
    Napi::Value value = i < args.Length() ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
    try {
      stack.push_back(toIValue(value, formals[i]));
    } catch (const Napi::Error& e) {
      throw Napi::TypeError::New(env, schema.name() + ": " + e.Message());
    }
  }
  op.callBoxed(&stack);
  bool discard = info.Length() > 2 && info[2].ToBoolean().Value();
  if (discard || stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  Napi::Array results = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) results.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
  return results;
}

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, findOp));
  exports.Set("opSchema", Napi::Function::New(env, opSchema));
  exports.Set("callOp", Napi::Function::New(env, callOp));
}

}  // namespace scatter
