// libFuzzer target: parse_model_json over arbitrary text. A spec that parses must be valid and
// read back equal from model_to_json (what the ledger records).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "accounting/analytic.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  flopledger::ModelSpec spec;
  std::string error;
  if (!flopledger::parse_model_json(text, "fuzz.json", spec, error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  if (!flopledger::validate_model(spec, error)) std::abort();
  const std::string json = flopledger::model_to_json(spec);
  flopledger::ModelSpec again;
  if (!flopledger::parse_model_json(json, "round trip", again, error)) std::abort();
  if (flopledger::model_to_json(again) != json) std::abort();
  return 0;
}
