#pragma once
// One real Request Tracker 5 per test binary: started by tests/rt/start-rt on first use, stopped
// by tests/rt/stop-rt when the binary exits (normally, on a fatal signal, or on SIGINT/SIGTERM).
// Set CLOSELOOP_RT_ENV=<dir>/rt.env to reuse an RT you started yourself (it is left running).
#include <string>

namespace closeloop::rt_test {

struct rt_instance {
  std::string url;    // http://127.0.0.1:<port>
  std::string token;  // REST2 auth token for root
  std::string dir;
  int port = 0;
  long pgid = 0;
};

// The running RT; starts it on first call. Fails the current test (REQUIRE) with start-rt's own
// message when RT cannot be started.
const rt_instance& shared_rt();

// Stops the RT (idempotent). A later shared_rt() starts a new one.
void stop_shared_rt();

// Installs the exit and signal hooks; called by main before the session runs.
void install_cleanup_hooks();

}  // namespace closeloop::rt_test
