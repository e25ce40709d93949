// The RT extension RT::Extension::CloseLoop (manifests/request_tracker) inside a REAL Request
// Tracker 5 on 127.0.0.1: tests/rt/start-rt --extension installs it in a private plugin dir, loads
// its initialdata (custom fields, ScripAction, the five global scrips) and appends the
// $CloseLoopConfig this binary writes. One RT per process, because the site config differs
// between the doors; CTest runs the binary once per tag:
//   [settings]  the Perl settings validation and the bridge signature, without RT
//   [native]    libcloseloop.so loaded into RT's workers through FFI::Platypus
//   [bridge]    the scrip POSTs to a running `closeloop serve` (signed, ?apply=host)
//   [loop], [restart]  the whole loop with `closeloop serve` executing the deferred actions:
//               test_loop.cpp
// Everything is checked by reading RT back through REST2 and closeloop's SQLite store directly
// (shared setup: extension_env.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "extension_env.hpp"

namespace {

using namespace closeloop_rt_ext;

// An angry, urgent billing message from a customer.
constexpr const char* urgent_billing =
    "I was charged twice on my invoice this month! This is urgent, refund the duplicate payment today. "
    "Terrible service, nobody answers my emails.";

// ---------------------------------------------------------------------------------------------
// The checks both doors must pass

// (a) A customer's urgent billing ticket is classified inside RT's own request.
std::string check_create(const std::string& mode) {
  setup(mode);
  const std::string id = create_ticket("Charged twice (" + mode + ")", urgent_billing);

  // Immediately: the scrip ran in the POST's request.
  json t = rest("GET", "/ticket/" + id);
  INFO("ticket " << id << ": " << t.dump() << "\nrt-server.log:\n" << rt_log());
  CHECK(std::stoi(t.at("Priority").get<std::string>()) > 0);
  CHECK(cf_values(t, "Category") == strings{"billing"});
  CHECK(cf_values(t, "Language") == strings{"en"});
  CHECK(cf_values(t, "Sentiment") == strings{"negative"});
  CHECK(cf_values(t, "Priority reason").size() == 1);

  // One internal comment explaining why, by RT_System; our own comment is not sent back.
  const auto msgs = messages(id);
  std::vector<txn_text> notes;
  for (const auto& m : msgs) {
    if (m.type == "Comment") notes.push_back(m);
  }
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0].text, Catch::StartsWith("closeloop:"));
  CHECK_THAT(notes[0].text, Catch::Contains("billing"));
  // The note names the level in Chinese too: UTF-8 survives the library/serve, Perl and RT.
  CHECK_THAT(notes[0].text, Catch::Contains("(紧急)") || Catch::Contains("(重大)"));
  CHECK(notes[0].creator == "RT_System");

  // The comment carries the action's idempotency key in the transaction CF "closeloop key".
  json txn = rest("GET", "/transaction/" + notes[0].id);
  std::string key;
  for (const auto& cf : txn.value("CustomFields", json::array())) {
    if (cf.value("name", "") == "closeloop key" && !cf.at("values").empty()) key = cf.at("values")[0];
  }
  CHECK_THAT(key, Catch::StartsWith(std::string(tenant) + "/" + host + "/" + id + "/txn:"));

  store_view db;
  CHECK(db.events(id) == strings{"ticket.created"});
  // Applied by the host in its request: recorded as such, never executed again by a worker.
  CHECK(db.outbox(id, "set_priority") == strings{"applied"});
  CHECK(db.outbox(id, "set_fields") == strings{"applied"});
  CHECK(db.outbox(id, "add_internal_note") == strings{"applied"});

  // The SLA's due times as closeloop recorded them: resolution in RT's own Due, first reply in
  // its CF (both UTC; the events carry whole seconds).
  const auto states = db.column("SELECT state FROM ticket_state WHERE ticket_id = ?", id);
  REQUIRE(states.size() == 1);
  const json st = json::parse(states[0]);
  auto whole_seconds = [](std::string s) { return s.size() > 20 ? s.substr(0, 19) + "Z" : s; };
  REQUIRE(st.contains("sla_resolution_due"));
  CHECK(t.at("Due") == whole_seconds(st.at("sla_resolution_due")));
  CHECK(cf_values(t, "First reply due") == strings{whole_seconds(st.at("sla_first_reply_due"))});

  // UTF-8 end to end (payload, result, CF values, the note): a Simplified Chinese ticket.
  const std::string zh = create_ticket("重复扣款 (" + mode + ")", "我的账单被重复扣款了，请尽快退款！");
  json tz = rest("GET", "/ticket/" + zh);
  INFO("ticket " << zh << ": " << tz.dump());
  CHECK(cf_values(tz, "Category") == strings{"billing"});
  CHECK(cf_values(tz, "Language") == strings{"zh-Hans"});
  return id;
}

// (b) store side: resolve schedules the survey; resolve then reopen cancels it.
void check_survey(const std::string& mode) {
  setup(mode);
  const std::string first = create_ticket("Invoice question (" + mode + ")", "Where can I download my invoice?");
  correspond(first, "You can download it under Billing > Invoices.");
  set_status(first, "resolved");
  {
    store_view db;
    INFO("rt-server.log:\n" << rt_log());
    CHECK(db.outbox(first, "schedule_survey") == strings{"done"});
    CHECK(db.survey_timers(first) == strings{"pending"});
    const auto events = db.events(first);
    CHECK(std::count(events.begin(), events.end(), "ticket.solved") == 1);
  }

  const std::string second = create_ticket("Refund (" + mode + ")", "Please refund my last payment.");
  set_status(second, "resolved");
  {
    store_view db;
    REQUIRE(db.survey_timers(second) == strings{"pending"});
  }
  set_status(second, "open");
  CHECK(rest("GET", "/ticket/" + second).at("Status") == "open");
  store_view db;
  INFO("rt-server.log:\n" << rt_log());
  CHECK(db.survey_timers(second) == strings{"cancelled"});
  CHECK(db.outbox(second, "cancel_survey") == strings{"done"});
  CHECK(db.events(second).back() == "ticket.reopened");
  // The first ticket's survey is untouched.
  CHECK(db.survey_timers(first) == strings{"pending"});
}

// Runs `perl` with RT's and the extension's lib dirs and a logger that prints "log <level>:
// <message>" lines; returns (status, stdout+stderr).
std::pair<int, std::string> perl(const std::string& code) {
  const std::string prelude =
      "package StubLogger; sub new { bless {}, shift } our $AUTOLOAD;"
      " sub AUTOLOAD { my $l = $AUTOLOAD; $l =~ s/.*:://; return if $l eq 'DESTROY'; print \"log $l: $_[1]\\n\" }"
      " package main; $RT::Logger = StubLogger->new;\n";
  return run("perl -I/usr/share/request-tracker5/lib -I" + shell_quote(source_dir + "/manifests/request_tracker/lib") +
             " -MRT -MRT::Extension::CloseLoop -e " + shell_quote(prelude + code));
}

// The bridge call of the extension, from Perl: prints "ok" or "error: <message>".
std::pair<int, std::string> perl_bridge_call(const std::string& url, const std::string& secret) {
  return perl("my ($r, $e) = RT::Extension::CloseLoop->_call_bridge({ bridge_url => q{" + url +
              "}, bridge_secret => q{" + secret +
              "}, timeout => 2 }, q{{\"event\":\"rt.transaction\",\"ticket_id\":1,\"transaction_id\":1,"
              "\"type\":\"Create\",\"created\":\"2026-11-20 10:00:00\"}});"
              " print $r ? \"ok\\n\" : \"error: $e\\n\";");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// [settings]: no RT needed

TEST_CASE("RT extension settings: a missing or bad key is named", "[rt][extension][settings]") {
  const std::string lib = closeloop_library;
  const std::string code = R"(
    my @cases = (
      [ undef ],
      [ [] ],
      [ { tenant => 'acme' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'plugin' } ],
      [ { tenant => 'acme', host => 'rt', library => '/nonexistent.so', config_file => '/etc/hostname' } ],
      [ { tenant => 'acme', host => 'rt', library => ')" +
                           lib + R"(' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'ftp://x', bridge_secret => 'x' x 16 } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'short' } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'x' x 16, timeout => 0 } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'x' x 16, secret => 1 } ],
      [ { tenant => 'acme', host => 'rt', mode => 'bridge', bridge_url => 'http://127.0.0.1:1/w', bridge_secret => 'x' x 16 } ],
      [ { tenant => 'acme', host => 'rt', library => ')" +
                           lib + R"(', config_file => '/etc/hostname' } ],
    );
    for my $c (@cases) {
      my ($s, $e) = RT::Extension::CloseLoop->CheckSettings($c->[0]);
      print $s ? "ok mode=$s->{mode} timeout=$s->{timeout}\n" : "error: $e\n";
    }
  )";
  const auto [status, output] = perl(code);
  INFO(output);
  REQUIRE(status == 0);
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("ok ", 0) == 0 || l.rfind("error: ", 0) == 0) lines.push_back(l);
  }
  REQUIRE(lines.size() == 13);
  CHECK_THAT(lines[0], Catch::Contains("not set") && Catch::Contains("Set($CloseLoopConfig"));
  CHECK_THAT(lines[1], Catch::Contains("expected a hash reference"));
  CHECK_THAT(lines[2], Catch::Contains("key \"host\" is required"));
  CHECK_THAT(lines[3], Catch::Contains("key \"mode\": expected 'native' or 'bridge', got 'plugin'"));
  CHECK_THAT(lines[4], Catch::Contains("key \"library\": /nonexistent.so is not a readable file"));
  CHECK_THAT(lines[5], Catch::Contains("key \"config_file\" is required in mode 'native'"));
  CHECK_THAT(lines[6], Catch::Contains("key \"bridge_url\" is required in mode 'bridge'"));
  CHECK_THAT(lines[7], Catch::Contains("key \"bridge_url\": expected an http(s) URL"));
  CHECK_THAT(lines[8], Catch::Contains("key \"bridge_secret\": at least 16 characters"));
  CHECK_THAT(lines[9], Catch::Contains("key \"timeout\""));
  CHECK_THAT(lines[10], Catch::Contains("unknown key \"secret\""));
  CHECK(lines[11] == "ok mode=bridge timeout=5");
  CHECK(lines[12] == "ok mode=native timeout=5");
}

TEST_CASE("RT extension settings: the bridge signature is the request_tracker adapter's", "[rt][extension][settings]") {
  const std::string body = R"({"event":"rt.transaction","ticket_id":7,"transaction_id":33})";
  const auto [status, output] = perl("print RT::Extension::CloseLoop->SignBody(q{" + std::string(bridge_secret) +
                                     "}, 1700000000, q{" + body + "}), qq{\\n};");
  INFO(output);
  REQUIRE(status == 0);
  const std::string expected =
      "sha256=" + closeloop::adapters::crypto::hex_encode(
                      closeloop::adapters::crypto::hmac_sha256(bridge_secret, "1700000000." + body));
  CHECK_THAT(output, Catch::Contains(expected));
}

TEST_CASE("RT extension settings: an unreachable bridge is retried once, then logged with the status",
          "[rt][extension][settings]") {
  const auto [status, output] =
      perl_bridge_call("http://127.0.0.1:" + std::to_string(free_port()) + "/webhooks/acme/rt", bridge_secret);
  INFO(output);
  REQUIRE(status == 0);
  CHECK_THAT(output, Catch::Contains("log warning: closeloop: POST http://127.0.0.1:"));
  CHECK_THAT(output, Catch::Contains("retrying once"));
  CHECK_THAT(output, Catch::Contains("error: POST http://127.0.0.1:") &&
                         Catch::Contains("/webhooks/acme/rt?apply=host failed: HTTP 599"));
}

// ---------------------------------------------------------------------------------------------
// [native]: libcloseloop.so inside RT

TEST_CASE("RT extension native: an urgent billing ticket gets priority, fields and a note in its own request",
          "[rt][extension][native]") {
  check_create("native");
}

TEST_CASE("RT extension native: resolve schedules the survey, resolve then reopen cancels it",
          "[rt][extension][native]") {
  check_survey("native");
}

TEST_CASE("RT extension native: closeloop's survey invitation does not reopen the ticket, other replies do",
          "[rt][extension][native]") {
  setup("native");
  const std::string id = create_ticket("Thanks", "How do I export my data?");
  set_status(id, "resolved");
  // What closeloop serve's worker posts through REST2: a correspondence with the survey link.
  correspond(id, "How did we do? Tell us in one click: http://127.0.0.1:8080/s/cl1.dGVzdA.c2ln");
  CHECK(rest("GET", "/ticket/" + id).at("Status") == "resolved");
  // Any other correspondence on the resolved ticket still reopens it (RT's stock scrip).
  correspond(id, "One more thing: the export is now in your inbox.");
  CHECK(rest("GET", "/ticket/" + id).at("Status") == "open");
}

// ---------------------------------------------------------------------------------------------
// [bridge]: the scrip POSTs to closeloop serve

TEST_CASE("RT extension bridge: an urgent billing ticket gets priority, fields and a note in its own request",
          "[rt][extension][bridge]") {
  const std::string id = check_create("bridge");
  // serve's worker never executes what the host applied: still one note a moment later.
  std::this_thread::sleep_for(1s);
  std::size_t notes = 0;
  for (const auto& m : messages(id)) notes += m.type == "Comment";
  CHECK(notes == 1);
  store_view db;
  CHECK(db.column("SELECT count(*) FROM outbox WHERE ticket_id = ? AND status IN ('pending', 'running', 'done')"
                  " AND type IN ('set_priority', 'set_fields', 'add_internal_note')",
                  id) == strings{"0"});
}

TEST_CASE("RT extension bridge: a transaction asked about again (its first answer lost) gets its changes, not a second note",
          "[rt][extension][bridge]") {
  const auto& e = setup("bridge");
  const std::string id = create_ticket("Charged twice, answer lost (bridge)", urgent_billing);
  const std::string prio = rest("GET", "/ticket/" + id).at("Priority").get<std::string>();
  REQUIRE(std::stoi(prio) > 0);
  // As if RT never got serve's first answer (serve died, or the connection broke, after its
  // commit): the priority it carried is not on the ticket.
  const json lower = {{"Priority", 0}};
  rest("PUT", "/ticket/" + id, &lower);
  REQUIRE(rest("GET", "/ticket/" + id).at("Priority") == "0");

  // The scrip's call for the ticket's Create transaction again, in a process of its own with
  // this RT's site config (what RT does when the first POST failed).
  const auto [status, output] = run(
      "RT_SITE_CONFIG=" + shell_quote(e.rt_dir + "/RT_SiteConfig.pm") +
      " RT_SITE_CONFIG_DIR=" + shell_quote(e.rt_dir + "/empty") + " perl -I/usr/share/request-tracker5/lib -e " +
      shell_quote("use strict; use warnings; use RT; RT::LoadConfig(); RT::Init();"
                  " my $t = RT::Ticket->new(RT->SystemUser); $t->Load(" + id + ") or die qq{no ticket\n};"
                  " my $txns = $t->Transactions; $txns->Limit(FIELD => 'Type', VALUE => 'Create');"
                  " my $txn = $txns->First or die qq{no Create transaction\n};"
                  " my $n = RT::Extension::CloseLoop->HandleTransaction($t, $txn);"
                  " print defined $n ? qq{applied $n\n} : qq{failed\n};") +
      " 2>&1");
  INFO(output << "\nserve.err:\n" << serve_log());
  REQUIRE(status == 0);
  CHECK_THAT(output, Catch::Contains("applied "));
  CHECK(rest("GET", "/ticket/" + id).at("Priority") == prio);  // the lost change arrived
  std::size_t notes = 0;
  for (const auto& m : messages(id)) notes += m.type == "Comment";
  CHECK(notes == 1);  // the note was there already: not added twice
  store_view db;
  CHECK(db.column("SELECT count(*) FROM events WHERE ticket_id = ? AND type = 'ticket.created'", id) == strings{"1"});
}

TEST_CASE("RT extension bridge: resolve schedules the survey, resolve then reopen cancels it",
          "[rt][extension][bridge]") {
  check_survey("bridge");
}

TEST_CASE("RT extension bridge: the survey invitation, once due, is posted by serve and leaves the ticket resolved",
          "[rt][extension][bridge]") {
  const auto& e = setup("bridge");
  const std::string id = create_ticket("Invoice copy (bridge)", "Can you send me a copy of my last invoice?");
  set_status(id, "resolved");
  {
    store_view db;
    REQUIRE(db.survey_timers(id) == strings{"pending"});
  }
  // The survey is due in an hour here (check_survey needs it to stay scheduled): bring this
  // ticket's timer forward in the store, as the clock would, and let serve's worker fire it.
  {
    SQLite::Database db(e.store.string(), SQLite::OPEN_READWRITE, 5000);
    SQLite::Statement up(db, "UPDATE timers SET due_at_ms = ? WHERE ticket_id = ? AND kind = 'survey' AND status = 'pending'");
    up.bind(1, static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()));
    up.bind(2, id);
    REQUIRE(up.exec() == 1);
  }
  INFO("serve.err:\n" << serve_log() << "\noutbox:\n" << outbox_dump());
  REQUIRE(eventually([&] { return has_survey_link(id); }, 15s));
  const auto sent = invitations(id);
  REQUIRE(sent.size() == 1);
  CHECK(survey_links(sent[0].text).size() == 1);
  CHECK_THAT(sent[0].text, Catch::Contains(e.serve_url() + "/s/cl1.") && Catch::Contains("?score=5"));
  CHECK(rest("GET", "/ticket/" + id).at("Status") == "resolved");
  store_view db;
  CHECK(db.outbox(id, "send_survey") == strings{"done"});
}

TEST_CASE("RT extension bridge: serve's refusal is reported with its status and message", "[rt][extension][bridge]") {
  const auto& e = setup("bridge");
  const std::string url = "http://127.0.0.1:" + std::to_string(e.serve_port) + "/webhooks/" + tenant + "/" + host;
  const auto [status, output] = perl_bridge_call(url, "not the secret, but 16+ chars");
  INFO(output);
  REQUIRE(status == 0);
  CHECK_THAT(output, Catch::Contains("error: POST " + url + "?apply=host failed: HTTP 401 "));
  CHECK_THAT(output, !Catch::Contains("retrying"));  // a 4xx is not retried
  // With the right secret the same call is accepted (a new event for ticket 1, transaction 1).
  CHECK_THAT(perl_bridge_call(url, bridge_secret).second, Catch::Contains("ok"));
}

int main(int argc, char* argv[]) {
  std::atexit([] { stop_all(); });
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
  const int rc = Catch::Session().run(argc, argv);
  stop_all();
  return rc;
}
