// Entry point of scatter's Node-API addon over libtorch.
#include <napi.h>

#include "handles.h"
#include "modules.h"

namespace scatter {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  registerHandles(env, exports);
  registerOps(env, exports);
  registerTensors(env, exports);
  registerAutograd(env, exports);
  registerRuntime(env, exports);
  registerDistributed(env, exports);
  return exports;
}

}  // namespace scatter

static Napi::Object initScatter(Napi::Env env, Napi::Object exports) { return scatter::init(env, exports); }

NODE_API_MODULE(scatter, initScatter)
