// Tensors from and to JavaScript memory, and what a tensor says about itself.
#include <cstring>

#include "convert.h"
#include "errors.h"
#include "handles.h"
#include "modules.h"

namespace scatter {
namespace {

// fromBuffer(bytes: ArrayBuffer | TypedArray, shape, dtype): a new CPU tensor holding a copy of the bytes.
SCATTER_FN(fromBuffer) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (info[0].IsTypedArray()) {
    Napi::TypedArray view = info[0].As<Napi::TypedArray>();
    data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    length = view.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(buffer.Data());
    length = buffer.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer: expected an ArrayBuffer or a typed array");
  }
  std::vector<int64_t> shape = parseShape(info[1], "fromBuffer shape");
  at::ScalarType dtype = parseDtype(info[2]);
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (tensor.nbytes() != length) {
    throw Napi::RangeError::New(env, "fromBuffer: shape [" + c10::Join(", ", shape) + "] of " + dtypeName(dtype) +
                                         " needs " + std::to_string(tensor.nbytes()) + " bytes, got " +
                                         std::to_string(length));
  }
  if (length > 0) std::memcpy(tensor.data_ptr(), data, length);
  return wrapTensor(env, tensor);
}

// toBuffer(tensor): a copy of the elements, in row-major order, as an ArrayBuffer.
SCATTER_FN(toBuffer) {
  at::Tensor tensor = unwrapTensor(info[0], "toBuffer").detach().to(at::kCPU).contiguous();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(info.Env(), tensor.nbytes());
  if (tensor.nbytes() > 0) std::memcpy(buffer.Data(), tensor.data_ptr(), tensor.nbytes());
  return buffer;
}

Napi::Array sizesArray(Napi::Env env, at::IntArrayRef sizes) {
  Napi::Array array = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) array.Set(static_cast<uint32_t>(i), static_cast<double>(sizes[i]));
  return array;
}

SCATTER_FN(shape) { return sizesArray(info.Env(), unwrapTensor(info[0], "shape").sizes()); }

SCATTER_FN(strides) { return sizesArray(info.Env(), unwrapTensor(info[0], "strides").strides()); }

SCATTER_FN(dtype) { return Napi::String::New(info.Env(), dtypeName(unwrapTensor(info[0], "dtype").scalar_type())); }

SCATTER_FN(device) { return Napi::String::New(info.Env(), unwrapTensor(info[0], "device").device().str()); }

SCATTER_FN(isContiguous) {
  const at::Tensor& tensor = unwrapTensor(info[0], "isContiguous");
  bool channelsLast = info.Length() > 1 && info[1].ToBoolean().Value();
  return Napi::Boolean::New(
      info.Env(), tensor.is_contiguous(channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
}

SCATTER_FN(sameStorage) {
  const at::Tensor& a = unwrapTensor(info[0], "sameStorage");
  const at::Tensor& b = unwrapTensor(info[1], "sameStorage");
  return Napi::Boolean::New(info.Env(), a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
}

}  // namespace

void registerTensors(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBuffer", Napi::Function::New(env, fromBuffer));
  exports.Set("toBuffer", Napi::Function::New(env, toBuffer));
  exports.Set("shape", Napi::Function::New(env, shape));
  exports.Set("strides", Napi::Function::New(env, strides));
  exports.Set("dtype", Napi::Function::New(env, dtype));
  exports.Set("device", Napi::Function::New(env, device));
  exports.Set("isContiguous", Napi::Function::New(env, isContiguous));
  exports.Set("sameStorage", Napi::Function::New(env, sameStorage));
}

}  // namespace scatter
