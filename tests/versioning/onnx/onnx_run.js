// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node) for the ONNX export test:
//   node onnx_run.js ORT_DIR MODEL INPUT.f32|INPUT.i64 OUTPUT.f32 N D1 D2 ...
// reads the input as little-endian float32 (or int64 token ids, by the .i64 extension) of shape
// [N, D1, ...], writes the first output's float32 data, and prints its dims.
const path = require('path');
const fs = require('fs');
const [ortDir, model, input, output, ...dims] = process.argv.slice(2);
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));
(async () => {
  const buf = fs.readFileSync(input);
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  const ids = input.endsWith('.i64');
  const data = ids ? new BigInt64Array(bytes) : new Float32Array(bytes);
  const session = await ort.InferenceSession.create(model);
  const feeds = {[session.inputNames[0]]: new ort.Tensor(ids ? 'int64' : 'float32', data, dims.map(Number))};
  const y = (await session.run(feeds))[session.outputNames[0]];
  fs.writeFileSync(output, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  process.stdout.write(JSON.stringify(y.dims));
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
