#include "handles.h"

#include <unordered_map>

#include "errors.h"

namespace scatter {
namespace {

// Live handles and the distinct storages they hold. Views share a storage, so bytes are counted once
// per storage, at the size it had when its first handle was made.
struct Accounting {
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  std::unordered_map<const c10::StorageImpl*, std::pair<int64_t, int64_t>> storages;  // refs, bytes
};

Accounting& accounting() {
  static Accounting instance;
  return instance;
}

const c10::StorageImpl* storageOf(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return nullptr;
  return t.storage().unsafeGetStorageImpl();
}

void track(Napi::Env env, const at::Tensor& t) {
  auto& acc = accounting();
  acc.liveTensors += 1;
  const c10::StorageImpl* storage = storageOf(t);
  if (storage == nullptr) return;
  auto& entry = acc.storages[storage];
  if (entry.first++ == 0) {
    entry.second = static_cast<int64_t>(storage->nbytes());
    acc.liveBytes += entry.second;
    // Only CPU memory is V8's business: it decides when to collect by host memory pressure.
    if (t.device().is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(env, entry.second);
  }
}

void untrack(Napi::Env env, const at::Tensor& t) {
  auto& acc = accounting();
  acc.liveTensors -= 1;
  const c10::StorageImpl* storage = storageOf(t);
  if (storage == nullptr) return;
  auto found = acc.storages.find(storage);
  if (found == acc.storages.end()) return;
  if (--found->second.first == 0) {
    acc.liveBytes -= found->second.second;
    if (t.device().is_cpu() && env != nullptr) {
      Napi::MemoryManagement::AdjustExternalMemory(env, -found->second.second);
    }
    acc.storages.erase(found);
  }
}

void release(Napi::Env env, TensorBox* box) {
  if (!box->alive) return;
  untrack(env, box->tensor);
  box->tensor = at::Tensor();
  box->alive = false;
}

TensorBox* boxOf(const Napi::Value& value) {
  if (!value.IsExternal()) return nullptr;
  return value.As<Napi::External<TensorBox>>().Data();
}

SCATTER_FN(dispose) {
  TensorBox* box = boxOf(info[0]);
  if (box == nullptr) throw Napi::TypeError::New(info.Env(), "dispose: expected a tensor handle");
  release(info.Env(), box);
  return info.Env().Undefined();
}

SCATTER_FN(isDisposed) {
  TensorBox* box = boxOf(info[0]);
  if (box == nullptr) throw Napi::TypeError::New(info.Env(), "isDisposed: expected a tensor handle");
  return Napi::Boolean::New(info.Env(), !box->alive);
}

SCATTER_FN(memory) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("liveTensors", Napi::Number::New(info.Env(), static_cast<double>(accounting().liveTensors)));
  result.Set("liveBytes", Napi::Number::New(info.Env(), static_cast<double>(accounting().liveBytes)));
  return result;
}

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  auto* box = new TensorBox{std::move(tensor), true};
  track(env, box->tensor);
  return Napi::External<TensorBox>::New(env, box, [](Napi::Env finalizerEnv, TensorBox* dropped) {
    release(finalizerEnv, dropped);
    delete dropped;
  });
}

bool isTensorHandle(const Napi::Value& value) { return value.IsExternal(); }

const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what) {
  TensorBox* box = boxOf(value);
  if (box == nullptr) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a tensor");
  if (!box->alive) throw Napi::Error::New(value.Env(), std::string(what) + ": the tensor was disposed");
  return box->tensor;
}

void registerHandles(Napi::Env env, Napi::Object exports) {
  exports.Set("dispose", Napi::Function::New(env, dispose));
  exports.Set("isDisposed", Napi::Function::New(env, isDisposed));
  exports.Set("memory", Napi::Function::New(env, memory));
}

}  // namespace scatter
