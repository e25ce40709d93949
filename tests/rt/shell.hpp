#pragma once
// Running tests/rt/start-rt and stop-rt from the RT test binaries: quoting and a blocking run
// that captures stdout+stderr.
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>

namespace closeloop::rt_test {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Runs a command through the shell; returns (exit status, stdout+stderr).
inline std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace closeloop::rt_test
