// Autograd: backward passes, gradients of leaves, and the grad-mode switch behind noGrad/enableGrad.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include "convert.h"
#include "errors.h"
#include "handles.h"
#include "modules.h"

namespace scatter {
namespace {

std::vector<at::Tensor> tensorList(const Napi::Value& value, const char* what, bool allowNull) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected an array of tensors");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<at::Tensor> tensors;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (allowNull && (item.IsNull() || item.IsUndefined())) {
      tensors.emplace_back();
    } else {
      tensors.push_back(unwrapTensor(item, what));
    }
  }
  return tensors;
}

// backward(outputs, gradOutputs, retainGraph, createGraph)
SCATTER_FN(backward) {
  auto outputs = tensorList(info[0], "backward", false);
  auto grads = tensorList(info[1], "backward gradient", true);
  bool retainGraph = info[2].ToBoolean().Value();
  bool createGraph = info[3].ToBoolean().Value();
  for (const auto& output : outputs) {
    if (!output.requires_grad()) {
      throw Napi::Error::New(info.Env(), "backward: the tensor does not require grad and has no grad_fn");
    }
  }
  torch::autograd::backward(outputs, grads, retainGraph, createGraph);
  return info.Env().Undefined();
}

// grad(outputs, inputs, gradOutputs, retainGraph, createGraph, allowUnused): the gradients, not accumulated.
SCATTER_FN(grad) {
  Napi::Env env = info.Env();
  auto outputs = tensorList(info[0], "grad outputs", false);
  auto inputs = tensorList(info[1], "grad inputs", false);
  auto grads = tensorList(info[2], "grad gradOutputs", true);
  c10::optional<bool> retainGraph;
  if (info[3].IsBoolean()) retainGraph = info[3].ToBoolean().Value();
  auto result = torch::autograd::grad(outputs, inputs, grads, retainGraph, info[4].ToBoolean().Value(),
                                      info[5].ToBoolean().Value());
  Napi::Array array = Napi::Array::New(env, result.size());
  for (size_t i = 0; i < result.size(); ++i) {
    array.Set(static_cast<uint32_t>(i), result[i].defined() ? wrapTensor(env, result[i]) : env.Null());
  }
  return array;
}

SCATTER_FN(getGrad) {
  const at::Tensor& grad = unwrapTensor(info[0], "grad").grad();
  return grad.defined() ? wrapTensor(info.Env(), grad) : info.Env().Null();
}

// setGrad(tensor, grad | null); in place through mutable_grad so that optimizers' views stay valid.
SCATTER_FN(setGrad) {
  at::Tensor tensor = unwrapTensor(info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    tensor.mutable_grad() = at::Tensor();
  } else {
    const at::Tensor& grad = unwrapTensor(info[1], "setGrad gradient");
    TORCH_CHECK(grad.sizes() == tensor.sizes(), "setGrad: gradient shape ", grad.sizes(),
                " does not match the tensor's ", tensor.sizes());
    tensor.mutable_grad() = grad;
  }
  return info.Env().Undefined();
}

SCATTER_FN(requiresGrad) { return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "requiresGrad").requires_grad()); }

SCATTER_FN(isLeaf) { return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "isLeaf").is_leaf()); }

SCATTER_FN(gradFnName) {
  const auto& fn = unwrapTensor(info[0], "gradFn").grad_fn();
  return fn ? Napi::Value(Napi::String::New(info.Env(), fn->name())) : info.Env().Null();
}

SCATTER_FN(retainGrad) {
  unwrapTensor(info[0], "retainGrad").retain_grad();
  return info.Env().Undefined();
}

// setGradEnabled(enabled): returns the previous mode so that scopes can restore it.
SCATTER_FN(setGradEnabled) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

SCATTER_FN(isGradEnabled) { return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled()); }

}  // namespace

void registerAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, backward));
  exports.Set("grad", Napi::Function::New(env, grad));
  exports.Set("getGrad", Napi::Function::New(env, getGrad));
  exports.Set("setGrad", Napi::Function::New(env, setGrad));
  exports.Set("requiresGrad", Napi::Function::New(env, requiresGrad));
  exports.Set("isLeaf", Napi::Function::New(env, isLeaf));
  exports.Set("gradFnName", Napi::Function::New(env, gradFnName));
  exports.Set("retainGrad", Napi::Function::New(env, retainGrad));
  exports.Set("setGradEnabled", Napi::Function::New(env, setGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, isGradEnabled));
}

}  // namespace scatter
