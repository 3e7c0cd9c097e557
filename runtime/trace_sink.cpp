#include "trace_sink.hpp"

#include <dlfcn.h>

#include <cstdlib>

namespace flopledger::runtime {

namespace {

std::string plugin_path() {
  if (const char *explicit_path = std::getenv("FLOPLEDGER_INTERNAL_TRACE_PLUGIN"))
    return explicit_path;
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void *>(&plugin_path), &info) == 0 || !info.dli_fname)
    return FLOPLEDGER_TRACE_PLUGIN_NAME;
  std::string self = info.dli_fname;
  std::string::size_type slash = self.rfind('/');
  return slash == std::string::npos ? std::string(FLOPLEDGER_TRACE_PLUGIN_NAME)
                                    : self.substr(0, slash + 1) + FLOPLEDGER_TRACE_PLUGIN_NAME;
}

} // namespace

std::unique_ptr<TraceSink> open_trace(const std::string &path, const io::TraceHeader &header,
                                      const io::IntegrityKey &key, std::string &error) {
  const std::string plugin = plugin_path();
  // The handle is never closed: the writer's code must outlive every call into it.
  void *handle = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char *why = dlerror();
    error = "cannot load the trace writer " + plugin + ": " + (why ? why : "unknown error");
    return nullptr;
  }
  auto open = reinterpret_cast<OpenTraceFn>(dlsym(handle, kOpenTraceSymbol));
  if (open == nullptr) {
    error = plugin + " does not export " + kOpenTraceSymbol;
    return nullptr;
  }
  return std::unique_ptr<TraceSink>(open(path, header, key, error));
}

} // namespace flopledger::runtime
