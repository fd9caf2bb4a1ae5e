// The planner: auto-balance against brute force, memory limits, transfer costs; the profile cache; the what-if simulator
// against the ideal bubble, a single stage, bandwidth and every schedule in the catalogue.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/planner/balance.h"
#include "engine/planner/simulator.h"
#include "engine/schedule/schedule.h"
#include "engine/telemetry/text_file.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// A profile whose unit u takes fwd[u] seconds forward and twice that backward per microbatch (at any
// size: both measured sizes carry the same figure scaled), no update time.
ModelProfile hand_profile(const std::vector<double>& fwd, int batch = 8, int microbatches = 1,
                          const std::vector<std::int64_t>& params = {}, const std::vector<std::int64_t>& acts = {}) {
  ModelProfile p;
  p.model = "hand-made";
  p.batch_size = batch;
  p.microbatches = microbatches;
  for (std::size_t u = 0; u < fwd.size(); ++u) {
    UnitProfile up;
    up.name = "u" + std::to_string(u);
    up.forward_micro_s = fwd[u];
    up.backward_micro_s = 2 * fwd[u];
    up.forward_batch_s = fwd[u] * microbatches;
    up.backward_batch_s = 2 * fwd[u] * microbatches;
    up.param_bytes = u < params.size() ? params[u] : 0;
    up.activation_bytes = u < acts.size() ? acts[u] : 0;
    p.units.push_back(up);
  }
  return p;
}

// Every split of n units into s stages (boundaries lists).
void for_each_split(int n, int s, const std::function<void(const std::vector<int>&)>& visit) {
  std::vector<int> b;
  std::function<void(int)> rec = [&](int next) {
    if (int(b.size()) == s - 1) {
      visit(b);
      return;
    }
    for (int x = next; x <= n - (s - 1 - int(b.size())); ++x) {
      b.push_back(x);
      rec(x + 1);
      b.pop_back();
    }
  };
  rec(1);
}

TEST(Balance, DynamicProgrammingMatchesBruteForceOnRandomInstances) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> time(0.001, 0.05);
  std::uniform_int_distribution<int> bytes(0, 4000);
  for (int trial = 0; trial < 150; ++trial) {
    const int n = 2 + trial % 7;
    std::vector<double> fwd;
    std::vector<std::int64_t> params, acts;
    for (int u = 0; u < n; ++u) {
      fwd.push_back(time(rng));
      params.push_back(bytes(rng) * 100);
      acts.push_back(bytes(rng) * 50);
    }
    const ModelProfile p = hand_profile(fwd, 8, 1 + trial % 3, params, acts);
    for (BalanceBy by : {BalanceBy::Time, BalanceBy::Params, BalanceBy::Memory}) {
      for (int s = 1; s <= std::min(n, 4); ++s) {
        BalanceOptions o;
        o.by = by;
        o.stages = s;
        o.schedule = "1f1b-flush";
        o.bandwidth_bytes_per_s = trial % 2 ? 1e7 : 0;
        o.weight_copies = 2;
        double best = std::numeric_limits<double>::infinity();
        for_each_split(n, s, [&](const std::vector<int>& b) { best = std::min(best, evaluate_partition(p, b, o).objective); });
        const BalancePlan plan = balance_partition(p, o);
        ASSERT_EQ(int(plan.boundaries.size()), s - 1);
        EXPECT_NEAR(plan.objective, best, 1e-9 * std::max(1.0, best)) << "trial " << trial << " by " << to_string(by);
        EXPECT_DOUBLE_EQ(evaluate_partition(p, plan.boundaries, o).objective, plan.objective);
      }
    }
  }
}

TEST(Balance, MemoryLimitIsRespectedOrReportedAsInputError) {
  // Time wants the heavy unit 0 alone; parameters are concentrated at the end.
  const ModelProfile p = hand_profile({0.05, 0.01, 0.01, 0.01, 0.01, 0.01}, 8, 1, {10, 10, 10, 10, 400, 400},
                                      {1, 1, 1, 1, 1, 1});
  BalanceOptions o;
  o.stages = 2;
  const BalancePlan free_plan = balance_partition(p, o);
  EXPECT_EQ(free_plan.boundaries, std::vector<int>({1}));
  o.memory_limit_bytes = 500;  // units 4 and 5 together (800 bytes) do not fit one device
  const BalancePlan limited = balance_partition(p, o);
  for (const auto& st : limited.stages) EXPECT_LE(st.memory_bytes, 500);
  EXPECT_EQ(limited.boundaries, std::vector<int>({5}));
  o.memory_limit_bytes = 300;  // unit 5 alone needs 401
  try {
    balance_partition(p, o, "test.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "memory_limit");
    EXPECT_NE(std::string(e.what()).find("least memory"), std::string::npos) << e.what();
  }
}

TEST(Balance, TransferCostMovesTheBoundaryAwayFromAFatActivation) {
  // Equal units; the activation after unit 1 is huge, every other one small.
  const ModelProfile p = hand_profile({0.01, 0.01, 0.01, 0.01}, 8, 1, {}, {100, 1000000, 100, 100});
  BalanceOptions o;
  o.stages = 2;
  EXPECT_EQ(balance_partition(p, o).boundaries, std::vector<int>({2}));  // infinite bandwidth: the middle
  o.bandwidth_bytes_per_s = 1e7;  // 0.1 s for the fat activation, more than any stage's compute
  const BalancePlan plan = balance_partition(p, o);
  EXPECT_NE(plan.boundaries, std::vector<int>({2}));
  EXPECT_LT(plan.bottleneck_s, 0.1);
}

TEST(Balance, ParamsObjectiveAndBadInputs) {
  const ModelProfile p = hand_profile({0.01, 0.01, 0.01, 0.01}, 8, 1, {100, 100, 100, 900});
  BalanceOptions o;
  o.by = BalanceBy::Params;
  o.stages = 2;
  EXPECT_EQ(balance_partition(p, o).boundaries, std::vector<int>({3}));
  o.stages = 5;
  EXPECT_THROW(balance_partition(p, o), InputError);
  EXPECT_THROW(parse_balance_by("flops", "--by"), InputError);
  EXPECT_EQ(even_partition(10, 3), std::vector<int>({4, 7}));
}

SimOptions sim(const std::string& schedule, std::vector<int> boundaries, int M, int N) {
  SimOptions o;
  o.schedule = schedule;
  o.boundaries = std::move(boundaries);
  o.microbatches = M;
  o.minibatches = N;
  return o;
}

// Seconds per minibatch in a simulation's steady state: from stage 0's forward of minibatch 30 to that
// of minibatch 50 (a spin has set in by then; the run needs 51 minibatches or more).
double steady_minibatch_period(const SimResult& r) {
  std::int64_t first = -1, last = -1;
  for (const OpEvent& e : r.ops)
    if (e.stage == 0 && e.kind == OpKind::Forward) {
      if (e.minibatch == 30) first = e.t_start_ns;
      if (e.minibatch == 50) last = e.t_start_ns;
    }
  return first < 0 || last < 0 ? -1 : 1e-9 * double(last - first) / 20;
}

// An op's typical cost is the mean of its times, a stall capped at 3 medians: right-leaning times cost
// more than their median; one stall of 100 times the rest counts 3 times; none of it for an empty list.
TEST(Profiler, AnOpsTypicalCostIsItsMeanWithStallsCapped) {
  EXPECT_DOUBLE_EQ(typical_op_cost({1, 1, 1, 2, 5}), 1.6);  // median 1: the 5 counts 3, (1+1+1+2+3)/5
  EXPECT_GT(typical_op_cost({1, 1, 1, 2, 2}), 1.0);         // above the median
  EXPECT_DOUBLE_EQ(typical_op_cost({2, 2, 2, 2, 200}), 2.8);
  EXPECT_DOUBLE_EQ(typical_op_cost({4}), 4.0);
  EXPECT_EQ(typical_op_cost({}), 0.0);
}

// From 12 times on, a slow spell of the VM that covers a third of the calibration run (the middle four
// ops 40% slower) leaves the op's cost where the rest of the run puts it; the mean of all would not.
TEST(Profiler, ASlowSpellInAThirdOfTheRunDoesNotMoveAnOpsCost) {
  const std::vector<double> spell = {1, 1, 1, 1, 1.4, 1.4, 1.4, 1.4, 1, 1, 1, 1};
  EXPECT_DOUBLE_EQ(typical_op_cost(spell), 1.0);
  // Fewer than 3 * kFewestPerThird times: the capped mean of all of them.
  const std::vector<double> short_spell(spell.begin() + 1, spell.end());
  ASSERT_LT(short_spell.size(), 3 * kFewestPerThird);
  EXPECT_DOUBLE_EQ(typical_op_cost(short_spell), (7 + 4 * 1.4) / 11);
  // Right-leaning times without a spell still cost more than their median.
  EXPECT_GT(typical_op_cost({1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2}), 1.0);
}

// The median of several profiles takes each measured figure's median, unit by unit; profiles of another
// model or config are refused.
TEST(Profiler, TheMedianOfProfilesTakesEachFiguresMedian) {
  std::vector<ModelProfile> ps = {hand_profile({1, 5}), hand_profile({2, 4}), hand_profile({10, 3})};
  const double cores[3] = {1.5, 1.9, 1.7}, switch_s[3] = {3e-5, 1e-5, 2e-5};
  for (int i = 0; i < 3; ++i) {
    ps[i].cores = cores[i];
    ps[i].switch_s = switch_s[i];
    ps[i].link_latency_s = 1e-4 * (i + 1);
    ps[i].units[0].update_s = 0.1 * (3 - i);
    ps[i].units[1].input_grad_micro_s = 0.5 * (i + 1);
  }
  const ModelProfile m = median_profile(ps);
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 2);
  EXPECT_DOUBLE_EQ(m.units[0].backward_micro_s, 4);
  EXPECT_DOUBLE_EQ(m.units[1].forward_micro_s, 4);
  EXPECT_DOUBLE_EQ(m.units[1].backward_batch_s, 8);
  EXPECT_DOUBLE_EQ(m.units[0].update_s, 0.2);
  EXPECT_DOUBLE_EQ(m.units[1].input_grad_micro_s, 1.0);
  EXPECT_DOUBLE_EQ(m.cores, 1.7);
  EXPECT_DOUBLE_EQ(m.switch_s, 2e-5);
  EXPECT_DOUBLE_EQ(m.link_latency_s, 2e-4);
  EXPECT_EQ(m.units[1].name, "u1");
  EXPECT_THROW(median_profile({}), std::invalid_argument);
  ps[2].key = "another config";
  EXPECT_THROW(median_profile(ps), std::invalid_argument);
  ps[2] = hand_profile({1, 2, 3});
  EXPECT_THROW(median_profile(ps), std::invalid_argument);
}

// The cache keeps a config's last profiles and answers with their median: one slow profile among them
// does not move it, the oldest leave as new ones come, a torn line costs only itself, and --refresh
// starts over.
TEST(Profiler, TheCacheKeepsTheLastProfilesAndAnswersWithTheirMedian) {
  const auto dir = std::filesystem::temp_directory_path() / ("pipescope_kept_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto measured = [](double fwd) {
    ModelProfile p = hand_profile({fwd, 2 * fwd});
    p.key = "hand-made_cpu_b8";
    p.measured = true;
    p.cores = 1.5;
    p.processes_latency_s = 2e-4;
    return p;
  };
  const auto lines = [&] {
    std::ifstream in(dir / "hand-made_cpu_b8.kept.jsonl");
    int n = 0;
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n;
  };
  const auto cached = [&] {
    const auto text = read_text_file((dir / "hand-made_cpu_b8.json").string());
    return profile_from_json(text.value_or(""), "cached");
  };
  ModelProfile m = keep_profile(dir.string(), measured(1.0), 3);
  EXPECT_EQ(m.profiles, 1);
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 1.0);
  m = keep_profile(dir.string(), measured(9.0), 3);  // a profile taken in a slow spell
  EXPECT_EQ(m.profiles, 2);
  m = keep_profile(dir.string(), measured(0.8), 3);
  EXPECT_EQ(m.profiles, 3);
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 1.0);  // the median of 1.0, 9.0 and 0.8
  EXPECT_DOUBLE_EQ(m.units[1].backward_micro_s, 4.0);
  EXPECT_EQ(profile_to_json(cached()), profile_to_json(m));  // what a cached read returns
  EXPECT_EQ(lines(), 3);
  m = keep_profile(dir.string(), measured(0.5), 3);  // the oldest (1.0) leaves
  EXPECT_EQ(m.profiles, 3);
  EXPECT_EQ(lines(), 3);
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 0.8);  // 9.0, 0.8, 0.5 (with 1.0 still kept: 0.9)
  {
    std::ofstream torn(dir / "hand-made_cpu_b8.kept.jsonl", std::ios::app);
    torn << "{\"format\": \"pipescope-profile-1\", \"key\n";
  }
  ModelProfile other = hand_profile({5, 5, 5});  // another unit count under the same key: not this model's
  other.key = "hand-made_cpu_b8";
  other.measured = true;
  ModelProfile older = measured(0.1);  // measured before the processes' hand-off was: -1 there
  older.processes_latency_s = -1;
  {
    std::ofstream foreign(dir / "hand-made_cpu_b8.kept.jsonl", std::ios::app);
    foreign << nlohmann::json::parse(profile_to_json(other)).dump() << "\n";
    foreign << nlohmann::json::parse(profile_to_json(older)).dump() << "\n";
  }
  m = keep_profile(dir.string(), measured(1.3), 3);
  EXPECT_EQ(m.profiles, 3);  // 0.8, 0.5, 1.3: the torn, foreign and older lines dropped
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 0.8);
  EXPECT_EQ(lines(), 3);
  m = keep_profile(dir.string(), measured(2.0), 3, /*replace=*/true);
  EXPECT_EQ(m.profiles, 1);
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 2.0);
  EXPECT_EQ(lines(), 1);
  // A cache from before the kept file: its one profile is the first kept.
  std::filesystem::remove(dir / "hand-made_cpu_b8.kept.jsonl");
  m = keep_profile(dir.string(), measured(4.0), 3);
  EXPECT_EQ(m.profiles, 2);
  EXPECT_DOUBLE_EQ(m.units[0].forward_micro_s, 3.0);  // the median of 2.0 and 4.0
  // A folder that cannot be written: the error names the file.
  std::filesystem::remove_all(dir);
  std::ofstream(dir.string()) << "a file, not a folder";
  try {
    keep_profile(dir.string(), measured(1.0), 3);
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hand-made_cpu_b8.kept.jsonl"), std::string::npos) << e.what();
  }
  std::filesystem::remove(dir);
}

TEST(Simulator, EqualStagesGiveTheIdealBubble) {
  for (const std::string name : {"gpipe", "1f1b-flush"})
    for (int S : {2, 3, 4})
      for (int M : {1, 2, 4, 8}) {
        const ModelProfile p = hand_profile(std::vector<double>(S, 0.01), 8 * M, M);
        const SimResult r = simulate(p, sim(name, even_partition(S, S), M, 3));
        EXPECT_NEAR(r.bubble_fraction, ideal_bubble_fraction(name, S, M), 1e-9) << name << " S=" << S << " M=" << M;
        EXPECT_NEAR(r.makespan_s, 3 * (M + S - 1) * 0.03, 1e-9);
      }
}

TEST(Simulator, OneStageTakesTheSumOfItsOps) {
  ModelProfile p = hand_profile({0.01, 0.02, 0.03}, 16, 1);
  p.units[1].update_s = 0.005;
  const SimResult r = simulate(p, sim("1f1b-async", {}, 1, 5));
  EXPECT_NEAR(r.makespan_s, 5 * (0.06 + 0.12 + 0.005), 1e-9);
  EXPECT_NEAR(r.samples_per_second, 5 * 16 / r.makespan_s, 1e-6);
  EXPECT_NEAR(r.bubble_fraction, 0, 1e-12);
  EXPECT_EQ(r.ops.size(), 15u);
}

TEST(Simulator, FiniteBandwidthIsSlowerAndRecordsTransfers) {
  const ModelProfile p = hand_profile({0.01, 0.01, 0.01, 0.01}, 8, 2, {}, {4000, 4000, 4000, 4000});
  SimOptions o = sim("1f1b-flush", {1, 2, 3}, 2, 4);
  const SimResult fast = simulate(p, o);
  o.bandwidth_bytes_per_s = 1e6;  // 4 ms per transfer
  const SimResult slow = simulate(p, o);
  o.bandwidth_bytes_per_s = 1e5;  // 40 ms per transfer
  const SimResult slower = simulate(p, o);
  EXPECT_TRUE(fast.transfers.empty());
  EXPECT_FALSE(slow.transfers.empty());
  EXPECT_LT(fast.makespan_s, slow.makespan_s);
  EXPECT_LT(slow.makespan_s, slower.makespan_s);
  // Stages on one device exchange nothing over links: 1 device runs everything back to back.
  o.devices = 1;
  const SimResult one = simulate(p, o);
  EXPECT_TRUE(one.transfers.empty());
  EXPECT_NEAR(one.makespan_s, 4 * 2 * 4 * 0.03, 1e-9);
}

TEST(Simulator, EveryScheduleCompletesWithoutDeadlock) {
  const ModelProfile p = hand_profile({0.01, 0.02, 0.015, 0.005, 0.01}, 16, 4, {}, {100, 100, 100, 100, 100});
  for (const auto& info : schedule_catalog())
    for (int S : {1, 2, 3, 4})
      for (int devices : {0, 1, 2}) {
        const int M = std::max(info.takes_microbatches ? 4 : 1, info.min_microbatches(S));
        const int v = info.replicas ? 1 : info.default_chunks();
        if (S * v > 5) continue;  // more chunks than the profile's units
        try {
          check_schedule(info.name, S, M, v);
        } catch (const InputError&) {
          continue;  // e.g. interleaving on one device: refused (tested with the schedules)
        }
        SimOptions o = sim(info.name, even_partition(5, S * v), M, 6);
        o.replicas = S;
        o.devices = devices;
        o.round_robin = devices == 2;
        o.bandwidth_bytes_per_s = 1e6;
        SimResult r;
        ASSERT_NO_THROW(r = simulate(p, o)) << info.name << " S=" << S;
        std::size_t expected = 0;
        for (const auto& l : make_schedule(info.name, S, M, 6)) expected += l.size();
        EXPECT_EQ(r.ops.size(), expected) << info.name;
        EXPECT_GT(r.samples_per_second, 0);
        for (const auto& ev : r.ops) EXPECT_LE(ev.t_start_ns, ev.t_end_ns);
      }
}

TEST(Simulator, SharedCoresSlowOverlappingStages) {
  const ModelProfile p = hand_profile({0.01, 0.01, 0.01, 0.01}, 8, 1);
  SimOptions o = sim("1f1b-async", {1, 2, 3}, 1, 20);
  const SimResult free_cores = simulate(p, o);
  o.cores = 2;
  const SimResult two = simulate(p, o);
  o.cores = 1;
  const SimResult one = simulate(p, o);
  EXPECT_LT(free_cores.makespan_s, two.makespan_s);
  EXPECT_LT(two.makespan_s, one.makespan_s);
  EXPECT_NEAR(one.makespan_s, 20 * 4 * 0.03, 1e-9);  // one core: all the work, back to back
}

// A hand-off's latency delays an idle receiver by exactly that much: the sequential schedule on 2 stages
// (one op at a time) waits for it twice per minibatch (F to stage 1, B back to stage 0). It occupies no
// link: with infinite bandwidth it is recorded as a transfer of that length.
TEST(Simulator, HandOffLatencyDelaysAnIdleReceiver) {
  const ModelProfile p = hand_profile({0.01, 0.01}, 8, 1);
  SimOptions o = sim("sequential", {1}, 1, 10);
  const SimResult none = simulate(p, o);
  o.latency_s = 0.002;
  const SimResult late = simulate(p, o);
  EXPECT_NEAR(late.makespan_s - none.makespan_s, 10 * 2 * 0.002, 1e-9);
  ASSERT_EQ(late.transfers.size(), 20u);
  for (const auto& tr : late.transfers) EXPECT_EQ(tr.t_end_ns - tr.t_start_ns, 2000000);
  EXPECT_TRUE(none.transfers.empty());
  o.latency_s = -1;
  EXPECT_THROW(simulate(p, o), InputError);
}

// A latency off the critical path costs nothing per minibatch: in 1f1b-async with a light stage 0 and a
// heavy stage 1, each activation reaches stage 1 while it still runs the previous minibatch, and stage 0
// idles anyway before each gradient. Only the fill and the drain wait for it.
TEST(Simulator, HandOffLatencyOffTheCriticalPathCostsOnlyFillAndDrain) {
  const ModelProfile p = hand_profile({0.005, 0.01}, 8, 1);  // stage 0: 15 ms per minibatch, stage 1: 30 ms
  SimOptions o = sim("1f1b-async", {1}, 1, 40);
  const double none = simulate(p, o).makespan_s;
  o.latency_s = 0.002;
  const double late = simulate(p, o).makespan_s;
  EXPECT_GE(late, none);
  EXPECT_LE(late - none, 2 * 0.002 + 1e-9) << "80 hand-offs, all but the first and the last behind other ops";
}

// The switch cost is paid only by an op that starts while every hardware thread runs another: one op at a
// time (sequential) never pays it; 1f1b-async on 2 stages and 1 hardware thread pays it on the ops that
// start beside a running one, and more cost is slower.
TEST(Simulator, SwitchCostOnlyWhenEveryHardwareThreadIsBusy) {
  const ModelProfile p = hand_profile({0.01, 0.01}, 8, 1);
  SimOptions seq = sim("sequential", {1}, 1, 10);
  const double seq_free = simulate(p, seq).makespan_s;
  seq.hardware_threads = 1;
  seq.switch_s = 0.005;
  EXPECT_NEAR(simulate(p, seq).makespan_s, seq_free, 1e-12);

  SimOptions o = sim("1f1b-async", {1}, 1, 20);
  o.cores = 1;
  o.hardware_threads = 1;
  const double free_switch = simulate(p, o).makespan_s;
  o.switch_s = 0.001;
  const double some = simulate(p, o).makespan_s;
  o.switch_s = 0.004;
  const double more = simulate(p, o).makespan_s;
  EXPECT_LT(free_switch, some);
  EXPECT_LT(some, more);
  o.hardware_threads = 2;  // two hardware threads: neither stage ever waits for one
  EXPECT_NEAR(simulate(p, o).makespan_s, free_switch, 1e-12);
  o.switch_s = -0.001;
  EXPECT_THROW(simulate(p, o), InputError);
}

// A profile's measured machine (cores, hand-off, switch) goes into a simulation as it is; what was not
// measured (-1) counts as nothing. A processes run hands over as the processes measured, where they were.
TEST(Simulator, AProfileAppliesItsMachine) {
  ModelProfile p = hand_profile({0.01, 0.01}, 8, 1);
  SimOptions o;
  o.cores = 2;
  p.apply_machine(o, 2);
  EXPECT_EQ(o.cores, 2);  // not measured: left as it was
  EXPECT_EQ(o.latency_s, 0);
  EXPECT_EQ(o.switch_s, 0);
  p.cores = 1.6;
  p.link_latency_s = 1e-4;
  p.switch_s = 3e-5;
  p.apply_machine(o, 2);
  EXPECT_DOUBLE_EQ(o.cores, 1.6);
  EXPECT_DOUBLE_EQ(o.latency_s, 1e-4);
  EXPECT_DOUBLE_EQ(o.switch_s, 3e-5);
  EXPECT_EQ(o.hardware_threads, 2);
  p.apply_machine(o, 2, "processes");  // the processes' hand-off not measured: the threads' stands in
  EXPECT_DOUBLE_EQ(o.latency_s, 1e-4);
  p.processes_latency_s = 4e-4;
  p.apply_machine(o, 2, "processes");
  EXPECT_DOUBLE_EQ(o.latency_s, 4e-4);
  EXPECT_DOUBLE_EQ(o.switch_s, 3e-5);
  EXPECT_EQ(o.spin_s, 0);  // measured with the processes' own spin
  p.apply_machine(o, 2, "threaded");
  EXPECT_DOUBLE_EQ(o.latency_s, 1e-4);
  EXPECT_DOUBLE_EQ(o.spin_s, kThreadsSpin_s);
  const ModelProfile back = profile_from_json(profile_to_json(p), "round trip");
  EXPECT_DOUBLE_EQ(back.link_latency_s, 1e-4);
  EXPECT_DOUBLE_EQ(back.switch_s, 3e-5);
  EXPECT_DOUBLE_EQ(back.processes_latency_s, 4e-4);
}

// The processes' longer hand-off slows a simulated pipeline whose stages wait for each other: 1f1b-async
// on 2 balanced stages (stage 0: F(i+1), B(i), U per minibatch) waits for one hand-off per minibatch in
// its steady state. Stage 1 ends B(i) at t; stage 0 takes the gradient at t + L and ends B(i) at t + L + b;
// its F(i+2) follows, and stage 1, done with F(i+1) B(i+1) at t + f + b, gets F(i+2)'s activation at
// t + 2L + b + f only when the cycle is shorter than f + b + L. So each minibatch takes f + b + L.
TEST(Simulator, AProcessesRunPaysTheProcessesHandOff) {
  ModelProfile p = hand_profile({0.004, 0.004}, 8, 1);
  p.link_latency_s = 1e-4;
  p.processes_latency_s = 6e-4;
  auto steady_period = [&](const std::string& executor) {
    SimOptions o = sim("1f1b-async", {1}, 1, 60);
    p.apply_machine(o, 2, executor);
    return steady_minibatch_period(simulate(p, o));
  };
  // The threads' waiting stage spins (2 workers on 2 hardware threads) and takes each message at once.
  const double threads = steady_period("threaded"), processes = steady_period("processes");
  EXPECT_NEAR(processes - threads, 6e-4, 1e-6);
  EXPECT_NEAR(threads, 0.004 * 3, 1e-6);  // f + b: a stage's 4 ms forward and 8 ms backward
}

// The threaded executor's links spin (ChannelLink): a message that comes while its receiver spins costs
// no hand-off. 1f1b-async on 2 balanced stages pays one hand-off per minibatch (above) unless the waiting
// stage spins; with more workers than hardware threads nothing spins. The sequential schedule's
// receivers wait a whole op or more (4 ms, four spins of 1 ms): they sleep and pay every hand-off, unless
// the spin outlasts their waits.
TEST(Simulator, ASpinningReceiverTakesItsMessageWithoutTheHandOff) {
  const ModelProfile p = hand_profile({0.004, 0.004}, 8, 1);
  auto period = [&](const SimOptions& o) { return steady_minibatch_period(simulate(p, o)); };
  SimOptions o = sim("1f1b-async", {1}, 1, 60);
  o.latency_s = 1e-4;
  o.hardware_threads = 2;
  const double asleep = period(o);
  EXPECT_NEAR(asleep, 0.012 + 1e-4, 1e-6);
  o.spin_s = 1e-3;
  EXPECT_NEAR(period(o), 0.012, 1e-6);
  // The transfers say so: in the steady state every message's hand-off is gone (no bandwidth: it ends
  // where it starts); before the spin set in (the first minibatches' waits were long) it was paid.
  const SimResult spun = simulate(p, o);
  EXPECT_TRUE(spun.spins);
  ASSERT_FALSE(spun.transfers.empty());
  EXPECT_EQ(spun.transfers.front().t_end_ns - spun.transfers.front().t_start_ns, 100000);
  int caught = 0;
  for (const auto& tr : spun.transfers)
    if (tr.minibatch >= 30 && tr.minibatch <= 50) {  // (the drain's waits are long again: asleep)
      EXPECT_EQ(tr.t_end_ns, tr.t_start_ns) << "minibatch " << tr.minibatch;
      ++caught;
    }
  EXPECT_GT(caught, 0);
  o.hardware_threads = 1;  // 2 workers on 1 hardware thread: no spin
  EXPECT_NEAR(period(o), asleep, 1e-9);
  EXPECT_FALSE(simulate(p, o).spins);

  SimOptions q = sim("sequential", {1}, 1, 10);
  q.latency_s = 0.002;
  q.hardware_threads = 2;
  const double seq_asleep = simulate(p, q).makespan_s;
  q.spin_s = 1e-3;
  EXPECT_NEAR(simulate(p, q).makespan_s, seq_asleep, 1e-12);
  q.spin_s = 0.05;  // longer than every wait: the 20 hand-offs (F to stage 1, B back, per minibatch) caught
  EXPECT_NEAR(simulate(p, q).makespan_s, seq_asleep - 10 * 2 * 0.002, 1e-9);
  q.spin_s = -1;
  EXPECT_THROW(simulate(p, q), InputError);
}

// I and W come from the profile when it measured them: a device holds its I and W ops' own times, and
// on one device (everything back to back) the makespan is the sum of F, I and W, whatever B would be.
TEST(Simulator, SplitBackwardTakesItsIAndWFromTheProfile) {
  ModelProfile p = hand_profile({0.01, 0.01}, 8, 2);
  EXPECT_FALSE(p.split_measured());
  EXPECT_NEAR(p.input_grad_s(0, 4), 0.01, 1e-12);  // not measured: half of B (0.02) each
  EXPECT_NEAR(p.weight_grad_s(0, 4), 0.01, 1e-12);
  SimOptions o = sim("zb-h1", {1}, 2, 3);
  const SimResult halves = simulate(p, o);
  for (auto& u : p.units) {  // measured: I 3 ms, W 21 ms at the microbatch size (B 20 ms: a 20% dearer split)
    u.input_grad_micro_s = 0.003;
    u.weight_grad_micro_s = 0.021;
  }
  EXPECT_TRUE(p.split_measured());
  EXPECT_NEAR(p.input_grad_s(0, 4), 0.003, 1e-12);
  EXPECT_NEAR(p.weight_grad_s(0, 8), 0.042, 1e-12);  // scaled with B to the whole minibatch
  const SimResult measured = simulate(p, o);
  for (const auto& ev : measured.ops) {
    const double d = 1e-9 * double(ev.t_end_ns - ev.t_start_ns);
    if (ev.kind == OpKind::InputGrad) EXPECT_NEAR(d, 0.003, 1e-6);
    if (ev.kind == OpKind::WeightGrad) EXPECT_NEAR(d, 0.021, 1e-6);
  }
  EXPECT_GT(measured.makespan_s, halves.makespan_s);  // the dearer split shows
  o.devices = 1;
  EXPECT_NEAR(simulate(p, o).makespan_s, 3 * 2 * 2 * (0.01 + 0.003 + 0.021), 1e-9);
}

}  // namespace
}  // namespace ps
