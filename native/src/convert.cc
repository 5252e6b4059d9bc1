#include "convert.h"

#include <array>
#include <cmath>
#include <unordered_map>

#include "entry.h"
#include "handles.h"

namespace scatter {
namespace {

const std::unordered_map<std::string, at::ScalarType>& dtypeTable() {
  static const std::unordered_map<std::string, at::ScalarType> table = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"bfloat16", at::kBFloat16},
      {"float16", at::kHalf},  {"int64", at::kLong},     {"int32", at::kInt},
      {"int16", at::kShort},   {"int8", at::kChar},      {"uint8", at::kByte},
      {"bool", at::kBool},
  };
  return table;
}

[[noreturn]] void fail(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

std::string describe(const c10::Argument& arg) { return "argument '" + arg.name() + "' (" + arg.type()->str() + ")"; }

template <typename Describe>
int64_t toIntDescribed(const Napi::Value& value, Describe what) {
  if (value.IsBigInt()) {
    bool lossless = true;
    int64_t result = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) fail(value.Env(), what() + ": integer out of the int64 range");
    return result;
  }
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!value.IsNumber()) fail(value.Env(), what() + ": expected an integer");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || std::floor(number) != number) {
    fail(value.Env(), what() + ": expected an integer, got " + std::to_string(number));
  }
  return static_cast<int64_t>(number);
}

template <typename Describe>
double toDouble(const Napi::Value& value, Describe what) {
  if (value.IsNumber()) return value.As<Napi::Number>().DoubleValue();
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
  fail(value.Env(), what() + ": expected a number");
}

template <typename Describe>
bool toBool(const Napi::Value& value, Describe what) {
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value();
  fail(value.Env(), what() + ": expected a boolean");
}

template <typename Describe>
at::Scalar toScalar(const Napi::Value& value, Describe what) {
  if (value.IsBoolean()) return at::Scalar(value.As<Napi::Boolean>().Value());
  if (value.IsBigInt()) {
    bool lossless = true;
    return at::Scalar(static_cast<int64_t>(value.As<Napi::BigInt>().Int64Value(&lossless)));
  }
  if (!value.IsNumber()) fail(value.Env(), what() + ": expected a number");
  return numberToScalar(value.As<Napi::Number>().DoubleValue());
}

template <typename Describe>
at::Tensor toTensor(const Napi::Value& value, Describe what) {
  if (value.IsNumber() || value.IsBoolean() || value.IsBigInt()) return wrappedNumber(toScalar(value, what));
  const at::Tensor* tensor = liveTensorOrNull(value);
  return tensor != nullptr ? *tensor : unwrapTensor(value, what().c_str());  // unwrap throws the precise error
}

template <typename Describe>
Napi::Array asArray(const Napi::Value& value, Describe what) {
  if (!value.IsArray()) fail(value.Env(), what() + ": expected an array");
  return value.As<Napi::Array>();
}

c10::IValue toList(const Napi::Value& value, const c10::Argument& arg, const c10::TypePtr& element) {
  auto what = [&arg] { return describe(arg); };
  switch (element->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      // int[2] accepts a single number, as in Python (kernel_size=3).
      if (value.IsNumber() && arg.N()) return c10::IValue(std::vector<int64_t>(*arg.N(), toIntDescribed(value, what)));
      Napi::Array array = asArray(value, what);
      std::vector<int64_t> items(array.Length());
      for (uint32_t i = 0; i < array.Length(); ++i) items[i] = toIntDescribed(array.Get(i), what);
      return c10::IValue(items);
    }
    case c10::TypeKind::FloatType: {
      if (value.IsNumber() && arg.N()) return c10::IValue(std::vector<double>(*arg.N(), toDouble(value, what)));
      Napi::Array array = asArray(value, what);
      std::vector<double> items(array.Length());
      for (uint32_t i = 0; i < array.Length(); ++i) items[i] = toDouble(array.Get(i), what);
      return c10::IValue(items);
    }
    case c10::TypeKind::BoolType: {
      Napi::Array array = asArray(value, what);
      c10::List<bool> items;
      for (uint32_t i = 0; i < array.Length(); ++i) items.push_back(toBool(array.Get(i), what));
      return c10::IValue(items);
    }
    case c10::TypeKind::TensorType: {
      Napi::Array array = asArray(value, what);
      c10::List<at::Tensor> items;
      for (uint32_t i = 0; i < array.Length(); ++i) items.push_back(toTensor(array.Get(i), what));
      return c10::IValue(items);
    }
    case c10::TypeKind::OptionalType: {
      Napi::Array array = asArray(value, what);
      c10::List<c10::optional<at::Tensor>> items;
      for (uint32_t i = 0; i < array.Length(); ++i) {
        Napi::Value item = array.Get(i);
        if (item.IsNull() || item.IsUndefined()) {
          items.push_back(c10::nullopt);
        } else {
          items.push_back(toTensor(item, what));
        }
      }
      return c10::IValue(items);
    }
    default:
      fail(value.Env(), what() + ": lists of " + element->str() + " are not supported by the binding");
  }
}

c10::IValue toIValueOfType(const Napi::Value& value, const c10::Argument& arg, const c10::TypePtr& type,
                           const c10::TypePtr& realType) {
  auto what = [&arg] { return describe(arg); };
  switch (type->kind()) {
    case c10::TypeKind::OptionalType: {
      if (value.IsNull() || value.IsUndefined()) return c10::IValue();
      auto element = type->expectRef<c10::OptionalType>().getElementType();
      auto realElement = realType->kind() == c10::TypeKind::OptionalType
                             ? realType->expectRef<c10::OptionalType>().getElementType()
                             : element;
      return toIValueOfType(value, arg, element, realElement);
    }
    case c10::TypeKind::TensorType:
      return c10::IValue(toTensor(value, what));
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      // ScalarType, Layout and MemoryFormat travel as ints in a schema; JavaScript names them.
      if (value.IsString()) {
        switch (realType->kind()) {
          case c10::TypeKind::ScalarTypeType:
            return c10::IValue(static_cast<int64_t>(parseDtype(value)));
          case c10::TypeKind::MemoryFormatType: {
            std::string name = value.As<Napi::String>().Utf8Value();
            if (name == "contiguous") return c10::IValue(static_cast<int64_t>(at::MemoryFormat::Contiguous));
            if (name == "channelsLast") return c10::IValue(static_cast<int64_t>(at::MemoryFormat::ChannelsLast));
            if (name == "preserve") return c10::IValue(static_cast<int64_t>(at::MemoryFormat::Preserve));
            fail(value.Env(), what() + ": unknown memory format '" + name + "' (contiguous, channelsLast, preserve)");
          }
          case c10::TypeKind::LayoutType: {
            std::string name = value.As<Napi::String>().Utf8Value();
            if (name == "strided") return c10::IValue(static_cast<int64_t>(at::kStrided));
            fail(value.Env(), what() + ": unknown layout '" + name + "' (strided)");
          }
          default:
            fail(value.Env(), what() + ": expected an integer");
        }
      }
      return c10::IValue(toIntDescribed(value, what));
    case c10::TypeKind::FloatType:
      return c10::IValue(toDouble(value, what));
    case c10::TypeKind::BoolType:
      return c10::IValue(toBool(value, what));
    case c10::TypeKind::NumberType:
      return c10::IValue(toScalar(value, what));
    case c10::TypeKind::StringType:
      if (!value.IsString()) fail(value.Env(), what() + ": expected a string");
      return c10::IValue(value.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      return c10::IValue(parseDevice(value));
    case c10::TypeKind::ListType:
      return toList(value, arg, type->expectRef<c10::ListType>().getElementType());
    default:
      fail(value.Env(), what() + ": this type is not supported by the binding");
  }
}

// int[N] from one number, as in Python (kernel_size=3). Lists of small numbers (strides, paddings,
// dilations) are made once and shared: a call's list is read, never changed, and making each one was three
// allocations (a vector, the list and its storage).
c10::IValue repeatedInt(size_t n, int64_t value) {
  constexpr size_t kMaxN = 3;
  constexpr int64_t kMin = -1, kMax = 16;
  if (n == 0 || n > kMaxN || value < kMin || value > kMax) return c10::IValue(std::vector<int64_t>(n, value));
  static auto* shared = new std::array<c10::IValue, kMaxN*(kMax - kMin + 1)>();  // None until first made
  c10::IValue& list = (*shared)[(n - 1) * (kMax - kMin + 1) + static_cast<size_t>(value - kMin)];
  if (list.isNone()) list = c10::IValue(std::vector<int64_t>(n, value));
  return list;
}

}  // namespace

// JavaScript has one number type; integral values act as Python ints so integer tensors stay integral.
at::Scalar numberToScalar(double number) {
  if (std::isfinite(number) && std::floor(number) == number && std::fabs(number) < 9007199254740992.0) {
    return at::Scalar(static_cast<int64_t>(number));
  }
  return at::Scalar(number);
}

// A bare number where a tensor is expected becomes a "wrapped number", as Python's `x + 2` does, so
// that it takes part in type promotion like a scalar rather than like a 0-d tensor. As Python makes
// them: int64 for integers, float64 for fractions, bool for booleans.
at::Tensor wrappedNumber(const at::Scalar& scalar) {
  at::Tensor wrapped = at::scalar_tensor(scalar, at::TensorOptions().dtype(scalar.type()));
  wrapped.unsafeGetTensorImpl()->set_wrapped_number(true);
  return wrapped;
}

at::ScalarType parseDtype(const Napi::Value& value) {
  if (!value.IsString()) fail(value.Env(), "dtype: expected a name such as 'float32'");
  std::string name = value.As<Napi::String>().Utf8Value();
  auto found = dtypeTable().find(name);
  if (found == dtypeTable().end()) {
    fail(value.Env(), "unknown dtype '" + name + "' (float32, float64, bfloat16, float16, int64, int32, int16, int8, uint8, bool)");
  }
  return found->second;
}

const char* dtypeName(at::ScalarType type) {
  for (const auto& entry : dtypeTable()) {
    if (entry.second == type) return entry.first.c_str();
  }
  return c10::toString(type);
}

c10::Device parseDevice(const Napi::Value& value) {
  if (!value.IsString()) fail(value.Env(), "device: expected a name such as 'cpu' or 'cuda:0'");
  return c10::Device(value.As<Napi::String>().Utf8Value());
}

int64_t toInt(const Napi::Value& value, const std::string& what) {
  return toIntDescribed(value, [&what] { return what; });
}

std::vector<int64_t> parseShape(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) fail(value.Env(), std::string(what) + ": expected an array of sizes");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    shape[i] = toInt(array.Get(i), what);
    if (shape[i] < 0) fail(value.Env(), std::string(what) + ": sizes must be non-negative");
  }
  return shape;
}

c10::IValue toIValue(const Napi::Value& value, const c10::Argument& arg) {
  if (value.IsUndefined() && arg.default_value()) return *arg.default_value();
  return toIValueOfType(value, arg, arg.type(), arg.real_type());
}

ArgKind argKind(const c10::Argument& arg) {
  const c10::TypePtr& type = arg.type();
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return ArgKind::Tensor;
    case c10::TypeKind::OptionalType:
      return type->expectRef<c10::OptionalType>().getElementType()->kind() == c10::TypeKind::TensorType
                 ? ArgKind::OptionalTensor
                 : ArgKind::Other;
    case c10::TypeKind::NumberType:
      return ArgKind::Scalar;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return ArgKind::Int;
    case c10::TypeKind::FloatType:
      return ArgKind::Float;
    case c10::TypeKind::BoolType:
      return ArgKind::Bool;
    case c10::TypeKind::ListType: {
      c10::TypeKind element = type->expectRef<c10::ListType>().getElementType()->kind();
      bool ints = element == c10::TypeKind::IntType || element == c10::TypeKind::SymIntType;
      return ints && arg.N() ? ArgKind::IntList : ArgKind::Other;
    }
    default:
      return ArgKind::Other;
  }
}

c10::IValue toArgument(napi_env env, napi_value value, ArgKind kind, const c10::Argument& arg) {
  if (kind != ArgKind::Other) {
    napi_valuetype type = typeOf(env, value);
    switch (kind) {
      case ArgKind::Tensor:
      case ArgKind::OptionalTensor:
        if (type == napi_external) {
          if (const at::Tensor* tensor = liveTensorOfExternal(env, value)) return c10::IValue(*tensor);
        } else if (type == napi_number && kind == ArgKind::Tensor) {
          double number = numberValue(env, value);
          return c10::IValue(wrappedNumber(numberToScalar(number)));
        } else if (type == napi_null && kind == ArgKind::OptionalTensor) {
          return c10::IValue();
        }
        break;
      case ArgKind::Scalar:
        if (type == napi_number) {
          double number = numberValue(env, value);
          return c10::IValue(numberToScalar(number));
        }
        break;
      case ArgKind::Int:
      case ArgKind::IntList:
        if (type == napi_number) {
          double number = numberValue(env, value);
          if (!std::isfinite(number) || std::floor(number) != number) break;  // toIValue names the error
          auto integer = static_cast<int64_t>(number);
          return kind == ArgKind::Int ? c10::IValue(integer) : repeatedInt(*arg.N(), integer);
        }
        break;
      case ArgKind::Float:
        if (type == napi_number) {
          double number = numberValue(env, value);
          return c10::IValue(number);
        }
        break;
      case ArgKind::Bool:
        if (type == napi_boolean) {
          bool flag = false;
          napi_get_value_bool(env, value, &flag);
          return c10::IValue(flag);
        }
        break;
      case ArgKind::Other:
        break;
    }
  }
  return toIValue(Napi::Value(env, value), arg);
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& value) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    if (!tensor.defined()) return env.Null();
    return wrapTensor(env, tensor);
  }
  if (value.isNone()) return env.Null();
  if (value.isInt()) return Napi::Number::New(env, static_cast<double>(value.toInt()));
  if (value.isDouble()) return Napi::Number::New(env, value.toDouble());
  if (value.isBool()) return Napi::Boolean::New(env, value.toBool());
  if (value.isScalar()) {
    at::Scalar scalar = value.toScalar();
    if (scalar.isBoolean()) return Napi::Boolean::New(env, scalar.toBool());
    return Napi::Number::New(env, scalar.toDouble());
  }
  if (value.isString()) return Napi::String::New(env, value.toStringRef());
  if (value.isTensorList()) {
    auto list = value.toTensorList();
    Napi::Array array = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) array.Set(static_cast<uint32_t>(i), fromIValue(env, list.get(i)));
    return array;
  }
  if (value.isTuple() || value.isList()) {
    std::vector<c10::IValue> items;
    if (value.isTuple()) {
      for (const auto& item : value.toTupleRef().elements()) items.push_back(item);
    } else {
      for (const auto& item : value.toListRef()) items.push_back(item);
    }
    Napi::Array array = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); ++i) array.Set(static_cast<uint32_t>(i), fromIValue(env, items[i]));
    return array;
  }
  throw Napi::TypeError::New(env, "the binding cannot return a value of type " + value.tagKind());
}

}  // namespace scatter
