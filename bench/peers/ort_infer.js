// bench/peers/ort_infer.js — ONNX Runtime (onnxruntime-node) throughput peer for
// bench/infer.sh: a yardstick for pixseek's nn module, never a dependency.
//
//   ORT_NODE=/tmp/.../node_modules/onnxruntime-node \
//   node bench/peers/ort_infer.js MODEL.onnx THREADS BATCH [SECONDS]
//
// Session: intraOpNumThreads = THREADS, interOpNumThreads = 1, sequential
// execution, all graph optimisations. Warms up twice, then times rounds of
// ~0.25 s for about SECONDS and reports the best round, like infer_bench.c:
//   RESULT onnxruntime threads=T batch=B img_s=X ms_per_batch=Y rss_mb=Z cpu_ms_img=C runs=R
// (cpu_ms_img: process CPU time per image over the timed runs, as in
// infer_bench.c; ORT's pool spins while waiting, which counts here.)
'use strict';
const ort = require(process.env.ORT_NODE || 'onnxruntime-node');

async function main() {
  const [model, thr, bat, secs] = process.argv.slice(2);
  if (!model || !thr || !bat) {
    console.error('usage: node ort_infer.js MODEL.onnx THREADS BATCH [SECONDS]');
    process.exit(2);
  }
  const threads = Number(thr), batch = Number(bat), budget = Number(secs || 2);
  const t0 = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  let dims = [3, 224, 224];
  try {
    const md = sess.inputMetadata && sess.inputMetadata[0];
    if (md && md.shape && md.shape.length === 4 && md.shape.slice(1).every((d) => typeof d === 'number'))
      dims = md.shape.slice(1);
  } catch (e) { /* older onnxruntime-node: keep 3x224x224 */ }
  const n = batch * dims[0] * dims[1] * dims[2];
  const x = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s >>> 8) / (1 << 24) * 4 - 2;
  }
  const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', x, [batch, ...dims]) };
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  let tw = now();
  for (let i = 0; i < 2; i++) await sess.run(feeds);
  const one = (now() - tw) / 2;
  const perRound = Math.max(1, Math.floor(0.25 / Math.max(one, 1e-9)));
  let best = Infinity, runs = 0;
  const tEnd = now() + budget, c0 = process.cpuUsage();
  do {
    const r0 = now();
    for (let i = 0; i < perRound; i++) await sess.run(feeds);
    best = Math.min(best, (now() - r0) / perRound);
    runs += perRound;
  } while (now() < tEnd);
  const cu = process.cpuUsage(c0);
  const cpuMsImg = (cu.user + cu.system) / 1e3 / (runs * batch);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`# onnxruntime: load ${loadS.toFixed(3)} s, input ${sess.inputNames[0]} [${batch},${dims}]`);
  console.log(`RESULT onnxruntime threads=${threads} batch=${batch} img_s=${(batch / best).toFixed(1)} ` +
              `ms_per_batch=${(best * 1e3).toFixed(3)} rss_mb=${rssMb.toFixed(1)} cpu_ms_img=${cpuMsImg.toFixed(3)} runs=${runs}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
