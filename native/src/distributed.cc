#include "modules.h"
namespace scatter { void registerDistributed(Napi::Env, Napi::Object) {} }
