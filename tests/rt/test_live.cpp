// The request_tracker adapter against a REAL Request Tracker 5 on 127.0.0.1 (tests/rt/start-rt,
// once per binary). Every outcome is checked by reading RT back through REST2. Test cases run in
// declaration order; the last one stops RT to see connection refused become a retry.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/adapter.hpp"
#include "common/http_client.hpp"
#include "request_tracker/request_tracker_adapter.hpp"
#include "rt_harness.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using closeloop::adapters::request_tracker::article_search;
using closeloop::adapters::request_tracker::request_tracker_adapter;
using closeloop::rt_test::shared_rt;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// A unique suffix per run, so names never collide with an RT reused through CLOSELOOP_RT_ENV.
const std::string run_id = std::to_string(
    std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() % 100000000);

json settings_for(const rt_test::rt_instance& rt, json extra = json::object()) {
  json s = {{"id", "rt"},
            {"vendor", "request_tracker"},
            {"base_url", rt.url},
            {"auth", {{"token", rt.token}}},
            {"webhook_secret", "rt scrip secret, 32 bytes long!!"}};
  for (auto& [k, v] : extra.items()) s[k] = v;
  return s;
}

std::unique_ptr<request_tracker_adapter> make_rt(json extra = json::object()) {
  const auto& rt = shared_rt();
  tenant_config t;
  t.id = "acme";
  host_config h;
  h.id = "rt";
  h.vendor = "request_tracker";
  h.settings = settings_for(rt, std::move(extra));
  adapter_env env;
  env.http_timeout = seconds{10};
  auto a = request_tracker_adapter::create(t, h, env);
  if (!a) FAIL(a.err().message);
  return std::move(a).value();
}

// Direct REST2 calls for the test's own setup and read-back.
json rest(const std::string& method, const std::string& path, const json* body = nullptr, int expect = 0) {
  const auto& rt = shared_rt();
  http::client c;
  http::request req;
  req.method = method;
  req.url = rt.url + "/REST/2.0" + path;
  req.headers = {{"authorization", "token " + rt.token}, {"accept", "application/json"}};
  if (body) {
    req.headers.emplace_back("content-type", "application/json");
    req.body = body->dump();
  }
  auto r = c.send(req, seconds{10});
  if (!r) FAIL(method << " " << path << ": " << r.err().message);
  INFO(method << " " << path << " -> " << r->status << " " << r->body);
  if (expect != 0) REQUIRE(r->status == expect);
  else REQUIRE(r->status / 100 == 2);
  return json::parse(r->body);
}

std::string create_ticket(const std::string& subject) {
  json t = {{"Queue", "General"},
            {"Subject", subject + " " + run_id},
            {"Requestor", "alice@example.com"},
            {"Content", "Please help: " + subject},
            {"ContentType", "text/plain"}};
  json created = rest("POST", "/ticket", &t, 201);
  return created.at("id").get<std::string>();
}

action make_action(action_type type, const std::string& ticket, json params, const std::string& cause = "txn:1") {
  action a;
  a.type = type;
  a.tenant = "acme";
  a.host = "rt";
  a.ticket_id = ticket;
  a.caused_by = cause;
  a.idempotency_key = "acme:rt:" + ticket + ":" + cause + ":" + std::string(to_string(type)) + ":" + run_id;
  a.params = std::move(params);
  return a;
}

void require_done(const action_outcome& o) {
  INFO("outcome: " << static_cast<int>(o.k) << " HTTP " << o.http_status << " " << o.message);
  REQUIRE(o.k == action_outcome::kind::done);
}

std::vector<std::string> cf_values(const json& ticket, const std::string& name) {
  for (const auto& cf : ticket.at("CustomFields")) {
    if (cf.at("name") == name) return cf.at("values").get<std::vector<std::string>>();
  }
  FAIL("custom field " << name << " not on the ticket");
  return {};
}

std::vector<std::string> history_types(const std::string& ticket) {
  std::vector<std::string> types;
  json page = rest("GET", "/ticket/" + ticket + "/history?per_page=100&fields=Type");
  for (const auto& t : page.at("items")) types.push_back(t.at("Type").get<std::string>());
  return types;
}

long count_of(const std::vector<std::string>& v, const std::string& s) { return std::count(v.begin(), v.end(), s); }

}  // namespace

TEST_CASE("live RT: check_reachable names RT's version", "[rt][live]") {
  auto a = make_rt();
  auto r = a->check_reachable();
  INFO((r ? *r : r.err().message));
  REQUIRE(r);
  CHECK_THAT(*r, Catch::StartsWith("reached RT 5."));
  CHECK_THAT(*r, Catch::Contains(shared_rt().url + "/REST/2.0/rt"));

  // A wrong token is reported as such.
  auto bad = make_rt({{"auth", {{"token", "1-14-00000000000000000000000000000000"}}}});
  auto refused = bad->check_reachable();
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::unauthorized);
  CHECK_THAT(refused.err().message, Catch::Contains("HTTP 401"));

  // Basic auth with RT's own password works too.
  auto basic = make_rt({{"auth", {{"user", "root"}, {"password", "password"}}}});
  CHECK(basic->check_reachable());
}

TEST_CASE("live RT: set_priority writes RT's Priority through the map", "[rt][live]") {
  auto a = make_rt();
  const std::string id = create_ticket("priority");
  require_done(a->execute(make_action(action_type::set_priority, id, {{"priority", "urgent"}})));
  CHECK(rest("GET", "/ticket/" + id).at("Priority") == "50");
  require_done(a->execute(make_action(action_type::set_priority, id, {{"priority", "critical"}}, "txn:2")));
  CHECK(rest("GET", "/ticket/" + id).at("Priority") == "100");
  // Again: nothing to change is still done.
  require_done(a->execute(make_action(action_type::set_priority, id, {{"priority", "critical"}}, "txn:2")));

  auto mapped = make_rt({{"priority_map", {{"normal", 10}}}});
  require_done(mapped->execute(make_action(action_type::set_priority, id, {{"priority", "normal"}}, "txn:3")));
  CHECK(rest("GET", "/ticket/" + id).at("Priority") == "10");

  // A ticket that does not exist: RT's 404, failed.
  auto o = a->execute(make_action(action_type::set_priority, "999999", {{"priority", "urgent"}}));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK(o.http_status == 404);
  CHECK_THAT(o.message, Catch::Contains("does not exist"));
}

TEST_CASE("live RT: set_fields writes the mapped custom fields", "[rt][live]") {
  auto a = make_rt();
  const std::string id = create_ticket("fields");
  json fields = {{"category", "billing"},
                 {"sentiment", "negative"},
                 {"language", "en"},
                 {"priority_reason", "outage wording; churn threat"},
                 {"csat", 4},
                 {"tags", {"hardware", "fire"}},
                 {"category_confidence", 0.7}};
  auto o = a->execute(make_action(action_type::set_fields, id, {{"fields", fields}}));
  require_done(o);
  CHECK_THAT(o.message, Catch::Contains("not mapped, skipped: category_confidence"));

  json t = rest("GET", "/ticket/" + id);
  CHECK(cf_values(t, "Category") == std::vector<std::string>{"billing"});
  CHECK(cf_values(t, "Sentiment") == std::vector<std::string>{"negative"});
  CHECK(cf_values(t, "Language") == std::vector<std::string>{"en"});
  CHECK(cf_values(t, "Priority reason") == std::vector<std::string>{"outage wording; churn threat"});
  CHECK(cf_values(t, "CSAT") == std::vector<std::string>{"4"});
  auto tags = cf_values(t, "Tags");
  CHECK(std::set<std::string>(tags.begin(), tags.end()) == std::set<std::string>{"hardware", "fire"});

  // Tags are replaced as a whole; a single tag may be given as a string.
  require_done(a->execute(make_action(action_type::set_fields, id, {{"fields", {{"tags", "fire"}}}}, "txn:2")));
  CHECK(cf_values(rest("GET", "/ticket/" + id), "Tags") == std::vector<std::string>{"fire"});

  // The SLA's due times: resolution into RT's own Due (REST2 shows it in UTC), first reply into
  // the "First reply due" CF; then a reopening's new resolution due time alone.
  require_done(a->execute(make_action(action_type::set_fields, id,
                                      {{"fields", {{"sla_first_reply_due", "2026-11-21T09:00:00Z"},
                                                   {"sla_resolution_due", "2026-11-23T09:00:00Z"}}}},
                                      "txn:due")));
  t = rest("GET", "/ticket/" + id);
  CHECK(t.at("Due") == "2026-11-23T09:00:00Z");
  CHECK(cf_values(t, "First reply due") == std::vector<std::string>{"2026-11-21T09:00:00Z"});
  require_done(a->execute(make_action(action_type::set_fields, id, {{"fields", {{"sla_resolution_due", "2026-11-28T17:30:00Z"}}}},
                                      "txn:due2")));
  CHECK(rest("GET", "/ticket/" + id).at("Due") == "2026-11-28T17:30:00Z");

  // A value RT refuses (Sentiment is a select CF): failed, with RT's own words.
  o = a->execute(make_action(action_type::set_fields, id, {{"fields", {{"sentiment", "furious"}}}}, "txn:3"));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK_THAT(o.message, Catch::Contains("Invalid value for custom field"));

  // A mapping to a CF that is not applied to the queue: RT says nothing, the read-back tells.
  auto renamed = make_rt({{"custom_fields", {{"category", "No such field"}}}});
  o = renamed->execute(make_action(action_type::set_fields, id, {{"fields", {{"category", "bug"}}}}, "txn:4"));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK_THAT(o.message, Catch::Contains("\"No such field\" is not applied"));
}

TEST_CASE("live RT: notes and replies land in the ticket history, once", "[rt][live]") {
  auto a = make_rt();
  const std::string id = create_ticket("notes");
  const auto note = make_action(action_type::add_internal_note, id, {{"body", "closeloop: urgent because it burns."}});
  require_done(a->execute(note));
  require_done(a->execute(make_action(action_type::post_public_reply, id, {{"body", "We are on it."}})));
  auto types = history_types(id);
  CHECK(count_of(types, "Comment") == 1);
  CHECK(count_of(types, "Correspond") == 1);

  // A retry of the same action (same idempotency key) finds the earlier transaction.
  auto again = a->execute(note);
  require_done(again);
  CHECK_THAT(again.message, Catch::StartsWith("already in RT as transaction"));
  CHECK(count_of(history_types(id), "Comment") == 1);

  // The comment's text is what we sent.
  json page = rest("GET", "/ticket/" + id + "/history?per_page=100&fields=Type");
  std::string comment_txn;
  for (const auto& t : page.at("items")) {
    if (t.at("Type") == "Comment") comment_txn = t.at("id").get<std::string>();
  }
  REQUIRE_FALSE(comment_txn.empty());
  json attachments = rest("GET", "/transaction/" + comment_txn + "/attachments?fields=Content,ContentType");
  bool found = false;
  for (const auto& at : attachments.at("items")) {
    if (at.value("ContentType", "") != "text/plain") continue;
    // With fields=Content, RT lists the text as-is (GET /attachment/:id gives it base64-encoded).
    if (at.value("Content", "").find("urgent because it burns") != std::string::npos) found = true;
  }
  CHECK(found);

  // send_survey: a correspondence with the invitation text; without it, a clear failure.
  auto o = a->execute(make_action(action_type::send_survey, id, {{"survey", "csat"}}));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK(o.message == "send_survey needs the invitation text (params.body)");
  require_done(a->execute(make_action(action_type::send_survey, id,
                                      {{"survey", "csat"}, {"body", "How did we do? http://127.0.0.1/s/abc"}})));
  CHECK(count_of(history_types(id), "Correspond") == 2);
}

TEST_CASE("live RT: reopen after resolving, assign_group moves the queue", "[rt][live]") {
  auto a = make_rt();
  const std::string id = create_ticket("reopen");
  json resolve = {{"Status", "resolved"}};
  rest("PUT", "/ticket/" + id, &resolve);
  REQUIRE(rest("GET", "/ticket/" + id).at("Status") == "resolved");

  require_done(a->execute(make_action(action_type::reopen, id, {{"reason", "CSAT 1/5"}, {"owner", "root"}})));
  json t = rest("GET", "/ticket/" + id);
  CHECK(t.at("Status") == "open");
  CHECK(t.at("Owner").at("id") == "root");
  // Already open: still done.
  require_done(a->execute(make_action(action_type::reopen, id, json::object(), "txn:2")));

  // An owner RT does not know: failed with RT's message.
  auto o = a->execute(make_action(action_type::reopen, id, {{"owner", "nobody-" + run_id}}, "txn:3"));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK_THAT(o.message, Catch::Contains("That user does not exist"));

  const std::string queue = "Operations " + run_id;
  json q = {{"Name", queue}};
  rest("POST", "/queue", &q, 201);
  require_done(a->execute(make_action(action_type::assign_group, id, {{"group", queue}})));
  json moved = rest("GET", "/ticket/" + id);
  json queue_record = rest("GET", "/queue/" + moved.at("Queue").at("id").get<std::string>());
  CHECK(queue_record.at("Name") == queue);

  o = a->execute(make_action(action_type::assign_group, id, {{"group", "No queue " + run_id}}, "txn:2"));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK_THAT(o.message, Catch::Contains("does not exist"));
}

TEST_CASE("live RT: create_kb_article, then find it with the paginated search", "[rt][live]") {
  auto a = make_rt();
  const std::string prefix = "Pager " + run_id;
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    auto o = a->execute(make_action(action_type::create_kb_article, "1",
                                    {{"title", prefix + " article " + std::to_string(i)},
                                     {"body", "<p>Step " + std::to_string(i) + ": turn it off and on.</p>"},
                                     {"summary", "how to " + std::to_string(i)}},
                                    "txn:" + std::to_string(i)));
    require_done(o);
    CHECK(o.http_status == 201);
    REQUIRE_THAT(o.message, Catch::StartsWith("created article "));
    ids.push_back(o.message.substr(std::string("created article ").size()));
  }
  // The article is in the closeloop class, with its Content custom field.
  json art = rest("GET", "/article/" + ids[0]);
  CHECK(art.at("Name") == prefix + " article 1");
  CHECK(art.at("Summary") == "how to 1");
  CHECK(cf_values(art, "Content") == std::vector<std::string>{"<p>Step 1: turn it off and on.</p>"});

  // The same article again (a retried action, or the same title): not a second one.
  auto again = a->execute(make_action(action_type::create_kb_article, "1",
                                      {{"title", prefix + " article 1"}, {"body", "<p>again</p>"}}, "txn:1"));
  require_done(again);
  CHECK(again.message == "already in RT as article " + ids[0]);

  // Search with 2 per page: 5 articles over 3 pages.
  article_search search;
  search.query = json::array({{{"field", "Name"}, {"operator", "LIKE"}, {"value", prefix}}});
  search.per_page = 2;
  auto hits = a->search_articles(search);
  REQUIRE(hits);
  REQUIRE(hits->size() == 5);
  std::set<std::string> found;
  for (const auto& h : *hits) {
    found.insert(h.id);
    CHECK_THAT(h.name, Catch::StartsWith(prefix));
    CHECK_THAT(h.summary, Catch::StartsWith("how to "));
    CHECK_FALSE(h.class_id.empty());
  }
  CHECK(found == std::set<std::string>(ids.begin(), ids.end()));
  search.max_pages = 2;  // bounded: stops after two pages
  auto bounded = a->search_articles(search);
  REQUIRE(bounded);
  CHECK(bounded->size() == 4);
  // Search by the Content custom field.
  search = article_search{};
  search.query = json::array({{{"field", "CF.{Content}"}, {"operator", "LIKE"}, {"value", "Step 3"}}});
  hits = a->search_articles(search);
  REQUIRE(hits);
  CHECK(std::any_of(hits->begin(), hits->end(), [&](const auto& h) { return h.id == ids[2]; }));

  // An unknown article class: RT refuses (403 "Permission Denied" in 5.0.3; 400 "Invalid Class" in
  // some versions), mapped to failed with RT's own message.
  auto nowhere = make_rt({{"article_class", "No class " + run_id}});
  auto o = nowhere->execute(make_action(action_type::create_kb_article, "1", {{"title", "x"}, {"body", "y"}}));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK((o.http_status == 403 || o.http_status == 400));
  CHECK((o.message == "Permission Denied" || o.message == "Invalid Class"));
  auto no_class_search = nowhere->search_articles(article_search{});
  REQUIRE_FALSE(no_class_search);
  CHECK_THAT(no_class_search.err().message, Catch::Contains("does not exist"));
}

TEST_CASE("live RT: 400 from RT is failed with RT's message", "[rt][live]") {
  auto a = make_rt();
  // RT 5.0.3 answers a comment on a ticket that does not exist with 400.
  auto o = a->execute(make_action(action_type::add_internal_note, "999999", {{"body", "hello"}}));
  CHECK(o.k == action_outcome::kind::failed);
  CHECK(o.http_status == 400);
  CHECK(o.message == "Message could not be recorded");
}

TEST_CASE("live RT: connection refused after RT stops is a retry", "[rt][live]") {
  auto a = make_rt();
  const std::string id = create_ticket("last");
  const auto t0 = std::chrono::steady_clock::now();
  rt_test::stop_shared_rt();
  const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(stop_s < 15);
  auto o = a->execute(make_action(action_type::set_priority, id, {{"priority", "urgent"}}));
  INFO(o.message);
  CHECK(o.k == action_outcome::kind::retry);
  CHECK(o.http_status == 0);
  auto r = a->check_reachable();
  REQUIRE_FALSE(r);
  CHECK(r.err().retryable);
  CHECK_THAT(r.err().message, Catch::Contains("/REST/2.0/rt"));
}
