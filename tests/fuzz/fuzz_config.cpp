// libFuzzer target: the configuration loader (parse_config: JSON, schemas/config.schema.json, the
// cross-field checks and every section's builder). Input: the config file's text.
// Checks: bad input is an error with a message naming what is wrong, never an
// exception or a crash; a config accepted once is accepted again from its own text (deterministic).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace closeloop;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative paths (models, TLS files) resolve against a folder with nothing in it.
  auto cfg = parse_config(text, "/nonexistent/closeloop-fuzz");
  if (!cfg) {
    if (cfg.err().message.empty()) fuzz::fail("a refused config without a message");
    return 0;
  }
  if (!parse_config(text, "/nonexistent/closeloop-fuzz")) fuzz::fail("the same config text was accepted, then refused");
  return 0;
}
