#pragma once
#include <napi.h>

namespace scatter {
void registerOps(Napi::Env env, Napi::Object exports);
void registerTensors(Napi::Env env, Napi::Object exports);
void registerAutograd(Napi::Env env, Napi::Object exports);
void registerRuntime(Napi::Env env, Napi::Object exports);
void registerDistributed(Napi::Env env, Napi::Object exports);
void registerWhitening(Napi::Env env, Napi::Object exports);
void registerGraphs(Napi::Env env, Napi::Object exports);
// Makes libtorch's CPU allocator keep freed small blocks for reuse (allocator.cc).
void keepSmallCpuBlocks();
}  // namespace scatter
