#pragma once
// Integration-test harness: the real `closeloop` binary (CLOSELOOP_BINARY) as a child process on
// 127.0.0.1 port 0, a per-test temporary directory holding its config, SQLite file, port file and
// logs, real sockets, and helpers to sign and send webhooks. Every child is SIGKILLed and reaped
// by a destructor, so a failed REQUIRE never leaves a process behind. Every wait is bounded.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

#include "common/headers.hpp"
#include "common/http_client.hpp"
#include "common/standard_webhooks.hpp"

extern char** environ;

namespace closeloop::itest {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Two distinct Standard Webhooks secrets (24 random bytes each, base64).
inline constexpr std::string_view inbound_secret = "whsec_C2FzZGZnaGprbDtxd2VydHl1aW9wMTIz";
inline constexpr std::string_view outbound_secret = "whsec_b3V0Ym91bmQtYWN0aW9ucy1zZWNyZXQtMDA=";
inline constexpr std::string_view survey_link_secret = "survey links secret, test only";
inline constexpr std::string_view tenant_id = "acme";
inline constexpr std::string_view host_id = "generic";

inline std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_text(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// UTC, whole seconds: "2026-11-22T10:00:00Z".
inline std::string rfc3339(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
inline std::string rfc3339_now() { return rfc3339(unix_now()); }

// A fresh directory under $TMPDIR, removed (recursively) on destruction unless CLOSELOOP_KEEP_TMP
// is set in the environment (to inspect a failure's logs and database).
class temp_dir {
 public:
  explicit temp_dir(std::string_view tag = "itest") {
    std::random_device rd;
    auto base = fs::temp_directory_path();
    for (int i = 0; i < 100; ++i) {
      auto p = base / ("closeloop-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
                       std::to_string(rd() % 1000000));
      std::error_code ec;
      if (fs::create_directory(p, ec)) {
        path_ = p;
        return;
      }
    }
    throw std::runtime_error("cannot create a temporary directory");
  }
  ~temp_dir() {
    if (std::getenv("CLOSELOOP_KEEP_TMP") != nullptr) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / name; }

 private:
  fs::path path_;
};

// A child process (posix_spawn), stdin from /dev/null, stdout/stderr appended to files, no file
// descriptor above 2 inherited. SIGKILLed and reaped on destruction if still running.
class child_process {
 public:
  child_process() = default;
  child_process(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t pid = 0;
    // posix_spawnp: "node" is looked up on PATH; absolute paths are used as they are.
    int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0] + ": " + std::strerror(rc));
    pid_ = pid;
  }
  ~child_process() { kill_and_reap(); }
  child_process(child_process&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
  child_process& operator=(child_process&& o) noexcept {
    if (this != &o) {
      kill_and_reap();
      pid_ = std::exchange(o.pid_, -1);
      status_ = o.status_;
    }
    return *this;
  }

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      return false;
    }
    return r == 0;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // The raw wait status once the child has exited within `timeout`; nullopt if it is still running.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = steady::now() + timeout;
    for (;;) {
      if (!running()) return status_;
      if (steady::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(10ms);
    }
  }
  std::optional<int> status() const { return status_; }
  void kill_and_reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

inline std::string describe_status(std::optional<int> st) {
  if (!st) return "still running";
  if (WIFEXITED(*st)) return "exit code " + std::to_string(WEXITSTATUS(*st));
  if (WIFSIGNALED(*st)) return std::string("killed by signal ") + strsignal(WTERMSIG(*st));
  return "status " + std::to_string(*st);
}

struct command_result {
  std::optional<int> status;  // nullopt: timed out (and killed)
  std::string out, err;
  int exit_code() const { return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1; }
  std::string all() const { return out + err; }
};

// Runs a command to completion (bounded), capturing stdout and stderr.
inline command_result run_command(const std::vector<std::string>& argv, const fs::path& dir,
                                  std::chrono::milliseconds timeout = 30s) {
  static std::atomic<int> counter{0};
  const std::string tag = "cmd" + std::to_string(counter++);
  const fs::path out = dir / (tag + ".out"), err = dir / (tag + ".err");
  command_result r;
  {
    child_process c(argv, out, err);
    r.status = c.wait(timeout);
    // destructor kills it if it timed out
  }
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct config_options {
  std::string endpoint_url;  // actions go here; empty: no endpoint
  bool separate_outbound_secret = false;
  std::optional<int> body_limit_bytes;
  std::optional<int> read_timeout_ms;
  std::optional<int> survey_delay_s;  // default: 1 s, so timers and survey actions flow in tests
  int worker_batch = 8;
  int lease_ms = 3000;
  int poll_interval_ms = 50;
  int http_timeout_ms = 2000;
  std::optional<std::pair<std::string, std::string>> tls;  // cert, key
  json extra_server = json::object();                      // merged into "server"
  json extra_tenant = json::object();                      // merged into the tenant
};

inline json make_config(const config_options& o) {
  json host = {{"id", host_id}, {"vendor", "generic"}, {"webhook_secret", inbound_secret}};
  if (!o.endpoint_url.empty()) {
    host["endpoint"] = {{"url", o.endpoint_url}};
    if (o.separate_outbound_secret) host["endpoint"]["secret"] = outbound_secret;
  }
  json server = {{"listen", "127.0.0.1"}, {"port", 0}, {"threads", 2}};
  if (o.body_limit_bytes) server["body_limit_bytes"] = *o.body_limit_bytes;
  if (o.read_timeout_ms) server["read_timeout_ms"] = *o.read_timeout_ms;
  if (o.tls) server["tls"] = {{"cert_file", o.tls->first}, {"key_file", o.tls->second}};
  for (auto& [k, v] : o.extra_server.items()) server[k] = v;
  json cfg = {{"log_level", "info"},
          {"server", server},
          {"worker",
           {{"enabled", true},
            {"poll_interval_ms", o.poll_interval_ms},
            {"batch", o.worker_batch},
            {"lease_ms", o.lease_ms},
            {"backoff_base_ms", 100},
            {"backoff_max_ms", 1000},
            {"http_timeout_ms", o.http_timeout_ms}}},
          {"tenants",
           json::array({{{"id", tenant_id},
                         {"hosts", json::array({host})},
                         {"policy",
                          {{"survey",
                            {{"enabled", true},
                             {"kind", "csat"},
                             {"delay_s", o.survey_delay_s.value_or(1)},
                             {"link_secret", survey_link_secret},
                             {"escalation", {{"owner", "lead"}, {"group", "Escalations"}}}}},
                           {"write_fields", true},
                           {"explain_in_note", true},
                           {"routing", {{"billing", "Billing"}, {"outage", "Operations"}}}}},
                         {"categories",
                          {{"billing", {"invoice", "refund", "charged"}},
                           {"outage", {"down", "outage", "error 500"}},
                           {"account", {"password", "login"}}}}}})}};
  for (auto& [k, v] : o.extra_tenant.items()) cfg["tenants"][0][k] = v;
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// The server

// `closeloop serve --config <dir>/config.json --port 0 --port-file <dir>/port --db <db>`.
class server_process {
 public:
  server_process(const temp_dir& dir, const json& config, fs::path db = {})
      : dir_(dir.path()), db_(db.empty() ? dir.path() / "closeloop.db" : std::move(db)) {
    config_ = dir_ / "config.json";
    write_text(config_, config.dump(2));
    tls_ = config.contains("server") && config["server"].contains("tls");
  }
  ~server_process() { proc_.kill_and_reap(); }
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // Spawns and waits (bounded) for the port file; throws with the server's stderr on failure.
  void start(std::chrono::milliseconds timeout = 15s) {
    const fs::path port_file = dir_ / "port";
    std::error_code ec;
    fs::remove(port_file, ec);
    ++starts_;
    proc_ = child_process({CLOSELOOP_BINARY, "serve", "--config", config_.string(), "--port", "0", "--port-file",
                           port_file.string(), "--db", db_.string()},
                          stdout_path(), stderr_path());
    auto deadline = steady::now() + timeout;
    for (;;) {
      if (fs::exists(port_file)) {
        std::string text = read_text(port_file);
        if (!text.empty() && text.back() == '\n') {
          port_ = static_cast<std::uint16_t>(std::stoi(text));
          return;
        }
      }
      if (!proc_.running()) {
        throw std::runtime_error("closeloop serve exited before listening (" + describe_status(proc_.status()) +
                                 "): " + stderr_text());
      }
      if (steady::now() >= deadline) {
        proc_.kill_and_reap();
        throw std::runtime_error("closeloop serve wrote no port file within " + std::to_string(timeout.count()) +
                                 " ms: " + stderr_text());
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  std::uint16_t port() const { return port_; }
  std::string base_url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  std::string webhook_url(std::string_view tenant = tenant_id, std::string_view host = host_id) const {
    return base_url() + "/webhooks/" + std::string(tenant) + "/" + std::string(host);
  }
  const fs::path& db_path() const { return db_; }
  const fs::path& config_path() const { return config_; }
  fs::path stdout_path() const { return dir_ / "server.out"; }
  fs::path stderr_path() const { return dir_ / "server.err"; }
  std::string stdout_text() const { return read_text(stdout_path()); }
  std::string stderr_text() const { return read_text(stderr_path()); }

  bool running() { return proc_.running(); }
  pid_t pid() const { return proc_.pid(); }
  void signal(int sig) { proc_.signal(sig); }
  void kill9() {
    proc_.signal(SIGKILL);
    (void)proc_.wait(10s);
  }
  std::optional<int> wait(std::chrono::milliseconds timeout) { return proc_.wait(timeout); }

 private:
  fs::path dir_, db_, config_;
  bool tls_ = false;
  child_process proc_;
  std::uint16_t port_ = 0;
  int starts_ = 0;
};

// ---------------------------------------------------------------------------------------------
// HTTP

inline adapters::http::client make_client(std::chrono::milliseconds timeout = 5s, std::string ca_file = {}) {
  adapters::http::client_options o;
  o.timeout = timeout;
  o.ca_file = std::move(ca_file);
  return adapters::http::client(std::move(o));
}

inline result<adapters::http::response> http_get(const std::string& url, std::chrono::milliseconds timeout = 5s) {
  adapters::http::request req;
  req.method = "GET";
  req.url = url;
  return make_client(timeout).send(req);
}

// POST `body` with the given headers (plus content-type).
inline result<adapters::http::response> http_post(const std::string& url, const adapters::header_list& headers,
                                                  std::string body, std::chrono::milliseconds timeout = 5s,
                                                  const adapters::http::client* client = nullptr) {
  adapters::http::request req;
  req.method = "POST";
  req.url = url;
  req.headers = headers;
  req.headers.emplace_back("content-type", "application/json");
  req.body = std::move(body);
  if (client) return client->send(req, timeout);
  return make_client(timeout).send(req);
}

// Standard Webhooks headers made by closeloop's own signer.
inline adapters::header_list sign_headers(std::string_view id, std::string_view body, std::int64_t ts = unix_now(),
                                          std::string_view secret = inbound_secret) {
  auto s = adapters::standard_webhooks::signer::from_secret(secret);
  if (!s) throw std::runtime_error("bad test secret: " + s.err().message);
  return adapters::standard_webhooks::make_headers(*s, id, ts, body);
}

inline result<adapters::http::response> post_signed(const server_process& srv, std::string_view id,
                                                    const std::string& body, std::chrono::milliseconds timeout = 5s,
                                                    const adapters::http::client* client = nullptr) {
  return http_post(srv.webhook_url(), sign_headers(id, body), body, timeout, client);
}

// The actions of one type and ticket that a host stand-in (test::loopback_server) received from
// the worker, in order: each request body is an action, or {"action": …} around one.
template <typename Server>
std::vector<json> actions_received(const Server& sink, std::string_view type, std::string_view ticket) {
  std::vector<json> out;
  for (const auto& r : sink.requests()) {
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) continue;
    const json& a = j.contains("action") ? j["action"] : j;
    if (a.is_object() && a.value("type", "") == type && a.value("ticket_id", "") == ticket) out.push_back(a);
  }
  return out;
}

inline json parse_body(const adapters::http::response& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_discarded() ? json(r.body) : j;
}

inline bool healthz_ok(const server_process& srv) {
  auto r = http_get(srv.base_url() + "/healthz", 3s);
  return r && r->status == 200;
}

// A canonical event body for acme/generic. host_event_id is left out: the adapter takes the
// webhook-id, so a signed delivery id is also the stored event id.
inline json event_json(std::string_view type, std::string_view ticket, std::string_view text = {}) {
  json j = {{"type", type},
            {"ticket_id", ticket},
            {"occurred_at", rfc3339_now()},
            {"requester",
             {{"id", "cust-" + std::string(ticket)},
              {"email", "c" + std::string(ticket) + "@example.com"},
              {"role", "customer"}}}};
  if (type == "ticket.created") {
    j["subject"] = "Ticket " + std::string(ticket);
    j["text"] = text.empty() ? "I was charged twice on my invoice, please refund." : std::string(text);
    j["channel"] = "email";
  } else if (type == "ticket.commented") {
    j["text"] = text.empty() ? "Any news? The site is down again with error 500." : std::string(text);
    j["visibility"] = "public";
    j["author"] = {{"id", "cust-" + std::string(ticket)}, {"role", "customer"}};
  } else if (type == "ticket.solved") {
    j["author"] = {{"id", "agent-1"}, {"role", "agent"}};
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Raw sockets (for what a well-behaved client cannot do)

class raw_socket {
 public:
  explicit raw_socket(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed: " + std::strerror(errno));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~raw_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  // False once the peer is gone (never raises SIGPIPE).
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the peer closes, `until` appears after a complete header block, or the timeout.
  // closed() tells whether EOF/reset was seen.
  std::string read_for(std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = steady::now() + timeout;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
      if (left <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      int pr = ::poll(&p, 1, static_cast<int>(left));
      if (pr <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  // True when something (data or EOF) is readable now.
  bool readable(std::chrono::milliseconds wait = 0ms) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }
  bool closed() const { return closed_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
};

// A port nothing listens on (bound then released; good enough on loopback for a test).
inline std::uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---------------------------------------------------------------------------------------------
// The database, read directly while the server runs (WAL: readers never block the writer)

class db_view {
 public:
  explicit db_view(const fs::path& p) : db_(p.string(), SQLite::OPEN_READONLY, 5000) {}
  std::int64_t scalar(const std::string& sql) {
    SQLite::Statement q(db_, sql);
    return q.executeStep() ? q.getColumn(0).getInt64() : 0;
  }
  std::int64_t events() { return scalar("SELECT count(*) FROM events"); }
  std::int64_t outbox(std::string_view status) {
    return scalar("SELECT count(*) FROM outbox WHERE status = '" + std::string(status) + "'");
  }
  std::int64_t timers_pending() { return scalar("SELECT count(*) FROM timers WHERE status = 'pending'"); }
  // Pending timers already due (give or take `slack_ms`); lifecycle timers such as a survey's
  // expiry lie weeks ahead and are not work the worker owes yet.
  std::int64_t timers_due(std::int64_t slack_ms = 2000) {
    return scalar("SELECT count(*) FROM timers WHERE status = 'pending' AND due_at_ms <= "
                  "CAST(strftime('%s', 'now') AS INTEGER) * 1000 + " + std::to_string(slack_ms));
  }
  std::int64_t events_with_id(std::string_view id) {
    SQLite::Statement q(db_, "SELECT count(*) FROM events WHERE host_event_id = ?");
    q.bind(1, std::string(id));
    return q.executeStep() ? q.getColumn(0).getInt64() : 0;
  }
  std::vector<std::string> keys_with_status(std::string_view status) {
    SQLite::Statement q(db_, "SELECT idempotency_key FROM outbox WHERE status = ? ORDER BY id");
    q.bind(1, std::string(status));
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }

 private:
  SQLite::Database db_;
};

// Polls `pred` every 50 ms until true or the timeout; returns the last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace closeloop::itest
