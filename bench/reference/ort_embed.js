// bench/reference/ort_embed.js — reference embeddings with ONNX Runtime.
//
// Runs an ONNX model (default: shared/models/mobilenet_v2_embed.onnx, output
// "embedding") over the NCHW float32 tensors written by pil_preprocess.py and
// writes the raw (not normalised) outputs:
//   OUT/embeddings_NxD.f32   float32 little-endian, one row per image
//   OUT/embeddings.json      model, output name, N, D, timing
// usage:
//   node bench/reference/ort_embed.js CACHE_DIR [MODEL.onnx] [OUTPUT_NAME] [BATCH]
// CACHE_DIR is pil_preprocess.py's OUT (meta.json says the tensor shape).
// onnxruntime-node is loaded from $ORT_NODE or /tmp/ortnode/node_modules/
// onnxruntime-node (install: mkdir -p /tmp/ortnode && cd /tmp/ortnode &&
// npm install --ignore-scripts onnxruntime-node).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(process.env.ORT_NODE || '/tmp/ortnode/node_modules/onnxruntime-node');

(async () => {
  const [dir, modelArg, outArg, batchArg] = process.argv.slice(2);
  if (!dir) { console.error('usage: node ort_embed.js CACHE_DIR [MODEL] [OUTPUT] [BATCH]'); process.exit(2); }
  const here = path.dirname(process.argv[1]);
  const model = modelArg || path.resolve(here, '../../../shared/models/mobilenet_v2_embed.onnx');
  const outName = outArg || 'embedding';
  const batch = Number(batchArg || 16);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
  const [n, c, h, w] = meta.shape;
  const per = c * h * w;
  const sess = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  const fd = fs.openSync(path.join(dir, meta.tensor_file), 'r');
  let out = null, dim = 0;
  const t0 = Date.now();
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const buf = Buffer.alloc(b * per * 4);
    const got = fs.readSync(fd, buf, 0, buf.length, i * per * 4);
    if (got !== buf.length) throw new Error(`short read at image ${i}`);
    const x = new Float32Array(buf.buffer, buf.byteOffset, b * per);
    const res = await sess.run({ [sess.inputNames[0]]: new ort.Tensor('float32', x, [b, c, h, w]) });
    const y = res[outName];
    if (!y) throw new Error(`model has no output ${outName} (has ${sess.outputNames})`);
    if (!out) { dim = y.data.length / b; out = new Float32Array(n * dim); }
    out.set(y.data, i * dim);
  }
  fs.closeSync(fd);
  const ms = Date.now() - t0;
  const file = `embeddings_${n}x${dim}.f32`;
  fs.writeFileSync(path.join(dir, file), Buffer.from(out.buffer));
  fs.writeFileSync(path.join(dir, 'embeddings.json'), JSON.stringify({
    model: path.resolve(model), output: outName, n, dim, file, onnxruntime: require(
      (process.env.ORT_NODE || '/tmp/ortnode/node_modules/onnxruntime-node') + '/package.json').version,
    ms_total: ms, ms_per_image: ms / n }, null, 1));
  console.log(`wrote ${n}x${dim} embeddings to ${path.join(dir, file)} (${(ms / n).toFixed(1)} ms/image)`);
})().catch(e => { console.error(e); process.exit(1); });
