#pragma once
// The standardwebhooks npm package (tests/integration/node) as an independent peer: checks that
// it is installed, and verifies what closeloop signs with it.
#include <atomic>

#include "harness.hpp"

namespace closeloop::itest {

inline const fs::path node_dir = fs::path(CLOSELOOP_SOURCE_DIR) / "tests" / "integration" / "node";
inline constexpr const char* setup_hint =
    "run the setup script (bash .ci/setup), or by hand: cd tests/integration/node && npm ci --no-audit --no-fund";

// Fails the test (never skips) when node or the package is missing.
inline void require_node(const temp_dir& dir) {
  command_result r;
  try {
    r = run_command({"node", "--version"}, dir.path(), 20s);
  } catch (const std::exception& e) {
    FAIL("`node` cannot be run (" << e.what() << "): " << setup_hint);
  }
  if (r.exit_code() != 0) FAIL("`node --version` failed (" << describe_status(r.status) << "): " << setup_hint);
  if (!fs::exists(node_dir / "node_modules" / "standardwebhooks" / "package.json"))
    FAIL("the npm package standardwebhooks is not installed in " << node_dir.string()
                                                                 << "/node_modules: " << setup_hint);
}

// Exit code of verify.mjs for (secret, headers, body).
inline int node_verify(const temp_dir& dir, std::string_view secret, const json& headers, const std::string& body,
                std::string* output = nullptr) {
  static std::atomic<int> n = 0;
  const int k = n++;
  const fs::path body_file = dir / ("verify-body-" + std::to_string(k) + ".json");
  const fs::path headers_file = dir / ("verify-headers-" + std::to_string(k) + ".json");
  write_text(body_file, body);
  write_text(headers_file, headers.dump());
  auto r = run_command({"node", (node_dir / "verify.mjs").string(), std::string(secret), "@" + headers_file.string(),
                        body_file.string()},
                       dir.path(), 20s);
  if (output) *output = r.all();
  return r.exit_code();
}

}  // namespace closeloop::itest
