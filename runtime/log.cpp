#include "log.hpp"

#include <cstdarg>
#include <cstdio>
#include <unistd.h>

namespace flopledger::runtime {

namespace {
int g_rank = -1;
}

void set_log_rank(int rank) {
  g_rank = rank;
}

void log_line(const char *format, ...) {
  char line[2048];
  int used = g_rank > 0 ? std::snprintf(line, sizeof line, "flopledger: [rank %d] ", g_rank)
                        : std::snprintf(line, sizeof line, "flopledger: ");
  if (used < 0) return;
  va_list args;
  va_start(args, format);
  int more = std::vsnprintf(line + used, sizeof line - static_cast<size_t>(used) - 1, format, args);
  va_end(args);
  if (more < 0) return;
  size_t length = static_cast<size_t>(used) + static_cast<size_t>(more);
  if (length > sizeof line - 2) length = sizeof line - 2;
  line[length++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, length);
  (void)ignored;
}

} // namespace flopledger::runtime
