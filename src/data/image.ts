// The one image type of the data layer: what decoding makes and transforms and batches take.

/** An 8-bit image, channel-major (CHW): data[c * height * width + y * width + x]. */
export interface Image {
  readonly data: Uint8Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}
