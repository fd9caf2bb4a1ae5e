// Sweep results: CSV rows and the Markdown report (see report.h).
#include "engine/sweep/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace ps {
namespace {

std::string fmt(double v, int decimals) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string opt(const std::optional<double>& v, int decimals) { return v ? fmt(*v, decimals) : ""; }

// CSV cell: quote when needed.
std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

// Markdown cell: no pipes, no newlines.
std::string md(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

bool finished(const SweepResult& r) { return r.status == "completed" || r.status == "diverged"; }

// Results grouped by (stages, label) in the order the grid lists stage counts and runs.
struct Group {
  int stages = 0;
  std::string label, note, schedule, strategy;
  double lr = 0;
  std::string optimizer;
  std::vector<const SweepResult*> all;   // every planned cell
  std::vector<const SweepResult*> done;  // completed or diverged
  std::vector<const SweepResult*> ok;    // completed with a summary
};

std::vector<Group> group(const std::vector<SweepResult>& results) {
  std::vector<int> stage_order;
  std::vector<std::string> label_order;
  for (const auto& r : results) {
    if (std::find(stage_order.begin(), stage_order.end(), r.stages) == stage_order.end()) stage_order.push_back(r.stages);
    if (std::find(label_order.begin(), label_order.end(), r.label) == label_order.end()) label_order.push_back(r.label);
  }
  std::sort(stage_order.begin(), stage_order.end());
  std::vector<Group> groups;
  for (int S : stage_order)
    for (const auto& label : label_order) {
      Group g;
      g.stages = S;
      g.label = label;
      for (const auto& r : results) {
        if (r.stages != S || r.label != label) continue;
        if (g.all.empty()) g.note = r.note, g.schedule = r.schedule, g.strategy = r.strategy, g.lr = r.lr, g.optimizer = r.optimizer;
        g.all.push_back(&r);
        if (finished(r)) g.done.push_back(&r);
        if (r.status == "completed" && r.summary) g.ok.push_back(&r);
      }
      if (!g.all.empty()) groups.push_back(std::move(g));
    }
  return groups;
}

std::vector<int> stage_counts(const std::vector<Group>& groups) {
  std::vector<int> out;
  for (const auto& g : groups)
    if (std::find(out.begin(), out.end(), g.stages) == out.end()) out.push_back(g.stages);
  return out;
}

// Mean over the group's completed cells of a per-stage figure.
std::optional<double> stage_mean(const Group& g, int k, std::optional<double> (*get)(const StageSummary&)) {
  double sum = 0;
  int n = 0;
  for (const auto* r : g.ok) {
    if (k >= static_cast<int>(r->summary->per_stage.size())) continue;
    const auto v = get(r->summary->per_stage[k]);
    if (v && std::isfinite(*v)) sum += *v, ++n;
  }
  return n ? std::optional<double>(sum / n) : std::nullopt;
}

std::string runs_text(const Group& g) {
  std::string s = std::to_string(g.ok.size()) + "/" + std::to_string(g.all.size());
  int diverged = 0, failed = 0;
  for (const auto* r : g.all) diverged += r->status == "diverged", failed += r->status == "failed";
  if (diverged) s += ", " + std::to_string(diverged) + " diverged";
  if (failed) s += ", " + std::to_string(failed) + " failed";
  const int missing = static_cast<int>(g.all.size() - g.done.size()) - failed;
  if (missing > 0) s += ", " + std::to_string(missing) + " missing";
  return s;
}

std::string lr_text(const Group& g) { return g.optimizer + " " + fmt(g.lr, g.lr < 0.001 ? 5 : g.lr < 0.01 ? 4 : 3); }

}  // namespace

std::string mean_std_text(const std::vector<double>& values, int decimals) {
  std::vector<double> v;
  for (double x : values)
    if (std::isfinite(x)) v.push_back(x);
  if (v.empty()) return "—";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  if (v.size() == 1) return fmt(mean, decimals);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return fmt(mean, decimals) + " ± " + fmt(std::sqrt(ss / (v.size() - 1)), decimals);
}

SweepResult sweep_result_for(const SweepCell& cell, const SweepGrid& grid, const std::string& run_dir) {
  SweepResult r;
  r.id = cell.id;
  r.label = cell.label;
  r.note = cell.run_index < grid.runs.size() ? grid.runs[cell.run_index].note : "";
  r.schedule = cell.config.schedule;
  r.strategy = cell.config.strategy.name;
  r.optimizer = cell.config.optimizer.name;
  r.stages = cell.stages;
  r.seed = cell.seed;
  r.lr = cell.config.optimizer.lr;
  r.status = "missing";
  r.run_dir = run_dir;
  return r;
}

std::string sweep_csv_header() {
  return "id,label,schedule,strategy,optimizer,lr,stages,seed,status,test_accuracy,test_loss,final_train_loss,"
         "steps,samples,samples_per_second,wall_seconds,bubble_measured,bubble_ideal,weight_copies_max,"
         "weight_bytes_max,run_dir,error";
}

std::string sweep_csv(const std::vector<SweepResult>& results) {
  std::string out = sweep_csv_header() + "\n";
  for (const auto& r : results) {
    std::ostringstream row;
    row << csv(r.id) << ',' << csv(r.label) << ',' << csv(r.schedule) << ',' << csv(r.strategy) << ','
        << csv(r.optimizer) << ',' << fmt(r.lr, 6) << ',' << r.stages << ',' << r.seed << ',' << r.status << ',';
    if (r.summary) {
      const RunSummary& s = *r.summary;
      int copies = 0;
      std::int64_t bytes = 0;
      for (const auto& st : s.per_stage) copies = std::max(copies, st.weight_copies_max), bytes = std::max(bytes, st.weight_bytes_max);
      row << opt(s.test_accuracy, 5) << ',' << opt(s.test_loss, 5) << ',' << fmt(s.final_train_loss, 5) << ','
          << s.steps << ',' << s.samples << ',' << fmt(s.samples_per_second, 1) << ',' << fmt(s.wall_seconds, 2) << ','
          << fmt(s.bubble_fraction_measured, 4) << ',' << fmt(s.bubble_fraction_ideal, 4) << ',' << copies << ','
          << bytes << ',';
    } else {
      row << ",,,,,,,,,,,";
    }
    row << csv(r.run_dir) << ',' << csv(r.error);
    out += row.str() + "\n";
  }
  return out;
}

std::string sweep_stages_csv_header() {
  return "id,label,schedule,strategy,stages,seed,status,stage,first_layer,last_layer,params,utilization,"
         "staleness_forward,staleness_backward,inconsistency,divergence,prediction_gain,weight_copies_max,"
         "weight_copies_claimed,weight_bytes_max";
}

std::string sweep_stages_csv(const std::vector<SweepResult>& results) {
  std::string out = sweep_stages_csv_header() + "\n";
  for (const auto& r : results) {
    if (!r.summary) continue;
    for (const auto& st : r.summary->per_stage) {
      std::ostringstream row;
      row << csv(r.id) << ',' << csv(r.label) << ',' << csv(r.schedule) << ',' << csv(r.strategy) << ',' << r.stages
          << ',' << r.seed << ',' << r.status << ',' << st.stage << ',' << st.first_layer << ',' << st.last_layer << ','
          << st.params << ',' << fmt(st.utilization, 3) << ',' << opt(st.staleness_forward_mean, 3) << ','
          << opt(st.staleness_backward_mean, 3) << ',' << opt(st.inconsistency_mean, 3) << ','
          << opt(st.divergence_mean, 6) << ',' << opt(st.prediction_gain_mean, 4) << ',' << st.weight_copies_max
          << ',' << claimed_weight_copies(r.schedule, r.strategy, r.stages, st.stage).copies << ','
          << st.weight_bytes_max;
      out += row.str() + "\n";
    }
  }
  return out;
}

// STRATEGIES.md section 2: synchronous schedules hold one version; section 3, "extra memory per stage"
// (copies below count the live weights too), with the strategy catalogue's caveat for vertical sync.
WeightClaim claimed_weight_copies(const std::string& schedule, const std::string& strategy, int S, int k) {
  if (schedule != "1f1b-async" && schedule != "nf1b") return {"1 (synchronous: one version)", 1};
  if (strategy == "latest") return {"1 (live only)", 1};
  if (strategy == "v-timeprest") return {"1 (no stash; V-TiMePReSt)", 1};
  if (strategy == "stash") return {"S-k (PipeDream: stage 0 holds S)", S - k};
  if (strategy == "vertical-sync") return {"S at k=0, S+1 after (catalogue caveat)", k == 0 ? S : S + 1};
  if (strategy == "2bw") return {"2 (PipeDream-2BW: two buffers)", 2};
  if (strategy == "i-timeprest") return {"S-k+1 (stash + 1 temporary)", S - k + 1};
  if (strategy == "pipemare") return {"2 (live + delta buffer)", 2};
  if (strategy == "spectrain" || strategy == "nesterov" || strategy == "adam-predict")
    return {"2 (live + 1 predicted copy)", 2};
  return {"?", 0};
}

std::string sweep_markdown(const SweepGrid& grid, const std::vector<SweepResult>& results, const std::string& command) {
  const auto groups = group(results);
  const auto counts = stage_counts(groups);
  std::ostringstream o;
  o << "# Sweep " << md(grid.name.empty() ? grid.source : grid.name) << "\n\n";
  if (!grid.description.empty()) o << md(grid.description) << "\n\n";
  o << "Command: `" << command << "`  \nGrid: `" << grid.source << "`, base preset `" << grid.base << "`";
  if (!grid.set.empty()) {
    o << ", every cell with";
    for (const auto& s : grid.set) o << " `" << s << "`";
  }
  o << ".\n\n";

  std::vector<const SweepResult*> missing, failed;
  int done = 0;
  for (const auto& r : results) {
    if (finished(r)) ++done;
    else if (r.status == "failed") failed.push_back(&r);
    else missing.push_back(&r);
  }
  o << "Cells: " << results.size() << " planned, " << done << " finished (completed or diverged), " << failed.size()
    << " failed, " << missing.size() << " missing.\n\n";
  if (!missing.empty()) {
    o << "**Missing cells (not run or not finished):**";
    for (const auto* r : missing) o << " `" << r->id << "`";
    o << "\n\n";
  }
  for (const auto* r : failed) o << "- failed: `" << r->id << "`: " << md(r->error) << "\n";
  if (!failed.empty()) o << "\n";

  // Runs with their overrides.
  o << "Configurations (each cell: base preset, grid `set`, stages, seed, then the run's `set`):\n\n"
    << "| label | overrides | note |\n|---|---|---|\n";
  for (const auto& run : grid.runs) {
    std::string sets;
    for (const auto& s : run.set) sets += (sets.empty() ? "" : " ") + ("`" + s + "`");
    if (!run.stages.empty()) {
      sets += " stages:";
      for (int s : run.stages) sets += " " + std::to_string(s);
    }
    o << "| " << md(run.label) << " | " << md(sets) << " | " << md(run.note) << " |\n";
  }
  o << "\n";

  // (a)
  o << "## (a) Test accuracy and final training loss (mean ± std over seeds)\n\n"
       "`runs` = completed/planned cells; a diverged cell counts in neither mean.\n\n";
  for (int S : counts) {
    o << "### " << S << (S == 1 ? " stage" : " stages") << "\n\n"
      << "| configuration | schedule | strategy | optimizer, lr | runs | test accuracy | test loss | final train loss |\n"
      << "|---|---|---|---|---|---|---|---|\n";
    for (const auto& g : groups) {
      if (g.stages != S) continue;
      std::vector<double> acc, tl, fl;
      for (const auto* r : g.ok) {
        if (r->summary->test_accuracy) acc.push_back(*r->summary->test_accuracy);
        if (r->summary->test_loss) tl.push_back(*r->summary->test_loss);
        fl.push_back(r->summary->final_train_loss);
      }
      o << "| " << md(g.label) << " | " << g.schedule << " | " << g.strategy << " | " << lr_text(g) << " | "
        << runs_text(g) << " | " << mean_std_text(acc, 4) << " | " << mean_std_text(tl, 4) << " | "
        << mean_std_text(fl, 4) << " |\n";
    }
    o << "\n";
  }

  // (b)
  o << "## (b) Per stage: staleness, divergence, prediction gain (means over the completed seeds)\n\n"
       "Staleness d = target - basis version, forward/backward (STRATEGIES.md section 1); divergence = "
       "||W_used - W_target|| / ||W_target|| (sampled every few minibatches); gain = ||W_live - W_target|| / "
       "||W_used - W_target|| (> 1: the prediction helped; only for predicting strategies). Synchronous "
       "schedules read the staleness-free weights (0, 0, —).\n\n";
  for (int S : counts) {
    if (S < 2) continue;
    o << "### " << S << " stages\n\n| configuration | figure |";
    for (int k = 0; k < S; ++k) o << " stage " << k << " |";
    o << "\n|---|---|";
    for (int k = 0; k < S; ++k) o << "---|";
    o << "\n";
    for (const auto& g : groups) {
      if (g.stages != S || g.ok.empty()) continue;
      // A gain row only where the engine measured one (the predicting strategies).
      bool predicting = false;
      for (int k = 0; k < S; ++k)
        predicting = predicting || stage_mean(g, k, [](const StageSummary& s) { return s.prediction_gain_mean; });
      struct Row { const char* name; std::optional<double> (*get)(const StageSummary&); int decimals; };
      std::vector<Row> rows = {
          {"staleness F/B", nullptr, 2},
          {"divergence", [](const StageSummary& s) { return s.divergence_mean; }, 5},
      };
      if (predicting) rows.push_back({"prediction gain", [](const StageSummary& s) { return s.prediction_gain_mean; }, 3});
      for (const auto& row : rows) {
        o << "| " << md(g.label) << " | " << row.name << " |";
        for (int k = 0; k < S; ++k) {
          if (!row.get) {
            const auto f = stage_mean(g, k, [](const StageSummary& s) { return s.staleness_forward_mean; });
            const auto b = stage_mean(g, k, [](const StageSummary& s) { return s.staleness_backward_mean; });
            o << " " << (f ? fmt(*f, 2) : "—") << "/" << (b ? fmt(*b, 2) : "—") << " |";
          } else {
            const auto v = stage_mean(g, k, row.get);
            o << " " << (v ? fmt(*v, row.decimals) : "—") << " |";
          }
        }
        o << "\n";
      }
    }
    o << "\n";
  }

  // (c)
  o << "## (c) Peak weight memory per stage beside the papers' claims\n\n"
       "Cells: measured peak weight-sized copies (live included) / claimed copies, then the measured peak "
       "weight bytes. Claims from STRATEGIES.md section 3 (\"extra memory per stage\", plus the live "
       "weights): PipeDream's stash holds S-k copies at stage k; TiMePReSt's V- variant none; the "
       "predicting strategies one temporary copy.\n\n";
  for (int S : counts) {
    if (S < 2) continue;
    o << "### " << S << " stages\n\n| configuration | claim |";
    for (int k = 0; k < S; ++k) o << " stage " << k << " |";
    o << "\n|---|---|";
    for (int k = 0; k < S; ++k) o << "---|";
    o << "\n";
    for (const auto& g : groups) {
      if (g.stages != S || g.done.empty()) continue;
      o << "| " << md(g.label) << " | " << md(claimed_weight_copies(g.schedule, g.strategy, S, 0).formula) << " |";
      for (int k = 0; k < S; ++k) {
        int copies = 0;
        std::int64_t bytes = 0;
        bool any = false;
        for (const auto* r : g.done) {
          if (!r->summary || k >= static_cast<int>(r->summary->per_stage.size())) continue;
          any = true;
          copies = std::max(copies, r->summary->per_stage[k].weight_copies_max);
          bytes = std::max(bytes, r->summary->per_stage[k].weight_bytes_max);
        }
        const int claim = claimed_weight_copies(g.schedule, g.strategy, S, k).copies;
        if (!any) {
          o << " — |";
          continue;
        }
        const std::string kb = bytes >= 1 << 20 ? fmt(bytes / 1048576.0, 2) + " MB"
                               : bytes >= 1024 ? fmt(bytes / 1024.0, 0) + " KB" : std::to_string(bytes) + " B";
        o << " " << copies << "/" << claim << (copies > claim ? " **over**" : "") << " · " << kb << " |";
      }
      o << "\n";
    }
    o << "\n";
  }

  // (d)
  o << "## (d) Throughput and bubble fraction\n\n"
       "Samples per second over the whole run (mean ± std over seeds) and the bubble fraction measured "
       "(idle share of the pipeline's busy span) beside the ideal schedule's (S-1)/(M+S-1) for flushing "
       "schedules, 0 for async 1F1B in steady state.\n\n"
       "| stages | configuration | schedule | samples/s | wall s | bubble measured | bubble ideal |\n"
       "|---|---|---|---|---|---|---|\n";
  for (const auto& g : groups) {
    if (g.done.empty()) continue;
    std::vector<double> sps, wall, bm, bi;
    for (const auto* r : g.done) {
      if (!r->summary) continue;
      sps.push_back(r->summary->samples_per_second);
      wall.push_back(r->summary->wall_seconds);
      bm.push_back(r->summary->bubble_fraction_measured);
      bi.push_back(r->summary->bubble_fraction_ideal);
    }
    o << "| " << g.stages << " | " << md(g.label) << " | " << g.schedule << " | " << mean_std_text(sps, 0) << " | "
      << mean_std_text(wall, 1) << " | " << mean_std_text(bm, 3) << " | " << mean_std_text(bi, 3) << " |\n";
  }
  o << "\n";
  return o.str();
}

}  // namespace ps
