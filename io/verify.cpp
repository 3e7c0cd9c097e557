#include "io/verify.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <sys/stat.h>

#include "io/audit.hpp"
#include "io/hdf5_util.hpp"
#include "io/json.hpp"
#include "io/trace.hpp"
#include "io/trace_schema.hpp"

namespace flopledger::io {

using namespace detail;

const char *chain_check_name(ChainCheck check) {
  switch (check) {
  case ChainCheck::Verified:
    return "verified";
  case ChainCheck::NotAvailable:
    return "not_available";
  case ChainCheck::NoKey:
    return "no_key";
  case ChainCheck::WrongKey:
    return "wrong_key";
  case ChainCheck::Broken:
    return "broken";
  }
  return "unknown";
}

int VerifyResult::exit_status() const {
  if (!problems.empty()) return 1;
  return chain == ChainCheck::Verified || chain == ChainCheck::NotAvailable ? 0 : 1;
}

namespace {

std::string short_hash(const std::string &hex) {
  return hex.size() > 16 ? hex.substr(0, 16) + "..." : (hex.empty() ? "(empty)" : hex);
}

/// Walks one dataset's chain: each row's stored hash must equal H(previous stored hash || row).
/// The rows are records of `memory_type`, whose canonical layout is worked out once.
class ChainWalk {
public:
  ChainWalk(const IntegrityKey &key, bool enabled, const Digest &genesis, hid_t memory_type,
            const char *dataset, std::uint32_t minor)
      : key_(key), enabled_(enabled), previous_(genesis), layout_(memory_type, dataset, minor) {}

  /// False (and `problem` set) when row `index`'s stored hash is not the recomputed one.
  bool next(const void *record, const char *stored_hex, const std::string &what,
            std::string &problem) {
    if (!enabled_) return true;
    const Digest computed = link(key_, previous_, layout_.row(record));
    const std::string stored(stored_hex, strnlen(stored_hex, FLOPLEDGER_HASH_LEN));
    Digest parsed{};
    const bool readable = from_hex(stored, parsed);
    // Chain on from the stored hash, so that one changed row is named alone.
    previous_ = readable ? parsed : computed;
    if (readable && parsed == computed) return true;
    problem = what + ": chain hash differs (stored " + short_hash(stored) + ", recomputed " +
              short_hash(to_hex(computed)) + "): the row was changed after it was written";
    return false;
  }
  const Digest &head() const { return previous_; }

private:
  const IntegrityKey &key_;
  bool enabled_;
  Digest previous_;
  CanonicalLayout layout_;
};

struct Totals {
  u128 counted = 0, modification = 0, analytic = 0, aws = 0, hf = 0, hardware = 0;
};

} // namespace

bool verify_trace(const std::string &path, const IntegrityKey &given_key, VerifyResult &out,
                  std::string &error) {
  QuietHdf5 quiet;
  out = VerifyResult{};
  out.path = path;
  if (!check_trace_path(path, error)) return false;
  Hid fapl = file_access_without_locking();
  Hid file(fapl.valid() ? H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()) : -1, H5Fclose);
  if (!file.valid()) {
    error = has_hdf5_signature(path) ? failed(path, "opening the HDF5 file for reading")
                                     : path + ": not an HDF5 file, so not a flopledger trace";
    return false;
  }
  TraceHeader header;
  if (read_header(file.get(), path, header, error) != ReadFailure::None) return false;
  out.format_version = format_version_text(header.format_major, header.format_minor);
  RuleSet rules;
  if (!ledger_rule_set(header.rule_set, header.rule_set_text, rules, error)) {
    error = path + ": " + error;
    return false;
  }
  RowTypes types;
  OpenDatasets d;
  if (!types.valid() ||
      open_datasets(file.get(), path, header.format_minor, types, d, error) != ReadFailure::None)
    return false;
  // The step rows are read block by block in the walk below: a ledger of 10^6 rows would
  // otherwise hold ~1.1 GB of records at once (docs/performance.md).
  const std::size_t step_rows = d.step_rows;
  std::vector<SegmentRecord> segment_records(d.segment_rows, SegmentRecord{});
  std::vector<EventRecord> event_records(d.event_rows, EventRecord{});
  std::vector<EnvironmentRecord> environment(d.environment_rows, EnvironmentRecord{});
  if (!read_rows(d.segments.get(), d.segment_type.get(), 0, d.segment_rows,
                 segment_records.data()) ||
      !read_rows(d.events.get(), d.event_type.get(), 0, d.event_rows, event_records.data()) ||
      (d.environment.valid() && !read_rows(d.environment.get(), d.environment_type.get(), 0,
                                           d.environment_rows, environment.data()))) {
    error = failed(path, "reading the rows");
    return false;
  }
  out.steps = step_rows;
  out.segments = segment_records.size();
  out.events = event_records.size();
  out.environment = environment.size();

  // Which chain, with which key.
  IntegrityKey key;
  bool check_chain = false;
  out.chain_mode = header.chain_mode;
  out.hmac_key_id = header.hmac_key_id;
  out.stored_head = header.chain_head;
  if (header.format_minor < 2) {
    out.chain = ChainCheck::NotAvailable;
    out.notes.push_back("format " + out.format_version +
                        " has no integrity chain: tamper evidence is not available (totals, "
                        "numbering and segments were checked)");
  } else if (header.chain_mode == "sha256") {
    check_chain = true;
  } else if (header.chain_mode == "hmac-sha256") {
    if (given_key.empty()) {
      out.chain = ChainCheck::NoKey;
      out.notes.push_back("the chain is keyed (hmac-sha256, key id " + header.hmac_key_id +
                          ") and no key was given (--hmac-key-file): the chain could not be "
                          "checked");
    } else if (given_key.id() != header.hmac_key_id) {
      out.chain = ChainCheck::WrongKey;
      out.notes.push_back("wrong key: the ledger was keyed with key id " + header.hmac_key_id +
                          ", the key given has id " + given_key.id() +
                          ": the chain could not be checked");
    } else {
      key = given_key;
      check_chain = true;
    }
  } else {
    out.chain = ChainCheck::Broken;
    out.problems.push_back("root attribute chain_mode is '" + header.chain_mode +
                           "', not 'sha256' or 'hmac-sha256'");
  }
  const std::string header_bytes = canonical_header(header);
  auto genesis = [&](const char *name) {
    return check_chain ? chain_genesis(key, header_bytes, name) : Digest{};
  };
  std::vector<std::string> chain_problems, step_problems, segment_problems, event_problems,
      environment_problems;

  // Events first: the step checks need the cumulative_gap and step_set events.
  std::vector<Event> events(event_records.size());
  std::vector<bool> event_ok(event_records.size(), false);
  Digest events_head{};
  {
    ChainWalk walk(key, check_chain, genesis(FLOPLEDGER_DSET_EVENTS), types.event.get(),
                   FLOPLEDGER_DSET_EVENTS, header.format_minor);
    for (std::size_t i = 0; i < event_records.size(); ++i) {
      const std::string what = "events row " + std::to_string(i);
      std::string problem;
      if (!walk.next(&event_records[i], event_records[i].hash, what, problem))
        event_problems.push_back(problem);
      std::string parse_error;
      event_ok[i] = from_record(event_records[i], i, events[i], parse_error);
      if (!event_ok[i])
        event_problems.push_back(what + ": " + parse_error);
      else if (events[i].row > step_rows)
        event_problems.push_back(what + " ('" + events[i].kind + "') refers to step row " +
                                 std::to_string(events[i].row) + " but the ledger has " +
                                 std::to_string(step_rows) + " rows");
    }
    events_head = walk.head();
  }
  std::set<std::uint64_t> gap_rows;
  for (std::size_t i = 0; i < events.size(); ++i)
    if (event_ok[i] && events[i].kind == "cumulative_gap") gap_rows.insert(events[i].row);

  // Segments.
  std::vector<Segment> segments(segment_records.size());
  Digest segment_head{};
  {
    ChainWalk walk(key, check_chain, genesis(FLOPLEDGER_DSET_SEGMENTS), types.segment.get(),
                   FLOPLEDGER_DSET_SEGMENTS, header.format_minor);
    std::uint64_t expected_first = 0;
    for (std::size_t j = 0; j < segment_records.size(); ++j) {
      const std::string what = "segments row " + std::to_string(j);
      std::string problem, parse_error;
      if (!walk.next(&segment_records[j], segment_records[j].hash, what, problem))
        segment_problems.push_back(problem);
      if (!from_record(segment_records[j], j, segments[j], parse_error)) {
        segment_problems.push_back(what + ": " + parse_error);
        continue;
      }
      const Segment &s = segments[j];
      if (s.id != j)
        segment_problems.push_back(what + ": segment id " + std::to_string(s.id) + ", expected " +
                                   std::to_string(j) + " (segments out of order or missing)");
      if (s.first_row != expected_first)
        segment_problems.push_back(what + " (segment " + std::to_string(s.id) + "): first_row " +
                                   std::to_string(s.first_row) + ", expected " +
                                   std::to_string(expected_first) +
                                   " (the rows of the segments before it)");
      expected_first = s.first_row + s.rows;
      const std::string job = s.job_id.empty() ? "" : " (job " + s.job_id + ")";
      if (s.state == FLOPLEDGER_SEGMENT_RUNNING)
        out.notes.push_back("segment " + std::to_string(s.id) + job +
                            " was not cleanly closed (still open, or its job was killed); "
                            "its " +
                            std::to_string(s.rows) + " rows are checked as recorded");
      else if (s.state == FLOPLEDGER_SEGMENT_ERROR)
        out.notes.push_back("segment " + std::to_string(s.id) + job +
                            " ended with an error (exit status " + std::to_string(s.exit_status) +
                            ")");
      else if (s.state != FLOPLEDGER_SEGMENT_CLEAN)
        out.notes.push_back(
            "segment " + std::to_string(s.id) + job +
            " was stopped from outside: " + std::string(segment_state_text(s.state)) +
            " (exit status " + std::to_string(s.exit_status) + "); its " + std::to_string(s.rows) +
            " rows are checked as recorded");
    }
    if (expected_first != step_rows && segment_problems.empty())
      segment_problems.push_back("segments: their row counts add up to " +
                                 std::to_string(expected_first) + " but the steps dataset has " +
                                 std::to_string(step_rows) + " rows");
    segment_head = walk.head();
  }

  // Steps: chain, numbering, segment membership, step continuity, running totals.
  Digest step_head{};
  std::vector<const Segment *> by_first_row;
  for (const Segment &s : segments)
    by_first_row.push_back(&s);
  std::stable_sort(by_first_row.begin(), by_first_row.end(),
                   [](const Segment *a, const Segment *b) { return a->first_row < b->first_row; });
  {
    ChainWalk walk(key, check_chain, genesis(FLOPLEDGER_DSET_STEPS), types.step.get(),
                   FLOPLEDGER_DSET_STEPS, header.format_minor);
    Totals totals;
    std::uint64_t last_step = 0;
    bool any_row = false;
    std::uint32_t previous_segment = 0;
    constexpr std::size_t kBlock = 4096;
    std::vector<StepRecord> block(std::min(step_rows, kBlock), StepRecord{});
    for (std::size_t i = 0; i < step_rows; ++i) {
      if (i % kBlock == 0) {
        const std::size_t count = std::min(kBlock, step_rows - i);
        if (!read_rows(d.steps.get(), d.step_type.get(), i, count, block.data())) {
          error = failed(path, "reading the step rows");
          return false;
        }
      }
      const StepRecord &rec = block[i % kBlock];
      const std::string what = "steps row " + std::to_string(i);
      std::string problem, parse_error;
      if (!walk.next(&rec, rec.hash, what, problem)) step_problems.push_back(problem);
      if (rec.row != i)
        step_problems.push_back(what + ": numbered " + std::to_string(rec.row) + ", expected " +
                                std::to_string(i) + " (a row deleted, inserted or moved)");
      StepRow row;
      if (!from_record(rec, i, row, parse_error)) {
        step_problems.push_back(what + ": " + parse_error);
        continue;
      }
      // The segment that, by the segments table, holds this row.
      const Segment *owner = nullptr;
      auto after =
          std::upper_bound(by_first_row.begin(), by_first_row.end(), i,
                           [](std::uint64_t r, const Segment *s) { return r < s->first_row; });
      if (after != by_first_row.begin() && i - (*(after - 1))->first_row < (*(after - 1))->rows)
        owner = *(after - 1);
      if (owner != nullptr && owner->id != row.segment)
        step_problems.push_back(what + ": names segment " + std::to_string(row.segment) +
                                " but lies in the rows of segment " + std::to_string(owner->id));
      const bool new_segment = !any_row || row.segment != previous_segment;
      if (any_row && !new_segment && row.period.step_last < last_step)
        step_problems.push_back(what + ": step_last " + std::to_string(row.period.step_last) +
                                " is below the previous row's " + std::to_string(last_step) +
                                " within segment " + std::to_string(row.segment));
      if (any_row && new_segment && row.period.step_first < last_step) {
        bool explained = false;
        for (std::size_t e = 0; e < events.size() && owner != nullptr; ++e)
          explained =
              explained || (event_ok[e] &&
                            (events[e].kind == "step_set" || events[e].kind == "steps_repeated") &&
                            events[e].row >= owner->first_row &&
                            events[e].row <= owner->first_row + owner->rows);
        if (!explained)
          step_problems.push_back(what + ": segment " + std::to_string(row.segment) +
                                  " starts at step " + std::to_string(row.period.step_first) +
                                  ", below the ledger's step " + std::to_string(last_step) +
                                  ", and no step_set/steps_repeated event explains it");
      }
      any_row = true;
      previous_segment = row.segment;
      last_step = std::max(last_step, row.period.step_last);

      // The period, three ways, must be one total; the stored totals must follow from it.
      u128 period = 0, by_phase = 0, by_source = 0, modification = 0;
      for (std::size_t k = 0; k < kPrecisions; ++k)
        period = saturating_add(period, row.by_precision[k]);
      for (std::size_t k = 0; k < kPhases; ++k) {
        by_phase = saturating_add(by_phase, row.by_phase[k]);
        if (rules.phase_counts[k]) modification = saturating_add(modification, row.by_phase[k]);
      }
      for (std::size_t k = 0; k < kSources; ++k)
        by_source = saturating_add(by_source, row.by_source[k]);
      const std::string period_text = get(rec.period_flops);
      if (by_phase != period || by_source != period || period_text != to_decimal(period))
        step_problems.push_back(what + ": period FLOPs by precision (" + to_decimal(period) +
                                "), by phase (" + to_decimal(by_phase) + "), by source (" +
                                to_decimal(by_source) + ") and period_flops (" + period_text +
                                ") differ");
      const bool gap = gap_rows.count(i) > 0;
      struct Running {
        const char *name;
        u128 stored, period, *total;
      };
      const Running running[] = {
          {"cumulative_counted", row.cumulative_counted, period, &totals.counted},
          {"cumulative_modification", row.cumulative_modification, modification,
           &totals.modification},
          {"cumulative_analytic", row.cumulative_analytic, row.analytic_flops, &totals.analytic},
          {"cumulative_aws", row.cumulative_aws, row.aws_flops, &totals.aws},
          {"cumulative_hf", row.cumulative_hf, row.hf_flops, &totals.hf},
          {"cumulative_hardware", row.cumulative_hardware, row.hardware_flops, &totals.hardware}};
      for (const Running &r : running) {
        const u128 expected = saturating_add(*r.total, r.period);
        if (r.stored == expected || (gap && r.stored > expected)) {
          *r.total = r.stored;
          continue;
        }
        step_problems.push_back(what + ": " + r.name + " is " + to_decimal(r.stored) +
                                ", recomputed " + to_decimal(expected) +
                                " (the previous row's total plus this period)");
        *r.total = expected;
      }
    }
    step_head = walk.head();
  }

  // Environment.
  Digest environment_head{};
  {
    ChainWalk walk(key, check_chain, genesis(FLOPLEDGER_DSET_ENVIRONMENT), types.environment.get(),
                   FLOPLEDGER_DSET_ENVIRONMENT, header.format_minor);
    for (std::size_t i = 0; i < environment.size(); ++i) {
      const std::string what = "environment row " + std::to_string(i);
      std::string problem;
      if (!walk.next(&environment[i], environment[i].hash, what, problem))
        environment_problems.push_back(problem);
      if (environment[i].segment >= segments.size())
        environment_problems.push_back(what + ": names segment " +
                                       std::to_string(environment[i].segment) + " of " +
                                       std::to_string(segments.size()));
    }
    environment_head = walk.head();
  }

  // The head over the four chains.
  if (check_chain) {
    out.computed_head =
        to_hex(chain_head(key, step_head, segment_head, events_head, environment_head));
    if (out.computed_head != header.chain_head)
      chain_problems.push_back("root attribute chain_head is " + short_hash(header.chain_head) +
                               ", recomputed " + short_hash(out.computed_head) +
                               " from the last row of each chain");
  }
  for (auto *section :
       {&step_problems, &segment_problems, &event_problems, &environment_problems, &chain_problems})
    out.problems.insert(out.problems.end(), section->begin(), section->end());
  if (check_chain) {
    bool broken = !chain_problems.empty();
    for (const std::string &p : out.problems)
      broken = broken || p.find("chain hash differs") != std::string::npos;
    out.chain = broken ? ChainCheck::Broken : ChainCheck::Verified;
  }
  return true;
}

std::string verify_text(const VerifyResult &r) {
  std::string out;
  out += r.path + ": format " + r.format_version + ", " + std::to_string(r.steps) + " step rows, " +
         std::to_string(r.segments) + " segments, " + std::to_string(r.events) + " events\n";
  out += "chain: " + std::string(chain_check_name(r.chain));
  if (!r.chain_mode.empty()) out += " (" + r.chain_mode + ")";
  if (!r.hmac_key_id.empty()) out += ", key id " + r.hmac_key_id;
  out += "\n";
  if (!r.stored_head.empty()) out += "head hash: " + r.stored_head + "\n";
  if (!r.problems.empty()) {
    out += "FAILED: " + r.problems.front() + "\n";
    const std::size_t shown = std::min<std::size_t>(r.problems.size(), 20);
    if (r.problems.size() > 1) {
      out += std::to_string(r.problems.size()) + " problems in all:\n";
      for (std::size_t i = 0; i < shown; ++i)
        out += "  " + r.problems[i] + "\n";
      if (shown < r.problems.size())
        out += "  ... and " + std::to_string(r.problems.size() - shown) + " more\n";
    }
  }
  for (const std::string &note : r.notes)
    out += "note: " + note + "\n";
  if (r.exit_status() == 0)
    out += r.chain == ChainCheck::Verified
               ? "OK: the chain, the running totals and the numbering verify\n"
               : "OK: the running totals and the numbering verify (no tamper evidence)\n";
  else if (r.problems.empty())
    out += "NOT VERIFIED: the totals and numbering hold, but the chain could not be checked\n";
  return out;
}

std::string verify_json(const VerifyResult &r) {
  JsonWriter json(2);
  json.begin_object();
  json.field("path", r.path);
  json.field("format_version", r.format_version);
  json.field("ok", r.exit_status() == 0);
  json.field("exit_status", static_cast<std::int32_t>(r.exit_status()));
  json.field("chain", chain_check_name(r.chain));
  json.field("chain_mode", r.chain_mode);
  json.field("hmac_key_id", r.hmac_key_id);
  json.field("chain_head", r.stored_head);
  json.field("computed_head", r.computed_head);
  json.field("steps", static_cast<std::uint64_t>(r.steps));
  json.field("segments", static_cast<std::uint64_t>(r.segments));
  json.field("events", static_cast<std::uint64_t>(r.events));
  json.key("first_problem");
  if (r.problems.empty())
    json.null();
  else
    json.value(r.problems.front());
  json.key("problems").begin_array();
  for (const std::string &p : r.problems)
    json.value(p);
  json.end_array();
  json.key("notes").begin_array();
  for (const std::string &n : r.notes)
    json.value(n);
  json.end_array();
  json.end_object();
  return json.str();
}

} // namespace flopledger::io
