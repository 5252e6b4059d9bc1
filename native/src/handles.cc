#include "handles.h"

#include <unordered_map>

#include "errors.h"

namespace scatter {
namespace {

// Live handles and the distinct storages they hold. Views share a storage, so bytes are counted once
// per storage, at the size it had when its first handle was made.
//
// V8 is told about a storage's bytes only while some handle on it is "GC-managed": made outside any
// scope, or escaped from one. Tensors made inside a scope are freed deterministically when it ends;
// reporting them too made V8 run a full collection every few operations of a training step (a
// step allocates and frees its activations, about 1 GiB for ResNet-32 at batch 128) for nothing.
struct StorageEntry {
  int64_t handles = 0;
  int64_t gcManagedHandles = 0;
  int64_t bytes = 0;
};

struct Accounting {
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  int scopeDepth = 0;  // set from JavaScript: > 0 while a scope is open
  std::unordered_map<const c10::StorageImpl*, StorageEntry> storages;
};

Accounting& accounting() {
  static Accounting instance;
  return instance;
}

const c10::StorageImpl* storageOf(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return nullptr;
  return t.storage().unsafeGetStorageImpl();
}

StorageEntry* entryOf(const at::Tensor& t) {
  auto found = accounting().storages.find(storageOf(t));
  return found == accounting().storages.end() ? nullptr : &found->second;
}

// Only CPU memory is V8's business: it decides when to collect by host memory pressure.
void reportToV8(Napi::Env env, const at::Tensor& t, StorageEntry& entry, int direction) {
  if (env != nullptr && t.device().is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(env, direction * entry.bytes);
}

void track(Napi::Env env, TensorBox* box) {
  auto& acc = accounting();
  acc.liveTensors += 1;
  const c10::StorageImpl* storage = storageOf(box->tensor);
  if (storage == nullptr) return;
  StorageEntry& entry = acc.storages[storage];
  if (entry.handles++ == 0) {
    entry.bytes = static_cast<int64_t>(storage->nbytes());
    acc.liveBytes += entry.bytes;
  }
  if (box->gcManaged && entry.gcManagedHandles++ == 0) reportToV8(env, box->tensor, entry, +1);
}

void release(Napi::Env env, TensorBox* box) {
  if (!box->alive) return;
  auto& acc = accounting();
  acc.liveTensors -= 1;
  if (StorageEntry* entry = entryOf(box->tensor)) {
    if (box->gcManaged && --entry->gcManagedHandles == 0) reportToV8(env, box->tensor, *entry, -1);
    if (--entry->handles == 0) {
      acc.liveBytes -= entry->bytes;
      acc.storages.erase(storageOf(box->tensor));
    }
  }
  box->tensor = at::Tensor();
  box->alive = false;
}

TensorBox* boxOf(const Napi::Value& value) {
  if (!value.IsExternal()) return nullptr;
  return value.As<Napi::External<TensorBox>>().Data();
}

TensorBox* liveBoxOf(const Napi::CallbackInfo& info, const char* what) {
  TensorBox* box = boxOf(info[0]);
  if (box == nullptr) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a tensor handle");
  return box;
}

SCATTER_FN(dispose) {
  release(info.Env(), liveBoxOf(info, "dispose"));
  return info.Env().Undefined();
}

SCATTER_FN(isDisposed) { return Napi::Boolean::New(info.Env(), !liveBoxOf(info, "isDisposed")->alive); }

// markGcManaged(handle): the tensor left every scope, so its lifetime may now rest on the collector.
SCATTER_FN(markGcManaged) {
  TensorBox* box = liveBoxOf(info, "markGcManaged");
  if (box->alive && !box->gcManaged) {
    box->gcManaged = true;
    if (StorageEntry* entry = entryOf(box->tensor)) {
      if (entry->gcManagedHandles++ == 0) reportToV8(info.Env(), box->tensor, *entry, +1);
    }
  }
  return info.Env().Undefined();
}

SCATTER_FN(setScopeDepth) {
  accounting().scopeDepth = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

SCATTER_FN(memory) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("liveTensors", Napi::Number::New(info.Env(), static_cast<double>(accounting().liveTensors)));
  result.Set("liveBytes", Napi::Number::New(info.Env(), static_cast<double>(accounting().liveBytes)));
  return result;
}

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  auto* box = new TensorBox{std::move(tensor), true, accounting().scopeDepth == 0};
  track(env, box);
  return Napi::External<TensorBox>::New(env, box, [](Napi::Env finalizerEnv, TensorBox* dropped) {
    release(finalizerEnv, dropped);
    delete dropped;
  });
}

const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what) {
  TensorBox* box = boxOf(value);
  if (box == nullptr) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a tensor");
  if (!box->alive) throw Napi::Error::New(value.Env(), std::string(what) + ": the tensor was disposed");
  return box->tensor;
}

const at::Tensor* liveTensorOrNull(const Napi::Value& value) {
  TensorBox* box = boxOf(value);
  return box != nullptr && box->alive ? &box->tensor : nullptr;
}

void registerHandles(Napi::Env env, Napi::Object exports) {
  exports.Set("dispose", Napi::Function::New(env, dispose));
  exports.Set("isDisposed", Napi::Function::New(env, isDisposed));
  exports.Set("markGcManaged", Napi::Function::New(env, markGcManaged));
  exports.Set("setScopeDepth", Napi::Function::New(env, setScopeDepth));
  exports.Set("memory", Napi::Function::New(env, memory));
}

}  // namespace scatter
