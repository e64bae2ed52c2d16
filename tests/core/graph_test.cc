// GraphSpec and its builders, with no oneDNN: edge names, the byte form and its id, corrupt
// bytes, and what GraphBuilder / Sequential build (names, shapes, parameters, order), including
// that a node name cannot stand where a value belongs.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata {
namespace {

// Swapped arguments (a name for a value) do not compile: no string converts to a Value.
static_assert(!std::is_convertible_v<std::string, Value>);
static_assert(!std::is_constructible_v<Value, std::string>);
static_assert(std::is_invocable_v<decltype(&GraphBuilder::relu), GraphBuilder&, std::string, Value>);
static_assert(!std::is_invocable_v<decltype(&GraphBuilder::relu), GraphBuilder&, Value, std::string>);

TEST(GraphSpec, ValueRefsNameANodeAndAnOutput) {
  EXPECT_EQ(parse_value_ref("rnn:1").node, "rnn");
  EXPECT_EQ(parse_value_ref("rnn:1").output, 1);
  EXPECT_EQ(parse_value_ref("block1/fc").node, "block1/fc");
  EXPECT_EQ(parse_value_ref("block1/fc").output, 0);
  EXPECT_EQ(parse_value_ref("odd:name").node, "odd:name");  // not digits: a name
  EXPECT_EQ(parse_value_ref("x:12345").node, "x:12345");    // too many digits: a name
}

TEST(GraphSpec, BytesRoundTripAndTheIdFollowsThem) {
  Sequential s({1, 4, 4});
  s.flatten().linear(8).relu().linear(3);
  const GraphSpec g = s.build();
  const GraphSpec back = GraphSpec::from_bytes(g.to_bytes());
  EXPECT_EQ(back, g);
  EXPECT_EQ(back.graph_id(), g.graph_id());
  EXPECT_EQ(g.graph_id().size(), 32u);
  Sequential wider({1, 4, 4});
  wider.flatten().linear(9).relu().linear(3);
  EXPECT_NE(wider.build().graph_id(), g.graph_id());
  std::string bytes = g.to_bytes();
  EXPECT_THROW(GraphSpec::from_bytes(bytes.substr(0, bytes.size() / 2)), Error);
  try {
    GraphSpec::from_bytes("not a graph");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruption) << e.what();
  }
}

TEST(GraphBuilder, BuildsNamedNodesWithShapesAndParameters) {
  GraphBuilder b({3, 8, 8});
  b.set_scope("block1");
  const Value conv = b.conv2d("conv", b.input(), Conv2dOptions(4, 3).padding(1));
  b.set_scope("");
  const Value pooled = b.global_avg_pool("pool", b.relu("relu", conv));
  const GraphSpec g = b.build(b.linear("fc", pooled, 2));
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[0].name, "block1/conv");
  EXPECT_EQ(g.nodes[0].output_shape, (Shape{4, 8, 8}));
  ASSERT_EQ(g.nodes[0].params.size(), 2u);
  EXPECT_EQ(g.nodes[0].params[0].name, "block1/conv/weight");
  EXPECT_EQ(g.nodes[0].params[0].shape, (Shape{4, 3, 3, 3}));
  EXPECT_EQ(g.find("pool")->output_shape, (Shape{4}));
  EXPECT_EQ(g.find("fc")->inputs, (std::vector<std::string>{"pool"}));
  EXPECT_EQ(g.output, "fc");
  EXPECT_EQ(g.all_params().size(), 4u);  // conv and fc: weight and bias each
  EXPECT_EQ(g.find("nope"), nullptr);
}

TEST(GraphBuilder, OrdersNodesTopologicallyAndAddressesSecondOutputs) {
  GraphBuilder b({5, 3});
  const Value rnn = b.lstm("rnn", b.input(), RecurrentOptions(4));
  EXPECT_EQ(rnn.ref(), "rnn");
  EXPECT_EQ(rnn.output(1).ref(), "rnn:1");
  EXPECT_EQ(rnn.output(1).output(0).ref(), "rnn");  // one spelling per value: one graph id
  const GraphSpec g = b.build(b.linear("fc", rnn.output(1), 2));
  EXPECT_EQ(g.find("rnn")->output_shape, (Shape{5, 4}));
  EXPECT_EQ(g.find("rnn")->output_shape_at(1), (Shape{4}));
  EXPECT_EQ(g.find("fc")->inputs[0], "rnn:1");
  EXPECT_EQ(g.format_version(), 2u);  // a second output needs format 2
}

TEST(Sequential, NamesLayersByKindAndCount) {
  Sequential s({6});
  s.linear(4).relu().dropout(0.5).linear(4).activation("tanh").linear(2);
  const GraphSpec g = s.build();
  std::vector<std::string> names;
  for (const NodeSpec& n : g.nodes) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc1", "relu1", "dropout1", "fc2", "tanh1", "fc3"}));
  EXPECT_EQ(g.format_version(), 1u);
  EXPECT_THROW(Sequential({6}).activation("swish"), Error);
}

}  // namespace
}  // namespace strata
