// libFuzzer target: parse_rule_set over arbitrary text. A set that parses must parse again from
// the text it stores (what a ledger records for audit).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "accounting/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  flopledger::RuleSet set;
  std::string error;
  if (!flopledger::parse_rule_set(text, "fuzz.rules", set, error)) {
    if (error.empty()) std::abort(); // a refusal always says why
    return 0;
  }
  flopledger::RuleSet again;
  if (!flopledger::parse_rule_set(set.text, "fuzz.rules", again, error)) std::abort();
  return 0;
}
