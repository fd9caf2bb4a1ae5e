// Runs named by what differs between them: "run 3 · stash · gpipe" beside "run 4 · pipedream · 1f1b",
// so a legend or a table header says which run is which without opening the diff.
#pragma once
#include <QString>
#include <string>
#include <vector>

#include "widgets/run_record.h"

namespace ps::ui {

// The fields where `runs` differ, most telling first: strategy, schedule, stages, seed, then the rest
// in preset order (the partition as one field, strategy parameters by their own name). Fields a partial
// config does not know are never counted.
std::vector<std::string> differing_fields(const std::vector<const RunRecord*>& runs);

// One label per run: "run N" (or its custom name), then the values of the first `max_parts` differing
// fields ("stash · gpipe · 4 stages · seed 2"); with nothing differing, the preset's name.
std::vector<QString> difference_labels(const std::vector<const RunRecord*>& runs, int max_parts = 4);

// A field's value in a run as a label part: "stash", "4 stages", "seed 2", "lr 0.05", "partition 2,5".
QString label_part(const RunRecord& run, const std::string& field);

}  // namespace ps::ui
