// closeloop_rt_tests: Catch2 runner plus the shared RT fixture (rt_harness.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "rt_harness.hpp"
#include "shell.hpp"

namespace closeloop::rt_test {
namespace {

const std::string source_dir = CLOSELOOP_SOURCE_DIR;
std::mutex mutex;
std::optional<rt_instance> current;
bool owned = false;                    // started by us (then we stop it)
std::atomic<long> running_pgid{0};     // read by the signal handler


bool read_env(const std::string& file, rt_instance& rt) {
  std::ifstream in(file);
  if (!in) return false;
  std::map<std::string, std::string> kv;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  rt.url = kv["RT_URL"];
  rt.token = kv["RT_TOKEN"];
  rt.dir = kv["RT_DIR"];
  rt.port = std::atoi(kv["RT_PORT"].c_str());
  rt.pgid = std::atol(kv["RT_PGID"].c_str());
  return !rt.url.empty() && !rt.token.empty();
}

void on_fatal_signal(int sig) {
  // Only async-signal-safe calls: stop RT's process group, then die of the same signal.
  const long pgid = running_pgid.load();
  if (pgid > 1) ::kill(static_cast<pid_t>(-pgid), SIGTERM);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

const rt_instance& shared_rt() {
  std::lock_guard lock(mutex);
  if (current) return *current;
  if (const char* env = std::getenv("CLOSELOOP_RT_ENV"); env != nullptr && *env != '\0') {
    rt_instance rt;
    if (!read_env(env, rt)) FAIL("CLOSELOOP_RT_ENV=" << env << " is not a readable rt.env from tests/rt/start-rt");
    current = rt;
    owned = false;
    return *current;
  }
  std::string base = "/dev/shm";
  if (::access(base.c_str(), W_OK) != 0) base = "/tmp";
  std::string templ = base + "/closeloop-rt-test.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) FAIL("cannot create a directory under " << base);
  const auto t0 = std::chrono::steady_clock::now();
  const auto [status, output] =
      run(shell_quote(source_dir + "/tests/rt/start-rt") + " --initialdata " +
          shell_quote(source_dir + "/manifests/request_tracker/etc/initialdata") + " " + shell_quote(templ));
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status != 0) FAIL("tests/rt/start-rt failed (exit " << status << ") after " << secs << " s:\n" << output);
  rt_instance rt;
  if (!read_env(templ + "/rt.env", rt)) FAIL("start-rt succeeded but " << templ << "/rt.env is unreadable:\n" << output);
  current = rt;
  owned = true;
  running_pgid = rt.pgid;
  std::fprintf(stderr, "closeloop_rt_tests: RT %s started in %.1f s (dir %s)\n", current->url.c_str(), secs,
               current->dir.c_str());
  return *current;
}

void stop_shared_rt() {
  std::lock_guard lock(mutex);
  if (!current) return;
  if (owned) {
    const auto [status, output] = run(shell_quote(source_dir + "/tests/rt/stop-rt") + " " + shell_quote(current->dir) +
                                      " --remove");
    if (status != 0) std::fprintf(stderr, "closeloop_rt_tests: stop-rt failed: %s\n", output.c_str());
  }
  running_pgid = 0;
  current.reset();
}

void install_cleanup_hooks() {
  std::atexit([] { stop_shared_rt(); });
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
}

}  // namespace closeloop::rt_test

int main(int argc, char* argv[]) {
  closeloop::rt_test::install_cleanup_hooks();
  const int rc = Catch::Session().run(argc, argv);
  closeloop::rt_test::stop_shared_rt();
  return rc;
}
