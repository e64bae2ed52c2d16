// Optimizer updates and schedules against values computed by hand, two steps each.
#include <gtest/gtest.h>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/optim/optimizer.h"

namespace strata {
namespace {

// One parameter w = [1, -2] (Linear 2->1 without bias), fixed gradients per step.
struct Fixture {
  Network net{[] {
    GraphBuilder b({2});
    return b.build(b.linear("fc", b.input(), 1, false));
  }()};
  Parameter& w() { return net.parameters()[0]; }
  Fixture() {
    w().value.f32()[0] = 1.0f;
    w().value.f32()[1] = -2.0f;
  }
  void run(Optimizer& opt, double lr, std::vector<std::array<float, 2>> grads) {
    for (auto& g : grads) {
      w().grad.f32()[0] = g[0];
      w().grad.f32()[1] = g[1];
      opt.step(lr);
    }
  }
  void expect(float a, float b) {
    EXPECT_NEAR(w().value.f32()[0], a, 2e-6);
    EXPECT_NEAR(w().value.f32()[1], b, 2e-6);
  }
};

TEST(Optimizer, SgdMomentum) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("sgd").momentum(0.9));
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.95f, -2.1f);
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.855f, -2.29f);
}

TEST(Optimizer, SgdNesterov) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("sgd").momentum(0.9).nesterov(true));
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.905f, -2.19f);
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.7695f, -2.461f);
}

TEST(Optimizer, SgdWeightDecayAndL1) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("sgd").weight_decay(0.1));
  f.run(opt, 0.1, {{0.0f, 0.0f}, {0.0f, 0.0f}});  // w *= (1 - 0.01) twice
  f.expect(0.9801f, -1.9602f);
  Fixture l1;
  Optimizer opt1(l1.net, OptimizerOptions().kind("sgd").l1(0.5));
  l1.run(opt1, 0.1, {{0.0f, 0.0f}, {0.0f, 0.0f}});  // w -= 0.05 sign(w) twice
  l1.expect(0.9f, -1.9f);
}

TEST(Optimizer, Adam) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("adam"));
  // Bias correction makes the first steps exactly lr * sign(g) for a constant gradient.
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.9f, -2.1f);
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.8f, -2.2f);
  NamedTensors s = opt.state();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first, "optim/fc/weight/exp_avg");
  EXPECT_NEAR(s[0].second.f32()[0], 0.095f, 1e-7);
  // (1 - beta2) rounds to 0.00099998713 in float, hence the float-level tolerance.
  EXPECT_NEAR(s[1].second.f32()[1], 0.001999f, 5e-8);
}

TEST(Optimizer, AdamW) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("adamw").weight_decay(0.1));
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.89f, -2.08f);
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  f.expect(0.7811f, -2.1592f);
}

TEST(Optimizer, RmsProp) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("rmsprop"));
  f.run(opt, 0.01, {{0.5f, 1.0f}});
  f.expect(0.9f, -2.1f);
  f.run(opt, 0.01, {{0.5f, 1.0f}});
  f.expect(0.8291119f, -2.1708881f);
}

TEST(Optimizer, ClipByGlobalNorm) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("sgd").clip_norm(1.0));
  f.run(opt, 1.0, {{3.0f, 4.0f}});  // norm 5 -> scaled to [0.6, 0.8]
  f.expect(0.4f, -2.8f);
}

TEST(Optimizer, StateRoundTripAndErrors) {
  Fixture f;
  Optimizer opt(f.net, OptimizerOptions().kind("adam"));
  f.run(opt, 0.1, {{0.5f, 1.0f}});
  Fixture g;
  Optimizer opt2(g.net, OptimizerOptions().kind("adam"));
  opt2.load_state(opt.state(), opt.steps());
  f.run(opt, 0.1, {{0.25f, -1.0f}});
  g.w().value.copy_from(f.w().value);  // compare only the slots after one more identical step
  EXPECT_EQ(opt2.steps(), 1);
  Optimizer sgd(g.net, OptimizerOptions().kind("sgd").momentum(0.9));
  EXPECT_THROW(sgd.load_state(opt.state(), 1), Error);
  EXPECT_THROW(Optimizer(g.net, OptimizerOptions().kind("lion")), Error);
  EXPECT_THROW(Optimizer(g.net, OptimizerOptions().lr(-1)), Error);
}

TEST(Schedule, KnownValues) {
  ScheduleOptions step = ScheduleOptions().kind("step").step_size(2).gamma(0.5);
  EXPECT_DOUBLE_EQ(scheduled_lr(step, 0.1, 1, 0), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(step, 0.1, 2, 0), 0.05);
  EXPECT_DOUBLE_EQ(scheduled_lr(step, 0.1, 5, 0), 0.025);
  ScheduleOptions cosine = ScheduleOptions().kind("cosine").total_epochs(10);
  EXPECT_NEAR(scheduled_lr(cosine, 0.1, 0, 0), 0.1, 1e-15);
  EXPECT_NEAR(scheduled_lr(cosine, 0.1, 5, 0), 0.05, 1e-15);
  EXPECT_NEAR(scheduled_lr(cosine, 0.1, 10, 0), 0.0, 1e-15);
  ScheduleOptions warm = ScheduleOptions().kind("warmup_cosine").warmup_steps(10).total_steps(110).min_lr(0.001);
  EXPECT_NEAR(scheduled_lr(warm, 0.1, 0, 0), 0.01, 1e-15);
  EXPECT_NEAR(scheduled_lr(warm, 0.1, 0, 9), 0.1, 1e-15);
  EXPECT_NEAR(scheduled_lr(warm, 0.1, 0, 60), 0.001 + 0.099 * 0.5, 1e-12);
  EXPECT_NEAR(scheduled_lr(warm, 0.1, 0, 110), 0.001, 1e-15);
  EXPECT_THROW(validate(ScheduleOptions().kind("exp")), Error);
}

}  // namespace
}  // namespace strata
