// Prints 1 when libjpeg's headers are installed (Debian: libjpeg62-turbo-dev), else 0, for binding.gyp:
// without them the image addon (src/image.cc) is built without its JPEG decoder, and JPEG files are decoded
// whole by libvips (the same pixels, more slowly). The GPU machines that build scatter against a PyTorch's
// libtorch may lack them.
'use strict';
const { execFileSync } = require('node:child_process');

function hasJpegHeader() {
  try {
    // The compiler's own search path, wherever a distribution keeps jpeglib.h.
    execFileSync('c++', ['-E', '-x', 'c++', '-'], { input: '#include <jpeglib.h>\n', stdio: ['pipe', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}

process.stdout.write(hasJpegHeader() ? '1' : '0');
