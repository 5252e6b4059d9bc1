// Prints the compiler and linker flags for the libtorch that scatter builds against, for binding.gyp.
// Default: Debian's libtorch-dev (headers in /usr/include, libraries in the multiarch lib dir).
// SCATTER_LIBTORCH=/path: a libtorch tree (include/, lib/), e.g. the `torch` folder of a PyTorch wheel.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function libtorchRoot() {
  const root = process.env.SCATTER_LIBTORCH;
  if (!root) return null;
  if (!fs.existsSync(path.join(root, 'include', 'torch'))) {
    throw new Error(`SCATTER_LIBTORCH=${root} has no include/torch: point it at a libtorch tree (include/ and lib/)`);
  }
  return root;
}

// A libtorch states its C++ ABI in TorchConfig.cmake; Debian's uses the new ABI like the system g++.
function cxx11Abi(root) {
  const config = path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  if (fs.existsSync(config)) {
    const match = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(fs.readFileSync(config, 'utf8'));
    if (match) return match[1];
  }
  return '1';
}

// libtorch 2.12 and later refuse to compile below C++20; older ones are built as C++17.
function cxxStandard(apiIncludeDir) {
  const header = fs.readFileSync(path.join(apiIncludeDir, 'torch', 'version.h'), 'utf8');
  const major = Number(/TORCH_VERSION_MAJOR\s+(\d+)/.exec(header)?.[1] ?? 0);
  const minor = Number(/TORCH_VERSION_MINOR\s+(\d+)/.exec(header)?.[1] ?? 0);
  return major > 2 || (major === 2 && minor >= 12) ? '-std=c++20' : '-std=c++17';
}

// The headers that c10d's NCCL backend includes: the CUDA toolkit's and NCCL's. A PyTorch wheel keeps
// NCCL (and, for recent CUDA, the runtime headers) in the nvidia/* packages beside torch/.
function cudaIncludeDirs(root) {
  const dirs = [];
  const toolkit = process.env.CUDA_HOME ?? '/usr/local/cuda';
  if (fs.existsSync(path.join(toolkit, 'include', 'cuda_runtime_api.h'))) dirs.push(path.join(toolkit, 'include'));
  const nvidia = path.join(root, '..', 'nvidia');
  if (fs.existsSync(nvidia)) {
    for (const name of fs.readdirSync(nvidia)) {
      const include = path.join(nvidia, name, 'include');
      if (fs.existsSync(path.join(include, 'nccl.h'))) dirs.push(include);
    }
  }
  return dirs;
}

function flags() {
  const root = libtorchRoot();
  if (root === null) {
    const multiarch = '/usr/lib/x86_64-linux-gnu';
    return {
      include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
      cflags: [cxxStandard('/usr/include/torch/csrc/api/include'), '-D_GLIBCXX_USE_CXX11_ABI=1'],
      libs: [`-L${multiarch}`, '-ltorch', '-ltorch_cpu', '-lc10'],
    };
  }
  const lib = path.join(root, 'lib');
  const libs = [`-L${lib}`, `-Wl,-rpath,${lib}`, '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10'];
  const cudaLibs = ['torch_cuda', 'c10_cuda'].filter((name) => fs.existsSync(path.join(lib, `lib${name}.so`)));
  for (const name of cudaLibs) libs.push(`-l${name}`);
  const include = [path.join(root, 'include'), path.join(root, 'include', 'torch', 'csrc', 'api', 'include')];
  const cflags = [cxxStandard(include[1]), `-D_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(root)}`];
  if (cudaLibs.length > 0) {
    cflags.push('-DSCATTER_WITH_CUDA=1');
    include.push(...cudaIncludeDirs(root));
  }
  return {
    include,
    cflags,
    libs,
  };
}

const kind = process.argv[2];
const result = flags();
if (!(kind in result)) throw new Error(`usage: libtorch.cjs include|cflags|libs`);
process.stdout.write(result[kind].join(' '));
