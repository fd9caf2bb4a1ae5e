// Where a process stands in a multi-process run (the processes executor): its rank, the world, and how
// the ranks meet (a FileStore file, or a TCPStore at MASTER_ADDR:MASTER_PORT). Torch-free: the CLI and
// the session options carry it.
#pragma once
#include <optional>
#include <string>

namespace ps {

struct DistOptions {
  int rank = -1;   // -1: not a multi-process run
  int world = 0;
  std::string store_file;   // rendezvous through this FileStore file (one host)
  std::string master_addr;  // else a TCPStore: rank 0 serves it, the others connect
  int master_port = 0;
  std::string token;       // the run's token: keys live under it, so a stray process never meets this run
  // torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True): the agent serves the TCPStore, every
  // rank connects, and keys live under /worker/attempt_N as torch.distributed puts them.
  bool agent_store = false;
  std::string key_prefix;
  bool launched = false;   // started by pipescope-cli's own launcher (PIPESCOPE_* variables)
  int local_rank = -1;     // this rank among the ranks of its host (launched: its rank; torchrun: LOCAL_RANK)
  // The build every rank must run, compared at the rendezvous; "": this program's (its GNU build id).
  // The dashboard, rank 0 of ranks that run pipescope-cli, gives that program's (program_version).
  std::string binary;
  bool active() const { return rank >= 0; }
};

// From the environment: PIPESCOPE_RANK, PIPESCOPE_WORLD_SIZE, PIPESCOPE_STORE_FILE, PIPESCOPE_RUN_TOKEN
// (set by the launcher), else torchrun's RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID.
// nullopt when neither is there. Throws InputError naming the variable for a malformed value.
std::optional<DistOptions> dist_options_from_environment();

// Rank `rank` of `world` ranks that meet through the FileStore file `store_file` under `token`: the
// ranks of one host, or threads of one process (the hand-off probe, the tests).
DistOptions file_store_rank(const std::string& store_file, int rank, int world, const std::string& token);

}  // namespace ps
