// The one door to libtorch's operators: JavaScript names an ATen operator (e.g. "aten::conv2d", overload
// ""), gets a small integer for it once, then calls it with plain values. Arguments are converted by the
// operator's own schema and the call goes through libtorch's dispatcher, so autograd, CPU and CUDA
// kernels are exactly PyTorch's.
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "modules.h"

namespace scatter {
namespace {

// An operator and how each of its arguments is converted, classified once when it is looked up.
struct Operator {
  c10::OperatorHandle handle;
  std::vector<ArgKind> kinds;
};

std::vector<Operator>& operators() {
  static std::vector<Operator> table;
  return table;
}

const Operator& operatorAt(Napi::Env env, const Napi::Value& id) {
  uint32_t index = 0;
  if (napi_get_value_uint32(env, id, &index) != napi_ok || index >= operators().size()) {
    throw Napi::RangeError::New(env, "unknown op id");
  }
  return operators()[index];
}

SCATTER_FN(findOp) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) {
    throw Napi::Error::New(info.Env(), "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  }
  Operator op{*handle, {}};
  for (const c10::Argument& arg : handle->schema().arguments()) op.kinds.push_back(argKind(arg));
  operators().push_back(std::move(op));
  return Napi::Number::New(info.Env(), static_cast<double>(operators().size() - 1));
}

SCATTER_FN(opSchema) {
  std::ostringstream text;
  text << operatorAt(info.Env(), info[0]).handle.schema();
  return Napi::String::New(info.Env(), text.str());
}

// callOp(id, ...args): the arguments are the call's own, positional in schema order (no array to build
// in JavaScript and read element by element here); undefined takes the default.
Napi::Value callOperator(const Napi::CallbackInfo& info, bool discardResult) {
  Napi::Env env = info.Env();
  const Operator& op = operatorAt(env, info[0]);
  const c10::FunctionSchema& schema = op.handle.schema();
  const auto& formals = schema.arguments();
  size_t given = info.Length() - 1;
  if (given > formals.size()) {
    throw Napi::TypeError::New(env, schema.name() + ": takes " + std::to_string(formals.size()) + " arguments, got " +
                                        std::to_string(given));
  }
  torch::jit::Stack stack;
  stack.reserve(std::max(formals.size(), schema.returns().size()));
  for (size_t i = 0; i < formals.size(); ++i) {
    try {
      if (i < given) {
        stack.push_back(toArgument(env, info[i + 1], op.kinds[i], formals[i]));
      } else {
        stack.push_back(toIValue(env.Undefined(), formals[i]));
      }
    } catch (const Napi::Error& e) {
      throw Napi::TypeError::New(env, schema.name() + ": " + e.Message());
    }
  }
  op.handle.callBoxed(&stack);
  if (discardResult || stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  Napi::Array results = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) results.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
  return results;
}

SCATTER_FN(callOp) { return callOperator(info, false); }

// callOpDiscarding(id, ...args): for in-place operators, whose result is their first argument.
SCATTER_FN(callOpDiscarding) { return callOperator(info, true); }

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, findOp));
  exports.Set("opSchema", Napi::Function::New(env, opSchema));
  exports.Set("callOp", Napi::Function::New(env, callOp));
  exports.Set("callOpDiscarding", Napi::Function::New(env, callOpDiscarding));
}

}  // namespace scatter
