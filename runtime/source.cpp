#include "source.hpp"

#include <atomic>
#include <cstdio>

namespace flopledger::runtime {

namespace {
constexpr int kMaxSources = 32;
CounterSource g_sources[kMaxSources];
std::atomic<int> g_count{0};
char g_description[2048];
} // namespace

bool register_source(const CounterSource &source) {
  const int index = g_count.fetch_add(1);
  if (index >= kMaxSources) return false;
  g_sources[index] = source;
  return true;
}

const char *registered_sources() {
  static const bool built = [] {
    const char *const names[] = {
#define FLOPLEDGER_X_NAME(id, name) name,
        FLOPLEDGER_SOURCES(FLOPLEDGER_X_NAME)
#undef FLOPLEDGER_X_NAME
    };
    std::size_t used = 0;
    const int count = g_count.load() < kMaxSources ? g_count.load() : kMaxSources;
    for (int i = 0; i < count && used < sizeof g_description; ++i) {
      const int n = std::snprintf(g_description + used, sizeof g_description - used, "%s%s(%s)",
                                  i ? ", " : "", names[g_sources[i].id], g_sources[i].symbols);
      if (n < 0) break;
      used += static_cast<std::size_t>(n);
    }
    return true;
  }();
  (void)built;
  return g_description;
}

} // namespace flopledger::runtime
