// scatter's image addon (scatter_image.node): JPEG decoding of just a crop's region with libjpeg-turbo,
// and Pillow's bilinear resampling, for the loader's random-resized-crop and resize. A separate addon
// without libtorch, so that the loader's worker threads load it cheaply.
//
// Why not libvips (sharp) alone: it decodes the whole JPEG even when a random-resized-crop keeps a
// fraction of it, and its resampler is not the one torchvision's PIL pipeline uses. libjpeg-turbo can
// skip the rows above the crop without the inverse DCT, stop after the crop's last row, and run the
// inverse DCT and colour conversion only for the crop's columns (jpeg_skip_scanlines,
// jpeg_crop_scanline); the pixels of the region are those of a full decode. The resampler is Pillow's
// (libImaging/Resample.c: a triangle filter widened by the scale, coefficients normalised and held in
// 22-bit fixed point, a horizontal pass then a vertical one, each rounded to 8 bits), so a crop resized
// here equals torchvision's PIL RandomResizedCrop / Resize on the same decoded pixels, byte for byte.
// Built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a loader worker stopped during a call must not abort
// the process when its result can no longer be made (measured: SIGABRT in a test closing a loader).
#include <napi.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef SCATTER_WITH_LIBJPEG
#include <jpeglib.h>
#include <jerror.h>
#endif

namespace {

// ---- Pillow's bilinear resampling ---------------------------------------------------------------

constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle(double x) {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the input span [0, inSize) to outSize samples.
struct Coefficients {
  int size = 0;              // taps per output sample
  std::vector<int> bounds;   // first input index and tap count per output sample
  std::vector<int32_t> taps; // fixed-point weights, `size` per output sample
};

Coefficients coefficients(int inSize, int outSize) {
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterScale = scale < 1 ? 1 : scale;
  const double support = 1.0 * filterScale;
  Coefficients c;
  c.size = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * outSize);
  c.taps.assign(static_cast<size_t>(outSize) * c.size, 0);
  std::vector<double> k(c.size);
  for (int xx = 0; xx < outSize; xx++) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterScale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    double ww = 0;
    for (int x = 0; x < xmax; x++) {
      k[x] = triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; x++) {
      const double w = ww != 0 ? k[x] / ww : k[x];
      c.taps[static_cast<size_t>(xx) * c.size + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t value) {
  const int32_t shifted = value >> kPrecisionBits;
  return static_cast<uint8_t>(shifted < 0 ? 0 : shifted > 255 ? 255 : shifted);
}

// Interleaved 8-bit pixels: `rows` rows of `width` pixels, `stride` bytes apart.
struct Pixels {
  const uint8_t* data;
  int width;
  int height;
  int channels;
  size_t stride;
};

// Pillow's horizontal pass: `rows` rows from `firstRow` of `in`, each resampled to outWidth (interleaved out).
template <int Channels>
void resampleRows(const Pixels& in, int outWidth, int firstRow, int rows, const Coefficients& c, uint8_t* out) {
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  for (int y = 0; y < rows; y++) {
    const uint8_t* row = in.data + (firstRow + y) * in.stride;
    uint8_t* target = out + static_cast<size_t>(y) * outWidth * Channels;
    for (int x = 0; x < outWidth; x++) {
      const uint8_t* source = row + c.bounds[2 * x] * Channels;
      const int count = c.bounds[2 * x + 1];
      const int32_t* k = &c.taps[static_cast<size_t>(x) * c.size];
      int32_t sum[Channels];
      for (int ch = 0; ch < Channels; ch++) sum[ch] = half;
      for (int t = 0; t < count; t++, source += Channels) {
        for (int ch = 0; ch < Channels; ch++) sum[ch] += source[ch] * k[t];
      }
      for (int ch = 0; ch < Channels; ch++) target[x * Channels + ch] = clip8(sum[ch]);
    }
  }
}

// Pillow's vertical pass: every column of `in` resampled to outHeight rows (interleaved out); the
// innermost loop runs along a row, which the compiler vectorises.
void resampleColumns(const Pixels& in, int outHeight, const Coefficients& c, uint8_t* out) {
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  const int values = in.width * in.channels;
  std::vector<int32_t> sums(values);
  for (int y = 0; y < outHeight; y++) {
    const int first = c.bounds[2 * y];
    const int count = c.bounds[2 * y + 1];
    const int32_t* k = &c.taps[static_cast<size_t>(y) * c.size];
    std::fill(sums.begin(), sums.end(), half);
    for (int t = 0; t < count; t++) {
      const uint8_t* row = in.data + (first + t) * in.stride;
      const int32_t weight = k[t];
      for (int v = 0; v < values; v++) sums[v] += row[v] * weight;
    }
    uint8_t* target = out + static_cast<size_t>(y) * values;
    for (int v = 0; v < values; v++) target[v] = clip8(sums[v]);
  }
}

void resampleRowsAnyChannels(const Pixels& in, int outWidth, int firstRow, int rows, const Coefficients& c, uint8_t* out) {
  switch (in.channels) {
    case 1: return resampleRows<1>(in, outWidth, firstRow, rows, c, out);
    case 3: return resampleRows<3>(in, outWidth, firstRow, rows, c, out);
    case 4: return resampleRows<4>(in, outWidth, firstRow, rows, c, out);
    default: throw std::invalid_argument("images of 1, 3 or 4 channels can be resampled, not " + std::to_string(in.channels));
  }
}

// Pillow's Image.resize(size, BILINEAR) of `in`, written channel-major (CHW) into `out`.
void resizeToChannelMajor(const Pixels& in, int outWidth, int outHeight, uint8_t* out) {
  std::vector<uint8_t> across;
  std::vector<uint8_t> down;
  Pixels current = in;
  const size_t outStride = static_cast<size_t>(outWidth) * in.channels;
  const bool horizontal = outWidth != in.width;
  const bool vertical = outHeight != in.height;
  Coefficients cv;
  int firstRow = 0;
  int rows = in.height;
  if (vertical) {
    cv = coefficients(in.height, outHeight);
    // The horizontal pass resamples only the rows the vertical pass reads (Pillow's ybox).
    firstRow = cv.bounds[0];
    rows = cv.bounds[2 * outHeight - 2] + cv.bounds[2 * outHeight - 1] - firstRow;
    for (int y = 0; y < outHeight; y++) cv.bounds[2 * y] -= firstRow;
  }
  if (horizontal) {
    across.resize(rows * outStride);
    resampleRowsAnyChannels(in, outWidth, firstRow, rows, coefficients(in.width, outWidth), across.data());
    current = {across.data(), outWidth, rows, in.channels, outStride};
  } else {
    current.data += firstRow * in.stride;
    current.height = rows;
  }
  if (vertical) {
    down.resize(outHeight * outStride);
    resampleColumns(current, outHeight, cv, down.data());
    current = {down.data(), outWidth, outHeight, in.channels, outStride};
  }
  const size_t plane = static_cast<size_t>(outWidth) * outHeight;
  for (int y = 0; y < outHeight; y++) {
    const uint8_t* row = current.data + y * current.stride;
    for (int x = 0; x < outWidth; x++) {
      for (int ch = 0; ch < in.channels; ch++) out[ch * plane + static_cast<size_t>(y) * outWidth + x] = row[x * in.channels + ch];
    }
  }
}

// ---- Arguments ----------------------------------------------------------------------------------

Napi::Uint8Array bytesArgument(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "expected a Uint8Array of image bytes");
  }
  return info[index].As<Napi::Uint8Array>();
}

int intArgument(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a number");
  return info[index].As<Napi::Number>().Int32Value();
}

struct Region {
  int left, top, width, height;
};

Region regionArguments(const Napi::CallbackInfo& info, size_t first, int width, int height) {
  const Region region{intArgument(info, first), intArgument(info, first + 1), intArgument(info, first + 2), intArgument(info, first + 3)};
  if (region.left < 0 || region.top < 0 || region.width < 1 || region.height < 1 || region.left + region.width > width ||
      region.top + region.height > height) {
    throw Napi::RangeError::New(info.Env(), "crop " + std::to_string(region.width) + "x" + std::to_string(region.height) + " at (" +
                                                std::to_string(region.left) + ", " + std::to_string(region.top) +
                                                ") is not inside the " + std::to_string(width) + "x" + std::to_string(height) + " image");
  }
  return region;
}

void checkOutputSize(const Napi::CallbackInfo& info, int outWidth, int outHeight) {
  if (outWidth < 1 || outHeight < 1) throw Napi::RangeError::New(info.Env(), "the output size must be at least 1x1");
}

// ---- JPEG decoding of a region ------------------------------------------------------------------
#ifdef SCATTER_WITH_LIBJPEG

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void failDecode(j_common_ptr info) {
  auto* errors = reinterpret_cast<ErrorManager*>(info->err);
  info->err->format_message(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings that mean damaged or truncated data fail the decode (libjpeg would fill the rest with grey),
// as sharp's failOn 'error' and PIL's "image file is truncated" do; others (extra bytes before a
// marker, as in a few ImageNet files) pass.
void onMessage(j_common_ptr info, int level) {
  if (level >= 0) return;
  switch (info->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_ARITH_BAD_CODE:
      failDecode(info);
    default:
      return;
  }
}

const char* colorSpaceName(J_COLOR_SPACE space) {
  switch (space) {
    case JCS_GRAYSCALE: return "gray";
    case JCS_RGB: return "rgb";
    case JCS_YCbCr: return "ycbcr";
    case JCS_CMYK: return "cmyk";
    case JCS_YCCK: return "ycck";
    default: return "unknown";
  }
}

struct Header {
  int width = 0;
  int height = 0;
  const char* colorSpace = "unknown";
};

// The decoder's state lives in plain objects that longjmp may skip (no destructors between here and
// setjmp); the caller owns `pixels`, sized before the jump point can be reached.
class Decoder {
 public:
  Decoder(const uint8_t* bytes, size_t length) {
    info_.err = jpeg_std_error(&errors_.base);
    errors_.base.error_exit = failDecode;
    errors_.base.emit_message = onMessage;
    jpeg_create_decompress(&info_);
    jpeg_mem_src(&info_, bytes, static_cast<unsigned long>(length));
  }
  ~Decoder() { jpeg_destroy_decompress(&info_); }

  // Reads the header; false with error() set when the data is not a readable JPEG.
  bool header(Header& out) {
    if (setjmp(errors_.jump)) return false;
    jpeg_read_header(&info_, TRUE);
    out = {static_cast<int>(info_.image_width), static_cast<int>(info_.image_height), colorSpaceName(info_.jpeg_color_space)};
    return true;
  }

  // Decodes `region` (inside the image) as interleaved RGB into `pixels`, `stride` bytes a row; `offset` is
  // where the region's first pixel sits in each row (the decoder widens a column crop to whole blocks).
  bool decode(const Region& region, std::vector<uint8_t>& pixels, size_t& stride, size_t& offset) {
    if (setjmp(errors_.jump)) return false;
    info_.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info_);
    // The decoder treats a column crop's edges as the image's, where chroma upsampling reads no
    // neighbour: one iMCU of margin on each side keeps the region's own pixels those of a full decode.
    const int margin = info_.max_h_samp_factor * DCTSIZE;
    const int first = region.left > margin ? region.left - margin : 0;
    const int end = std::min(region.left + region.width + margin, static_cast<int>(info_.output_width));
    JDIMENSION left = static_cast<JDIMENSION>(first);
    JDIMENSION width = static_cast<JDIMENSION>(end - first);
    if (width < info_.output_width) jpeg_crop_scanline(&info_, &left, &width);
    stride = static_cast<size_t>(info_.output_width) * info_.output_components;
    offset = static_cast<size_t>(region.left - static_cast<int>(left)) * info_.output_components;
    pixels.resize(stride * region.height);
    if (region.top > 0) jpeg_skip_scanlines(&info_, static_cast<JDIMENSION>(region.top));
    for (int row = 0; row < region.height;) {
      JSAMPROW target = pixels.data() + row * stride;
      row += static_cast<int>(jpeg_read_scanlines(&info_, &target, 1));
    }
    // Rows below the region are never decoded.
    if (info_.output_scanline < info_.output_height) jpeg_abort_decompress(&info_);
    else jpeg_finish_decompress(&info_);
    return true;
  }

  std::string error() const { return errors_.message; }

 private:
  jpeg_decompress_struct info_{};
  ErrorManager errors_{};
};

// jpegHeader(bytes) -> { width, height, colorSpace }
Napi::Value jpegHeader(const Napi::CallbackInfo& info) {
  const Napi::Uint8Array bytes = bytesArgument(info, 0);
  Decoder decoder(bytes.Data(), bytes.ByteLength());
  Header header;
  if (!decoder.header(header)) throw Napi::Error::New(info.Env(), decoder.error());
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("width", header.width);
  out.Set("height", header.height);
  out.Set("colorSpace", header.colorSpace);
  return out;
}

// decodeJpegRegion(bytes, left, top, width, height, outWidth, outHeight) -> Uint8Array (3 x outHeight x outWidth)
Napi::Value decodeJpegRegion(const Napi::CallbackInfo& info) {
  const Napi::Uint8Array bytes = bytesArgument(info, 0);
  Decoder decoder(bytes.Data(), bytes.ByteLength());
  Header header;
  if (!decoder.header(header)) throw Napi::Error::New(info.Env(), decoder.error());
  const Region region = regionArguments(info, 1, header.width, header.height);
  std::vector<uint8_t> pixels;
  size_t stride = 0;
  size_t offset = 0;
  if (!decoder.decode(region, pixels, stride, offset)) throw Napi::Error::New(info.Env(), decoder.error());
  const Pixels view{pixels.data() + offset, region.width, region.height, 3, stride};
  const int outWidth = intArgument(info, 5);
  const int outHeight = intArgument(info, 6);
  checkOutputSize(info, outWidth, outHeight);
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), static_cast<size_t>(3) * outWidth * outHeight);
  resizeToChannelMajor(view, outWidth, outHeight, out.Data());
  return out;
}
#endif  // SCATTER_WITH_LIBJPEG

// resizeRegion(pixels, width, height, channels, left, top, cropWidth, cropHeight, outWidth, outHeight)
//   -> Uint8Array (channels x outHeight x outWidth): Pillow's crop + resize of channel-major pixels, plane by
//   plane (Pillow's arithmetic is per channel, so planes give what interleaved pixels give).
Napi::Value resizeRegion(const Napi::CallbackInfo& info) {
  const Napi::Uint8Array pixels = bytesArgument(info, 0);
  const int width = intArgument(info, 1);
  const int height = intArgument(info, 2);
  const int channels = intArgument(info, 3);
  const size_t plane = static_cast<size_t>(width) * height;
  if (width < 1 || height < 1 || channels < 1 || pixels.ByteLength() != plane * channels) {
    throw Napi::RangeError::New(info.Env(), "the pixel buffer does not hold " + std::to_string(channels) + "x" + std::to_string(height) +
                                                "x" + std::to_string(width) + " bytes");
  }
  const Region region = regionArguments(info, 4, width, height);
  const int outWidth = intArgument(info, 8);
  const int outHeight = intArgument(info, 9);
  checkOutputSize(info, outWidth, outHeight);
  const size_t outPlane = static_cast<size_t>(outWidth) * outHeight;
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), outPlane * channels);
  for (int c = 0; c < channels; c++) {
    const Pixels view{pixels.Data() + c * plane + static_cast<size_t>(region.top) * width + region.left, region.width, region.height, 1,
                      static_cast<size_t>(width)};
    resizeToChannelMajor(view, outWidth, outHeight, out.Data() + c * outPlane);
  }
  return out;
}

// normalizeInto(pixels, channels, scale, shift, out, offset): out[offset + i] = pixel * scale[c] + shift[c]
// in double precision rounded to float32 (what the TypeScript expression gave; no fused multiply-add,
// see binding.gyp), for channel-major pixels.
Napi::Value normalizeInto(const Napi::CallbackInfo& info) {
  const Napi::Uint8Array pixels = bytesArgument(info, 0);
  const int channels = intArgument(info, 1);
  const Napi::Float64Array scale = info[2].As<Napi::Float64Array>();
  const Napi::Float64Array shift = info[3].As<Napi::Float64Array>();
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "expected a Float32Array to write into");
  }
  Napi::Float32Array out = info[4].As<Napi::Float32Array>();
  const size_t offset = static_cast<size_t>(info[5].As<Napi::Number>().Int64Value());
  const size_t count = pixels.ByteLength();
  if (channels < 1 || count % channels != 0 || scale.ElementLength() != static_cast<size_t>(channels) ||
      shift.ElementLength() != static_cast<size_t>(channels) || offset + count > out.ElementLength()) {
    throw Napi::RangeError::New(info.Env(), "normalizeInto: the pixels, channel factors and output do not fit together");
  }
  const size_t plane = count / channels;
  const uint8_t* in = pixels.Data();
  float* target = out.Data() + offset;
  for (int c = 0; c < channels; c++) {
    const double a = scale[c];
    const double b = shift[c];
    for (size_t p = c * plane; p < (c + 1) * plane; p++) target[p] = static_cast<float>(in[p] * a + b);
  }
  return info.Env().Undefined();
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
#ifdef SCATTER_WITH_LIBJPEG
  exports.Set("jpegHeader", Napi::Function::New(env, jpegHeader, "jpegHeader"));
  exports.Set("decodeJpegRegion", Napi::Function::New(env, decodeJpegRegion, "decodeJpegRegion"));
#endif
  exports.Set("resizeRegion", Napi::Function::New(env, resizeRegion, "resizeRegion"));
  exports.Set("normalizeInto", Napi::Function::New(env, normalizeInto, "normalizeInto"));
  return exports;
}

}  // namespace

NODE_API_MODULE(scatter_image, init)
