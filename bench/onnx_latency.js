// Single-image latency of an exported model in ONNX Runtime (npm onnxruntime-node), in-process,
// for bench/serve_bench.sh:  node onnx_latency.js ORT_DIR MODEL RUNS THREADS
// Prints {"latency_ms_p50":..,"latency_ms_p99":..} over RUNS runs after 200 warm-up runs.
const path = require('path');
const [ortDir, model, runs, threads] = process.argv.slice(2);
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));
(async () => {
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: Number(threads), interOpNumThreads: 1});
  const x = new Float32Array(784).map((_, i) => (i % 255) / 255);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x, [1, 1, 28, 28])};
  for (let i = 0; i < 200; ++i) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < Number(runs); ++i) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({latency_ms_p50: ms[Math.floor(ms.length / 2)], latency_ms_p99: ms[Math.floor(ms.length * 0.99)]}));
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
