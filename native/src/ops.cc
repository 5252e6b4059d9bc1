// The one door to libtorch's operators: JavaScript names an ATen operator (e.g. "aten::conv2d", overload
// ""), gets a small integer for it once, then calls it with plain values. Arguments are converted by the
// operator's own schema and the call goes through libtorch's dispatcher, so autograd, CPU and CUDA
// kernels are exactly PyTorch's. The hottest operators also have a direct (unboxed) call (direct.cc),
// taken when their arguments allow it.
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "convert.h"
#include "direct.h"
#include "entry.h"
#include "errors.h"
#include "modules.h"

namespace scatter {
namespace {

// An operator and how each of its arguments is converted, classified once when it is looked up.
struct Operator {
  c10::OperatorHandle handle;
  std::vector<ArgKind> kinds;
  DirectCall direct;  // nullptr: boxed calls only
};

// Off only to compare the two paths (tests, benchmarks): SCATTER_BOXED_CALLS=1 or setDirectCalls(false).
bool directCalls = true;

std::vector<Operator>& operators() {
  static std::vector<Operator> table;
  return table;
}

const Operator& operatorAt(napi_env env, napi_value id) {
  double index = id != nullptr && typeOf(env, id) == napi_number ? numberValue(env, id) : -1;
  if (!(index >= 0 && index < static_cast<double>(operators().size()))) {
    throw Napi::RangeError::New(env, "unknown op id");
  }
  return operators()[static_cast<size_t>(index)];
}

// The operator stack of a call. One stack serves every call: a fresh torch::jit::Stack was a malloc and a
// free per call. A call made while one is converting its arguments (a getter or a Proxy among them runs
// JavaScript) gets its own. The stack is emptied when its call ends, however it ends, so that it holds no
// tensor between calls.
class CallStack {
 public:
  CallStack() : nested_(busy), stack_(nested_ ? own_ : shared()) {
    busy = true;
    stack_.reserve(32);
  }
  ~CallStack() {
    stack_.clear();
    if (!nested_) busy = false;
  }
  CallStack(const CallStack&) = delete;
  CallStack& operator=(const CallStack&) = delete;
  torch::jit::Stack& get() { return stack_; }

 private:
  static torch::jit::Stack& shared() {
    static torch::jit::Stack stack;
    return stack;
  }
  static inline bool busy = false;
  bool nested_;
  torch::jit::Stack own_;
  torch::jit::Stack& stack_;
};

SCATTER_FN(findOp) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) {
    throw Napi::Error::New(info.Env(), "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  }
  Operator op{*handle, {}, directCallFor(handle->schema())};
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
napi_value callOperator(napi_env env, const napi_value* args, size_t count, bool discardResult) {
  const Operator& op = operatorAt(env, count > 0 ? args[0] : nullptr);
  const c10::FunctionSchema& schema = op.handle.schema();
  const auto& formals = schema.arguments();
  size_t given = count > 0 ? count - 1 : 0;
  if (given > formals.size()) {
    throw Napi::TypeError::New(env, schema.name() + ": takes " + std::to_string(formals.size()) + " arguments, got " +
                                        std::to_string(given));
  }
  if (op.direct != nullptr && directCalls && given == formals.size()) {
    napi_value result = nullptr;
    if (op.direct(env, args + 1, formals, discardResult, result)) return result;
  }
  CallStack call;
  torch::jit::Stack& stack = call.get();
  for (size_t i = 0; i < formals.size(); ++i) {
    try {
      if (i < given) {
        stack.push_back(toArgument(env, args[i + 1], op.kinds[i], formals[i]));
      } else {
        stack.push_back(toIValue(Napi::Env(env).Undefined(), formals[i]));
      }
    } catch (const Napi::Error& e) {
      throw Napi::TypeError::New(env, schema.name() + ": " + e.Message());
    }
  }
  op.handle.callBoxed(&stack);
  if (discardResult || stack.empty()) return nullptr;
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  Napi::Array results = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) results.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
  return results;
}

napi_value callOp(napi_env env, const napi_value* args, size_t count) { return callOperator(env, args, count, false); }

// callOpDiscarding(id, ...args): for in-place operators, whose result is their first argument.
napi_value callOpDiscarding(napi_env env, const napi_value* args, size_t count) {
  return callOperator(env, args, count, true);
}

SCATTER_FN(setDirectCalls) {
  directCalls = info[0].As<Napi::Boolean>().Value();
  return info.Env().Undefined();
}

// Whether an operator has a direct call (for the test that compares the two paths).
SCATTER_FN(hasDirectCall) {
  return Napi::Boolean::New(info.Env(), operatorAt(info.Env(), info[0]).direct != nullptr);
}

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, findOp));
  exports.Set("opSchema", Napi::Function::New(env, opSchema));
  exports.Set("setDirectCalls", Napi::Function::New(env, setDirectCalls));
  exports.Set("hasDirectCall", Napi::Function::New(env, hasDirectCall));
  const char* boxed = std::getenv("SCATTER_BOXED_CALLS");
  directCalls = boxed == nullptr || std::string(boxed) != "1";
  exportRaw(env, exports, "callOp", callOp);
  exportRaw(env, exports, "callOpDiscarding", callOpDiscarding);
}

}  // namespace scatter
