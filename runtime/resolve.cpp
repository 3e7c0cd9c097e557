#include "resolve.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>

#include <cstdlib>
#include <cstring>

#include <string>
#include <vector>

namespace flopledger::runtime {

namespace {

const void *own_base() {
  static const void *base = [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void *>(&is_own_address), &info) == 0) return (void *)nullptr;
    return info.dli_fbase;
  }();
  return base;
}

// Libraries preloaded with the runtime (LD_PRELOAD) are interposers like the runtime itself: their
// definition of a hooked symbol forwards to the next definition, which may be this runtime, so
// choosing them would recurse.
bool is_preloaded(const std::string &object) {
  const char *preload = std::getenv("LD_PRELOAD");
  if (preload == nullptr) return false;
  char resolved_object[PATH_MAX];
  if (realpath(object.c_str(), resolved_object) == nullptr) return false;
  const std::string list = preload;
  for (std::string::size_type start = 0; start <= list.size();) {
    std::string::size_type end = list.find_first_of(": ", start);
    if (end == std::string::npos) end = list.size();
    const std::string entry = list.substr(start, end - start);
    char resolved_entry[PATH_MAX];
    if (!entry.empty() && realpath(entry.c_str(), resolved_entry) != nullptr &&
        std::strcmp(resolved_entry, resolved_object) == 0)
      return true;
    start = end + 1;
  }
  return false;
}

int collect_object_name(struct dl_phdr_info *info, size_t, void *data) {
  auto *names = static_cast<std::vector<std::string> *>(data);
  if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0')
    names->emplace_back(info->dlpi_name);
  return 0;
}

void *lookup(void *handle, const char *name, const char *version) {
  return version != nullptr ? dlvsym(handle, name, version) : dlsym(handle, name);
}

} // namespace

bool is_own_address(const void *address) {
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0) return false;
  return info.dli_fbase == own_base();
}

void *resolve_real_symbol(const char *name, const char *version) {
  void *next = lookup(RTLD_NEXT, name, version);
  if (next != nullptr && !is_own_address(next)) return next;

  // Collect first, open after: dlopen inside the dl_iterate_phdr callback could deadlock.
  std::vector<std::string> names;
  dl_iterate_phdr(collect_object_name, &names);
  for (const std::string &object : names) {
    if (is_preloaded(object)) continue;
    void *handle = dlopen(object.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) continue;
    void *symbol = lookup(handle, name, version);
    dlclose(handle); // drops only the reference RTLD_NOLOAD took; the object stays loaded
    if (symbol != nullptr && !is_own_address(symbol)) return symbol;
  }
  return nullptr;
}

} // namespace flopledger::runtime
