#include "handles.h"

#include <c10/util/flat_hash_map.h>

#include <deque>
#include <vector>

#include "entry.h"
#include "errors.h"

namespace scatter {
namespace {

struct Slot {
  at::Tensor tensor;
  uint32_t index = 0;
  uint32_t generation = 0;
  bool alive = false;
  // Whether the collector may be what frees it (made outside scopes, or escaped): only such handles'
  // storages are reported to V8 as external memory.
  bool gcManaged = false;
};

// Live handles and the distinct storages they hold. Views share a storage, so bytes are counted once
// per storage, at the size it had when its first handle was made.
//
// V8 is told about a storage's bytes only while some handle on it is GC-managed. Tensors made inside a
// scope are freed deterministically when it ends; reporting them too made V8 run a full collection
// every few operations of a training step (a ResNet-32 step at batch 128 allocates and frees about
// 1 GiB of activations) for nothing.
struct StorageEntry {
  int64_t handles = 0;
  int64_t gcManagedHandles = 0;
  int64_t bytes = 0;
};

struct Table {
  std::deque<Slot> slots;  // a deque keeps references to slots valid while it grows
  std::vector<uint32_t> freeSlots;
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  int scopeDepth = 0;  // set from JavaScript: > 0 while a scope is open
  // Open addressing: a training step makes and frees thousands of handles, and a node-based map
  // allocated and freed a node for each.
  ska::flat_hash_map<const c10::StorageImpl*, StorageEntry> storages;
};

// A namespace-level object rather than a function's static: no initialisation guard on every handle.
Table tableInstance;
Table& table() { return tableInstance; }

// A handle's pointer value: generation in the high 32 bits, slot index + 1 in the low (never null).
void* encode(uint32_t index, uint32_t generation) {
  return reinterpret_cast<void*>((static_cast<uintptr_t>(generation) << 32) | (static_cast<uintptr_t>(index) + 1));
}

// The live slot an External names, or nullptr for a stale handle or an External that is no tensor handle.
Slot* slotOfExternal(napi_env env, napi_value external) {
  auto bits = reinterpret_cast<uintptr_t>(externalData(env, external));
  uint64_t index = (bits & 0xffffffffu) - 1;
  auto generation = static_cast<uint32_t>(bits >> 32);
  auto& slots = table().slots;
  if (index >= slots.size()) return nullptr;
  Slot& slot = slots[index];
  return slot.alive && slot.generation == generation ? &slot : nullptr;
}

// The live slot a handle names, or nullptr for a stale handle or a value that is no tensor handle.
Slot* slotOf(const Napi::Value& value) { return value.IsExternal() ? slotOfExternal(value.Env(), value) : nullptr; }

const c10::StorageImpl* storageOf(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return nullptr;
  return t.storage().unsafeGetStorageImpl();
}

StorageEntry* entryOf(const at::Tensor& t) {
  auto found = table().storages.find(storageOf(t));
  return found == table().storages.end() ? nullptr : &found->second;
}

// Only CPU memory is V8's business: it decides when to collect by host memory pressure.
void reportToV8(Napi::Env env, const at::Tensor& t, const StorageEntry& entry, int direction) {
  if (t.device().is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(env, direction * entry.bytes);
}

void release(Napi::Env env, Slot& slot) {
  Table& t = table();
  t.liveTensors -= 1;
  auto found = t.storages.find(storageOf(slot.tensor));
  if (found != t.storages.end()) {
    StorageEntry& entry = found->second;
    if (slot.gcManaged && --entry.gcManagedHandles == 0) reportToV8(env, slot.tensor, entry, -1);
    if (--entry.handles == 0) {
      t.liveBytes -= entry.bytes;
      t.storages.erase(found);
    }
  }
  slot.tensor = at::Tensor();
  slot.alive = false;
  slot.generation += 1;  // every handle made for the slot so far is now stale
  t.freeSlots.push_back(slot.index);
}

Slot& slotOrThrow(const Napi::Value& value, const char* what) {
  Slot* slot = slotOf(value);
  if (slot != nullptr) return *slot;
  if (!value.IsExternal()) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a tensor");
  throw Napi::Error::New(value.Env(), std::string(what) + ": the tensor was disposed");
}

// dispose(...handles): frees the tensors now (a scope frees all of its own in one call); disposing a
// stale handle again is harmless. Nothing is freed unless every argument is a handle.
napi_value dispose(napi_env env, const napi_value* handles, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (typeOf(env, handles[i]) != napi_external) throw Napi::TypeError::New(env, "dispose: expected a tensor handle");
  }
  for (size_t i = 0; i < count; ++i) {
    if (Slot* slot = slotOfExternal(env, handles[i])) release(Napi::Env(env), *slot);
  }
  return nullptr;
}

// markGcManaged(handle): the tensor left every scope, so its lifetime may now rest on the collector.
SCATTER_FN(markGcManaged) {
  Slot& slot = slotOrThrow(info[0], "markGcManaged");
  if (!slot.gcManaged) {
    slot.gcManaged = true;
    if (StorageEntry* entry = entryOf(slot.tensor)) {
      if (entry->gcManagedHandles++ == 0) reportToV8(info.Env(), slot.tensor, *entry, +1);
    }
  }
  return info.Env().Undefined();
}

SCATTER_FN(setScopeDepth) {
  table().scopeDepth = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

SCATTER_FN(memory) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("liveTensors", Napi::Number::New(info.Env(), static_cast<double>(table().liveTensors)));
  result.Set("liveBytes", Napi::Number::New(info.Env(), static_cast<double>(table().liveBytes)));
  return result;
}

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  Table& t = table();
  if (t.freeSlots.empty()) {
    t.freeSlots.push_back(static_cast<uint32_t>(t.slots.size()));
    t.slots.emplace_back();
    t.slots.back().index = t.freeSlots.back();
  }
  Slot& slot = t.slots[t.freeSlots.back()];
  t.freeSlots.pop_back();
  slot.tensor = std::move(tensor);
  slot.alive = true;
  slot.gcManaged = t.scopeDepth == 0;
  t.liveTensors += 1;
  if (const c10::StorageImpl* storage = storageOf(slot.tensor)) {
    StorageEntry& entry = t.storages[storage];
    if (entry.handles++ == 0) {
      entry.bytes = static_cast<int64_t>(storage->nbytes());
      t.liveBytes += entry.bytes;
    }
    if (slot.gcManaged && entry.gcManagedHandles++ == 0) reportToV8(env, slot.tensor, entry, +1);
  }
  return Napi::Value(env, newExternal(env, encode(slot.index, slot.generation)));
}

const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what) { return slotOrThrow(value, what).tensor; }

const at::Tensor* liveTensorOrNull(const Napi::Value& value) {
  Slot* slot = slotOf(value);
  return slot != nullptr ? &slot->tensor : nullptr;
}

const at::Tensor* liveTensorOfExternal(napi_env env, napi_value external) {
  Slot* slot = slotOfExternal(env, external);
  return slot != nullptr ? &slot->tensor : nullptr;
}

void registerHandles(Napi::Env env, Napi::Object exports) {
  exportRaw(env, exports, "dispose", dispose);
  exports.Set("markGcManaged", Napi::Function::New(env, markGcManaged));
  exports.Set("setScopeDepth", Napi::Function::New(env, setScopeDepth));
  exports.Set("memory", Napi::Function::New(env, memory));
}

}  // namespace scatter
