// libFuzzer target: load_config over a config-file text and a few environment values.
// Input: the config file's text, then NUL-separated entries whose first byte picks a key of
// config_keys() (or an unknown FLOPLEDGER_ name) and whose rest is its value. Inputs with '/' are
// skipped: values that name files (MODEL, RULE_SET) must not reach /dev or /proc, whose files
// never end; reading named files is covered by the parsers' own targets.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "accounting/config.hpp"

namespace {

// Never destroyed (the exit handler that removes the file runs after static destructors).
const std::string &config_path() {
  static const std::string &path = *new std::string([] {
    char name[] = "/tmp/fuzz_config-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) std::abort();
    ::close(fd);
    std::atexit([] { ::unlink(config_path().c_str()); });
    return std::string(name);
  }());
  return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  using namespace flopledger;
  const std::string input(reinterpret_cast<const char *>(data), size);
  if (input.find('/') != std::string::npos) return 0;
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t end; (end = input.find('\0', start)) != std::string::npos; start = end + 1)
    parts.push_back(input.substr(start, end - start));
  parts.push_back(input.substr(start));

  std::FILE *file = std::fopen(config_path().c_str(), "wb");
  if (file == nullptr) std::abort();
  std::fwrite(parts[0].data(), 1, parts[0].size(), file);
  std::fclose(file);

  const std::vector<ConfigKey> &keys = config_keys();
  std::map<std::string, std::string> env{{"FLOPLEDGER_CONFIG", config_path()}};
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    const std::size_t pick = static_cast<unsigned char>(parts[i][0]) % (keys.size() + 1);
    const std::string name =
        pick < keys.size() ? "FLOPLEDGER_" + keys[pick].key : std::string("FLOPLEDGER_TYPO");
    if (name == "FLOPLEDGER_CONFIG") continue;
    env[name] = parts[i].substr(1);
  }
  std::vector<std::string> names;
  for (const auto &entry : env)
    names.push_back(entry.first);
  const EnvLookup lookup = [&env](const std::string &name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  };
  const ConfigResult result = load_config(lookup, {}, names);
  for (const ConfigError &error : result.errors)
    if (error.message.empty()) std::abort(); // every problem is named
  if (result.errors.empty()) (void)describe(result.config);
  return 0;
}
