// flopledger merge (docs/merge.md). Everything is read and checked before a byte is written; the
// new ledger is written through TraceWriter, so it gets every check a live job's rows get.
#include "io/merge.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

namespace flopledger::io {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// The figures a row carries cumulatively, side by side

enum Figure { kCounted, kModification, kAnalytic, kAws, kHf, kHardware, kFigures };
constexpr const char *kFigureNames[kFigures] = {"counted", "modification", "analytic",
                                                "aws",     "hf",           "hardware"};

using Figures = std::array<u128, kFigures>;

Figures stored_figures(const StepRow &row) {
  return {row.cumulative_counted, row.cumulative_modification, row.cumulative_analytic,
          row.cumulative_aws,     row.cumulative_hf,           row.cumulative_hardware};
}

void set_figures(StepRow &row, const Figures &f) {
  row.cumulative_counted = f[kCounted];
  row.cumulative_modification = f[kModification];
  row.cumulative_analytic = f[kAnalytic];
  row.cumulative_aws = f[kAws];
  row.cumulative_hf = f[kHf];
  row.cumulative_hardware = f[kHardware];
}

/// The row's own period figures. Rows read back carry the projections, not the cube.
bool period_figures(const StepRow &row, const RuleSet &rules, Figures &out) {
  out = {};
  bool ok = true;
  for (const u128 v : row.by_precision)
    ok = ok && checked_add(out[kCounted], v, out[kCounted]);
  for (std::size_t i = 0; i < kPhases; ++i)
    if (rules.phase_counts[i])
      ok = ok && checked_add(out[kModification], row.by_phase[i], out[kModification]);
  out[kAnalytic] = row.analytic_flops;
  out[kAws] = row.aws_flops;
  out[kHf] = row.hf_flops;
  out[kHardware] = row.hardware_flops;
  return ok;
}

/// The verdict figure of a merged row: the rule set's policy over the merged totals, with the
/// methods that any row so far carried (the same function rank 0 uses live).
ChosenFigure verdict_figure(const RuleSet &rules, const Figures &totals, bool analytic,
                            bool hardware) {
  MethodFigures figures;
  figures.counted = totals[kModification];
  if (analytic) figures.analytic = totals[kAnalytic];
  if (hardware) figures.hardware = totals[kHardware];
  return choose_verdict_figure(rules, figures);
}

bool add_figures(const Figures &a, const Figures &b, Figures &out) {
  for (std::size_t k = 0; k < kFigures; ++k)
    if (!checked_add(a[k], b[k], out[k])) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// One input, read and checked

struct Input {
  std::string path; ///< as given
  TraceContents trace;
  std::map<std::uint32_t, std::size_t> segment_by_id; ///< segment id -> index in trace.segments
  std::set<std::uint64_t> regenerated_gaps; ///< rows whose cumulative_gap the writer writes again
};

std::string original_text(const OriginalModel &original) {
  return original.compute_known ? to_decimal(original.training_flops) : "unknown";
}

std::string format_text(const TraceHeader &header) {
  return std::to_string(header.format_major) + "." + std::to_string(header.format_minor);
}

std::string in_quotes(const std::string &text) {
  return "'" + text + "'";
}

/// Segments and rows agree: every row names a segment, and each segment's rows are the
/// contiguous range [first_row, first_row + rows) in order.
bool check_segments(Input &in, std::string &error) {
  const auto &segments = in.trace.segments;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment &s = segments[i];
    if (!in.segment_by_id.emplace(s.id, i).second) {
      error = in.path + ": damaged ledger: segment id " + std::to_string(s.id) + " appears twice";
      return false;
    }
    const std::uint64_t rows = in.trace.rows.size();
    if (s.first_row > rows || s.rows > rows - s.first_row) {
      error = in.path + ": damaged ledger: segment " + std::to_string(s.id) + " claims rows " +
              std::to_string(s.first_row) + ".." + std::to_string(s.first_row + s.rows) +
              " but the ledger has " + std::to_string(rows) + " rows";
      return false;
    }
    for (std::uint64_t r = s.first_row; r < s.first_row + s.rows; ++r)
      if (in.trace.rows[r].segment != s.id) {
        error = in.path + ": damaged ledger: row " + std::to_string(r) + " names segment " +
                std::to_string(in.trace.rows[r].segment) + " but lies in segment " +
                std::to_string(s.id) + "'s range";
        return false;
      }
  }
  for (const EnvironmentEntry &entry : in.trace.environment)
    if (in.segment_by_id.count(entry.segment) == 0) {
      error = in.path + ": damaged ledger: environment entry '" + entry.key + "' names segment " +
              std::to_string(entry.segment) + ", which the ledger does not have";
      return false;
    }
  std::uint64_t covered = 0;
  for (const Segment &s : segments)
    covered += s.rows;
  if (covered != in.trace.rows.size()) {
    error = in.path + ": damaged ledger: its segments account for " + std::to_string(covered) +
            " of its " + std::to_string(in.trace.rows.size()) + " rows";
    return false;
  }
  return true;
}

/// Counted and modification totals (which the writer guarantees): each row's must equal the
/// previous row's plus its period. More is accepted only where a "cumulative_gap" event names the
/// row (periods the job reduced but could not write); the merge carries that excess, so that no
/// compute is dropped. The other methods' totals (format 1.1) are the runtime's own running
/// figures, which need not be sums of the rows' period figures: they only must not decrease.
bool check_cumulative(Input &in, const RuleSet &rules, std::string &error) {
  std::set<std::uint64_t> gap_rows;
  for (const Event &e : in.trace.events)
    if (e.kind == "cumulative_gap") gap_rows.insert(e.row);
  Figures previous{};
  for (const StepRow &row : in.trace.rows) {
    Figures period{}, expected{};
    if (!period_figures(row, rules, period) || !add_figures(previous, period, expected)) {
      error = in.path + ": row " + std::to_string(row.row) + ": totals overflow 128 bits";
      return false;
    }
    const Figures stored = stored_figures(row);
    for (std::size_t k = 0; k < kFigures; ++k) {
      const bool summed = k == kCounted || k == kModification;
      if (!summed) {
        if (stored[k] >= previous[k]) continue;
        error = in.path + ": row " + std::to_string(row.row) + " stores cumulative " +
                kFigureNames[k] + " " + to_decimal(stored[k]) + ", less than the previous row's " +
                to_decimal(previous[k]) + "; refusing to merge this ledger";
        return false;
      }
      if (stored[k] == expected[k]) continue;
      const std::string what = in.path + ": row " + std::to_string(row.row) +
                               " stores cumulative " + kFigureNames[k] + " " +
                               to_decimal(stored[k]) + " but the previous " +
                               "row's total plus this period is " + to_decimal(expected[k]);
      if (stored[k] < expected[k]) {
        error = what + ": the stored totals contradict the rows; refusing to merge this ledger";
        return false;
      }
      if (gap_rows.count(row.row) == 0) {
        error = what + ", and no cumulative_gap event explains the difference; refusing to merge "
                       "this ledger";
        return false;
      }
      in.regenerated_gaps.insert(row.row);
    }
    previous = stored;
  }
  return true;
}

/// The two inputs describe the same ledger (rule set, original model, base model).
bool check_same_ledger(const Input &a, const Input &b, std::string &error) {
  const TraceHeader &x = a.trace.header, &y = b.trace.header;
  std::string field, va, vb;
  if (x.rule_set != y.rule_set) {
    field = "rule_set", va = in_quotes(x.rule_set), vb = in_quotes(y.rule_set);
  } else if (original_text(x.original) != original_text(y.original)) {
    field = "original_flops", va = original_text(x.original), vb = original_text(y.original);
  } else if (x.original.systemic_risk != y.original.systemic_risk) {
    field = "original_systemic_risk", va = x.original.systemic_risk ? "1" : "0";
    vb = y.original.systemic_risk ? "1" : "0";
  } else if (x.base_model != y.base_model) {
    field = "base_model", va = in_quotes(x.base_model), vb = in_quotes(y.base_model);
  } else {
    return true;
  }
  error = a.path + " and " + b.path + " are not ledgers of the same modification: " + field +
          " is " + va + " in " + a.path + " but " + vb + " in " + b.path +
          "; merge only ledgers of one rule set, original model and base model";
  return false;
}

// ---------------------------------------------------------------------------------------------
// Segments in merged order

struct SegmentRef {
  std::size_t input = 0;
  std::size_t index = 0; ///< in the input's trace.segments
  double start = 0;
  double bound = 0;       ///< end of its time interval (docs/merge.md): +inf when unknown
  std::uint32_t id = 0;   ///< id in the output
  std::uint64_t row0 = 0; ///< its first row in the output
};

/// A segment's time interval ends at its recorded end; a segment never closed (end 0) ends at
/// its last row's t_end, and one without rows may have run on indefinitely.
double interval_end(const Segment &s, const std::vector<StepRow> &rows) {
  if (s.end != 0) return std::max(s.start, s.end);
  if (s.rows == 0) return std::numeric_limits<double>::infinity();
  double end = s.start;
  for (std::uint64_t r = s.first_row; r < s.first_row + s.rows; ++r)
    end = std::max(end, rows[r].t_end);
  return end;
}

std::string segment_name(const Input &in, const Segment &s) {
  return "segment " + std::to_string(s.id) + " of " + in.path + " (job_id " + in_quotes(s.job_id) +
         ", launcher " + in_quotes(s.launcher) + ", hosts " + in_quotes(s.hosts) + ", start " +
         std::to_string(s.start) + ")";
}

std::string time_text(double t) {
  if (t == std::numeric_limits<double>::infinity()) return "its unknown end";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
}

/// Where an event of an input goes: the segment it belongs to and its row in the output.
struct EventPlace {
  std::size_t segment = 0; ///< index into the merged order; npos when the input has no segment
  std::uint64_t row = 0;
};

constexpr std::size_t kNoSegment = static_cast<std::size_t>(-1);

/// An event's row is "the next row to be written" when it happened, so a row at a boundary
/// between two segments is ambiguous: the event's time decides (docs/merge.md).
EventPlace place_event(const Input &in, const Event &e) {
  const auto &segments = in.trace.segments;
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < segments.size(); ++i)
    if (segments[i].first_row <= e.row && e.row <= segments[i].first_row + segments[i].rows)
      candidates.push_back(i);
  std::size_t chosen = kNoSegment;
  for (const std::size_t i : candidates) {
    const Segment &s = segments[i];
    if (s.start <= e.time && e.time <= interval_end(s, in.trace.rows)) chosen = i;
  }
  if (chosen == kNoSegment)
    for (const std::size_t i : candidates)
      if (segments[i].start <= e.time) chosen = i;
  if (chosen == kNoSegment && !candidates.empty()) chosen = candidates.front();
  bool after = false; // no segment holds the row: place it after the segment it follows in time
  if (chosen == kNoSegment) {
    after = true;
    for (std::size_t i = 0; i < segments.size(); ++i)
      if (segments[i].start <= e.time &&
          (chosen == kNoSegment || segments[i].start >= segments[chosen].start))
        chosen = i;
    if (chosen == kNoSegment && !segments.empty()) chosen = 0;
  }
  if (chosen == kNoSegment) return {kNoSegment, 0};
  return {chosen, after ? segments[chosen].rows : e.row - segments[chosen].first_row};
}

double current_time() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool same_file(const std::string &a, const std::string &b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;
  return fs::absolute(a, ec).lexically_normal() == fs::absolute(b, ec).lexically_normal();
}

std::string join_ids(const std::vector<std::uint32_t> &ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i)
    out += (i ? "," : "") + std::to_string(ids[i]);
  return out;
}

/// Puts the finished temporary file in place: never over an existing file unless `force`.
bool install_output(const std::string &temporary, const std::string &output, bool force,
                    std::string &error) {
  if (force) {
    if (::rename(temporary.c_str(), output.c_str()) == 0) return true;
  } else {
    // link() fails if the output appeared meanwhile: no check-then-write race.
    if (::link(temporary.c_str(), output.c_str()) == 0) {
      ::unlink(temporary.c_str());
      return true;
    }
    if (errno == EEXIST) {
      error = output + ": exists; choose a new file or pass --force to replace it";
      return false;
    }
    // File systems without hard links.
    std::error_code ec;
    if (!fs::exists(output, ec) && ::rename(temporary.c_str(), output.c_str()) == 0) return true;
  }
  error = output + ": cannot move the merged ledger into place from " + temporary + " (" +
          std::strerror(errno) + ")";
  return false;
}

/// Writes the merged ledger; the caller removes `temporary` on failure.
struct MergeWriter {
  std::vector<Input> &inputs;
  std::vector<SegmentRef> &order;
  const RuleSet &rules;
  MergeSummary &summary;
  std::string &error;
  const IntegrityKey &key; ///< the output's chain key

  bool write(const std::string &temporary, const TraceHeader &header, double now);
};

} // namespace

bool merge_ledgers(const std::vector<std::string> &paths, const std::string &output,
                   const MergeOptions &options, MergeSummary &summary, std::string &error) {
  summary = MergeSummary{};
  if (paths.empty()) {
    error = "no input ledger given; expected one or more ledger files to merge";
    return false;
  }
  for (const std::string &path : paths)
    if (same_file(path, output)) {
      error = output + " is also an input; write the merged ledger to a new file";
      return false;
    }
  std::error_code ec;
  if (!options.force && fs::exists(fs::symlink_status(output, ec))) {
    error = output + ": exists; choose a new file or pass --force to replace it";
    return false;
  }

  // Read and check every input before writing anything.
  std::vector<Input> inputs(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    Input &in = inputs[i];
    in.path = paths[i];
    for (std::size_t j = 0; j < i; ++j)
      if (same_file(paths[j], in.path)) {
        error = in.path + " is given twice (also as " + paths[j] +
                "); its segments would be counted twice";
        return false;
      }
    if (!read_trace(in.path, false, in.trace, error)) return false;
    if (i > 0 && !check_same_ledger(inputs[0], in, error)) return false;
  }
  RuleSet rule_set;
  std::string why;
  if (!ledger_rule_set(inputs[0].trace.header.rule_set, inputs[0].trace.header.rule_set_text,
                       rule_set, why)) {
    error = inputs[0].path + ": rule set " + in_quotes(inputs[0].trace.header.rule_set) +
            ": this flopledger cannot evaluate it (" + why + ")";
    return false;
  }
  const RuleSet *rules = &rule_set;
  for (Input &in : inputs)
    if (!check_segments(in, error) || !check_cumulative(in, *rules, error)) return false;

  // Segments in start order; the same job twice, or (by default) concurrent jobs, are refused.
  std::vector<SegmentRef> order;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (std::size_t s = 0; s < inputs[i].trace.segments.size(); ++s) {
      const Segment &seg = inputs[i].trace.segments[s];
      order.push_back({i, s, seg.start, interval_end(seg, inputs[i].trace.rows), 0, 0});
    }
  std::stable_sort(order.begin(), order.end(),
                   [](const SegmentRef &a, const SegmentRef &b) { return a.start < b.start; });
  for (std::size_t a = 0; a < order.size(); ++a)
    for (std::size_t b = a + 1; b < order.size(); ++b) {
      const SegmentRef &x = order[a], &y = order[b];
      if (x.input == y.input) continue;
      const Segment &sx = inputs[x.input].trace.segments[x.index];
      const Segment &sy = inputs[y.input].trace.segments[y.index];
      if (sx.job_id == sy.job_id && sx.launcher == sy.launcher && sx.hosts == sy.hosts &&
          sx.start == sy.start) {
        error = "the same job is in two inputs: " + segment_name(inputs[x.input], sx) + " is " +
                segment_name(inputs[y.input], sy) + "; a copied ledger would be counted twice, " +
                "so leave one of the copies out";
        return false;
      }
      const bool overlap = y.start < x.bound && x.start < y.bound;
      if (overlap && !options.allow_concurrent) {
        error =
            "segments of different inputs overlap in time: " + segment_name(inputs[x.input], sx) +
            " runs until " + time_text(x.bound) + ", after " + segment_name(inputs[y.input], sy) +
            " started; a ledger is a sequence of jobs. If these jobs really ran at the same "
            "time, merge with --allow-concurrent";
        return false;
      }
      if (overlap) ++summary.concurrent_pairs;
    }
  std::uint64_t next_row = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    order[k].id = static_cast<std::uint32_t>(k);
    order[k].row0 = next_row;
    next_row += inputs[order[k].input].trace.segments[order[k].index].rows;
  }

  // The header: the ledger's identity and the configuration of its first job.
  TraceHeader header = inputs[order.empty() ? 0 : order.front().input].trace.header;
  header.format_major = FLOPLEDGER_FORMAT_MAJOR;
  header.format_minor = FLOPLEDGER_FORMAT_MINOR;
  for (const Input &in : inputs) // a 1.0 input has none; another input may
    if (header.rule_set_text.empty()) header.rule_set_text = in.trace.header.rule_set_text;
  header.writer_version.clear();
  header.created_utc.clear();

  // A temporary file beside the output, renamed into place when complete.
  const std::string temporary = output + ".merging-" + std::to_string(::getpid());
  fs::remove(temporary, ec);
  const double now = options.now != 0 ? options.now : current_time();
  MergeWriter writer{inputs, order, *rules, summary, error, options.key};
  if (!writer.write(temporary, header, now) ||
      !install_output(temporary, output, options.force, error)) {
    fs::remove(temporary, ec);
    return false;
  }
  return true;
}

namespace {

bool MergeWriter::write(const std::string &temporary, const TraceHeader &header, double now) {
  auto out = TraceWriter::open(temporary, header, error, key);
  if (!out) return false;

  // Per input: its segment index -> position in the merged order.
  std::vector<std::vector<std::size_t>> merged_of(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i)
    merged_of[i].assign(inputs[i].trace.segments.size(), 0);
  for (std::size_t k = 0; k < order.size(); ++k)
    merged_of[order[k].input][order[k].index] = k;

  // Events, placed on their segment in the output (or, for an input without segments, at the
  // end) and kept in the input's order within it.
  std::vector<std::vector<Event>> events_of(order.size());
  std::vector<Event> unplaced;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (const Event &e : inputs[i].trace.events) {
      if (e.kind == "cumulative_gap" && inputs[i].regenerated_gaps.count(e.row)) continue;
      const EventPlace place = place_event(inputs[i], e);
      Event moved = e;
      if (place.segment == kNoSegment) {
        unplaced.push_back(moved);
        continue;
      }
      const std::size_t k = merged_of[i][place.segment];
      moved.row = order[k].row0 + place.row;
      events_of[k].push_back(moved);
    }

  summary.inputs.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    MergedInput &m = summary.inputs[i];
    m.path = inputs[i].path;
    m.format = format_text(inputs[i].trace.header);
    m.rows = inputs[i].trace.rows.size();
    if (!inputs[i].trace.rows.empty()) {
      m.counted = inputs[i].trace.rows.back().cumulative_counted;
      m.modification = inputs[i].trace.rows.back().cumulative_modification;
    }
  }

  Figures running{};
  std::uint64_t events = 0;
  auto add_event = [&](const Event &e) {
    if (!out->add_event(e)) return false;
    ++events;
    return true;
  };
  bool any_analytic = false, any_hardware = false;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const SegmentRef &ref = order[k];
    const Input &in = inputs[ref.input];
    Segment segment = in.trace.segments[ref.index];
    summary.inputs[ref.input].segments_in.push_back(segment.id);
    summary.inputs[ref.input].segments_out.push_back(ref.id);
    std::vector<StepRow> rows;
    rows.reserve(segment.rows);
    // Each figure: the merged total before this segment plus what the segment added to its own
    // ledger's total (for counted and modification: its periods, and any recorded gap).
    const Figures base = running;
    const Figures before =
        segment.first_row == 0 ? Figures{} : stored_figures(in.trace.rows[segment.first_row - 1]);
    for (std::uint64_t r = segment.first_row; r < segment.first_row + segment.rows; ++r) {
      StepRow row = in.trace.rows[r];
      const Figures stored = stored_figures(row);
      Figures total{};
      for (std::size_t f = 0; f < kFigures; ++f)
        if (!checked_add(base[f], stored[f] - before[f], total[f])) {
          error = "the merged totals overflow 128 bits at " + in.path + " row " + std::to_string(r);
          return false;
        }
      const u128 input_verdict_flops = row.verdict_flops;
      row.row = ref.row0 + (r - segment.first_row);
      row.segment = ref.id;
      set_figures(row, total);
      running = total;
      // The verdict again, on the merged figures, by the rule set's policy.
      any_analytic = any_analytic || row.analytic_available;
      any_hardware = any_hardware || row.hardware_available;
      const ChosenFigure chosen = verdict_figure(rules, total, any_analytic, any_hardware);
      const u128 figure = chosen.flops;
      const Verdict verdict = evaluate(figure, in.trace.header.original, rules);
      row.verdict_method = method_of(chosen.method);
      row.verdict_flops = figure;
      row.threshold_flops = verdict.threshold_flops;
      row.status = verdict.status;
      row.fraction_of_threshold = verdict.fraction_of_threshold;
      // The forecast projected this job's verdict figure; the other jobs' compute before this
      // row adds to it.
      if (row.forecast_available) {
        if (figure >= input_verdict_flops)
          row.forecast_flops += figure - input_verdict_flops;
        else
          row.forecast_flops -= std::min(row.forecast_flops, input_verdict_flops - figure);
      }
      rows.push_back(row);
    }
    segment.id = ref.id;
    if (!out->copy_segment(segment, rows)) {
      error = out->error();
      return false;
    }
    for (EnvironmentEntry entry : in.trace.environment)
      if (entry.segment == in.trace.segments[ref.index].id) {
        entry.segment = ref.id;
        if (!out->add_environment(entry)) {
          error = out->error();
          return false;
        }
      }
    for (const Event &e : events_of[k])
      if (!add_event(e)) return false;
    // Concurrency, noted on the later of the two segments.
    for (std::size_t j = 0; j < k; ++j) {
      const SegmentRef &earlier = order[j];
      if (earlier.input == ref.input || !(ref.start < earlier.bound && earlier.start < ref.bound))
        continue;
      const Segment &se = inputs[earlier.input].trace.segments[earlier.index];
      const Segment &sl = in.trace.segments[ref.index];
      const Event e{ref.row0, ref.start, "concurrent_segments",
                    "segment " + std::to_string(ref.id) + " (job " + in_quotes(sl.job_id) +
                        ") ran while segment " + std::to_string(earlier.id) + " (job " +
                        in_quotes(se.job_id) + ") ran, until " +
                        time_text(std::min(earlier.bound, ref.bound)) +
                        "; separate ledgers merged with --allow-concurrent"};
      if (!add_event(e)) return false;
    }
  }
  for (const Event &e : unplaced)
    if (!add_event(e)) return false;

  // Provenance: one event per input, at the end of the merged rows.
  std::uint64_t end_row = 0;
  for (const SegmentRef &ref : order)
    end_row += inputs[ref.input].trace.segments[ref.index].rows;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const MergedInput &m = summary.inputs[i];
    std::error_code ec;
    const std::string absolute = fs::absolute(m.path, ec).lexically_normal().string();
    Event e;
    e.row = end_row;
    e.time = now;
    e.kind = "merged_from";
    e.detail = absolute + ": format " + m.format + ", " + std::to_string(m.segments_in.size()) +
               " segments (" + join_ids(m.segments_in) + " -> " + join_ids(m.segments_out) + "), " +
               std::to_string(m.rows) + " rows, counted " + to_decimal(m.counted) +
               " FLOP, modification " + to_decimal(m.modification) + " FLOP";
    e.flops = m.modification;
    if (!add_event(e)) return false;
  }
  if (!out->close()) {
    error = out->error();
    return false;
  }

  summary.segments = static_cast<std::uint32_t>(order.size());
  summary.rows = end_row;
  summary.events = events;
  summary.counted = running[kCounted];
  summary.modification = running[kModification];
  summary.verdict = evaluate(running[kModification], header.original, rules);
  return true;
}

} // namespace

} // namespace flopledger::io
