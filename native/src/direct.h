// Direct calls: the operators a training step calls most, called unboxed through their typed dispatcher
// handle (as at::conv2d, at::add and Python's bindings call them) instead of through a stack of IValues.
// ops.cc's callOp stays the one door: it asks here once per operator, at findOp, and a call takes the
// direct path only when every argument has one of the plain forms read here; anything else, errors
// included, goes the boxed way, so the two paths differ only in how the same kernel is reached.
#pragma once
#include <ATen/core/function_schema.h>
#include <napi.h>

#include <vector>

namespace scatter {

// Reads args (the operator's arguments, as many as its schema has) and calls the operator. Returns false,
// before anything ran, when an argument is not of a form the direct path reads; then the boxed call
// converts them all and names the error if there is one. `result` is left alone when discardResult.
using DirectCall = bool (*)(napi_env env, const napi_value* args, const std::vector<c10::Argument>& formals,
                            bool discardResult, napi_value& result);

// The direct call of an operator, or nullptr where it has none.
DirectCall directCallFor(const c10::FunctionSchema& schema);

}  // namespace scatter
