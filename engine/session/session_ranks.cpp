// The session's side of the processes executor: joining the ranks, and what a rank other than 0 sends
// rank 0 (its op and transfer events, the last stage's results, its chunks' figures). Rank 0 feeds them
// to the same collector a threaded run uses, so the outputs do not know how the run was executed.
#include "engine/session/checkpoint.h"
#include "engine/session/session_impl.h"
#include "engine/util/errors.h"

namespace ps {

void Session::Impl::join_ranks() {
  if (opts.checkpoint_every_minutes > 0)
    throw InputError(cfg.source, "executor",
                     "a multi-process run saves its checkpoint at its end (or on Ctrl-C), not every few minutes yet "
                     "(drop --checkpoint-every, or use threaded)");
  if (!opts.dist.active())
    throw InputError(cfg.source, "executor",
                     "processes needs its ranks: `pipescope-cli run` starts them on this host, torchrun across hosts "
                     "(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(cfg.processes_timeout_seconds * 1000));
  dist = std::make_unique<dist::RankContext>(opts.dist, cfg, timeout, [this] { control.stop(); });
  dist->set_control(&control);  // rank 0's pause, step and slow motion reach every rank
  if (dist->rank() != 0) {  // rank 0 writes the outputs
    opts.out_dir.clear();
    opts.trace_path.clear();
  }
}

dist::ChunkFigures chunk_figures(const Pipeline& p, int k) {
  const StageRuntime& st = p.stage(k);
  const LinkFigures l = p.link_figures(k);
  return {k, st.weight_copies_max(), st.busy_ns(), st.weight_bytes_max(), st.activation_bytes_max(),
          l.wait_ns, l.bytes_sent, l.messages_sent, p.device_activation_bytes_max(p.device_of(k))};
}

static std::vector<dist::ChunkFigures> local_figures(const Pipeline& p, const dist::RankContext& ctx) {
  std::vector<dist::ChunkFigures> out;
  for (int k = 0; k < p.num_stages(); ++k)
    if (ctx.here(k)) out.push_back(chunk_figures(p, k));
  return out;
}

void Session::Impl::forward_telemetry(std::vector<OpEvent>& ops, std::vector<TransferEvent>& transfers) {
  // A packet every 10 ms (each collection) cost both ranks a wake-up and a frame on the link between
  // the stages' messages; one every kForwardPeriod keeps the live views current enough.
  unsent_ops.insert(unsent_ops.end(), ops.begin(), ops.end());
  unsent_transfers.insert(unsent_transfers.end(), transfers.begin(), transfers.end());
  ops.clear();
  transfers.clear();
  const auto now = Clock::now();
  if (!driver_done && now - last_forward < kForwardPeriod) return;
  last_forward = now;
  dist::TelemetryPacket p;
  p.origin_ns = dist->origin_ns();
  p.ops.swap(unsent_ops);
  p.transfers.swap(unsent_transfers);
  {
    std::lock_guard<std::mutex> lock(results_mu);
    p.results.swap(results);
    p.result_seconds.swap(result_times);  // when each was complete here (add_result)
  }
  p.figures = local_figures(*pipeline, *dist);
  dist->send_telemetry(p);
}

dist::TelemetryPacket Session::Impl::final_packet() {
  dist::TelemetryPacket p;
  p.origin_ns = dist->origin_ns();
  p.figures = local_figures(*pipeline, *dist);
  std::lock_guard<std::mutex> lock(mu);
  p.status = static_cast<std::int32_t>(status);
  p.error = error;
  return p;
}

namespace {

// The chunks' messages of a cut that this rank holds: a receiver's inbox, or a sender's unsent message.
void put_cut(Checkpoint& c, const PipelineCut& cut) {
  nlohmann::json acts = nlohmann::json::object(), grads = nlohmann::json::object();
  for (std::size_t k = 0; k < cut.acts.size(); ++k) {
    if (!cut.acts[k].empty()) acts[std::to_string(k)] = put_messages(c, cut.acts[k], "cut/act" + std::to_string(k));
    if (!cut.grads[k].empty()) grads[std::to_string(k)] = put_messages(c, cut.grads[k], "cut/grad" + std::to_string(k));
  }
  c.meta["acts"] = acts;
  c.meta["grads"] = grads;
}

}  // namespace

bool Session::Impl::gather_ranks_state(std::string& why) {
  const int C = pipeline->num_stages();
  // Replicas as processes: every rank's view of the all-reduce rounds of the chunks it holds (complete
  // once the links are flushed: gradients are sent before the Flushed frame), by chunk position.
  auto save_rounds = [&](Checkpoint& into) {
    for (int k = 0; k < C; ++k)
      if (!all_reduces.empty() && dist->here(k)) all_reduces[static_cast<std::size_t>(k % group)]->save(into, "p" + std::to_string(k % group));
  };
  const int me = dist->rank();
  dist->flush_links();
  // What reached this rank after its pipeline stopped comes after what the cut already holds.
  if (!cut.empty())
    for (int c = 0; c + 1 < C; ++c) {
      if (dist->here(c + 1) && !dist->here(c))
        for (auto& m : dist->drain(c, c + 1)) cut.acts[static_cast<std::size_t>(c + 1)].push_back(std::move(m));
      if (dist->here(c) && !dist->here(c + 1))
        for (auto& m : dist->drain(c + 1, c)) cut.grads[static_cast<std::size_t>(c)].push_back(std::move(m));
    }
  if (me != 0) {
    Checkpoint part;
    part.meta["seg_base"] = seg_base;
    part.meta["seg_len"] = seg_len;
    part.meta["drain_to"] = drain_to;
    part.meta["next"] = cut.empty() ? -1 : static_cast<std::int64_t>(cut.next[static_cast<std::size_t>(me)]);
    for (int k = 0; k < C; ++k)
      if (dist->here(k)) pipeline->stage(k).save(part, "s" + std::to_string(k));
    if (!cut.empty()) put_cut(part, cut);
    save_rounds(part);
    {
      // The results this rank has not forwarded yet go with its part (and not again as telemetry).
      std::lock_guard<std::mutex> lock(results_mu);
      nlohmann::json rs = nlohmann::json::array();
      for (const auto& r : results) rs.push_back(result_json(r));
      part.meta["results"] = rs;
      results.clear();
      result_times.clear();
    }
    std::vector<std::pair<std::string, at::Tensor>> tensors(part.tensors.begin(), part.tensors.end());
    dist->send_state(dist::pack_state(part.meta.dump(), tensors));
    return true;
  }
  const std::vector<at::Tensor> states = dist->take_states();
  std::vector<Checkpoint> parts(static_cast<std::size_t>(dist->world()));
  for (int r = 1; r < dist->world(); ++r) {
    auto [json, tensors] = dist::unpack_state(states[static_cast<std::size_t>(r)]);
    Checkpoint& p = parts[static_cast<std::size_t>(r)];
    p.source = "rank " + std::to_string(r);
    p.meta = nlohmann::json::parse(json);
    for (auto& [name, t] : tensors) p.tensors[name] = std::move(t);
    if (p.meta["seg_base"].get<std::int64_t>() != seg_base || (p.meta["next"].get<std::int64_t>() < 0) != cut.empty()) {
      why = "the ranks stopped in different segments (rank 0 at step " + std::to_string(seg_base) + ", " +
            dist->describe_rank(r) + " at step " + std::to_string(p.meta["seg_base"].get<std::int64_t>()) +
            "): no consistent cut to save";
      return false;
    }
  }
  // Rank 0 becomes the whole run: the other ranks' chunks, their place in the lists, their messages, and
  // the all-reduce rounds as one process holding every replica has them.
  if (!all_reduces.empty()) {
    Checkpoint own;
    save_rounds(own);
    parts[0] = std::move(own);
    const int replicas_of = C / group;
    for (int p = 0; p < group; ++p) {
      std::vector<const Checkpoint*> views;
      for (int r = 0; r < replicas_of; ++r) views.push_back(&parts[static_cast<std::size_t>(pipeline->device_of(r * group + p))]);
      all_reduces[static_cast<std::size_t>(p)]->load_merged(views, "p" + std::to_string(p));
    }
  }
  for (int r = 1; r < dist->world(); ++r) {
    const Checkpoint& p = parts[static_cast<std::size_t>(r)];
    for (int k = 0; k < C; ++k)
      if (pipeline->device_of(k) == r) pipeline->stage(k).load(p, "s" + std::to_string(k));
    for (const auto& j : p.meta["results"]) add_result(result_from(j));
  }
  if (cut.empty()) return true;
  PipelineCut merged = cut;
  for (int r = 1; r < dist->world(); ++r)
    merged.next[static_cast<std::size_t>(r)] = parts[static_cast<std::size_t>(r)].meta["next"].get<std::size_t>();
  // Chunk k's inbox: what its own rank received, then what a sender on another rank could not send.
  auto messages_of = [&](int r, const char* kind, int k) {
    if (r == 0) return std::string(kind) == "acts" ? cut.acts[static_cast<std::size_t>(k)] : cut.grads[static_cast<std::size_t>(k)];
    const Checkpoint& p = parts[static_cast<std::size_t>(r)];
    const auto& list = p.meta[kind];
    return list.contains(std::to_string(k)) ? get_messages(p, list[std::to_string(k)]) : std::deque<Message>();
  };
  for (int k = 0; k < C; ++k) {
    const int owner = pipeline->device_of(k);
    for (const char* kind : {"acts", "grads"}) {
      std::deque<Message> all = messages_of(owner, kind, k);
      for (int r = 0; r < dist->world(); ++r)
        if (r != owner)
          for (auto& m : messages_of(r, kind, k)) all.push_back(std::move(m));
      (std::string(kind) == "acts" ? merged.acts : merged.grads)[static_cast<std::size_t>(k)] = std::move(all);
    }
  }
  cut = std::move(merged);
  return true;
}

}  // namespace ps
