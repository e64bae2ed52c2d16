// Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/) with Strata's own
// encoders, so the seeds are valid inputs of today's formats that the fuzzer then mutates.
//   make_corpus OUT_DIR
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "strata/framework/summary/event_writer.h"
#include "strata/models/models.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/commit_record.h"
#include "strata/versioning/signing.h"
#include "strata/versioning/tensor_files.h"
#include "strata/versioning/transfer/internal/transfer_endpoint.h"
#include "strata/versioning/version_log.h"
#include "tests/fuzz/fuzz_util.h"

namespace fs = std::filesystem;
using namespace strata;
using namespace strata::versioning;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream(g_out / target / name, std::ios::binary) << bytes;
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A transfer protocol frame: u64 little-endian length, then the message.
std::string frame(const std::string& message) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((static_cast<uint64_t>(message.size()) >> (8 * i)) & 0xff);
  return out + message;
}

std::string le64(uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  g_out = argv[1];

  // IDX: u8 images [3,2,2] and labels [3].
  put("idx", "images",
      be32(0x00000803) + be32(3) + be32(2) + be32(2) + std::string("\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0", 12));
  put("idx", "labels", be32(0x00000801) + be32(3) + std::string("\x01\x02\x09", 3));
  // CIFAR-10: two records (label, 3072 pixels).
  std::string cifar;
  for (int r = 0; r < 2; ++r) {
    cifar += static_cast<char>(r * 7);
    for (int i = 0; i < 3072; ++i) cifar += static_cast<char>(i * 13 + r);
  }
  put("cifar", "two_records", cifar);
  // CSV: mode byte (bit 0 classification, bit 1 ';'), then the table.
  put("csv", "regression", std::string("\x00") + "x1,x2,y\n1.5,2,3.25\n-1,0.5,1e3\n");
  put("csv", "classes", std::string("\x01") + "a;b;species\n1;2;setosa\n3;4;virginica\n");
  put("csv", "semicolon", std::string("\x03") + "a;b;label\n1;2;0\n3;4;1\n");

  // Chunks: every codec, keyframe and delta against the base the fuzzer decodes with.
  const size_t n = 4096;
  std::vector<float> values(n / 4), moved(n / 4);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(i % 97) - 0.3f;
  std::vector<uint8_t> base(n);
  strata::fuzz::fill_base(base.data(), base.size());
  std::memcpy(moved.data(), base.data(), n);
  for (size_t i = 0; i < moved.size(); i += 3) moved[i] += 1e-3f;
  for (ChunkCodec codec : kAllCodecs) {
    auto options = CodecOptions().codec(codec);
    std::string_view raw(reinterpret_cast<const char*>(values.data()), n);
    put("chunk", std::string(codec_name(codec)) + "_keyframe", encode_chunk(raw, DType::kF32, nullptr, options));
    ChunkBase b{base.data(), ChunkId{}, 0};
    std::string_view delta(reinterpret_cast<const char*>(moved.data()), n);
    put("chunk", std::string(codec_name(codec)) + "_delta", encode_chunk(delta, DType::kF32, &b, options));
  }

  // Commit records, manifests and stats of the checked-in 0.2.0 log.
  auto log = VersionLog::open(STRATA_FIXTURE_LOG, OpenMode::kReadOnly);
  int k = 0;
  for (const char* name : {"main@1", "main@2"}) {
    CommitId id = log->resolve(name);
    CommitRecord record = log->read_record(id);
    put("commit_record", "record" + std::to_string(++k), record.encode());
    put("commit_record", "manifest" + std::to_string(k), encode_manifest(record.params));
    if (auto stats = log->read_stats(id)) put("commit_record", "stats" + std::to_string(k), stats->encode());
  }

  // GraphSpecs of the model zoo.
  put("graph_spec", "mlp", models::by_name("mlp", {1, 28, 28}, 10).to_bytes());
  put("graph_spec", "cnn", models::by_name("cnn", {1, 28, 28}, 10, 0.25).to_bytes());
  put("graph_spec", "resnet", models::by_name("resnet", {3, 32, 32}, 10).to_bytes());
  // Format 2: token ids, multi-output nodes.
  put("graph_spec", "lstm_classifier",
      models::recurrent_classifier(16, 60, 8, models::TextModelOptions().layers(2).bidirectional(true)).to_bytes());
  put("graph_spec", "transformer_lm", models::transformer_language_model(32, 100, models::TextModelOptions()).to_bytes());

  // An event file with a scalar, a histogram and text.
  {
    std::string dir = strata::fuzz::scratch_dir() + "/events";
    std::string path;
    std::vector<float> h = {0.1f, 0.2f, 0.2f, 0.9f};
    {
      summary::EventWriter writer(dir);
      writer.add_scalar("train/loss", 1, 0.5);
      writer.add_scalar("val/accuracy", 1, 0.875);
      writer.add_histogram("fc1/weight", 1, h.data(), h.size());
      writer.add_text("notes", 1, "# a *note*");
      path = writer.path();
    }
    put("event_file", "scalars_text", file_bytes(path));
  }

  // Tensor files: npz (stored), safetensors, npy.
  NamedTensors tensors = {{"fc1/weight", Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6})},
                          {"fc1/bias", Tensor::from_vector({2}, {-1, 1})}};
  std::string dir = strata::fuzz::scratch_dir();
  write_npz(dir + "/t.npz", tensors);
  put("tensor_files", "two.npz", file_bytes(dir + "/t.npz"));
  write_safetensors(dir + "/t.safetensors", tensors);
  put("tensor_files", "two.safetensors", file_bytes(dir + "/t.safetensors"));

  // Transfer requests as `strata upload-pack` / `receive-pack` read them: advertise, objects of main@1, the pack of
  // main@1 read back, and that pack applied with a ref update.
  {
    const CommitId id = log->resolve("main@1");
    auto endpoint = open_log_endpoint(STRATA_FIXTURE_LOG, false);
    const ObjectList objects = endpoint->objects_of({id});
    const Pack pack = endpoint->read_pack({id}, objects.chunks, objects.graphs);
    const std::string ids = le64(1) + std::string(as_bytes(id));
    std::string chunk_ids = le64(objects.chunks.size()), graph_ids = le64(objects.graphs.size());
    for (const ChunkId& c : objects.chunks) chunk_ids += std::string(as_bytes(c));
    for (const std::string& g : objects.graphs) graph_ids += le64(g.size()) + g;
    put("transfer", "advertise", frame("\x01"));
    put("transfer", "objects_of", frame("\x01") + frame("\x02" + ids));
    put("transfer", "read_pack", frame(std::string("\x04") + ids + chunk_ids + graph_ids));
    const std::string update = le64(1) + std::string("\x00", 1) + le64(4) + "copy" + std::string("\x00", 1) +
                               std::string(as_bytes(id)) + std::string("\x00", 1);
    put("transfer", "apply", frame("\x05" + encode_pack(pack) + update));
    put("transfer", "pack", encode_pack(pack));
  }

  // Version names.
  for (const char* name : {"main", "main@1", "main@2", "main~1", "main^", "tags/v1", "heads/main", "4f0914944f6f",
                           "4f0914944f6f83aa9dcc3a798327ed02", "exp/a-b_c.1", "main@{1}", ".."})
    put("version_name", std::to_string(std::hash<std::string>{}(name)), name);

  // Inference requests (Open Inference Protocol JSON), flat and nested, for the fuzzer's three
  // signatures (tests/fuzz/fuzz_infer_request.cc).
  std::string image = "[[[";
  for (int r = 0; r < 28; ++r)
    image += std::string(r ? ",[" : "[") + "0.5,0,1,0.25,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0.75]";
  image += "]]]";
  put("infer_request", "flat_tabular.json",
      R"({"id":"a","inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2.5,-3e2]}]})");
  put("infer_request", "nested_tabular.json",
      R"({"inputs":[{"name":"input","shape":[2,3],"datatype":"FP32","data":[[1,2,3],[4,5,6]]}],"outputs":[{"name":"fc2"}]})");
  put("infer_request", "tokens.json",
      R"({"inputs":[{"name":"tokens","shape":[1,8],"datatype":"INT64","data":[1,2,3,4,5,6,7,9223372036854775807]}]})");
  put("infer_request", "wrong_type.json", R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"INT32","data":[1,2,3]}]})");
  put("infer_request", "image_nested.json",
      R"({"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":)" + image + "}]}");
  // Signatures of a version and a tag, a trusted key, a public key file (fuzz_signature.cc): a
  // fixed seed, so the seeds do not change from run to run.
  {
    const std::string key_file = g_out.string() + "/../signature-seed.key";
    std::ofstream(key_file) << "strata-ed25519-secret-key v1\n" << std::string(64, '5') << "\n";
    fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);
    const SigningKey key = SigningKey::load(key_file);
    fs::remove(key_file);
    CommitId id{};
    id[3] = 7;
    put("signature", "version", sign_version(key, id, 1700000000000).encode());
    put("signature", "tag", sign_tag(key, "production", id, 1700000000000).encode());
    TrustedKey t;
    t.name = "release";
    t.key = key.public_key();
    t.added_ms = 1700000000000;
    put("signature", "trusted_key", t.encode());
    t.revoked_ms = 1700000001000;
    put("signature", "revoked_key", t.encode());
    put("signature", "public_key", key.public_key().to_text());
  }
  return 0;
}
