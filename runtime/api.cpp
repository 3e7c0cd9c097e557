// The C API (include/flopledger/flopledger.h): a counter source of its own plus access to the
// job-wide state that rank 0 broadcasts after every round.
#include <cstdio>
#include <cstring>

#include "counters.hpp"
#include "flopledger/flopledger.h"
#include "lifecycle.hpp"
#include "meter.hpp"
#include "source.hpp"

#define FLOPLEDGER_EXPORT extern "C" __attribute__((visibility("default")))

namespace flopledger::runtime {
namespace {
const bool registered_api = register_source(
    {FLOPLEDGER_SOURCE_API, "flopledger_add_flops (FLOPs the program reports itself)"});

bool active() {
  return counting_enabled() && active_config() != nullptr;
}
} // namespace
} // namespace flopledger::runtime

using namespace flopledger::runtime;

FLOPLEDGER_EXPORT int flopledger_step_end(uint64_t tokens) {
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  const std::uint64_t step = count_step(tokens);
  if (step % active_config()->every_steps == 0) meter_step_cut();
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT int flopledger_add_flops(uint64_t flops, int precision, int phase) {
  if (precision < 0 || precision >= FLOPLEDGER_PRECISION_COUNT || phase < -1 ||
      phase >= FLOPLEDGER_PHASE_COUNT)
    return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  count_in_phase(FLOPLEDGER_SOURCE_API, static_cast<flopledger_precision>(precision),
                 phase == -1 ? current_phase() : phase, flops);
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT int flopledger_set_phase(int phase) {
  if (phase < 0 || phase >= FLOPLEDGER_PHASE_COUNT) return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  set_current_phase(phase);
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT int flopledger_get_phase(void) {
  return active() ? current_phase() : -1;
}

FLOPLEDGER_EXPORT int flopledger_get_state(flopledger_state *out) {
  if (out == nullptr) return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  if (!active()) {
    *out = flopledger_state{};
    return FLOPLEDGER_ERR_NOT_ACTIVE;
  }
  return meter_state(*out) ? FLOPLEDGER_OK : FLOPLEDGER_ERR_NO_DATA;
}

FLOPLEDGER_EXPORT int flopledger_modification_flops(char *buffer, size_t size) {
  if (buffer == nullptr || size == 0) return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  flopledger_state state{};
  const int rc = flopledger_get_state(&state);
  if (rc != FLOPLEDGER_OK) return rc;
  const std::size_t length = std::strlen(state.modification_flops);
  if (length + 1 > size) return FLOPLEDGER_ERR_BUFFER_TOO_SMALL;
  std::memcpy(buffer, state.modification_flops, length + 1);
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT int flopledger_declare_model(const char *json) {
  if (json == nullptr) return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  return meter_declare_model(json) ? FLOPLEDGER_OK : FLOPLEDGER_ERR_INVALID_ARGUMENT;
}

FLOPLEDGER_EXPORT int flopledger_report_tokens(int reports) {
  if (reports != 0 && reports != 1) return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  set_reports_tokens(reports == 1);
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT int flopledger_add_sequences(const uint64_t *lengths, size_t count) {
  if (lengths == nullptr && count > 0) return FLOPLEDGER_ERR_INVALID_ARGUMENT;
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  return add_sequences(lengths, count) ? FLOPLEDGER_OK : FLOPLEDGER_ERR_INVALID_ARGUMENT;
}

FLOPLEDGER_EXPORT int flopledger_set_plan(uint64_t planned_steps, uint64_t planned_tokens) {
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  meter_set_plan(planned_steps, planned_tokens);
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT int flopledger_should_stop(void) {
  if (!active()) return 0;
  return meter_should_stop() ? 1 : 0;
}

FLOPLEDGER_EXPORT int flg_should_stop(void) {
  return flopledger_should_stop();
}

FLOPLEDGER_EXPORT int flopledger_set_step(uint64_t step) {
  if (!active()) return FLOPLEDGER_ERR_NOT_ACTIVE;
  set_step_number(step);
  meter_note_step_set(step);
  return FLOPLEDGER_OK;
}

FLOPLEDGER_EXPORT uint64_t flopledger_get_step(void) {
  return active() ? step_number() : 0;
}

FLOPLEDGER_EXPORT int flopledger_is_active(void) {
  return active() ? 1 : 0;
}

FLOPLEDGER_EXPORT const char *flopledger_version(void) {
  return FLOPLEDGER_VERSION;
}
