// libFuzzer target: parse_budget and parse_flops over arbitrary text. A count that parses prints
// back (to_decimal) to a text that parses to the same count; a budget applies to any threshold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "accounting/budget.hpp"
#include "accounting/exact.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  using namespace flopledger;
  const ParsedFlops flops = parse_flops(text);
  if (flops.ok) {
    const ParsedFlops again = parse_flops(to_decimal(flops.value));
    if (!again.ok || again.value != flops.value) std::abort();
  } else if (flops.error.empty()) {
    std::abort();
  }
  Budget budget;
  std::string error;
  if (parse_budget(text, budget, error)) {
    for (const u128 threshold : {u128(0), u128(1), (u128(1) << 100) / 3, kU128Max})
      (void)budget_flops(budget, threshold);
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
