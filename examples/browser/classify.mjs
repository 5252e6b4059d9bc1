// Classifies an image in the browser with a model that `scatter export --format onnx` wrote, using onnxruntime-web.
// The page's URL may name the files: ?model=model.onnx (default; its card model.onnx.json beside it), ?ort=./ort/
// (the folder of onnxruntime-web's dist files) and ?image=URL (classified at load, as well as any image chosen).
// The image goes through the card's input transforms (resize of the shorter side, center crop, grey, normalise)
// as scatter's loader applies them; the browser's resize filter is not libvips', so a resized image's scores
// differ slightly from `scatter predict`'s, and an image already at the model's size gives the same.
const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? 'model.onnx';
const ortBase = params.get('ort') ?? './ort/';
const status = document.getElementById('status');
const table = document.getElementById('result');

const ort = await import(`${ortBase}ort.wasm.min.mjs`);
ort.env.wasm.wasmPaths = ortBase;
ort.env.wasm.numThreads = 1;
const card = await (await fetch(`${modelUrl}.json`)).json();
const session = await ort.InferenceSession.create(await (await fetch(modelUrl)).arrayBuffer());
status.textContent = `Model ready: ${card.classNames.length} classes. Choose an image.`;

/** RGBA pixels of `bitmap` drawn at width x height (the bitmap's own size: its exact bytes). */
function pixels(bitmap, width, height, crop) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  context.imageSmoothingQuality = 'high';
  if (crop) context.drawImage(bitmap, crop.left, crop.top, crop.width, crop.height, 0, 0, width, height);
  else context.drawImage(bitmap, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

/** The card's transforms on a bitmap: float32 C x H x W. */
function prepare(bitmap) {
  let width = bitmap.width;
  let height = bitmap.height;
  let crop = null;
  let grey = false;
  let normalize = null;
  for (const transform of card.inputTransforms) {
    if (transform.kind === 'resize') {
      // The shorter side to size, the aspect ratio kept (torchvision's Resize(int)).
      const scale = transform.size / Math.min(width, height);
      [width, height] = width <= height ? [transform.size, Math.floor(height * scale)] : [Math.floor(width * scale), transform.size];
    } else if (transform.kind === 'centerCrop') {
      const size = transform.size;
      crop = { left: Math.round((width - size) / 2), top: Math.round((height - size) / 2), size };
    } else if (transform.kind === 'grayscale') {
      grey = true;
    } else if (transform.kind === 'normalize') {
      normalize = transform;
    } else {
      throw new Error(`this page does not apply the transform ${transform.kind}`);
    }
  }
  // Resize (when the size changes) then crop, as one draw.
  const resized = width === bitmap.width && height === bitmap.height ? null : { width, height };
  const out = crop?.size ?? null;
  const size = out === null ? { width, height } : { width: out, height: out };
  const sx = bitmap.width / width;
  const sy = bitmap.height / height;
  const source = crop === null ? null : { left: crop.left * sx, top: crop.top * sy, width: crop.size * sx, height: crop.size * sy };
  const rgba = resized === null && source === null ? pixels(bitmap, width, height, null) : pixels(bitmap, size.width, size.height, source);
  const channels = grey ? 1 : 3;
  const plane = size.width * size.height;
  const data = new Float32Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]];
    const values = grey ? [(r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16] : [r, g, b];
    values.forEach((value, c) => {
      data[c * plane + p] = normalize === null ? value / 255 : (value / 255 - normalize.mean[c]) / normalize.std[c];
    });
  }
  return new ort.Tensor('float32', data, [1, channels, size.height, size.width]);
}

async function classify(blob) {
  document.getElementById('preview').src = URL.createObjectURL(blob);
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const input = prepare(bitmap);
  const { scores } = await session.run({ images: input });
  const values = Array.from(scores.data);
  const top = Math.max(...values);
  const exp = values.map((value) => Math.exp(value - top));
  const sum = exp.reduce((a, b) => a + b, 0);
  const ranked = exp
    .map((value, label) => ({ label, name: card.classNames[label], probability: value / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, 5);
  table.innerHTML = ranked.map(({ name, probability }) => `<tr><td>${name}</td><td>${probability.toFixed(3)}</td></tr>`).join('');
  status.textContent = 'Done.';
  // For tests and the curious: the scores, the top 5 and the prepared input.
  window.scatterResult = { scores: values, top: ranked, input: Array.from(input.data), dims: input.dims };
  return window.scatterResult;
}

document.getElementById('file').addEventListener('change', (event) => {
  const [file] = event.target.files;
  if (file)
    classify(file).catch((error) => {
      status.textContent = error.message;
    });
});
const imageUrl = params.get('image');
if (imageUrl)
  classify(await (await fetch(imageUrl)).blob()).catch((error) => {
    status.textContent = error.message;
  });
