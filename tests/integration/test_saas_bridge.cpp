// Each SaaS vendor end to end through the bridge: the real `closeloop serve` with a host whose
// base_url is the vendor's stand-in on loopback. The stand-in enforces the documented request
// contract of tests/adapters/conformance/<vendor>/vendor.json (auth, routes, required fields, the
// vendor's error shapes); webhooks are signed by the conformance suite's signer for the vendor.
// One scenario set, run for Zendesk, Freshdesk and Zammad; a small table (bridge_vendor) says how
// each vendor's created/solved webhooks look and which stand-in route receives what.
#include <catch2/catch.hpp>

#include <regex>
#include <sstream>

#include "../adapters/conformance.hpp"
#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;
namespace conf = closeloop::test::conformance;

namespace {

const fs::path conformance_dir = fs::path(CLOSELOOP_SOURCE_DIR) / "tests/adapters/conformance";

const std::string subject = "Production is down: every login returns error 500";
const std::string description = "Production is down since 08:00, every login returns an error 500. Please help!";
const std::string resolution = "To fix it:\n1. Restart the login service.\n2. Clear the session cache.\n3. Log in again.";

// One request the stand-in received, its JSON body parsed (null when there is none).
struct call {
  std::string method, path;
  json body;
};

std::string id_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : ""; }

// What differs between vendors. `kind` is "created" or "solved".
struct bridge_vendor {
  std::string name;   // folder under tests/adapters/conformance/
  std::string owner;  // the escalation owner, as the vendor's reopen names it
  std::function<void(json& host)> tune = [](json&) {};
  std::function<json(const std::string& kind, const std::string& ticket, const std::string& at, const std::string& host)>
      payload;
  std::function<std::string(const std::string& kind)> query = [](const std::string&) { return std::string(); };
  // Write-backs for `ticket`: priority, classification fields, the internal note, the reopen.
  std::function<bool(const call&, const std::string& ticket)> priority, fields, note, reopen;
  // The text of a public reply to `ticket` (the survey invitation), or "".
  std::function<std::string(const call&, const std::string& ticket)> reply;
  std::function<bool(const call&)> kb_create;
  // Optional: the survey score written back to the ticket.
  std::function<bool(const call&, const std::string& ticket)> score;
  std::string other_fixture, missing_fixture;  // bad payloads (fixtures/<name>.json, "error" = reason)
  // The stand-in's ticket update answers with the updated ticket (route "echo"), so the adapter's
  // check that the vendor took each value sees what it sent (Freshdesk, Zammad verify this).
  bool echo_updates = false;
};

bool is(const call& c, const std::string& method, const std::string& pattern) {
  return c.method == method && conf::path_matches(pattern, c.path);
}

// ---- Zendesk: triggers (adapters/zendesk/README.md), everything through PUT /api/v2/tickets/{id}.
json zendesk_payload(const std::string& kind, const std::string& ticket, const std::string& at, const std::string& host) {
  const bool created = kind == "created";
  return {{"event", "ticket." + kind},
          {"tenant", "acme"},
          {"host", host},
          {"ticket",
           {{"id", ticket},
            {"subject", subject},
            {"description", description},
            {"status", created ? "Open" : "Solved"},
            {"priority", "Normal"},
            {"tags", "enterprise"},
            {"group", "Support"},
            {"via", "Mail"},
            {"created_at", "2026-11-20T10:00:00Z"},
            {"updated_at", at},
            {"requester", {{"id", "381626101"}, {"email", "alice@northwind.example"}, {"name", "Alice Chen"}}},
            {"latest_comment", {{"id", ""}, {"body", ""}, {"public", "true"}, {"author", json::object()}}},
            {"latest_public_comment", {{"body", resolution}}}}},
          {"current_user",
           {{"id", created ? "381626101" : "12"},
            {"email", created ? "alice@northwind.example" : "bob@acme.example"},
            {"name", created ? "Alice Chen" : "Bob"},
            {"role", created ? "end-user" : "agent"}}}};
}

json zd_ticket(const call& c, const std::string& ticket) {
  return c.method == "PUT" && c.path == "/api/v2/tickets/" + ticket ? c.body.value("ticket", json::object())
                                                                     : json::object();
}

bridge_vendor zendesk() {
  bridge_vendor v;
  v.name = "zendesk";
  v.owner = "lead@acme.example";
  v.tune = [](json& host) {
    host["groups"] = {{"Escalations", 360000222}, {"Operations", 360000444}, {"Billing", 360000555}};
    host["custom_fields"]["csat"] = 360000666;  // the survey score is written back to a ticket field
  };
  v.payload = zendesk_payload;
  v.priority = [](const call& c, const std::string& t) { return zd_ticket(c, t).contains("priority"); };
  v.fields = [](const call& c, const std::string& t) {
    return zd_ticket(c, t).value("additional_tags", json()).dump().find("closeloop_category_outage") != std::string::npos;
  };
  v.note = [](const call& c, const std::string& t) {
    const json tk = zd_ticket(c, t);
    return tk.contains("comment") && tk["comment"].value("public", true) == false;
  };
  v.reply = [](const call& c, const std::string& t) {
    const json cm = zd_ticket(c, t).value("comment", json::object());
    return cm.value("public", false) ? cm.value("body", std::string()) : std::string();
  };
  v.reopen = [](const call& c, const std::string& t) {
    const json tk = zd_ticket(c, t);
    return tk.value("status", "") == "open" && tk.value("assignee_email", "") == "lead@acme.example" &&
           tk.value("group_id", 0) == 360000222;
  };
  v.kb_create = [](const call& c) { return c.method == "POST" && c.path.find("/articles") != std::string::npos; };
  v.score = [](const call& c, const std::string& t) {
    for (const auto& f : zd_ticket(c, t).value("custom_fields", json::array())) {
      if (f.value("id", 0) == 360000666 && f.value("value", json()) == 1) return true;
    }
    return false;
  };
  v.other_fixture = "21-error-freshdesk-payload";
  v.missing_fixture = "22-error-missing-ticket-id";
  return v;
}

// ---- Freshdesk: automation rules with an advanced body (adapters/freshdesk/README.md).
bridge_vendor freshdesk() {
  bridge_vendor v;
  v.name = "freshdesk";
  v.owner = "lead";  // host.agents: lead -> 501
  v.tune = [](json& host) { host["groups"] = {{"Escalations", 77}, {"Operations", 78}, {"Billing", 79}}; };
  v.payload = [](const std::string& kind, const std::string& ticket, const std::string& at, const std::string&) {
    if (kind == "created") {
      return json{{"event", "created"},           {"occurred_at", at},
                  {"ticket_id", ticket},          {"ticket_subject", subject},
                  {"ticket_description", "<div>" + description + "</div>"},
                  {"ticket_source", "Email"},     {"ticket_tags", "enterprise"},
                  {"ticket_requester_name", "Alice Chen"}, {"ticket_requester_email", "alice@northwind.example"}};
    }
    return json{{"event", "resolved"},         {"occurred_at", at},
                {"ticket_id", ticket},         {"ticket_status", "Resolved"},
                {"ticket_latest_public_comment", resolution}, {"ticket_agent_email", "bob@acme.example"}};
  };
  const auto put = [](const call& c, const std::string& t) { return c.method == "PUT" && c.path == "/api/v2/tickets/" + t; };
  v.priority = [put](const call& c, const std::string& t) { return put(c, t) && c.body.contains("priority"); };
  v.fields = [put](const call& c, const std::string& t) {
    return put(c, t) && c.body.value("custom_fields", json::object()).dump().find("outage") != std::string::npos;
  };
  v.note = [](const call& c, const std::string& t) {
    return c.method == "POST" && c.path == "/api/v2/tickets/" + t + "/notes" && c.body.value("private", false);
  };
  v.reply = [](const call& c, const std::string& t) {
    return c.method == "POST" && c.path == "/api/v2/tickets/" + t + "/reply" ? c.body.value("body", std::string())
                                                                             : std::string();
  };
  v.reopen = [put](const call& c, const std::string& t) {
    return put(c, t) && c.body.value("status", 0) == 2 && c.body.value("group_id", 0) == 77 &&
           c.body.value("responder_id", 0) == 501;
  };
  v.kb_create = [](const call& c) { return is(c, "POST", "/api/v2/solutions/folders/{id}/articles"); };
  v.other_fixture = "zammad-payload";
  v.echo_updates = true;
  v.missing_fixture = "missing-ticket";
  return v;
}

// ---- Zammad: the default trigger payload {ticket, article} (adapters/zammad/README.md); the
// solved webhook carries the agent's answer, so its trigger names the kind (?event=solved).
bridge_vendor zammad() {
  bridge_vendor v;
  v.name = "zammad";
  v.owner = "lead";
  v.payload = [](const std::string& kind, const std::string& ticket, const std::string& at, const std::string&) {
    json p = json::parse(read_text(fs::path(CLOSELOOP_SOURCE_DIR) / "tests/fixtures/zammad/trigger-payload.json"));
    const long id = std::stol(ticket);
    const long article = id * 10 + (kind == "created" ? 1 : 2);
    json& t = p["ticket"];
    t["id"] = id;
    t["title"] = subject;
    t["updated_at"] = at;
    t["customer"]["email"] = "alice@northwind.example";
    t["article_ids"] = json::array({id * 10 + 1});
    json& a = p["article"];
    a["id"] = article;
    a["ticket_id"] = id;
    a["created_at"] = at;
    a["updated_at"] = at;
    if (kind == "created") {
      a["body"] = description;
      a["content_type"] = "text/plain";
    } else {
      t["state"] = "closed";
      t["state_id"] = 4;
      t["article_count"] = 2;
      t["article_ids"] = json::array({id * 10 + 1, article});
      a["body"] = resolution;
      a["content_type"] = "text/plain";
      a["sender"] = "Agent";
      a["type"] = "email";
      a["from"] = "Bob <bob@acme.example>";
    }
    return p;
  };
  v.query = [](const std::string& kind) { return kind == "solved" ? std::string("?event=solved") : std::string(); };
  const auto put = [](const call& c, const std::string& t) { return c.method == "PUT" && c.path == "/api/v1/tickets/" + t; };
  const auto article = [](const call& c, const std::string& t) {
    return c.method == "POST" && c.path == "/api/v1/ticket_articles" && id_text(c.body.value("ticket_id", json())) == t;
  };
  v.priority = [put](const call& c, const std::string& t) { return put(c, t) && c.body.contains("priority_id"); };
  v.fields = [put](const call& c, const std::string& t) { return put(c, t) && c.body.value("closeloop_category", "") == "outage"; };
  v.note = [article](const call& c, const std::string& t) { return article(c, t) && c.body.value("internal", false); };
  v.reply = [article](const call& c, const std::string& t) {
    return article(c, t) && !c.body.value("internal", true) ? c.body.value("body", std::string()) : std::string();
  };
  v.reopen = [put](const call& c, const std::string& t) {
    return put(c, t) && c.body.value("state", "") == "open" && c.body.value("group", "") == "Escalations";
  };
  v.kb_create = [](const call& c) { return is(c, "POST", "/api/v1/knowledge_bases/{kb}/answers"); };
  v.other_fixture = "freshdesk-payload";
  v.echo_updates = true;
  v.missing_fixture = "missing-ticket-id";
  return v;
}

bridge_vendor vendor_named(const std::string& name) {
  if (name == "zendesk") return zendesk();
  if (name == "freshdesk") return freshdesk();
  return zammad();
}

// The running pair: the vendor's stand-in and `closeloop serve` pointed at it.
struct bridge {
  bridge_vendor v;
  json spec;  // vendor.json
  temp_dir dir;
  conf::contract_server standin;
  std::unique_ptr<server_process> srv;

  explicit bridge(const std::string& vendor, const std::string& tag)
      : v(vendor_named(vendor)),
        spec(json::parse(read_text(conformance_dir / vendor / "vendor.json"))),
        dir(vendor + "-" + tag),
        standin(contract(v, spec)) {}

  static json contract(const bridge_vendor& v, const json& spec) {
    json c = spec.at("contract");
    for (auto& route : c["routes"]) {
      const std::string path = route.value("path", "");
      if (v.echo_updates && route.value("method", "") == "PUT" && path.size() > 13 &&
          path.compare(path.size() - 13, 13, "/tickets/{id}") == 0) {
        route["echo"] = true;
      }
    }
    return c;
  }

  std::string host_id() const { return spec.at("host").at("id").get<std::string>(); }

  void start() {
    config_options co;
    co.survey_delay_s = 1;
    json cfg = make_config(co);
    json host = conf::substitute(spec.at("host"), "{stand_in}", standin.url());
    v.tune(host);
    json& t = cfg["tenants"][0];
    t["hosts"] = json::array({host});
    t["policy"]["survey"]["escalation"]["owner"] = v.owner;
    t["policy"]["kb"] = {{"enabled", true}, {"min_resolution_chars", 20}};
    cfg["worker"]["max_attempts"] = 20;
    srv = std::make_unique<server_process>(dir, cfg);
    srv->start();
  }

  adapters::header_list sign(const std::string& body, const std::string& secret, timestamp at) const {
    const json& signing = spec.at("signing");
    return conf::signers().at(signing.at("scheme").get<std::string>())(conf::sign_input{signing, secret, body, at});
  }
  adapters::header_list sign(const std::string& body) const {
    return sign(body, spec.at("signing").at("secret").get<std::string>(),
                std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  }

  result<adapters::http::response> post(const std::string& body, const adapters::header_list& headers,
                                        const std::string& query = "") const {
    return http_post(srv->webhook_url("acme", host_id()) + query, headers, body);
  }
  // A signed created/solved webhook for `ticket`.
  result<adapters::http::response> send(const std::string& kind, const std::string& ticket, const std::string& at) const {
    const std::string body = v.payload(kind, ticket, at, host_id()).dump();
    return post(body, sign(body), v.query(kind));
  }

  std::vector<call> calls() const {
    std::vector<call> out;
    for (const auto& r : standin.requests()) {
      const auto q = r.target.find('?');
      out.push_back({r.method, r.target.substr(0, q), json::parse(r.body, nullptr, false)});
      if (out.back().body.is_discarded()) out.back().body = json();
    }
    return out;
  }
  bool any(const std::function<bool(const call&, const std::string&)>& pred, const std::string& ticket) const {
    for (const auto& c : calls()) {
      if (c.body.is_object() && pred(c, ticket)) return true;
    }
    return false;
  }
  bool written_back(const std::string& ticket) const {
    return any(v.priority, ticket) && any(v.fields, ticket) && any(v.note, ticket);
  }
  std::size_t kb_creates() const {
    std::size_t n = 0;
    for (const auto& c : calls()) n += v.kb_create(c);
    return n;
  }
  // The survey link in a public reply to `ticket`.
  std::string survey_link(const std::string& ticket) const {
    const std::string base = srv->base_url();
    const std::regex link(std::regex_replace(base, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                          "/s/[A-Za-z0-9._~-]+");
    for (const auto& c : calls()) {
      if (!c.body.is_object()) continue;
      const std::string text = v.reply(c, ticket);
      std::smatch m;
      if (std::regex_search(text, m, link)) return m.str();
    }
    return {};
  }
};

// GET the page, POST the answer with the page's hidden fields (whatever the form carries).
void answer(const std::string& link, const std::string& answers) {
  auto page = http_get(link);
  REQUIRE(page);
  REQUIRE(page->status == 200);
  std::string fields;
  const std::regex hidden(R"re(<input type="hidden" name="([^"]+)" value="([^"]*)")re");
  for (auto it = std::sregex_iterator(page->body.begin(), page->body.end(), hidden); it != std::sregex_iterator(); ++it) {
    fields += (*it)[1].str() + "=" + (*it)[2].str() + "&";
  }
  for (int step = 0; step < 2; ++step) {  // a low score may ask a follow-up question first
    adapters::http::request req;
    req.method = "POST";
    req.url = link;
    req.headers = {{"content-type", "application/x-www-form-urlencoded"}};
    req.body = fields + answers + (step == 1 ? "&_why=1&reasons=slow" : "");
    auto r = make_client(5s).send(req);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    if (r->body.find("What went wrong?") == std::string::npos) break;
  }
}

// The failed actions and the server's log lines about them, for a failing check's message.
std::string failures(const bridge& b, db_view& db) {
  std::string out;
  for (const auto& k : db.keys_with_status("failed")) out += "failed: " + k + "\n";
  std::istringstream log(b.srv->stdout_text() + b.srv->stderr_text());
  for (std::string line; std::getline(log, line);) {
    if (line.find("action failed") != std::string::npos) out += line + "\n";
  }
  return out;
}

void full_loop(const std::string& vendor) {
  bridge b(vendor, "loop");
  b.start();
  auto r = b.send("created", "35436", "2026-11-20T10:00:00Z");
  REQUIRE(r);
  INFO(r->body << "\n" << b.srv->stderr_text());
  REQUIRE(r->status == 202);
  // Priority, classification fields and the note are written back through the vendor's API.
  REQUIRE(eventually([&] { return b.written_back("35436"); }, 20s));
  // A redelivery of the same webhook is recognised.
  auto again = b.send("created", "35436", "2026-11-20T10:00:00Z");
  REQUIRE(again);
  CHECK(again->status == 200);

  r = b.send("solved", "35436", "2026-11-20T11:00:00Z");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string link;
  REQUIRE(eventually(
      [&] {
        link = b.survey_link("35436");
        return !link.empty();
      },
      20s));
  REQUIRE(eventually([&] { return b.kb_creates() == 1; }, 20s));

  answer(link, "score=1&comment=Still+broken");
  if (b.v.score) REQUIRE(eventually([&] { return b.any(b.v.score, "35436"); }, 20s));
  REQUIRE(eventually([&] { return b.any(b.v.reopen, "35436"); }, 20s));

  // Another ticket with the same problem, solved: no second article.
  REQUIRE(b.send("created", "35437", "2026-11-21T10:00:00Z")->status == 202);
  REQUIRE(b.send("solved", "35437", "2026-11-21T11:00:00Z")->status == 202);
  db_view db(b.srv->db_path());
  REQUIRE(eventually([&] { return db.outbox("pending") == 0; }, 20s));
  std::this_thread::sleep_for(1500ms);  // a survey timer (1 s) may add work: let it run
  REQUIRE(eventually([&] { return db.outbox("pending") == 0; }, 20s));
  CHECK(b.kb_creates() == 1);
  INFO(failures(b, db));
  CHECK(db.outbox("failed") == 0);
}

std::string fixture_body(const json& f) {
  if (f.contains("body_file")) return read_text(fs::path(CLOSELOOP_SOURCE_DIR) / f["body_file"].get<std::string>());
  return f.at("body").dump();
}

void bad_input(const std::string& vendor) {
  bridge b(vendor, "bad");
  b.start();
  const json& signing = b.spec.at("signing");
  const std::string good = b.v.payload("created", "1", "2026-11-20T10:00:00Z", b.host_id()).dump();
  const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());

  auto wrong = b.post(good, b.sign(good, signing.at("wrong_secret").get<std::string>(), now));
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK_THAT(wrong->body, Catch::Contains("does not match"));

  if (signing.value("timestamped", false)) {
    auto stale = b.post(good, b.sign(good, signing.at("secret").get<std::string>(), now - std::chrono::minutes(10)));
    REQUIRE(stale);
    CHECK(stale->status == 401);
    CHECK_THAT(stale->body, Catch::Contains("older than 300 s"));
  }

  auto unsigned_req = b.post(good, {});
  REQUIRE(unsigned_req);
  CHECK(unsigned_req->status == 401);
  CHECK_THAT(unsigned_req->body, Catch::Contains("missing"));

  for (const auto& name : {b.v.other_fixture, b.v.missing_fixture}) {
    const json f = json::parse(read_text(conformance_dir / vendor / "fixtures" / (name + ".json")));
    const std::string body = fixture_body(f);
    auto r = b.post(body, b.sign(body));
    REQUIRE(r);
    INFO(name << ": " << r->body);
    CHECK(r->status == 400);
    CHECK_THAT(r->body, Catch::Contains(f.at("error").get<std::string>()));
  }

  db_view db(b.srv->db_path());
  CHECK(db.events() == 0);
  std::this_thread::sleep_for(300ms);
  CHECK(b.standin.requests().empty());
}

void rate_limited(const std::string& vendor) {
  bridge b(vendor, "429");
  for (int i = 0; i < 3; ++i) {
    auto limited = b.standin.error("rate_limited", "Rate limit exceeded");
    limited.status = 429;
    limited.headers.emplace_back("retry-after", "1");
    b.standin.raw().push(limited);
  }
  b.start();
  const auto t0 = steady::now();
  auto r = b.send("created", "500", "2026-11-20T10:00:00Z");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  db_view db(b.srv->db_path());
  // Nothing lost: priority, fields and the note all reach the vendor after the 429s.
  REQUIRE(eventually([&] { return db.outbox("pending") == 0 && b.written_back("500"); }, 30s));
  CHECK(steady::now() - t0 >= 1s);  // Retry-After was honoured
  INFO(failures(b, db));
  CHECK(db.outbox("failed") == 0);
  const std::string log = b.srv->stdout_text() + b.srv->stderr_text();
  INFO(log);
  CHECK(log.find("action retry") != std::string::npos);
}

}  // namespace

// One CTest entry per vendor and scenario.
#define CLOSELOOP_BRIDGE_CASES(vendor)                                                                         \
  TEST_CASE(vendor " bridge: created is classified and written back, solved gets the survey, a bad answer "     \
                   "reopens, the KB article is drafted once",                                                   \
            "[integration][" vendor "]") {                                                                      \
    full_loop(vendor);                                                                                          \
  }                                                                                                             \
  TEST_CASE(vendor " bridge: bad signatures, other vendors' payloads and missing fields are refused with a "     \
                   "reason and nothing is stored",                                                              \
            "[integration][" vendor "]") {                                                                      \
    bad_input(vendor);                                                                                          \
  }                                                                                                             \
  TEST_CASE(vendor " bridge: a vendor answering 429 for a few seconds delays the write-back but loses nothing", \
            "[integration][" vendor "]") {                                                                      \
    rate_limited(vendor);                                                                                       \
  }

CLOSELOOP_BRIDGE_CASES("zendesk")
CLOSELOOP_BRIDGE_CASES("freshdesk")
CLOSELOOP_BRIDGE_CASES("zammad")
