// Network planning's bookkeeping without oneDNN: value slots, ReLU fusion, which values need a
// gradient, lifetimes on the step's timeline, and the buffer planner's interval colouring.
#include "strata/framework/nn/internal/value_lifetimes.h"

#include <gtest/gtest.h>

#include "strata/framework/graph/builder.h"
#include "strata/framework/nn/internal/buffer_planner.h"

namespace strata::planning {
namespace {

// input -> fc1 -> act1 (ReLU) -> fc2, plus a skip: add(fc2, fc1) -> out. fc1 feeds two nodes, so
// its ReLU cannot be fused.
GraphSpec residual_mlp() {
  GraphBuilder g({4});
  const Value fc1 = g.linear("fc1", g.input(), 4);
  const Value act1 = g.relu("act1", fc1);
  const Value fc2 = g.linear("fc2", act1, 4);
  const Value sum = g.add("sum", fc2, fc1);
  const Value act2 = g.relu("act2", g.linear("fc3", sum, 3));
  return g.build(act2);
}

TEST(ValueGraph, SlotsConsumersAndOutput) {
  const GraphSpec spec = residual_mlp();
  const ValueGraph v(spec);
  ASSERT_EQ(v.num_nodes(), 6u);  // fc1 act1 fc2 sum fc3 act2
  EXPECT_EQ(v.num_values, 7u);
  EXPECT_EQ(v.input_slot, 6u);
  EXPECT_EQ(v.slot_of("input"), 6u);
  EXPECT_EQ(v.slot_of("fc2"), 2u);
  EXPECT_EQ(v.slot_of("fc2:0"), 2u);
  EXPECT_EQ(v.output, 5u);
  EXPECT_EQ(v.consumers, (std::vector<int>{2, 1, 1, 1, 1, 0, 1}));
  EXPECT_EQ(v.producer, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
}

TEST(ValueGraph, FusesAReluOnlyIntoASoleConsumersProducer) {
  const GraphSpec spec = residual_mlp();
  const ValueGraph v(spec);
  const ReluFusion f = plan_relu_fusion(v, true);
  // act1 reads fc1, which also feeds sum: not fused. act2 is fc3's only consumer: fused.
  EXPECT_EQ(f.fuses_relu, (std::vector<bool>{false, false, false, false, true, false}));
  EXPECT_EQ(f.fused, (std::vector<bool>{false, false, false, false, false, true}));
  const ReluFusion off = plan_relu_fusion(v, false);
  EXPECT_EQ(off.fused, std::vector<bool>(6, false));
}

TEST(ValueLifetimes, EvaluationFreesAnActivationAfterItsLastReader) {
  const GraphSpec spec = residual_mlp();
  const ValueGraph v(spec);
  const ValueLifetimes life = value_lifetimes(v, plan_relu_fusion(v, true), false);
  EXPECT_TRUE(life.grad.empty());
  ASSERT_EQ(life.data.size(), 6u);
  EXPECT_EQ(life.data[0], (Interval{0, 3}));  // fc1: read by act1 (1) and sum (3)
  EXPECT_EQ(life.data[1], (Interval{1, 2}));  // act1: read by fc2
  EXPECT_EQ(life.data[2], (Interval{2, 3}));
  EXPECT_EQ(life.data[3], (Interval{3, 4}));
  // fc3 writes act2's output in place: alive for good, as act2's output is the graph's.
  EXPECT_EQ(life.data[4], (Interval{4, Timeline::kKept}));
  EXPECT_FALSE(life.data[5]);
}

TEST(ValueLifetimes, TrainingKeepsActivationsAndTimesGradientsOnTheBackwardPass) {
  const GraphSpec spec = residual_mlp();
  const ValueGraph v(spec);
  const ValueLifetimes life = value_lifetimes(v, plan_relu_fusion(v, true), true);
  const Timeline t{6};
  for (size_t s = 0; s < 5; ++s) EXPECT_EQ(life.data[s], (Interval{static_cast<int>(s), Timeline::kKept})) << s;
  ASSERT_EQ(life.grad.size(), 6u);
  // The output's gradient is written by the caller (at n) and read by act2's backward.
  EXPECT_EQ(life.grad[5], (Interval{t.user(), t.backward(5)}));
  // fc1's gradient is first written by sum's backward (its last consumer) and read by fc1's.
  EXPECT_EQ(life.grad[0], (Interval{t.backward(3), t.backward(0)}));
  EXPECT_EQ(life.grad[1], (Interval{t.backward(2), t.backward(1)}));
}

TEST(ValueLifetimes, AnUnreadOutputHasNoGradientWriter) {
  GraphBuilder g({4});
  const Value fc = g.linear("fc", g.input(), 4);
  const Value act = g.relu("act", fc);
  g.relu("dangling", fc);  // reads fc, nothing reads it
  const GraphSpec spec = g.build(act);
  const ValueGraph v(spec);
  const ValueLifetimes life = value_lifetimes(v, plan_relu_fusion(v, false), true);
  EXPECT_FALSE(life.grad[2]);
}

TEST(ValuesNeedingGrad, OnlyDownstreamOfALearnerOrAWantedInputGradient) {
  GraphBuilder g({4});
  const Value act = g.relu("act", g.input());  // nothing before it learns
  const Value fc = g.linear("fc", act, 2);
  const GraphSpec spec = g.build(fc);
  const ValueGraph v(spec);
  EXPECT_EQ(values_needing_grad(v, false), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(values_needing_grad(v, true), (std::vector<bool>{true, true, true}));
}

TEST(BufferPlanner, BuffersWithDisjointLifetimesShareOneArena) {
  BufferPlanner p;
  const int a = p.add(256, {64}, 0, 1);
  const int b = p.add(128, {32}, 2, 3);                       // after a: reuses a's arena
  const int c = p.add(512, {128}, 1, 2);                      // overlaps both: an arena of its own
  const int d = p.add(1024, {256}, 4, BufferPlanner::kKept);  // fits neither: grows the larger
  p.plan();
  EXPECT_EQ(p.offset(a), 0u);
  EXPECT_EQ(p.offset(b), 0u);
  EXPECT_EQ(p.offset(c), 256u);
  EXPECT_EQ(p.offset(d), 256u);
  EXPECT_EQ(p.total_bytes(), 256u + 1024u);  // arenas: {a, b} of 256, {c, d} grown to 1024
  Tensor pool;
  ASSERT_TRUE(p.outgrows(pool));
  p.bind(pool);
  EXPECT_EQ(pool.nbytes(), 1280u);
  EXPECT_EQ(p.tensor(c).shape(), (Shape{128}));
  EXPECT_EQ(static_cast<const char*>(p.tensor(c).raw()) - static_cast<const char*>(pool.raw()),
            static_cast<std::ptrdiff_t>(p.offset(c)));
}

}  // namespace
}  // namespace strata::planning
