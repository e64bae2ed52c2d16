// Tests of framework/summary: TFRecord framing and CRCs against the vectors of
// docs/wire-formats.md, exact bytes, round trips through EventReader, corruption, histograms,
// GraphDef and the TensorBoard callback driven by hand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/summary/event_reader.h"
#include "strata/framework/summary/event_writer.h"
#include "strata/framework/summary/histogram.h"
#include "strata/framework/summary/internal/crc32c.h"
#include "strata/framework/summary/internal/graph_def.h"
#include "strata/framework/summary/internal/record_io.h"
#include "strata/framework/summary/tensorboard_callback.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"

namespace strata::summary {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string bytes_of(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

uint32_t masked_length_crc(uint64_t n) {
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(n >> (8 * i));
  return masked_crc32c(le, 8);
}

// A protobuf wire-format decoder independent of the generated code, to check field numbers.
struct Field {
  uint32_t number = 0;
  int wire = 0;
  uint64_t bits = 0;  // varint, fixed64 or fixed32
  std::string bytes;  // length-delimited
};

std::vector<Field> decode(const std::string& s) {
  std::vector<Field> out;
  size_t i = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(s.at(i++));
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < s.size()) {
    Field f;
    const uint64_t key = varint();
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.bits = varint();
    } else if (f.wire == 1 || f.wire == 5) {
      const int n = f.wire == 1 ? 8 : 4;
      for (int k = 0; k < n; ++k) f.bits |= static_cast<uint64_t>(static_cast<uint8_t>(s.at(i + k))) << (8 * k);
      i += n;
    } else if (f.wire == 2) {
      const uint64_t n = varint();
      f.bytes = s.substr(i, n);
      i += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      break;
    }
    out.push_back(f);
  }
  return out;
}

GraphSpec mlp_graph() {
  GraphSpec g;
  g.input_shape = {1, 28, 28};
  NodeSpec flatten{"flatten", "Flatten", {"input"}, {}, {}, {}, {784}, {}};
  NodeSpec fc1{"fc1", "Linear", {"flatten"}, {{"out_features", {128}}}, {}, {}, {128}, {}};
  fc1.params = {{"fc1/weight", {128, 784}, "kaiming_uniform", true, 784, 128}, {"fc1/bias", {128}, "zeros", true, 784, 128}};
  NodeSpec relu{"relu1", "ReLU", {"fc1"}, {}, {}, {}, {128}, {}};
  NodeSpec drop{"drop", "Dropout", {"relu1"}, {}, {{"p", 0.5}}, {}, {128}, {}};
  NodeSpec pool{"pool", "MaxPool2d", {"drop"}, {{"kernel", {2, 2}}}, {}, {}, {64}, {}};
  g.nodes = {flatten, fc1, relu, drop, pool};
  g.output = "pool";
  return g;
}

// ---------------------------------------------------------------- CRC and framing

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  // Incremental and odd-sized tails give the same result as one pass.
  const std::string s = "The quick brown fox jumps over the lazy dog";
  uint32_t c = 0;
  for (size_t i = 0; i < s.size(); i += 5) c = crc32c_extend(c, s.data() + i, std::min<size_t>(5, s.size() - i));
  EXPECT_EQ(c, crc32c(s.data(), s.size()));
  EXPECT_EQ(unmask_crc(mask_crc(0xE3069283u)), 0xE3069283u);
}

TEST(Crc32c, MaskedLengthCrcs) {
  EXPECT_EQ(masked_length_crc(0), 0x07980329u);
  EXPECT_EQ(masked_length_crc(13), 0x34B8373Cu);
  EXPECT_EQ(masked_length_crc(19), 0x1B32910Cu);
  EXPECT_EQ(masked_length_crc(24), 0x224B7FA3u);
}

TEST(Crc32c, TensorBoardVector) {
  const std::string data = bytes_of({0x1a, 0x11}) + "CRC test, one two";
  ASSERT_EQ(data.size(), 19u);
  EXPECT_EQ(masked_crc32c(data.data(), data.size()), 0x5794D08Au);
  const std::string rec = encode_record(data);
  ASSERT_EQ(rec.size(), 12u + 19u + 4u);
  EXPECT_EQ(rec.substr(0, 12), bytes_of({19, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0x91, 0x32, 0x1b}));
  EXPECT_EQ(rec.substr(31), bytes_of({0x8a, 0xd0, 0x94, 0x57}));
}

TEST(EventWriter, FirstRecordExactBytesAndFileName) {
  TempDir dir;
  std::string path;
  {
    EventWriter w(dir.sub("run"), EventWriterOptions().start_time(1700000000.0));
    path = w.path();
    // The file-version record is on disk before any flush().
    EXPECT_EQ(read_file(path).size(), 40u);
  }
  const std::string name = fs::path(path).filename().string();
  EXPECT_TRUE(
      std::regex_match(name, std::regex(R"(events\.out\.tfevents\.1700000000\..+\.)" + std::to_string(getpid()) + R"(\.\d+)")))
      << name;
  const std::string expected =
      bytes_of({0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22, 0x09, 0, 0, 0, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x1a, 0x0d}) +
      "brain.Event:2" + bytes_of({0xec, 0xed, 0x8f, 0x9d});
  EXPECT_EQ(read_file(path), expected);
}

TEST(EventWriter, TwoWritersInOneSecondGetTwoFiles) {
  TempDir dir;
  EventWriter a(dir.path(), EventWriterOptions().start_time(1700000000.0));
  EventWriter b(dir.path(), EventWriterOptions().start_time(1700000000.0));
  EXPECT_NE(a.path(), b.path());
  EXPECT_EQ(list_event_files(dir.path()).size(), 2u);
}

// ---------------------------------------------------------------- wire format, round trips

TEST(EventWriter, ScalarWireFormat) {
  TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path());
    w.add_scalar("loss/train", 7, 0.25, 1700000001.5);
    path = w.path();
  }
  const std::vector<RawRecord> records = read_records(path);
  ASSERT_EQ(records.size(), 2u);
  const std::vector<Field> event = decode(records[1].data);
  ASSERT_EQ(event.size(), 3u);
  double wall;
  std::memcpy(&wall, &event[0].bits, 8);
  EXPECT_EQ(event[0].number, 1u);
  EXPECT_EQ(wall, 1700000001.5);
  EXPECT_EQ(event[1].number, 2u);
  EXPECT_EQ(event[1].bits, 7u);
  EXPECT_EQ(event[2].number, 5u);  // summary
  const std::vector<Field> value = decode(decode(event[2].bytes).at(0).bytes);
  ASSERT_EQ(value.size(), 2u);
  EXPECT_EQ(value[0].number, 1u);
  EXPECT_EQ(value[0].bytes, "loss/train");
  EXPECT_EQ(value[1].number, 2u);
  EXPECT_EQ(value[1].wire, 5);
  float f;
  const uint32_t bits32 = static_cast<uint32_t>(value[1].bits);
  std::memcpy(&f, &bits32, 4);
  EXPECT_EQ(f, 0.25f);
}

TEST(EventWriter, RoundTripEveryKind) {
  TempDir dir;
  const float data[] = {1.0f, -2.0f, 0.5f, 1.0f};
  EventWriter w(dir.sub("run"));
  w.add_session_start(0, 10.0);
  w.add_scalar("loss/train", 100, 0.75, 11.0);
  w.add_scalar("accuracy/val", 100, 0.0, 11.0);  // a zero must survive proto3
  w.add_histogram("params/fc1/weight", 100, data, 4, 12.0);
  w.add_text("version", 100, "version `abc` (main@1)\n\nfirst", 13.0);
  EXPECT_TRUE(w.add_graph(mlp_graph(), -1, 14.0));
  EXPECT_FALSE(w.add_graph(mlp_graph(), -1, 14.0));  // once per graph id
  w.add_hparams_start({{"lr", 0.001}, {"optimizer", std::string("adam")}, {"shuffle", true}}, "sweep", 15.0);
  w.add_hparams_end(HParamsStatus::kFailure, 16.0);
  w.add_session_log(SessionStatus::kCheckpoint, 200, "ckpt", 17.0);
  w.flush();  // readable while the writer is still open

  const std::vector<EventRecord> ev = read_run(dir.sub("run"));
  ASSERT_EQ(ev.size(), 10u);
  EXPECT_EQ(ev[0].kind, EventKind::kFileVersion);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_EQ(ev[1].kind, EventKind::kSessionLog);
  EXPECT_EQ(ev[1].session_status, SessionStatus::kStart);
  EXPECT_EQ(ev[1].step, 0);
  EXPECT_EQ(ev[1].wall_time, 10.0);
  EXPECT_EQ(ev[2].kind, EventKind::kScalar);
  EXPECT_EQ(ev[2].tag, "loss/train");
  EXPECT_EQ(ev[2].step, 100);
  EXPECT_EQ(ev[2].value, 0.75);
  EXPECT_EQ(ev[3].kind, EventKind::kScalar);
  EXPECT_EQ(ev[3].value, 0.0);
  EXPECT_EQ(ev[4].kind, EventKind::kHistogram);
  EXPECT_EQ(ev[4].tag, "params/fc1/weight");
  EXPECT_EQ(ev[4].histogram.num, 4);
  EXPECT_EQ(ev[4].histogram.min, -2.0);
  EXPECT_EQ(ev[4].histogram.max, 1.0);
  EXPECT_EQ(ev[4].histogram.sum, 0.5);
  EXPECT_EQ(ev[4].histogram.sum_squares, 6.25);
  EXPECT_EQ(ev[4].histogram.bucket, (std::vector<double>{1, 0, 1, 0, 2}));
  EXPECT_EQ(ev[5].kind, EventKind::kText);
  EXPECT_EQ(ev[5].plugin_name, "text");
  EXPECT_EQ(ev[5].text, "version `abc` (main@1)\n\nfirst");
  EXPECT_EQ(ev[6].kind, EventKind::kGraph);
  EXPECT_EQ(ev[6].tag, kGraphTag);
  EXPECT_EQ(ev[6].graph_def, graph_to_graphdef(mlp_graph()));
  EXPECT_EQ(ev[7].kind, EventKind::kHParamsStart);
  EXPECT_EQ(ev[7].tag, kHParamsStartTag);
  EXPECT_EQ(ev[7].plugin_name, "hparams");
  EXPECT_EQ(ev[7].step, 0);
  EXPECT_EQ(ev[7].hparams_group, "sweep");
  EXPECT_EQ(ev[7].hparams_time, 15.0);
  ASSERT_EQ(ev[7].hparams.size(), 3u);
  EXPECT_EQ(std::get<double>(ev[7].hparams.at("lr")), 0.001);
  EXPECT_EQ(std::get<std::string>(ev[7].hparams.at("optimizer")), "adam");
  EXPECT_EQ(std::get<bool>(ev[7].hparams.at("shuffle")), true);
  EXPECT_EQ(ev[8].kind, EventKind::kHParamsEnd);
  EXPECT_EQ(ev[8].tag, kHParamsEndTag);
  EXPECT_EQ(ev[8].hparams_status, HParamsStatus::kFailure);
  EXPECT_EQ(ev[8].hparams_time, 16.0);
  EXPECT_EQ(ev[9].session_status, SessionStatus::kCheckpoint);
  EXPECT_EQ(ev[9].session_msg, "ckpt");
  EXPECT_EQ(ev[9].step, 200);

  // The hparams summaries carry a DT_FLOAT tensor of shape [0]: `08 01 12 02 12 00`.
  const std::vector<RawRecord> raw = read_records(w.path());
  EXPECT_NE(raw[7].data.find(bytes_of({0x42, 0x06, 0x08, 0x01, 0x12, 0x02, 0x12, 0x00})), std::string::npos);
  // Text: DT_STRING (7) with an empty shape, then string_val.
  EXPECT_NE(raw[5].data.find(bytes_of({0x08, 0x07, 0x12, 0x00, 0x42})), std::string::npos);
}

TEST(EventWriter, BadInputAndUnwritableDirectory) {
  TempDir dir;
  write_file(dir.sub("file"), "x");
  expect_error([&] { EventWriter w(dir.sub("file")); }, ErrorCode::kIOError, {"file"});
  EventWriter w(dir.path());
  expect_error([&] { w.add_scalar("", 0, 1.0); }, ErrorCode::kInvalidArgument, {"tag"});
  HistogramData bad;
  bad.bucket = {1};
  expect_error([&] { w.add_histogram("h", 0, bad); }, ErrorCode::kInvalidArgument, {"1 buckets but 0 limits"});
  expect_error([&] { read_events(dir.sub("missing")); }, ErrorCode::kNotFound, {"missing"});
}

// ---------------------------------------------------------------- corruption

class Corruption : public ::testing::Test {
 protected:
  void SetUp() override {
    EventWriter w(dir_.path());
    w.add_scalar("a", 1, 1.0, 1.0);
    w.add_scalar("b", 2, 2.0, 2.0);
    w.add_scalar("c", 3, 3.0, 3.0);
    path_ = w.path();
    w.flush();
    bytes_ = read_file(path_);
    records_ = decode_records(bytes_, path_);
    ASSERT_EQ(records_.size(), 4u);
  }
  TempDir dir_;
  std::string path_, bytes_;
  std::vector<RawRecord> records_;
};

TEST_F(Corruption, DataCrcNamesFileAndOffset) {
  std::string b = bytes_;
  const uint64_t off = records_[2].offset;
  b[off + 12 + 3] ^= 0x01;  // one bit inside record 2's data
  write_file(path_, b);
  expect_error([&] { read_events(path_); }, ErrorCode::kCorruption,
               {"data CRC mismatch", path_, "byte offset " + std::to_string(off), "record 2"});
}

TEST_F(Corruption, LengthCrcNamesFileAndOffset) {
  std::string b = bytes_;
  const uint64_t off = records_[1].offset;
  b[off + 9] ^= 0x40;  // inside record 1's length CRC
  write_file(path_, b);
  expect_error([&] { read_events(path_); }, ErrorCode::kCorruption,
               {"length CRC mismatch", path_, "byte offset " + std::to_string(off)});
  b = bytes_;
  b[off] ^= 0x01;  // the length itself: caught by its CRC before it is trusted
  write_file(path_, b);
  expect_error([&] { read_events(path_); }, ErrorCode::kCorruption, {"length CRC mismatch"});
}

TEST_F(Corruption, Truncation) {
  const uint64_t off = records_[3].offset;
  write_file(path_, bytes_.substr(0, bytes_.size() - 2));  // inside the last data CRC
  expect_error([&] { read_events(path_); }, ErrorCode::kCorruption,
               {"truncated record", "byte offset " + std::to_string(off), path_});
  write_file(path_, bytes_.substr(0, off + 5));  // inside the last header
  expect_error([&] { read_events(path_); }, ErrorCode::kCorruption,
               {"truncated record header", "byte offset " + std::to_string(off)});
  write_file(path_, bytes_.substr(0, off));  // whole records only: fine
  EXPECT_EQ(read_events(path_).size(), 3u);
}

TEST_F(Corruption, RecordThatIsNotAnEvent) {
  write_file(path_, bytes_ + encode_record(bytes_of({0xff, 0xff, 0xff})));
  expect_error([&] { read_events(path_); }, ErrorCode::kCorruption,
               {"not a TensorBoard Event", "byte offset " + std::to_string(bytes_.size())});
}

// ---------------------------------------------------------------- histograms

TEST(Histogram, DefaultBuckets) {
  const std::vector<double>& l = default_bucket_limits();
  ASSERT_EQ(l.size(), 1551u);
  EXPECT_EQ(l[775], 0.0);
  EXPECT_EQ(l[776], 1e-12);
  EXPECT_EQ(l[774], -1e-12);
  EXPECT_EQ(l.back(), DBL_MAX);
  EXPECT_EQ(l.front(), -DBL_MAX);
  EXPECT_TRUE(std::is_sorted(l.begin(), l.end()));
}

TEST(Histogram, ExactBucketsForKnownInput) {
  // Expected values from Python (same loop as TensorFlow; bisect_right; trim; merge empties).
  const float data[] = {-2.0f, 0.0f, 0.5f, 1.0f, 1.0f, 3.0f, NAN, INFINITY};
  const HistogramData h = make_histogram(data, 8);
  EXPECT_EQ(h.num, 6);
  EXPECT_EQ(h.min, -2.0);
  EXPECT_EQ(h.max, 3.0);
  EXPECT_EQ(h.sum, 3.5);
  EXPECT_EQ(h.sum_squares, 15.25);
  EXPECT_EQ(h.bucket_limit, (std::vector<double>{-1.9661990955585713, 0.0, 1e-12, 0.47069243095356195, 0.5177616740489182,
                                                 0.917246389039776, 1.0089710279437536, 2.8787120958073054, 3.1665833053880363}));
  EXPECT_EQ(h.bucket, (std::vector<double>{1, 0, 1, 0, 1, 0, 2, 0, 1}));
}

TEST(Histogram, BucketOfEveryKindOfFloatMatchesBinarySearch) {
  const std::vector<double>& l = default_bucket_limits();
  std::vector<float> values = {0.0f, -0.0f, FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX, 1e-45f, -1e-45f};
  for (double limit : l) {
    if (std::fabs(limit) > FLT_MAX) continue;
    const float f = static_cast<float>(limit);
    values.insert(values.end(), {f, std::nextafter(f, INFINITY), std::nextafter(f, -INFINITY)});
  }
  uint32_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    state = state * 1664525u + 1013904223u;
    float f;
    std::memcpy(&f, &state, sizeof f);
    if (std::isfinite(f)) values.push_back(f);
  }
  for (float v : values) {
    const HistogramData h = make_histogram(&v, 1);
    const size_t b = std::upper_bound(l.begin(), l.end(), static_cast<double>(v)) - l.begin();
    ASSERT_EQ(h.bucket_limit, std::vector<double>{l[b]}) << v;
    ASSERT_EQ(h.bucket, std::vector<double>{1});
  }
}

TEST(Histogram, EmptyAndConstantInputs) {
  const HistogramData none = make_histogram(nullptr, 0);
  EXPECT_EQ(none.num, 0);
  EXPECT_TRUE(none.bucket.empty());
  const float c[] = {0.5f, 0.5f, 0.5f};
  const HistogramData h = make_histogram(c, 3);
  EXPECT_EQ(h.bucket, std::vector<double>{3});
  EXPECT_EQ(h.bucket_limit, std::vector<double>{0.5177616740489182});
  EXPECT_EQ(h.min, 0.5);
  EXPECT_EQ(h.max, 0.5);
}

// ---------------------------------------------------------------- GraphDef

TEST(GraphDef, NodesScopesInputsAndShapes) {
  const GraphSpec g = mlp_graph();
  const std::vector<GraphDefNode> nodes = parse_graphdef(graph_to_graphdef(g));
  std::map<std::string, GraphDefNode> by_name;
  for (const GraphDefNode& n : nodes) by_name[n.name] = n;
  ASSERT_EQ(nodes.size(), 8u);  // input, 5 ops, 2 parameters
  EXPECT_EQ(nodes[0].name, "input");
  EXPECT_EQ(nodes[0].op, "Placeholder");
  EXPECT_EQ(nodes[0].output_shapes, (std::vector<Shape>{{-1, 1, 28, 28}}));

  EXPECT_EQ(by_name.at("flatten").inputs, std::vector<std::string>{"input"});
  EXPECT_EQ(by_name.at("flatten").output_shapes, (std::vector<Shape>{{-1, 784}}));
  // fc1 is a scope (its parameters), so its op node sits inside it.
  EXPECT_EQ(by_name.count("fc1"), 0u);
  const GraphDefNode& fc1 = by_name.at("fc1/Linear");
  EXPECT_EQ(fc1.op, "Linear");
  EXPECT_EQ(fc1.inputs, (std::vector<std::string>{"flatten", "fc1/weight", "fc1/bias"}));
  EXPECT_EQ(fc1.output_shapes, (std::vector<Shape>{{-1, 128}}));
  EXPECT_EQ(fc1.ints.at("out_features"), std::vector<int64_t>{128});
  EXPECT_EQ(by_name.at("fc1/weight").op, "VariableV2");
  EXPECT_EQ(by_name.at("fc1/weight").output_shapes, (std::vector<Shape>{{128, 784}}));
  EXPECT_EQ(by_name.at("fc1/weight").strings.at("init"), "kaiming_uniform");
  EXPECT_EQ(by_name.at("fc1/bias").output_shapes, (std::vector<Shape>{{128}}));
  EXPECT_EQ(by_name.at("relu1").inputs, std::vector<std::string>{"fc1/Linear"});
  EXPECT_EQ(by_name.at("drop").floats.at("p"), 0.5);
  EXPECT_EQ(by_name.at("pool").ints.at("kernel"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(graphdef_node_name(g, "fc1"), "fc1/Linear");
  EXPECT_EQ(graphdef_node_name(g, "relu1"), "relu1");

  // With a batch size the activations get it; parameters never have one.
  std::map<std::string, GraphDefNode> b32;
  for (GraphDefNode& n : parse_graphdef(graph_to_graphdef(g, 32))) b32[n.name] = n;
  EXPECT_EQ(b32.at("relu1").output_shapes, (std::vector<Shape>{{32, 128}}));
  EXPECT_EQ(b32.at("fc1/weight").output_shapes, (std::vector<Shape>{{128, 784}}));
}

TEST(GraphDef, TokenInputAndASecondOutput) {
  GraphBuilder b({5}, "tokens", DType::kI64);
  Value rnn = b.lstm("rnn", b.embedding("embed", b.input(), 9, 4), RecurrentOptions(3));
  const GraphSpec g = b.build(b.linear("fc", rnn.output(1), 2));
  std::map<std::string, GraphDefNode> by_name;
  for (GraphDefNode& n : parse_graphdef(graph_to_graphdef(g, 8))) by_name[n.name] = n;
  // The LSTM node lists both outputs' shapes; the consumer reads "<node>:1" (TensorFlow's form).
  EXPECT_EQ(by_name.at("rnn/LSTM").output_shapes, (std::vector<Shape>{{8, 5, 3}, {8, 3}}));
  EXPECT_EQ(by_name.at("fc/Linear").inputs, (std::vector<std::string>{"rnn/LSTM:1", "fc/weight", "fc/bias"}));
  EXPECT_EQ(by_name.at("tokens").output_shapes, (std::vector<Shape>{{8, 5}}));
}

TEST(GraphDef, BadGraphAndBadBytes) {
  GraphSpec g = mlp_graph();
  g.nodes[1].inputs = {"nowhere"};
  expect_error([&] { graph_to_graphdef(g); }, ErrorCode::kInvalidArgument, {"fc1", "nowhere"});
  expect_error([&] { parse_graphdef(bytes_of({0x0a, 0x7f})); }, ErrorCode::kCorruption, {"GraphDef"});
}

// ---------------------------------------------------------------- callback

TEST(TensorBoardHelpers, MetricTagsAndHParams) {
  EXPECT_EQ(metric_tag("train/loss"), "loss/train");
  EXPECT_EQ(metric_tag("val/loss"), "loss/val");
  EXPECT_EQ(metric_tag("val/accuracy"), "accuracy/val");
  EXPECT_EQ(metric_tag("val/f1"), "f1/val");
  EXPECT_EQ(metric_tag("lr"), "lr");
  EXPECT_EQ(metric_tag("time/epoch_s"), "time/epoch_s");
  EXPECT_EQ(metric_tag("throughput/samples_per_s"), "throughput/samples_per_s");
  const auto hp =
      hparam_values({{"lr", "1e-3"}, {"bs", "128"}, {"opt", "adam"}, {"aug", "true"}, {"x", " 1"}, {"y", "nan"}, {"z", "3abc"}});
  EXPECT_EQ(std::get<double>(hp.at("lr")), 0.001);
  EXPECT_EQ(std::get<double>(hp.at("bs")), 128.0);
  EXPECT_EQ(std::get<std::string>(hp.at("opt")), "adam");
  EXPECT_EQ(std::get<bool>(hp.at("aug")), true);
  EXPECT_EQ(std::get<std::string>(hp.at("x")), " 1");
  EXPECT_EQ(std::get<std::string>(hp.at("y")), "nan");
  EXPECT_EQ(std::get<std::string>(hp.at("z")), "3abc");
  EXPECT_EQ(session_start_step(0), 0);
  EXPECT_EQ(session_start_step(40), 41);
}

struct FakeRun {
  TrainState state;
  NamedTensors grads;
  std::map<std::string, std::string> annotations{
      {"version", "3f2a9c"}, {"branch", "main"}, {"message", "first epoch"}, {"snapshot/ms", "12.5"}};
  FakeRun() {
    state.graph = mlp_graph();
    state.params = {{"fc1/weight", Tensor::from_vector({2, 2}, {0.5f, -0.5f, 1.0f, 0.0f})},
                    {"fc1/bias", Tensor::from_vector({2}, {0.0f, 0.25f})}};
    grads = {{"fc1/weight", Tensor::from_vector({2, 2}, {0.01f, 0.02f, -0.01f, 0.0f})}};
    state.counters = {{"epoch", 1}, {"global_step", 4}};
    state.metrics = {{"train/loss", 0.5}, {"val/loss", 0.625}, {"val/accuracy", 0.875}, {"lr", 0.001}, {"time/epoch_s", 2.5}};
    state.hparams = {{"lr", "0.001"}, {"optimizer", "adam"}};
  }
};

std::map<std::string, const EventRecord*> by_tag(const std::vector<EventRecord>& ev) {
  std::map<std::string, const EventRecord*> m;
  for (const EventRecord& e : ev)
    if (!e.tag.empty()) m[e.tag] = &e;
  return m;
}

TEST(TensorBoardCallback, DrivenByHand) {
  TempDir dir;
  FakeRun run;
  TensorBoardCallback cb(dir.sub("tb/main"), TensorBoardOptions().train_loss_every(2));
  EXPECT_EQ(cb.event_file(), "");
  FitBeginInfo begin;
  begin.target_epochs = 1;
  begin.state = &run.state;
  cb.on_fit_begin(begin);
  for (int64_t s = 1; s <= 4; ++s) cb.on_batch_end(BatchEndInfo{1, s - 1, s, 1.0 / s, 0.001});
  EpochEndInfo end{run.state, run.grads, run.annotations};
  cb.on_epoch_end(end);

  // Flushed at epoch end: readable while training goes on.
  const std::vector<EventRecord> ev = read_run(dir.sub("tb/main"));
  const auto tags = by_tag(ev);
  EXPECT_EQ(ev[1].kind, EventKind::kSessionLog);
  EXPECT_EQ(ev[1].session_status, SessionStatus::kStart);
  EXPECT_EQ(ev[1].step, 0);
  EXPECT_EQ(tags.at(kGraphTag)->graph_def, graph_to_graphdef(run.state.graph));
  EXPECT_EQ(std::get<double>(tags.at(kHParamsStartTag)->hparams.at("lr")), 0.001);
  EXPECT_EQ(std::get<std::string>(tags.at(kHParamsStartTag)->hparams.at("optimizer")), "adam");
  std::vector<int64_t> step_loss_steps;
  for (const EventRecord& e : ev)
    if (e.tag == "loss/train_step") step_loss_steps.push_back(e.step);
  EXPECT_EQ(step_loss_steps, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(tags.at("loss/train_step")->value, 0.25);
  const std::map<std::string, double> expected{{"loss/train", 0.5}, {"loss/val", 0.625},   {"accuracy/val", 0.875},
                                               {"lr", 0.001},       {"time/epoch_s", 2.5}, {"snapshot/ms", 12.5}};
  for (const auto& [tag, value] : expected) {
    ASSERT_TRUE(tags.count(tag)) << tag;
    EXPECT_EQ(tags.at(tag)->kind, EventKind::kScalar) << tag;
    EXPECT_EQ(tags.at(tag)->step, 4) << tag;
    EXPECT_EQ(tags.at(tag)->value, static_cast<double>(static_cast<float>(value))) << tag;
  }
  EXPECT_EQ(tags.count("snapshot/bytes"), 0u);
  EXPECT_EQ(tags.at("params/fc1/weight")->histogram.num, 4);
  EXPECT_EQ(tags.at("params/fc1/weight")->histogram.min, -0.5);
  EXPECT_EQ(tags.at("params/fc1/bias")->histogram.max, 0.25);
  EXPECT_EQ(tags.at("grads/fc1/weight")->histogram.max, 0.02f);
  EXPECT_EQ(tags.at("grads/fc1/weight")->step, 4);
  EXPECT_EQ(tags.at("version")->text, "version `3f2a9c` (main@1)\n\nfirst epoch");
  EXPECT_EQ(tags.count(kHParamsEndTag), 0u);
  // The HParams experiment, written at the first epoch end: the real metrics with names (no lr,
  // time or snapshot columns) and every hyper-parameter, without domains in a live run.
  ASSERT_TRUE(tags.count(kHParamsExperimentTag));
  const HParamsExperiment& x = tags.at(kHParamsExperimentTag)->experiment;
  EXPECT_EQ(tags.at(kHParamsExperimentTag)->kind, EventKind::kHParamsExperiment);
  std::vector<std::string> metric_tags, displays, hparam_names;
  for (const auto& m : x.metrics) {
    metric_tags.push_back(m.tag);
    displays.push_back(m.display_name);
  }
  EXPECT_EQ(metric_tags, (std::vector<std::string>{"accuracy/test", "loss/test", "loss/train", "accuracy/val", "loss/val"}));
  EXPECT_EQ(displays,
            (std::vector<std::string>{"test accuracy", "test loss", "training loss", "validation accuracy", "validation loss"}));
  EXPECT_TRUE(x.metrics[3].validation);
  EXPECT_FALSE(x.metrics[2].validation);
  for (const auto& h : x.hparams) {
    hparam_names.push_back(h.name);
    EXPECT_TRUE(h.domain.empty()) << h.name;
  }
  EXPECT_EQ(hparam_names, (std::vector<std::string>{"lr", "optimizer"}));
  // Typed as the session start writes the values (TensorBoard's plugin filters by type).
  EXPECT_EQ(x.hparams[0].type, HParamsExperiment::Type::kFloat64);
  EXPECT_EQ(x.hparams[1].type, HParamsExperiment::Type::kString);
  EXPECT_EQ(x.hparams[0].display_name, "learning rate");

  cb.on_fit_end(false);
  const auto after_events = read_run(dir.sub("tb/main"));  // by_tag points into this vector
  const auto after = by_tag(after_events);
  EXPECT_EQ(after.at(kHParamsEndTag)->hparams_status, HParamsStatus::kSuccess);

  // Resuming the branch from step 4 in a new process: START at 5 in a new file; the run has its
  // graph and hparams session already (TensorBoard warns about a second graph and keeps the
  // first session), so neither is written again; a failed fit ends the session with a failure.
  TensorBoardCallback resumed(dir.sub("tb/main"));
  begin.global_step = 4;
  begin.resumed = true;
  resumed.on_fit_begin(begin);
  resumed.on_fit_end(true);
  ASSERT_EQ(list_event_files(dir.sub("tb/main")).size(), 2u);
  const std::vector<EventRecord> ev2 = read_events(resumed.event_file());
  ASSERT_EQ(ev2.size(), 3u);
  EXPECT_EQ(ev2[1].session_status, SessionStatus::kStart);
  EXPECT_EQ(ev2[1].step, 5);
  EXPECT_EQ(ev2[2].kind, EventKind::kHParamsEnd);
  EXPECT_EQ(ev2[2].hparams_status, HParamsStatus::kFailure);
}

TEST(TensorBoardCallback, RecreationWritesTheSameEpochEvents) {
  TempDir dir;
  FakeRun run;
  const TensorBoardOptions options;
  EventWriter live(dir.sub("live"));
  write_epoch_events(live, run.state, &run.grads, run.annotations, options, 50.0);
  live.flush();
  EventWriter recreated(dir.sub("recreated"));
  write_epoch_events(recreated, run.state, nullptr, run.annotations, options, 50.0);
  recreated.flush();
  std::vector<EventRecord> a = read_events(live.path()), b = read_events(recreated.path());
  a.erase(std::remove_if(a.begin(), a.end(), [](const EventRecord& e) { return e.tag.rfind("grads/", 0) == 0; }), a.end());
  const std::vector<RawRecord> ra = read_records(live.path()), rb = read_records(recreated.path());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 1; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tag, b[i].tag);
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].wall_time, 50.0);
  }
  // Byte-identical records apart from the dropped gradient histograms (same order: metrics,
  // parameters, gradients, text).
  size_t j = 1;
  for (size_t i = 1; i < ra.size(); ++i) {
    if (ra[i].data.find("grads/") != std::string::npos) continue;
    ASSERT_LT(j, rb.size());
    EXPECT_EQ(ra[i].data, rb[j++].data) << "record " << i;
  }
  EXPECT_EQ(j, rb.size());

  // No histograms at all, and a bad snapshot annotation is reported, not guessed.
  EventWriter bare(dir.sub("bare"));
  write_epoch_events(bare, run.state, &run.grads, {}, TensorBoardOptions().histograms(false), 1.0);
  bare.flush();
  for (const EventRecord& e : read_events(bare.path())) EXPECT_NE(e.kind, EventKind::kHistogram);
  expect_error(
      [&] {
        write_epoch_events(bare, run.state, nullptr, {{"snapshot/bytes", "lots"}}, options, 1.0);
      },
      ErrorCode::kInvalidArgument, {"snapshot/bytes", "lots"});

  // The bytes of the previous commit land at that commit's step (the run is at step 4).
  EventWriter late(dir.sub("late"));
  write_epoch_events(late, run.state, nullptr, {{"snapshot/bytes", "1234"}, {"snapshot/bytes_step", "2"}}, options, 1.0);
  late.flush();
  int found = 0;
  for (const EventRecord& e : read_events(late.path()))
    if (e.tag == "snapshot/bytes") {
      EXPECT_EQ(e.step, 2);
      EXPECT_EQ(e.value, 1234.0);
      ++found;
    }
  EXPECT_EQ(found, 1);
  expect_error(
      [&] {
        write_epoch_events(late, run.state, nullptr, {{"snapshot/bytes", "1"}, {"snapshot/bytes_step", "x"}}, options, 1.0);
      },
      ErrorCode::kInvalidArgument, {"snapshot/bytes_step", "'x'"});
}

}  // namespace
}  // namespace strata::summary
