#pragma once
// Shared setup of closeloop_rt_extension_tests (test_extension.cpp, test_loop.cpp): one REAL
// Request Tracker 5 per process with RT::Extension::CloseLoop installed by tests/rt/start-rt
// --extension, closeloop's JSON config and SQLite store in a temp dir, and `closeloop serve` where
// the mode needs it. CTest runs the binary once per tag, so each process has one mode:
//   native  libcloseloop.so in RT's workers; no serve (deferred actions stay in the store)
//   bridge  the scrip POSTs to `closeloop serve` (signed, ?apply=host); serve's worker runs
//   loop    native door plus `closeloop serve` on the same config and store, executing the
//           deferred actions through REST2 (survey invitation, KB article, the answer's CSAT
//           field, note and reopen), with short timers: the survey 3 s after resolve, retries
//           from 200 ms to 2 s
//   sidebar native door plus `closeloop serve` on a port chosen before RT starts, so that the
//           extension's sidebar_url points at it (the agent sidebar on RT's ticket page,
//           test_sidebar.cpp); an RT user `agent` (privileged, global ticket rights)
//   crash   bridge door (RT's scrips POST to serve) with serve on a fixed port, so that it can be
//           SIGKILLed and started again on the same port and store (test_crash.cpp); the loop's
//           short timers (survey 2 s after resolve), leases of 10 s, RT logging at info (each
//           scrip call's outcome, the test's record of what serve acknowledged)
// Everything is read back through REST2 and from closeloop's store directly.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/crypto.hpp"
#include "common/http_client.hpp"
#include "shell.hpp"

extern char** environ;

namespace closeloop_rt_ext {

using closeloop::rt_test::run;
using closeloop::rt_test::shell_quote;

namespace fs = std::filesystem;
namespace http = closeloop::adapters::http;
using json = nlohmann::json;
using namespace std::chrono_literals;
using strings = std::vector<std::string>;

inline const std::string source_dir = CLOSELOOP_SOURCE_DIR;
inline const std::string closeloop_binary = CLOSELOOP_BINARY;
inline const std::string closeloop_library = CLOSELOOP_LIBRARY;
inline constexpr const char* tenant = "acme";
inline constexpr const char* host = "rt";
inline constexpr const char* bridge_secret = "rt bridge secret, 32 bytes long!";
inline constexpr const char* link_secret = "survey link secret of the rt tests";
// Mode loop: the survey is due this long after resolve. RT's transaction times have whole
// seconds, so the invitation comes 2 to 3 s after the resolve request.
inline constexpr int loop_survey_delay_s = 3;
// Mode loop: a bad answer reopens the ticket to this owner and RT queue.
inline constexpr const char* escalation_owner = "root";
inline constexpr const char* escalation_queue = "Escalations";
// Mode crash: the survey is due this long after resolve.
inline constexpr int crash_survey_delay_s = 2;
// Mode sidebar: the tenant's sidebar.secret = the extension's sidebar_secret; the RT agent.
inline constexpr const char* sidebar_secret = "rt sidebar secret of the rt tests";
inline constexpr const char* agent_user = "agent";
inline constexpr const char* agent_password = "agent password 1";


inline std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) FAIL("cannot write " << p);
}

// The last `lines` lines of a text.
inline std::string tail(const std::string& text, std::size_t lines = 15) {
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos || pos >= text.size() ? text : text.substr(pos + 1);
}

// A port nothing listens on at the moment (bound, then released).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Whether something accepts a TCP connection on 127.0.0.1:port.
inline bool port_answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Polls `done` every `interval` until it is true or `limit` has passed; returns its last value.
// Every wait in these tests goes through here: bounded, and as short as the system allows.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit,
                       std::chrono::milliseconds interval = 100ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(interval);
  }
}

// ---------------------------------------------------------------------------------------------
// The environment of one process: a temp dir, closeloop's config and store, RT, maybe serve.

struct environment {
  std::string mode;  // native | bridge | loop
  fs::path dir;
  fs::path config;  // closeloop's JSON config
  fs::path store;   // closeloop's SQLite file
  std::string rt_url, rt_token, rt_dir;
  int rt_port = 0;
  long rt_pgid = 0;
  pid_t serve_pid = -1;
  int serve_port = 0;
  bool ready = false;  // RT (and serve) are up
  std::string door() const { return mode == "bridge" || mode == "crash" ? "bridge" : "native"; }
  std::string serve_url() const { return "http://127.0.0.1:" + std::to_string(serve_port); }
};

inline std::optional<environment> env_;
inline std::atomic<long> running_rt_pgid{0};
inline std::atomic<long> running_serve_pid{0};

inline void on_fatal_signal(int sig) {
  // Only async-signal-safe calls: stop RT's process group and serve, then die of the same signal.
  if (const long pgid = running_rt_pgid.load(); pgid > 1) ::kill(static_cast<pid_t>(-pgid), SIGTERM);
  if (const long pid = running_serve_pid.load(); pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

inline void stop_all() {
  if (!env_) return;
  if (env_->serve_pid > 0) {
    ::kill(env_->serve_pid, SIGCONT);  // in case a test left it stopped
    ::kill(env_->serve_pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(env_->serve_pid, nullptr, WNOHANG) == env_->serve_pid) {
        env_->serve_pid = -1;
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    if (env_->serve_pid > 0) {
      ::kill(env_->serve_pid, SIGKILL);
      ::waitpid(env_->serve_pid, nullptr, 0);
    }
    env_->serve_pid = -1;
    running_serve_pid = 0;
  }
  if (!env_->rt_dir.empty()) {
    const auto [status, output] = run(shell_quote(source_dir + "/tests/rt/stop-rt") + " " + shell_quote(env_->rt_dir));
    if (status != 0) std::fprintf(stderr, "closeloop_rt_extension_tests: stop-rt failed: %s\n", output.c_str());
    running_rt_pgid = 0;
  }
  if (std::getenv("CLOSELOOP_KEEP_TMP") == nullptr) {
    std::error_code ec;
    fs::remove_all(env_->dir, ec);
  } else {
    std::fprintf(stderr, "closeloop_rt_extension_tests: kept %s\n", env_->dir.c_str());
  }
  env_.reset();
}

inline json closeloop_config(const environment& e, int rt_port) {
  json rt_host = {{"id", host},
                  {"vendor", "request_tracker"},
                  {"base_url", "http://127.0.0.1:" + std::to_string(rt_port)},
                  // start-rt's root password: known before RT runs (its token is not).
                  {"auth", {{"user", "root"}, {"password", "password"}}},
                  {"webhook_secret", bridge_secret}};
  // native, bridge: an hour, so the survey stays scheduled (and cancellable) for the whole test.
  json survey = {{"enabled", true}, {"kind", "csat"}, {"delay_s", 3600}, {"link_secret", link_secret}};
  // Every ticket here has the same requester: without this the per-person throttle (one survey per
  // 30 days) would invite only for the first ticket of a test.
  survey["throttle"] = {{"window_s", 0}};
  json worker = {{"enabled", true}, {"poll_interval_ms", 100}};
  if (e.mode == "loop") {
    survey["delay_s"] = loop_survey_delay_s;
    survey["escalation"] = {{"owner", escalation_owner}, {"group", escalation_queue}};
    // RT down: retried quickly and for long enough (100 attempts of at most 2 s) not to give up.
    // The circuit breaker is off here: this story checks that every action is tried and waits
    // (test_resilience covers the breaker, which would hold untried actions back).
    worker.update({{"backoff_base_ms", 200}, {"backoff_max_ms", 2000}, {"max_attempts", 100}, {"breaker_failures", 0}});
  }
  if (e.mode == "crash") {
    survey["delay_s"] = crash_survey_delay_s;
    // A row left 'running' by a SIGKILL is claimed again once its lease ends: shorter than the
    // default minute, longer than one RT call may take (so a live call is never claimed twice).
    worker.update({{"backoff_base_ms", 200}, {"backoff_max_ms", 2000}, {"max_attempts", 100}, {"breaker_failures", 0},
                   {"lease_ms", 10000}, {"http_timeout_ms", 8000}});
  }
  json doc = {{"log_level", "info"},
          {"server", {{"listen", "127.0.0.1"}, {"port", 0}, {"threads", 2}}},
          {"store", {{"path", e.store.string()}}},
          {"worker", worker},
          {"tenants", json::array({{{"id", tenant},
                                    {"hosts", json::array({rt_host})},
                                    {"policy",
                                     {{"survey", survey},
                                      {"sla", json::object()},  // the default targets
                                      {"kb", {{"enabled", true}, {"min_resolution_chars", 40}}},
                                      {"write_fields", true},
                                      {"explain_in_note", true}}},
                                    {"categories",
                                     {{"billing", {"invoice", "refund", "charged", "payment", "退款", "發票"}},
                                      {"outage", {"down", "outage", "error 500"}},
                                      {"account", {"password", "login"}}}}}})}};
  if (e.mode == "sidebar") doc["tenants"][0]["sidebar"] = {{"secret", sidebar_secret}};
  return doc;
}

// Mode sidebar: the RT user an agent logs in as (start-rt --initialdata).
inline std::string agent_initialdata() {
  return std::string("@Users = ({ Name => '") + agent_user + "', Password => '" + agent_password +
         "', EmailAddress => 'agent@example.com', RealName => 'Agent Ann', Privileged => 1 });\n"
         "@ACL = (map { +{ UserId => '" + agent_user + "', Right => $_ } }\n"
         "        qw(SeeQueue ShowTicket ShowTicketComments ModifyTicket ReplyToTicket CommentOnTicket SeeCustomField));\n1;\n";
}

// Spawns `closeloop serve` on `port` (0: any free port) and waits for its port file.
inline void start_serve(environment& e, int port = 0) {
  const fs::path port_file = e.dir / "serve.port";
  std::error_code ec;
  fs::remove(port_file, ec);
  std::vector<std::string> argv = {closeloop_binary, "serve", "--config",    e.config.string(),
                                   "--port", std::to_string(port), "--port-file", port_file.string()};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (e.dir / "serve.out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (e.dir / "serve.err").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) FAIL("cannot spawn " << closeloop_binary << ": " << std::strerror(rc));
  e.serve_pid = pid;
  running_serve_pid = pid;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    const std::string text = read_text(port_file);
    if (!text.empty() && text.back() == '\n') {
      e.serve_port = std::stoi(text);
      return;
    }
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      e.serve_pid = -1;
      running_serve_pid = 0;
      FAIL("closeloop serve exited before listening:\n" << read_text(e.dir / "serve.err"));
    }
    if (std::chrono::steady_clock::now() > deadline)
      FAIL("closeloop serve wrote no port file within 15 s:\n" << read_text(e.dir / "serve.err"));
    std::this_thread::sleep_for(20ms);
  }
}

// The extension's settings as Perl, for start-rt --extension.
inline std::string extension_config(const environment& e) {
  std::ostringstream pl;
  pl << "Plugin('RT::Extension::CloseLoop');\n";
  if (e.door() == "native") {
    pl << "Set($CloseLoopConfig, { mode => 'native', library => '" << closeloop_library << "', config_file => '"
       << e.config.string() << "', tenant => '" << tenant << "', host => '" << host << "', timeout => 5";
    if (e.mode == "sidebar")
      pl << ", sidebar_url => 'http://127.0.0.1:" << e.serve_port << "', sidebar_secret => '" << sidebar_secret << "'";
    pl << " });\n";
  } else {
    pl << "Set($CloseLoopConfig, { mode => 'bridge', bridge_url => 'http://127.0.0.1:" << e.serve_port << "/webhooks/"
       << tenant << "/" << host << "', bridge_secret => '" << bridge_secret << "', tenant => '" << tenant
       << "', host => '" << host << "', timeout => 5 });\n";
  }
  // crash: each scrip call's outcome (logged at info on success) is what serve acknowledged.
  if (e.mode == "crash") pl << "Set($LogToSTDERR, 'info');\n";
  return pl.str();
}

// RT_PGID etc. from DIR/rt.env into the environment.
inline void read_rt_env(environment& e, const std::string& start_rt_output) {
  std::map<std::string, std::string> kv;
  std::istringstream in(read_text(fs::path(e.rt_dir) / "rt.env"));
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  e.rt_url = kv["RT_URL"];
  e.rt_token = kv["RT_TOKEN"];
  e.rt_port = std::atoi(kv["RT_PORT"].c_str());
  e.rt_pgid = std::atol(kv["RT_PGID"].c_str());
  running_rt_pgid = e.rt_pgid;
  if (e.rt_url.empty() || e.rt_token.empty() || e.rt_pgid <= 1)
    FAIL("start-rt succeeded but rt.env is unreadable:\n" << start_rt_output);
}

// Starts (once per process) RT with the extension in the given mode, and serve where needed.
inline const environment& setup(const std::string& mode) {
  if (env_) {
    if (env_->mode != mode) FAIL("this process already runs RT in mode " << env_->mode);
    if (!env_->ready) FAIL("RT with the extension could not be started (see the first failure)");
    return *env_;
  }
  std::string base = "/dev/shm";
  if (::access(base.c_str(), W_OK) != 0) base = "/tmp";
  std::string templ = base + "/closeloop-rt-ext.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) FAIL("cannot create a directory under " << base);
  env_.emplace();
  environment& e = *env_;
  e.mode = mode;
  e.dir = templ;
  e.config = e.dir / "closeloop.json";
  e.store = e.dir / "closeloop.db";

  const auto t0 = std::chrono::steady_clock::now();
  std::string output;
  int status = -1;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int rt_port = free_port();
    write_text(e.config, closeloop_config(e, rt_port).dump(2));
    // bridge: RT's extension needs serve's port. (serve re-reads nothing: if RT has to move to
    // another port, the RT base_url only matters to its worker, which has nothing due during
    // these tests.) loop: serve starts below, once RT's port is final.
    // crash: serve's port is chosen here and kept across its restarts (the scrips' bridge_url);
    // serve starts below, once RT's port is final.
    if (mode == "bridge" && e.serve_pid < 0) start_serve(e);
    if ((mode == "crash" || mode == "sidebar") && e.serve_port == 0) e.serve_port = free_port();
    write_text(e.dir / "extension.pl", extension_config(e));
    std::string extra;
    if (mode == "sidebar") {
      write_text(e.dir / "agent.initialdata", agent_initialdata());
      extra = " --initialdata " + shell_quote((e.dir / "agent.initialdata").string());
    }
    const fs::path rt_dir = e.dir / ("rt" + std::to_string(attempt));
    std::tie(status, output) =
        run(shell_quote(source_dir + "/tests/rt/start-rt") + " --port " + std::to_string(rt_port) + " --extension " +
            shell_quote((e.dir / "extension.pl").string()) + extra + " " + shell_quote(rt_dir.string()));
    if (status == 0) {
      e.rt_dir = rt_dir.string();
      break;
    }
    // The port was taken between free_port() and start-rt: pick another.
    if (output.find("already in use") == std::string::npos) break;
  }
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status != 0)
    FAIL("tests/rt/start-rt --extension failed (exit " << status << ") after " << secs << " s:\n" << output);
  read_rt_env(e, output);
  if (mode == "loop") start_serve(e);
  if (mode == "crash" || mode == "sidebar") start_serve(e, e.serve_port);
  std::fprintf(stderr, "closeloop_rt_extension_tests: RT %s (%s) started in %.1f s (dir %s)\n", e.rt_url.c_str(),
               mode.c_str(), secs, e.dir.c_str());
  e.ready = true;
  return e;
}

inline std::string rt_log() { return env_ ? tail(read_text(fs::path(env_->rt_dir) / "rt-server.log"), 20) : ""; }
inline std::string serve_log() { return env_ ? tail(read_text(env_->dir / "serve.err"), 20) : ""; }

// ---------------------------------------------------------------------------------------------
// REST2

// One REST2 call; fails the test on a transport error. Any status.
inline http::response rest_call(const std::string& method, const std::string& path, const json* body = nullptr) {
  http::client c;
  http::request req;
  req.method = method;
  req.url = env_->rt_url + "/REST/2.0" + path;
  req.headers = {{"authorization", "token " + env_->rt_token}, {"accept", "application/json"}};
  if (body) {
    req.headers.emplace_back("content-type", "application/json");
    req.body = body->dump();
  }
  auto r = c.send(req, 20s);
  if (!r) FAIL(method << " " << path << ": " << r.err().message << "\nrt-server.log:\n" << rt_log());
  return *r;
}

// A REST2 call that must answer `expect` (default: any 2xx); its JSON body.
inline json rest(const std::string& method, const std::string& path, const json* body = nullptr, int expect = 0) {
  const http::response r = rest_call(method, path, body);
  INFO(method << " " << path << " -> " << r.status << " " << r.body << "\nrt-server.log:\n" << rt_log());
  if (expect != 0)
    REQUIRE(r.status == expect);
  else
    REQUIRE(r.status / 100 == 2);
  return json::parse(r.body);
}

// A ticket from a customer (Requestor), through REST2.
inline std::string create_ticket(const std::string& subject, const std::string& content,
                                 const std::string& requestor = "alice@example.com") {
  json t = {{"Queue", "General"},
            {"Subject", subject},
            {"Requestor", requestor},
            {"Content", content},
            {"ContentType", "text/plain"}};
  return rest("POST", "/ticket", &t, 201).at("id").get<std::string>();
}

inline void set_status(const std::string& id, const std::string& status) {
  json s = {{"Status", status}};
  rest("PUT", "/ticket/" + id, &s);
}

// A public reply by the REST user (root, an agent).
inline void correspond(const std::string& id, const std::string& text) {
  json m = {{"Content", text}, {"ContentType", "text/plain"}};
  rest("POST", "/ticket/" + id + "/correspond", &m, 201);
}

inline std::vector<std::string> cf_values(const json& ticket, const std::string& name) {
  for (const auto& cf : ticket.at("CustomFields")) {
    if (cf.at("name") == name) return cf.at("values").get<std::vector<std::string>>();
  }
  return {"<custom field " + name + " not on the ticket>"};
}

struct txn_text {
  std::string id, type, creator, text;
};

// The ticket's Comment/Correspond transactions with their text/plain content. (Not the
// EmailRecord transactions of the mail RT sends: they repeat the text.)
inline std::vector<txn_text> messages(const std::string& id) {
  std::vector<txn_text> out;
  json page = rest("GET", "/ticket/" + id + "/history?per_page=100&fields=Type,Creator");
  for (const auto& t : page.at("items")) {
    const std::string type = t.at("Type").get<std::string>();
    if (type != "Comment" && type != "Correspond") continue;
    txn_text m{t.at("id").get<std::string>(), type, t.at("Creator").value("id", ""), ""};
    json atts = rest("GET", "/transaction/" + m.id + "/attachments?fields=Content,ContentType");
    for (const auto& a : atts.at("items")) {
      if (a.value("ContentType", "") == "text/plain") m.text += a.value("Content", "");
    }
    out.push_back(std::move(m));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Survey invitations

// The survey links in a text: <base>/s/cl1.<claims>.<signature>, without ?score=N.
inline strings survey_links(const std::string& text) {
  strings out;
  for (std::size_t at = text.find("/s/cl1."); at != std::string::npos; at = text.find("/s/cl1.", at + 1)) {
    const std::size_t begin = text.rfind("http", at);
    if (begin == std::string::npos) continue;
    std::size_t end = at + 7;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '-' ||
                                 text[end] == '_' || text[end] == '.'))
      ++end;
    std::string link = text.substr(begin, end - begin);
    if (std::find(out.begin(), out.end(), link) == out.end()) out.push_back(std::move(link));
  }
  return out;
}

// The ticket's survey invitations: its Correspond transactions carrying a survey link.
inline std::vector<txn_text> invitations(const std::string& id) {
  std::vector<txn_text> out;
  for (auto& m : messages(id)) {
    if (m.type == "Correspond" && m.text.find("/s/cl1.") != std::string::npos) out.push_back(std::move(m));
  }
  return out;
}

// Whether any of the ticket's attachments carries a survey link (one REST2 call: for polling).
inline bool has_survey_link(const std::string& id) {
  json page = rest("GET", "/ticket/" + id + "/attachments?fields=Content,ContentType&per_page=100");
  for (const auto& a : page.at("items")) {
    if (a.value("Content", "").find("/s/cl1.") != std::string::npos) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// closeloop's store

class store_view {
 public:
  store_view() : db_(env_->store.string(), SQLite::OPEN_READONLY, 5000) {}
  std::vector<std::string> column(const std::string& sql, const std::string& ticket) {
    SQLite::Statement q(db_, sql);
    q.bind(1, ticket);
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }
  // Every row of `sql` (bound to the given parameters), its columns as text ("" for NULL).
  std::vector<strings> rows(const std::string& sql, const strings& params = {}) {
    SQLite::Statement q(db_, sql);
    for (std::size_t i = 0; i < params.size(); ++i) q.bind(static_cast<int>(i + 1), params[i]);
    std::vector<strings> out;
    while (q.executeStep()) {
      strings r;
      for (int c = 0; c < q.getColumnCount(); ++c) r.push_back(q.getColumn(c).isNull() ? "" : q.getColumn(c).getString());
      out.push_back(std::move(r));
    }
    return out;
  }
  std::vector<std::string> events(const std::string& t) {
    return column("SELECT type FROM events WHERE ticket_id = ? ORDER BY seq", t);
  }
  std::vector<std::string> outbox(const std::string& t, const std::string& type) {
    return column("SELECT status FROM outbox WHERE ticket_id = ? AND type = '" + type + "' ORDER BY id", t);
  }
  std::vector<std::string> survey_timers(const std::string& t) {
    return column("SELECT status FROM timers WHERE ticket_id = ? AND kind = 'survey' ORDER BY id", t);
  }

 private:
  SQLite::Database db_;
};

// The store's outbox as text, for failure messages.
inline std::string outbox_dump() {
  std::ostringstream out;
  store_view db;
  for (const auto& r : db.rows("SELECT id, ticket_id, type, status, attempts, last_error FROM outbox ORDER BY id"))
    out << "  #" << r[0] << " ticket " << r[1] << " " << r[2] << " " << r[3] << " attempts=" << r[4]
        << (r[5].empty() ? "" : " error: " + r[5]) << "\n";
  return out.str();
}

// A failed wait shows what serve and RT were doing at the deadline.
inline std::string diagnostics() {
  if (!env_) return "";
  std::string out = "serve.err:\n" + serve_log() + "\noutbox:\n";
  try {
    out += outbox_dump();
  } catch (const std::exception& e) {
    out += std::string("(cannot read the store: ") + e.what() + ")\n";
  }
  return out + "rt-server.log:\n" + rt_log();
}

}  // namespace closeloop_rt_ext

// REQUIRE that `condition` becomes true within `limit` (polled, see eventually()); on failure the
// message has serve's log, the outbox and RT's log at that moment.
#define REQUIRE_EVENTUALLY(limit, condition)                                                          \
  do {                                                                                                \
    if (!::closeloop_rt_ext::eventually([&] { return static_cast<bool>(condition); }, (limit)))      \
      FAIL("not within the time limit: " #condition "\n" << ::closeloop_rt_ext::diagnostics());       \
  } while (false)
