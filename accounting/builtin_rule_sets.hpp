// The rule-set files of accounting/rulesets/, embedded at build time by
// cmake/embed_rule_sets.cmake (the .rules files are the single source; nothing is checked in).
#pragma once

#include <cstddef>

namespace flopledger {

struct EmbeddedRuleSet {
  const char *file; ///< file name, e.g. "eu-gpai-2025-07.rules"
  const char *text; ///< its whole content
};

/// In the order CMakeLists.txt lists them; the first is the default rule set.
extern const EmbeddedRuleSet kEmbeddedRuleSets[];
extern const std::size_t kEmbeddedRuleSetCount;

} // namespace flopledger
