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
// here equals torchvision's PIL RandomResizedCrop / Resize on the same decoded pixels, byte for byte. Its
// passes run as vector loops (SSE2, AVX2 where the processor has it) along the columns and rows of planes;
// the sums are Pillow's integer sums, in another order, so the bytes do not change.
// Built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a loader worker stopped during a call must not abort
// the process when its result can no longer be made (measured: SIGABRT in a test closing a loader).
#include <napi.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#ifdef __SSE2__
#include <immintrin.h>
// AVX2 kernels beside the baseline x86-64 (SSE2) ones, chosen at run time: the addon is built for the
// baseline, not -march=native.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SCATTER_AVX2 1
#endif
#endif

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
  // The taps as the vector loops multiply them: k = hi * 128 + lo packed as lo | hi << 16 (hi in 16 bits,
  // 0 <= lo <= 128, a tap of 1.0 being 32767 * 128 + 128), so that pmaddwd of the pair (p, p << 7) gives
  // p * k exactly: p << 7 fits 16 bits, and each product and the pair's sum fit 32.
  std::vector<int32_t> packed;
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
  c.packed.resize(c.taps.size());
  for (size_t i = 0; i < c.taps.size(); i++) {
    const int32_t hi = std::min(c.taps[i] >> 7, 32767);
    const int32_t lo = c.taps[i] - hi * 128;
    c.packed[i] = static_cast<int32_t>(static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16);
  }
  return c;
}

uint8_t clip8(int32_t value) {
  const int32_t shifted = value >> kPrecisionBits;
  return static_cast<uint8_t>(shifted < 0 ? 0 : shifted > 255 ? 255 : shifted);
}

// One of Pillow's passes along lines of `length` bytes: output line o (at out + o * outStride) is the input lines
// bounds[2o], ... (at in + i * inStride) weighted by o's taps and rounded to 8 bits. The vertical pass runs
// it on rows, the horizontal one on columns (transposed rows), so that both vectorise along the line.
struct Lines {
  const uint8_t* in;
  size_t inStride;
  int length;
  uint8_t* out;
  size_t outStride;
};

// The kernels take `lines` by value and the coefficients as pointers: byte stores may alias anything, and
// the compiler would reload them after each one. This one in plain C++ (lines shorter than a vector, and
// processors without SSE2) runs along the line innermost, which compilers vectorise where they can.
void resampleLinesScalar(const Lines lines, const int* bounds, const int32_t* taps, int size, int outLines) {
  std::vector<int32_t> sums(lines.length);
  for (int o = 0; o < outLines; o++) {
    const uint8_t* first = lines.in + bounds[2 * o] * lines.inStride;
    const int count = bounds[2 * o + 1];
    const int32_t* k = taps + static_cast<size_t>(o) * size;
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    for (int t = 0; t < count; t++) {
      const uint8_t* line = first + t * lines.inStride;
      const int32_t weight = k[t];
      for (int v = 0; v < lines.length; v++) sums[v] += line[v] * weight;
    }
    uint8_t* target = lines.out + o * lines.outStride;
    for (int v = 0; v < lines.length; v++) target[v] = clip8(sums[v]);
  }
}

#ifdef __SSE2__
// 16 values of a line per step (length >= 16); a line's last step overlaps the one before (writing the same
// bytes again) rather than leaving a scalar tail.
void resampleLinesSse2(const Lines lines, const int* bounds, const int32_t* packed, int size, int outLines) {
  const __m128i zero = _mm_setzero_si128();
  for (int o = 0; o < outLines; o++) {
    const uint8_t* first = lines.in + bounds[2 * o] * lines.inStride;
    const int count = bounds[2 * o + 1];
    const int32_t* k = packed + static_cast<size_t>(o) * size;
    for (int v = 0; v < lines.length; v += 16) {
      if (v > lines.length - 16) v = lines.length - 16;
      __m128i sums[4];
      for (__m128i& sum : sums) sum = _mm_set1_epi32(1 << (kPrecisionBits - 1));
      for (int t = 0; t < count; t++) {
        const __m128i weight = _mm_set1_epi32(k[t]);
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(first + t * lines.inStride + v));
        const __m128i low = _mm_unpacklo_epi8(bytes, zero);
        const __m128i high = _mm_unpackhi_epi8(bytes, zero);
        const __m128i lowShifted = _mm_slli_epi16(low, 7);
        const __m128i highShifted = _mm_slli_epi16(high, 7);
        sums[0] = _mm_add_epi32(sums[0], _mm_madd_epi16(_mm_unpacklo_epi16(low, lowShifted), weight));
        sums[1] = _mm_add_epi32(sums[1], _mm_madd_epi16(_mm_unpackhi_epi16(low, lowShifted), weight));
        sums[2] = _mm_add_epi32(sums[2], _mm_madd_epi16(_mm_unpacklo_epi16(high, highShifted), weight));
        sums[3] = _mm_add_epi32(sums[3], _mm_madd_epi16(_mm_unpackhi_epi16(high, highShifted), weight));
      }
      for (__m128i& sum : sums) sum = _mm_srai_epi32(sum, kPrecisionBits);
      // Saturating packs clamp to [0, 255] as clip8 does, and undo the unpacks' order.
      const __m128i bytesOut = _mm_packus_epi16(_mm_packs_epi32(sums[0], sums[1]), _mm_packs_epi32(sums[2], sums[3]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(lines.out + o * lines.outStride + v), bytesOut);
    }
  }
}
#endif

#ifdef SCATTER_AVX2
// The SSE2 kernel on 32 values a step (length >= 32): AVX2's unpacks and packs work within each 128-bit half,
// so the halves are two SSE2 steps side by side.
__attribute__((target("avx2"))) void resampleLinesAvx2(const Lines lines, const int* bounds, const int32_t* packed, int size,
                                                       int outLines) {
  const __m256i zero = _mm256_setzero_si256();
  for (int o = 0; o < outLines; o++) {
    const uint8_t* first = lines.in + bounds[2 * o] * lines.inStride;
    const int count = bounds[2 * o + 1];
    const int32_t* k = packed + static_cast<size_t>(o) * size;
    for (int v = 0; v < lines.length; v += 32) {
      if (v > lines.length - 32) v = lines.length - 32;
      __m256i sums[4];
      for (__m256i& sum : sums) sum = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
      for (int t = 0; t < count; t++) {
        const __m256i weight = _mm256_set1_epi32(k[t]);
        const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(first + t * lines.inStride + v));
        const __m256i low = _mm256_unpacklo_epi8(bytes, zero);
        const __m256i high = _mm256_unpackhi_epi8(bytes, zero);
        const __m256i lowShifted = _mm256_slli_epi16(low, 7);
        const __m256i highShifted = _mm256_slli_epi16(high, 7);
        sums[0] = _mm256_add_epi32(sums[0], _mm256_madd_epi16(_mm256_unpacklo_epi16(low, lowShifted), weight));
        sums[1] = _mm256_add_epi32(sums[1], _mm256_madd_epi16(_mm256_unpackhi_epi16(low, lowShifted), weight));
        sums[2] = _mm256_add_epi32(sums[2], _mm256_madd_epi16(_mm256_unpacklo_epi16(high, highShifted), weight));
        sums[3] = _mm256_add_epi32(sums[3], _mm256_madd_epi16(_mm256_unpackhi_epi16(high, highShifted), weight));
      }
      for (__m256i& sum : sums) sum = _mm256_srai_epi32(sum, kPrecisionBits);
      const __m256i bytesOut = _mm256_packus_epi16(_mm256_packs_epi32(sums[0], sums[1]), _mm256_packs_epi32(sums[2], sums[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lines.out + o * lines.outStride + v), bytesOut);
    }
  }
}

bool detectAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

const bool hasAvx2 = detectAvx2();
#endif

void resampleLines(const Lines& lines, const Coefficients& c, int outLines) {
#ifdef __SSE2__
#ifdef SCATTER_AVX2
  if (hasAvx2 && lines.length >= 32) return resampleLinesAvx2(lines, c.bounds.data(), c.packed.data(), c.size, outLines);
#endif
  if (lines.length >= 16) return resampleLinesSse2(lines, c.bounds.data(), c.packed.data(), c.size, outLines);
#endif
  resampleLinesScalar(lines, c.bounds.data(), c.taps.data(), c.size, outLines);
}

#ifdef __SSE2__
// The 16 x 16 bytes at (i, j) of src transposed to (j, i) of dst in SSE2 registers: interleaving bytes, then
// pairs, quads and eights of rows leaves column j + r in the r-th store.
void transposeBlock(const uint8_t* src, size_t srcStride, int i, int j, uint8_t* dst, size_t dstStride) {
  __m128i a[16];
  __m128i b[16];
  for (int r = 0; r < 16; r++) a[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + (i + r) * srcStride + j));
  for (int r = 0; r < 16; r += 2) {
    b[r] = _mm_unpacklo_epi8(a[r], a[r + 1]);
    b[r + 1] = _mm_unpackhi_epi8(a[r], a[r + 1]);
  }
  for (int r = 0; r < 16; r += 4) {
    a[r] = _mm_unpacklo_epi16(b[r], b[r + 2]);
    a[r + 1] = _mm_unpackhi_epi16(b[r], b[r + 2]);
    a[r + 2] = _mm_unpacklo_epi16(b[r + 1], b[r + 3]);
    a[r + 3] = _mm_unpackhi_epi16(b[r + 1], b[r + 3]);
  }
  for (int r = 0; r < 4; r++) {
    b[2 * r] = _mm_unpacklo_epi32(a[r], a[r + 4]);
    b[2 * r + 1] = _mm_unpackhi_epi32(a[r], a[r + 4]);
    b[2 * r + 8] = _mm_unpacklo_epi32(a[r + 8], a[r + 12]);
    b[2 * r + 9] = _mm_unpackhi_epi32(a[r + 8], a[r + 12]);
  }
  for (int r = 0; r < 8; r++) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (j + 2 * r) * dstStride + i), _mm_unpacklo_epi64(b[r], b[r + 8]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (j + 2 * r + 1) * dstStride + i), _mm_unpackhi_epi64(b[r], b[r + 8]));
  }
}
#endif

// dst[j * dstStride + i] = src[i * srcStride + j] for i < rows, j < columns, in blocks of 16 x 16 (a cache line's
// worth of both). With SSE2 and both sides at least 16, the last block of a row or column overlaps the one
// before (writing the same bytes again) rather than leaving a part block to do byte by byte.
void transposeBytes(const uint8_t* src, size_t srcStride, int rows, int columns, uint8_t* dst, size_t dstStride) {
  for (int i0 = 0; i0 < rows; i0 += 16) {
    for (int j0 = 0; j0 < columns; j0 += 16) {
#ifdef __SSE2__
      if (rows >= 16 && columns >= 16) {
        transposeBlock(src, srcStride, std::min(i0, rows - 16), std::min(j0, columns - 16), dst, dstStride);
        continue;
      }
#endif
      for (int i = i0; i < std::min(i0 + 16, rows); i++) {
        for (int j = j0; j < std::min(j0 + 16, columns); j++) dst[j * dstStride + i] = src[i * srcStride + j];
      }
    }
  }
}

// 8-bit pixels: `height` rows of `width` pixels, `stride` bytes apart; the channels interleaved (planeStride 0)
// or one plane per channel, planeStride bytes apart.
struct Pixels {
  const uint8_t* data;
  int width;
  int height;
  int channels;
  size_t stride;
  size_t planeStride;
};

// Pillow's Image.resize(size, BILINEAR) of `in`, written channel-major (CHW) into `out`. The horizontal pass
// runs on the region's columns: its rows transposed (interleaved channels stay adjacent, column x * channels + c),
// resampled along y, and transposed back into one plane per channel, which the vertical pass resamples along
// x into `out`.
void resizeToChannelMajor(const Pixels& in, int outWidth, int outHeight, uint8_t* out) {
  const int channels = in.channels;
  const bool interleaved = in.planeStride == 0;
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
  const uint8_t* region = in.data + firstRow * in.stride;
  const size_t outPlane = static_cast<size_t>(outWidth) * outHeight;
  // The planes the vertical pass reads, rows x outWidth each (`out` itself without a vertical pass), then the
  // horizontal pass's columns and one channel of its output.
  size_t planeSize = static_cast<size_t>(rows) * outWidth;
  const size_t columnsSize = horizontal ? static_cast<size_t>(in.width) * channels * rows : 0;
  // Uninitialised (every byte read is written first).
  std::unique_ptr<uint8_t[]> scratch(new uint8_t[(vertical ? planeSize * channels : 0) + (horizontal ? columnsSize + planeSize : 0)]);
  uint8_t* planes = vertical ? scratch.get() : out;
  uint8_t* columns = scratch.get() + (vertical ? planeSize * channels : 0);
  const uint8_t* planesIn = planes;
  size_t planesInStride = outWidth;
  if (horizontal) {
    // Channel c's source column x at columns + c * channelOffset + x * columnStride.
    size_t channelOffset = rows;
    size_t columnStride = static_cast<size_t>(channels) * rows;
    if (interleaved) {
      transposeBytes(region, in.stride, rows, in.width * channels, columns, rows);
    } else {
      channelOffset = static_cast<size_t>(in.width) * rows;
      columnStride = rows;
      for (int c = 0; c < channels; c++) {
        transposeBytes(region + c * in.planeStride, in.stride, rows, in.width, columns + c * channelOffset, rows);
      }
    }
    const Coefficients ch = coefficients(in.width, outWidth);
    uint8_t* resampled = columns + columnsSize;
    for (int c = 0; c < channels; c++) {
      resampleLines({columns + c * channelOffset, columnStride, rows, resampled, static_cast<size_t>(rows)}, ch, outWidth);
      transposeBytes(resampled, rows, outWidth, rows, planes + c * planeSize, outWidth);
    }
  } else if (!interleaved && vertical) {
    // Planes already.
    planesIn = region;
    planeSize = in.planeStride;
    planesInStride = in.stride;
  } else {
    // No horizontal pass: the region's rows copied into planes.
    const int step = interleaved ? channels : 1;
    for (int c = 0; c < channels; c++) {
      for (int y = 0; y < rows; y++) {
        const uint8_t* row = region + y * in.stride + (interleaved ? c : c * in.planeStride);
        uint8_t* target = planes + c * planeSize + static_cast<size_t>(y) * outWidth;
        for (int x = 0; x < in.width; x++) target[x] = row[x * step];
      }
    }
  }
  if (vertical) {
    for (int c = 0; c < channels; c++) {
      resampleLines({planesIn + c * planeSize, planesInStride, outWidth, out + c * outPlane, static_cast<size_t>(outWidth)}, cv, outHeight);
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
  const Pixels view{pixels.data() + offset, region.width, region.height, 3, stride, 0};
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
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), static_cast<size_t>(outWidth) * outHeight * channels);
  const Pixels view{pixels.Data() + static_cast<size_t>(region.top) * width + region.left, region.width, region.height, channels,
                    static_cast<size_t>(width), plane};
  resizeToChannelMajor(view, outWidth, outHeight, out.Data());
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
    // A channel's 256 values computed once, each as the loop over pixels would.
    float values[256];
    for (int v = 0; v < 256; v++) values[v] = static_cast<float>(v * a + b);
    for (size_t p = c * plane; p < (c + 1) * plane; p++) target[p] = values[in[p]];
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
