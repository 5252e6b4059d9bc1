// Conversions between JavaScript values and libtorch values: dtypes, devices, shapes, and the
// IValues of an operator schema's arguments and returns.
#pragma once
#include <ATen/ATen.h>
#include <ATen/core/function_schema.h>
#include <ATen/core/ivalue.h>
#include <napi.h>

#include <string>
#include <vector>

namespace scatter {

at::ScalarType parseDtype(const Napi::Value& value);
const char* dtypeName(at::ScalarType type);
c10::Device parseDevice(const Napi::Value& value);
std::vector<int64_t> parseShape(const Napi::Value& value, const char* what);
int64_t toInt(const Napi::Value& value, const std::string& what);

// JavaScript has one number type: integral values become int64 Scalars (as Python ints), others double.
at::Scalar numberToScalar(double number);
// A number where a tensor is expected: a 0-d tensor marked as a wrapped number, as Python's `x + 2` makes.
at::Tensor wrappedNumber(const at::Scalar& scalar);

// The value that argument `arg` of an operator takes from a JavaScript value.
c10::IValue toIValue(const Napi::Value& value, const c10::Argument& arg);

// How callOp converts an argument, decided once per operator from its schema, so that a call switches on
// a byte instead of inspecting types. Each kind has a direct path for the values a call usually passes
// (a tensor handle, a number, a boolean, null); anything else, errors included, goes through toIValue.
enum class ArgKind : uint8_t { Tensor, OptionalTensor, Scalar, Int, IntList, Float, Bool, Other };
ArgKind argKind(const c10::Argument& arg);
// The same value as toIValue(value, arg), by the direct path where `kind` has one.
c10::IValue toArgument(napi_env env, napi_value value, ArgKind kind, const c10::Argument& arg);
// The JavaScript form of an operator's result: tensors become handles, lists and tuples arrays.
Napi::Value fromIValue(Napi::Env env, const c10::IValue& value);

}  // namespace scatter
