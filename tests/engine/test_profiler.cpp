// The profiler on a small model: every unit measured, bytes agree with the model's shapes, the cache
// round trip returns the same profile, and a refresh measures again.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "engine/planner/profiler.h"

namespace ps {
namespace {

RunConfig tiny_config() {
  RunConfig cfg;
  cfg.model.name = "mlp";
  cfg.model.hidden = {16, 8};
  cfg.dataset.name = "spirals";
  cfg.dataset.synthetic_size = 128;
  cfg.batch_size = 8;
  cfg.microbatches = 2;
  return cfg;
}

TEST(Profiler, MeasuresEveryUnitAndCachesTheProfile) {
  const auto dir = std::filesystem::temp_directory_path() / ("pipescope_profile_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const RunConfig cfg = tiny_config();
  const ModelInfo info = model_info_for(cfg);
  ProfileOptions opts;
  opts.cache_dir = dir.string();
  opts.warmup = 1;
  opts.iterations = 3;
  const ModelProfile p = profile_model(cfg, opts);
  ASSERT_EQ(p.units.size(), info.units.size());
  EXPECT_TRUE(p.measured);
  EXPECT_EQ(p.microbatch_size(), 4);
  for (std::size_t u = 0; u < p.units.size(); ++u) {
    EXPECT_EQ(p.units[u].name, info.units[u].name);
    EXPECT_GT(p.units[u].forward_micro_s, 0);
    EXPECT_GT(p.units[u].backward_micro_s, 0);
    EXPECT_EQ(p.units[u].activation_bytes, info.units[u].activation_bytes * 4);  // per microbatch of 4
    EXPECT_EQ(p.units[u].param_bytes, info.units[u].params * 4);
  }
  // The profile and the config's kept profiles (one so far).
  ASSERT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 2);
  EXPECT_TRUE(std::filesystem::exists(dir / (p.key + ".json")));
  EXPECT_TRUE(std::filesystem::exists(dir / (p.key + ".kept.jsonl")));
  EXPECT_EQ(p.profiles, 1);

  const ModelProfile cached = profile_model(cfg, opts);
  EXPECT_EQ(profile_to_json(cached), profile_to_json(p));
  opts.again = true;  // one more, kept beside the first: their median answers from now on
  const ModelProfile two = profile_model(cfg, opts);
  EXPECT_EQ(two.profiles, 2);
  opts.again = false;
  EXPECT_EQ(profile_to_json(profile_model(cfg, opts)), profile_to_json(two));
  opts.refresh = true;
  const ModelProfile again = profile_model(cfg, opts);
  EXPECT_EQ(again.profiles, 1);  // measured afresh: the kept ones are replaced
  EXPECT_NE(profile_to_json(again), profile_to_json(p));  // measured again: timings differ
  std::filesystem::remove_all(dir);
}

TEST(Profiler, TakesTheOpTimesFromARunOfTheEngineUnlessToldNotTo) {
  const auto dir = std::filesystem::temp_directory_path() / ("pipescope_profile_engine_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const RunConfig cfg = tiny_config();
  ProfileOptions opts;
  opts.cache_dir = dir.string();
  opts.warmup = 1;
  opts.iterations = 3;
  opts.engine_minibatches = 0;  // unit by unit only
  const ModelProfile bare = profile_model(cfg, opts);
  EXPECT_FALSE(bare.in_engine);
  // A cached profile without the engine's times does not answer a request for them: measured again.
  opts.engine_minibatches = 4;
  const ModelProfile p = profile_model(cfg, opts);
  EXPECT_TRUE(p.in_engine);
  EXPECT_TRUE(profile_from_json(profile_to_json(p), "round trip").in_engine);
  ASSERT_EQ(p.units.size(), bare.units.size());
  for (std::size_t u = 0; u < p.units.size(); ++u) {
    EXPECT_GT(p.units[u].forward_micro_s, 0);
    EXPECT_GT(p.units[u].backward_micro_s, 0);
    EXPECT_GT(p.units[u].update_s, 0);  // every stage has a U op (check_finite at least)
    EXPECT_GT(p.units[u].forward_batch_s, 0);
    // A split backward's I and W, from a zb-h1 run of the engine (SCHEDULES.md section 3).
    EXPECT_GT(p.units[u].input_grad_micro_s, 0);
    EXPECT_GT(p.units[u].weight_grad_micro_s, 0);
  }
  EXPECT_TRUE(p.split_measured());
  // The threads' hand-off (2 stages on the threaded and the sequential executor) and the switch cost
  // (calibrated on 2 x hardware threads' stages, 0 where the model has fewer units): measured, not -1.
  EXPECT_GE(p.link_latency_s, 0);
  EXPECT_LT(p.link_latency_s, 0.1);
  EXPECT_GE(p.switch_s, 0);
  // The processes' hand-off: a frame of the middle unit's activation between two ranks over Gloo takes
  // some time, and well under the probe's 30 s bound.
  EXPECT_GT(p.processes_latency_s, 0);
  EXPECT_LT(p.processes_latency_s, 1.0);
  const ModelProfile back = profile_from_json(profile_to_json(p), "round trip");
  EXPECT_EQ(back.link_latency_s, p.link_latency_s);
  EXPECT_EQ(back.processes_latency_s, p.processes_latency_s);
  EXPECT_EQ(back.switch_s, p.switch_s);
  EXPECT_EQ(back.units.front().input_grad_micro_s, p.units.front().input_grad_micro_s);
  EXPECT_EQ(back.units.back().weight_grad_micro_s, p.units.back().weight_grad_micro_s);
  EXPECT_TRUE(profile_model(cfg, opts).in_engine);  // and now it is cached
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ps
