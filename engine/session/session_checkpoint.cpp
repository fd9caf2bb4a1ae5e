// Session checkpoints: the whole session at a cut of its pipeline, written and restored (the file
// format is checkpoint.h's).
#include "engine/session/session_impl.h"
#include "engine/util/errors.h"

namespace ps {

namespace {

constexpr const char* kCheckpointFormat = "pipescope-session";

// The parts of the config that fix the state's shape and the numbers so far: a resumed run must keep them.
const char* const kFixedFields[] = {"model", "dataset", "batch_size", "microbatches", "schedule", "strategy", "seed",
                                    "stages", "partition", "stage_devices", "device"};

}  // namespace

void Session::Impl::write_checkpoint(const std::string& path, const char* reason) {
  wait_collected();
  Checkpoint c;
  c.meta["format"] = kCheckpointFormat;
  c.meta["version"] = 1;
  c.meta["reason"] = reason;
  c.meta["config"] = nlohmann::json::parse(preset_to_json(cfg));
  c.meta["partition"] = boundaries;
  {
    std::lock_guard<std::mutex> lock(mu);
    // A repartitioned run resumes with the partition in effect (and a pending repartition still pending).
    if (repartitioned) c.meta["config"]["partition"] = boundaries;
    if (repart) c.meta["repartition"] = {{"boundaries", repart->boundaries}, {"at_step", repart->at_step}};
  }
  c.meta["num_stages"] = pipeline->num_stages();
  c.meta["segment"] = {{"base", seg_base}, {"length", seg_len}, {"drain_to", cut.empty() ? -1 : drain_to}};
  c.meta["total_steps"] = total_steps;
  c.meta["pipeline_ns"] = pipeline_ns.load();
  c.meta["wall_seconds"] = wall_now();
  nlohmann::json cj;
  cj["next"] = cut.next;
  cj["acts"] = nlohmann::json::array();
  cj["grads"] = nlohmann::json::array();
  for (std::size_t k = 0; k < cut.acts.size(); ++k) {  // per chunk (cut.next is per device)
    cj["acts"].push_back(put_messages(c, cut.acts[k], "cut/act" + std::to_string(k)));
    cj["grads"].push_back(put_messages(c, cut.grads[k], "cut/grad" + std::to_string(k)));
  }
  c.meta["cut"] = cj;
  for (int k = 0; k < pipeline->num_stages(); ++k) pipeline->stage(k).save(c, "s" + std::to_string(k));
  for (std::size_t k = 0; k < all_reduces.size(); ++k) all_reduces[k]->save(c, k == 0 ? "" : std::to_string(k));
  {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    c.put("rng/cpu", gen.get_state());
  }
  std::int64_t step = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::lock_guard<std::mutex> results_lock(results_mu);
    nlohmann::json h = nlohmann::json::array(), e = nlohmann::json::array(), waiting = nlohmann::json::array(),
                   partial_j = nlohmann::json::array();
    for (const auto& m : history) h.push_back(step_json(m));
    for (const auto& m : eval_history) e.push_back(eval_json(m));
    for (const auto& m : evals) e.push_back(eval_json(m));
    for (const auto& r : results) waiting.push_back(result_json(r));
    for (const auto& [mb, r] : partial) partial_j.push_back(result_json(r));
    c.meta["history"] = h;
    c.meta["evals"] = e;
    c.meta["results_waiting"] = waiting;
    c.meta["results_partial"] = partial_j;
    c.meta["steps_done"] = steps_done.load();
    c.meta["run_stats"] = stats.to_json();
    step = steps_done;
  }
  ps::save_checkpoint(path, c);
  std::lock_guard<std::mutex> lock(mu);
  last_ckpt = CheckpointInfo{path, step, wall_now()};
  last_ckpt_time = Clock::now();
}

void Session::Impl::restore(const Checkpoint& c) {
  const std::string& file = c.source;
  if (c.meta.value("format", std::string()) != kCheckpointFormat)
    throw InputError(file, "format", "not a PipeScope session checkpoint");
  if (c.meta.value("version", 0) != 1)
    throw InputError(file, "version", "checkpoint version " + c.meta.value("version", nlohmann::json()).dump() +
                                          " is not supported (this build reads version 1)");
  const nlohmann::json saved = c.meta["config"];
  const nlohmann::json now = nlohmann::json::parse(preset_to_json(cfg));
  for (const char* field : kFixedFields) {
    const nlohmann::json a = saved.value(field, nlohmann::json()), b = now.value(field, nlohmann::json());
    if (a != b)
      throw InputError(file, field, "the run to resume has " + b.dump() + ", the checkpoint " + a.dump() +
                                        " (a checkpoint resumes the run it was saved from)");
  }
  if (c.meta["partition"].get<std::vector<int>>() != boundaries)
    throw InputError(file, "partition", "the resolved partition differs from the checkpoint's");
  const int S = pipeline->num_stages();
  if (c.meta["num_stages"].get<int>() != S) throw InputError(file, "num_stages", "differs from the run's");

  for (int k = 0; k < S; ++k) pipeline->stage(k).load(c, "s" + std::to_string(k));
  for (std::size_t k = 0; k < all_reduces.size(); ++k) all_reduces[k]->load(c, k == 0 ? "" : std::to_string(k));
  const at::Tensor rng = c.get("rng/cpu");
  if (rng.defined()) {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  const nlohmann::json& cj = c.meta["cut"];
  cut.clear();
  if (!cj["next"].empty()) {
    cut.next = cj["next"].get<std::vector<std::size_t>>();
    for (int k = 0; k < S; ++k) {
      cut.acts.push_back(get_messages(c, cj["acts"][k]));
      cut.grads.push_back(get_messages(c, cj["grads"][k]));
    }
  }
  seg_base = c.meta["segment"]["base"].get<std::int64_t>();
  resume_seg_len = cut.empty() ? 0 : c.meta["segment"]["length"].get<std::int64_t>();
  resume_drain_to = cut.empty() ? -1 : c.meta["segment"].value("drain_to", std::int64_t{-1});
  if (c.meta.contains("repartition"))
    repart = RepartitionRequest{c.meta["repartition"]["boundaries"].get<std::vector<int>>(),
                                c.meta["repartition"]["at_step"].get<std::int64_t>()};
  pipeline_ns = c.meta["pipeline_ns"].get<std::int64_t>();
  wall_offset = c.meta["wall_seconds"].get<double>();
  steps_done = c.meta["steps_done"].get<std::int64_t>();
  for (const auto& j : c.meta["history"]) history.push_back(step_from(j));
  for (const auto& j : c.meta["evals"]) eval_history.push_back(eval_from(j));
  for (const auto& j : c.meta["results_waiting"]) {
    results.push_back(result_from(j));
    result_times.push_back(wall_offset);  // complete before the cut
  }
  for (const auto& j : c.meta["results_partial"]) {
    const MinibatchResult r = result_from(j);
    partial[r.minibatch] = r;
  }
  if (dist && dist->rank() != 0) {  // rank 0 reports the results so far; this rank only adds new ones
    results.clear();
    result_times.clear();
  }
  stats.from_json(c.meta["run_stats"]);
  if (!history.empty()) last_step = history.back();
  if (!eval_history.empty()) last_eval = eval_history.back();
  pending.steps = history;  // a dashboard shows the whole curve
  pending.evals = eval_history;
  last_ckpt = CheckpointInfo{file, steps_done, wall_offset};
}

RunConfig checkpoint_config(const std::string& path) {
  const Checkpoint c = load_checkpoint(path);
  if (c.meta.value("format", std::string()) != kCheckpointFormat)
    throw InputError(path, "format", "not a PipeScope session checkpoint");
  RunConfig cfg = parse_preset(c.meta["config"].dump(), path);
  return cfg;
}

CheckpointProgress checkpoint_progress(const std::string& path) {
  const Checkpoint c = load_checkpoint(path);
  if (c.meta.value("format", std::string()) != kCheckpointFormat)
    throw InputError(path, "format", "not a PipeScope session checkpoint");
  return {c.meta.value("steps_done", std::int64_t{0}), c.meta.value("total_steps", std::int64_t{0})};
}

}  // namespace ps
