#include "direct.h"

#include <ATen/ATen.h>
#include <ATen/ops/add_ops.h>
#include <ATen/ops/batch_norm_ops.h>
#include <ATen/ops/conv2d_ops.h>
#include <ATen/ops/linear_ops.h>
#include <ATen/ops/mul_ops.h>
#include <ATen/ops/relu_ops.h>
#include <ATen/ops/sum_ops.h>
#include <c10/util/SmallVector.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <utility>

#include "convert.h"
#include "entry.h"
#include "handles.h"

namespace scatter {
namespace {

bool readInteger(napi_env env, napi_value value, int64_t& out) {
  if (typeOf(env, value) != napi_number) return false;
  double number = numberValue(env, value);
  if (!std::isfinite(number) || std::floor(number) != number) return false;  // the boxed call names the error
  out = static_cast<int64_t>(number);
  return true;
}

// undefined takes the default; for an optional argument without one, undefined is None (as toIValue).
bool noneByDefault(const c10::Argument& formal) {
  return !formal.default_value() || formal.default_value()->isNone();
}

// Arg<T> reads a JavaScript value as an operator's C++ parameter of type T (the types of at::_ops::*::schema)
// and holds it for the call: read() says whether the value has a form read here, get() gives the parameter.
// The forms are those of convert.cc's direct conversions, with the same values; a type without an Arg keeps
// its operators on the boxed path (supported = false), so a libtorch whose signatures differ still builds.
template <typename T>
struct Arg {
  static constexpr bool supported = false;
};

// A tensor handle is read in place (the handle table's tensor, no reference count taken); a number is a
// wrapped number, as Python's `x + 2`.
template <>
struct Arg<const at::Tensor&> {
  static constexpr bool supported = true;
  const at::Tensor* tensor = nullptr;
  at::Tensor wrapped;
  bool read(napi_env env, napi_value value, const c10::Argument&) {
    napi_valuetype type = typeOf(env, value);
    if (type == napi_external) return (tensor = liveTensorOfExternal(env, value)) != nullptr;
    if (type != napi_number) return false;
    wrapped = wrappedNumber(numberToScalar(numberValue(env, value)));
    tensor = &wrapped;
    return true;
  }
  const at::Tensor& get() const { return *tensor; }
};

// An in-place operator's self: a copy of the handle's tensor, since the signature wants it mutable.
template <>
struct Arg<at::Tensor&> {
  static constexpr bool supported = true;
  at::Tensor tensor;
  bool read(napi_env env, napi_value value, const c10::Argument&) {
    if (typeOf(env, value) != napi_external) return false;
    const at::Tensor* live = liveTensorOfExternal(env, value);
    if (live == nullptr) return false;
    tensor = *live;
    return true;
  }
  at::Tensor& get() { return tensor; }
};

template <>
struct Arg<const c10::optional<at::Tensor>&> {
  static constexpr bool supported = true;
  c10::optional<at::Tensor> tensor;
  bool read(napi_env env, napi_value value, const c10::Argument& formal) {
    switch (typeOf(env, value)) {
      case napi_external:
        if (const at::Tensor* live = liveTensorOfExternal(env, value)) tensor = *live;
        return tensor.has_value();
      case napi_null:
        return true;
      case napi_undefined:
        return noneByDefault(formal);
      default:
        return false;
    }
  }
  const c10::optional<at::Tensor>& get() const { return tensor; }
};

// A number as numberToScalar makes it, a boolean as a bool Scalar, a BigInt as int64 (as toScalar).
template <>
struct Arg<const at::Scalar&> {
  static constexpr bool supported = true;
  at::Scalar scalar;
  bool read(napi_env env, napi_value value, const c10::Argument&) {
    switch (typeOf(env, value)) {
      case napi_number:
        scalar = numberToScalar(numberValue(env, value));
        return true;
      case napi_boolean: {
        bool flag = false;
        napi_get_value_bool(env, value, &flag);
        scalar = at::Scalar(flag);
        return true;
      }
      case napi_bigint: {
        int64_t integer = 0;
        bool lossless = true;
        napi_get_value_bigint_int64(env, value, &integer, &lossless);
        scalar = at::Scalar(integer);
        return true;
      }
      default:
        return false;
    }
  }
  const at::Scalar& get() const { return scalar; }
};

template <>
struct Arg<int64_t> {
  static constexpr bool supported = true;
  int64_t integer = 0;
  bool read(napi_env env, napi_value value, const c10::Argument&) { return readInteger(env, value, integer); }
  int64_t get() const { return integer; }
};

template <>
struct Arg<c10::SymInt> {  // int in libtorch 2.x's symbolic-shape signatures
  static constexpr bool supported = true;
  int64_t integer = 0;
  bool read(napi_env env, napi_value value, const c10::Argument&) { return readInteger(env, value, integer); }
  c10::SymInt get() const { return c10::SymInt(integer); }
};

template <>
struct Arg<double> {
  static constexpr bool supported = true;
  double number = 0;
  bool read(napi_env env, napi_value value, const c10::Argument&) {
    if (typeOf(env, value) != napi_number) return false;
    number = numberValue(env, value);
    return true;
  }
  double get() const { return number; }
};

template <>
struct Arg<bool> {
  static constexpr bool supported = true;
  bool flag = false;
  bool read(napi_env env, napi_value value, const c10::Argument&) {
    return typeOf(env, value) == napi_boolean && napi_get_value_bool(env, value, &flag) == napi_ok;
  }
  bool get() const { return flag; }
};

// int[N] (strides, paddings) from one number, as in Python (padding=1), or from an array of integers; the
// list lives on the stack, where the boxed call made a list that the kernel copied into a vector.
template <typename Int>
struct IntList {
  static constexpr bool supported = true;
  c10::SmallVector<Int, 6> items;
  bool read(napi_env env, napi_value value, const c10::Argument& formal) {
    int64_t integer = 0;
    if (typeOf(env, value) == napi_number) {
      if (!formal.N() || !readInteger(env, value, integer)) return false;
      items.assign(static_cast<size_t>(*formal.N()), Int(integer));
      return true;
    }
    bool isArray = false;
    uint32_t length = 0;
    if (napi_is_array(env, value, &isArray) != napi_ok || !isArray) return false;
    if (napi_get_array_length(env, value, &length) != napi_ok) return false;
    for (uint32_t i = 0; i < length; ++i) {
      napi_value item = nullptr;
      if (napi_get_element(env, value, i, &item) != napi_ok || !readInteger(env, item, integer)) return false;
      items.push_back(Int(integer));
    }
    return true;
  }
  c10::ArrayRef<Int> get() const { return items; }
};

template <>
struct Arg<at::IntArrayRef> : IntList<int64_t> {};
template <>
struct Arg<c10::SymIntArrayRef> : IntList<c10::SymInt> {};

template <>
struct Arg<at::OptionalIntArrayRef> {
  static constexpr bool supported = true;
  IntList<int64_t> list;
  bool given = false;
  bool read(napi_env env, napi_value value, const c10::Argument& formal) {
    napi_valuetype type = typeOf(env, value);
    if (type == napi_null) return true;
    if (type == napi_undefined) return noneByDefault(formal);
    return given = list.read(env, value, formal);
  }
  at::OptionalIntArrayRef get() const { return given ? at::OptionalIntArrayRef(list.get()) : c10::nullopt; }
};

template <>
struct Arg<c10::optional<at::ScalarType>> {  // dtype=None; a named dtype goes the boxed way
  static constexpr bool supported = true;
  bool read(napi_env env, napi_value value, const c10::Argument& formal) {
    napi_valuetype type = typeOf(env, value);
    return type == napi_null || (type == napi_undefined && noneByDefault(formal));
  }
  c10::optional<at::ScalarType> get() const { return c10::nullopt; }
};

// A result as fromIValue makes it: a tensor handle, null for an undefined tensor.
napi_value tensorResult(napi_env env, const at::Tensor& tensor) {
  if (!tensor.defined()) return Napi::Env(env).Null();
  return wrapTensor(Napi::Env(env), tensor);
}

template <typename R>
constexpr bool kTensorResult = std::is_same_v<R, at::Tensor> || std::is_same_v<R, at::Tensor&>;

// The direct call of at::_ops operator Op (its schema is the C++ signature its kernels are registered with).
template <typename Op, typename Signature = typename Op::schema>
struct Direct;

template <typename Op, typename R, typename... A>
struct Direct<Op, R(A...)> {
  static constexpr bool supported = kTensorResult<R> && (Arg<A>::supported && ...);
  static constexpr size_t arity = sizeof...(A);

  static bool call(napi_env env, const napi_value* args, const std::vector<c10::Argument>& formals,
                   bool discardResult, napi_value& result) {
    return callWith(env, args, formals, discardResult, result, std::index_sequence_for<A...>{});
  }

  template <size_t... I>
  static bool callWith(napi_env env, const napi_value* args, const std::vector<c10::Argument>& formals,
                       bool discardResult, napi_value& result, std::index_sequence<I...>) {
    std::tuple<Arg<A>...> read;
    if (!(std::get<I>(read).read(env, args[I], formals[I]) && ...)) return false;
    // Op::call is what at::conv2d, at::add, ... call: the dispatcher's typed handle of the operator, with
    // its dispatch keys taken from the tensors (autograd, autocast, CUDA exactly as the boxed call).
    decltype(auto) out = Op::call(std::get<I>(read).get()...);
    if (!discardResult) result = tensorResult(env, out);
    return true;
  }
};

struct Entry {
  const char* name;  // "aten::conv2d"
  const char* overload;
  size_t arity;
  DirectCall call;  // nullptr: this libtorch's signature has a type without an Arg
};

template <typename Op>
Entry entry() {
  if constexpr (Direct<Op>::supported) {
    return {Op::name, Op::overload_name, Direct<Op>::arity, &Direct<Op>::call};
  } else {
    return {Op::name, Op::overload_name, 0, nullptr};
  }
}

// The operators a ResNet training step calls through callOp, forward and optimizer (counted: conv2d,
// batch_norm, relu, add_.Scalar (batch norm's counter) 31 times each, add.Tensor 15; what autograd calls
// in backward never crosses the door), and the elementwise ones that steps and losses use most.
const Entry* entries(size_t& count) {
  static const Entry table[] = {
      entry<at::_ops::conv2d>(),     entry<at::_ops::batch_norm>(),      entry<at::_ops::relu>(),
      entry<at::_ops::relu_>(),      entry<at::_ops::add_Tensor>(),      entry<at::_ops::add__Tensor>(),
      entry<at::_ops::add__Scalar>(), entry<at::_ops::mul_Tensor>(),     entry<at::_ops::mul__Tensor>(),
      entry<at::_ops::linear>(),     entry<at::_ops::sum_dim_IntList>(),
  };
  count = sizeof(table) / sizeof(table[0]);
  return table;
}

}  // namespace

DirectCall directCallFor(const c10::FunctionSchema& schema) {
  size_t count = 0;
  const Entry* table = entries(count);
  for (size_t i = 0; i < count; ++i) {
    const Entry& e = table[i];
    if (e.call != nullptr && schema.name() == e.name && schema.overload_name() == e.overload &&
        schema.arguments().size() == e.arity) {
      return e.call;
    }
  }
  return nullptr;
}

}  // namespace scatter
