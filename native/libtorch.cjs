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

function flags() {
  const root = libtorchRoot();
  if (root === null) {
    const multiarch = '/usr/lib/x86_64-linux-gnu';
    return {
      include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
      cflags: ['-D_GLIBCXX_USE_CXX11_ABI=1'],
      libs: [`-L${multiarch}`, '-ltorch', '-ltorch_cpu', '-lc10'],
    };
  }
  const lib = path.join(root, 'lib');
  const libs = [`-L${lib}`, `-Wl,-rpath,${lib}`, '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10'];
  const cudaLibs = ['torch_cuda', 'c10_cuda'].filter((name) => fs.existsSync(path.join(lib, `lib${name}.so`)));
  for (const name of cudaLibs) libs.push(`-l${name}`);
  const defines = [`-D_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(root)}`];
  if (cudaLibs.length > 0) defines.push('-DSCATTER_WITH_CUDA=1');
  return {
    include: [path.join(root, 'include'), path.join(root, 'include', 'torch', 'csrc', 'api', 'include')],
    cflags: defines,
    libs,
  };
}

const kind = process.argv[2];
const result = flags();
if (!(kind in result)) throw new Error(`usage: libtorch.cjs include|cflags|libs`);
process.stdout.write(result[kind].join(' '));
