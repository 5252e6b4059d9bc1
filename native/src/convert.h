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

// The value that argument `arg` of an operator takes from a JavaScript value.
c10::IValue toIValue(const Napi::Value& value, const c10::Argument& arg);
// The JavaScript form of an operator's result: tensors become handles, lists and tuples arrays.
Napi::Value fromIValue(Napi::Env env, const c10::IValue& value);

}  // namespace scatter
