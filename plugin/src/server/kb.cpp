#include "server/kb.hpp"

#include <charconv>
#include <mutex>
#include <sstream>

#include <spdlog/spdlog.h>

#include "closeloop/kb.hpp"
#include "closeloop/text.hpp"
#include "server/routes.hpp"

namespace closeloop::server::kb {
namespace {

constexpr auto refresh_every = std::chrono::seconds(30);
constexpr int page_size = 50;
constexpr int max_pages = 40;

// One KB operation per host at a time: two similar drafts executed by two worker threads must
// not both miss each other.
std::mutex& host_mutex(const std::string& tenant, const std::string& host) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<std::mutex>> by_host;
  std::lock_guard lk(mu);
  auto& m = by_host[tenant + "/" + host];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

std::string fmt2(double v) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(2);
  o << v;
  return o.str();
}

std::string index_text(const kb_article_row& r) { return r.title + "\n" + closeloop::kb::plain_text(r.body); }

struct scored {
  kb_article_row art;
  double score = 0, similarity = 0;
};

std::vector<scored> search(const std::vector<kb_article_row>& arts, const std::string& query, std::size_t k,
                           double min_similarity) {
  closeloop::kb::bm25_index idx;
  std::map<std::string, const kb_article_row*> by_id;
  for (const auto& a : arts) {
    idx.add(a.article_id, index_text(a));
    by_id[a.article_id] = &a;
  }
  std::vector<scored> out;
  for (const auto& h : idx.search(query, k, min_similarity)) out.push_back({*by_id[h.id], h.score, h.similarity});
  return out;
}

action derived(const action& a, action_type t, const std::string& suffix, json params) {
  action n = a;
  n.type = t;
  n.idempotency_key = a.idempotency_key + "/" + suffix;
  n.params = std::move(params);
  n.not_before.reset();
  return n;
}

std::string article_ref(const kb_article_row& r) {
  std::string s = "#" + r.article_id + " \"" + r.title + "\"";
  if (!r.url.empty()) s += " " + r.url;
  return s;
}

adapters::action_outcome suggest(services& svc, adapters::adapter& ad, const action& a) {
  kb_store& kb = *svc.kb();
  auto arts = kb.articles(a.tenant, a.host);
  if (!arts) return adapters::action_outcome::retry(arts.err().message);
  const std::string query = a.params.value("query", "");
  const int limit = std::clamp(a.params.value("limit", 3), 1, 20);
  const double min_sim = a.params.value("min_similarity", 0.15);
  const auto hits = search(*arts, query, static_cast<std::size_t>(limit), min_sim);
  const auto now = svc.clk().now();
  for (const auto& h : hits) {
    if (auto r = kb.add_link(a.tenant, {a.host, a.ticket_id, h.art.article_id, "suggested", h.similarity, now}); !r)
      return adapters::action_outcome::retry(r.err().message);
  }
  if (hits.empty()) {
    auto done = adapters::action_outcome::done();
    done.message = "no KB article reaches similarity " + fmt2(min_sim) + " (" + std::to_string(arts->size()) +
                   " indexed)";
    return done;
  }
  if (!a.params.value("note", true)) {
    auto done = adapters::action_outcome::done();
    done.message = std::to_string(hits.size()) + " articles suggested (no note)";
    return done;
  }
  const bool zh = a.params.value("language", "en").substr(0, 2) == "zh";
  std::string body = zh ? "closeloop: 可能解答此工单的知识库文章：" : "closeloop: KB articles that may answer this ticket:";
  for (std::size_t i = 0; i < hits.size(); ++i)
    body += "\n" + std::to_string(i + 1) + ". " + article_ref(hits[i].art) + (zh ? "（相似度 " : " (score ") +
            fmt2(hits[i].similarity) + (zh ? "）" : ")") + (hits[i].art.draft ? (zh ? " [草稿]" : " [draft]") : "");
  return ad.execute(derived(a, action_type::add_internal_note, "note", {{"body", body}}));
}

adapters::action_outcome create(services& svc, adapters::adapter& ad, const action& a) {
  kb_store& kb = *svc.kb();
  auto st = svc.db().state(a.tenant, a.host, a.ticket_id);
  if (!st) return adapters::action_outcome::retry(st.err().message);
  if (std::string why; !kb_draft_still_wanted(*st, a, why)) {
    auto done = adapters::action_outcome::done();
    done.message = "draft not created: " + why;
    return done;
  }
  auto arts = kb.articles(a.tenant, a.host);
  if (!arts) return adapters::action_outcome::retry(arts.err().message);
  const std::string title = a.params.value("title", "");
  const std::string fp = a.params.value("fingerprint", problem_fingerprint(title));
  const double threshold = a.params.value("dedupe_threshold", 0.5);
  const std::string query = title + "\n" + a.params.value("problem", "");
  // Same fingerprint (same problem words) or similar enough: link it, do not draft a second one.
  std::optional<scored> match;
  for (const auto& r : *arts) {
    if ((!r.fingerprint.empty() && r.fingerprint == fp) || problem_fingerprint(r.title) == fp) {
      match = scored{r, 0, 1.0};
      break;
    }
  }
  if (!match) {
    auto hits = search(*arts, query, 1, threshold);
    if (!hits.empty()) match = hits.front();
  }
  const auto now = svc.clk().now();
  if (match) {
    const bool zh = a.params.value("language", "en").substr(0, 2) == "zh";
    std::string body = (zh ? "closeloop: 此工单的答复与知识库文章 " : "closeloop: this answer matches KB article ") +
                       article_ref(match->art) + (zh ? "（相似度 " : " (similarity ") + fmt2(match->similarity) +
                       (zh ? "），未新建文章。" : "); no new article drafted.");
    // Steps the article does not have yet: proposed as a revision for an agent to apply.
    const std::string have = closeloop::kb::plain_text(match->art.body);
    std::vector<std::string> fresh;
    if (auto it = a.params.find("steps"); it != a.params.end() && it->is_array())
      for (const auto& s : *it)
        if (s.is_string() && have.find(s.get<std::string>()) == std::string::npos) fresh.push_back(s.get<std::string>());
    if (!fresh.empty()) {
      body += zh ? "\n建议修订，补充以下步骤：" : "\nProposed revision, steps the article does not have yet:";
      for (std::size_t i = 0; i < fresh.size() && i < 8; ++i) body += "\n- " + fresh[i];
    }
    auto out = ad.execute(derived(a, action_type::add_internal_note, "link", {{"body", body}}));
    if (out.k == adapters::action_outcome::kind::done) {
      (void)kb.add_link(a.tenant, {a.host, a.ticket_id, match->art.article_id, "used", match->similarity, now});
      out.message = "linked to article " + match->art.article_id + " instead of drafting";
    }
    return out;
  }
  auto out = ad.execute(a);
  if (out.k != adapters::action_outcome::kind::done) return out;
  kb_article_row row;
  row.host = a.host;
  row.article_id = out.created_id.empty() ? "closeloop:" + fp : out.created_id;
  row.title = title;
  row.body = a.params.value("body", "");
  row.origin = "closeloop";
  row.fingerprint = fp;
  row.source_ticket = a.ticket_id;
  row.draft = a.params.value("draft", true);
  row.locale = a.params.value("language", "");
  if (auto r = kb.put_article(a.tenant, row, now); !r) spdlog::warn("kb: article {} not indexed: {}", row.article_id, r.err().message);
  (void)kb.add_link(a.tenant, {a.host, a.ticket_id, row.article_id, "created", 1.0, now});
  return out;
}

}  // namespace

bool handles(const action& a) noexcept {
  return a.type == action_type::create_kb_article || a.type == action_type::suggest_kb_articles;
}

result<void> refresh(services& svc, adapters::adapter& ad, const std::string& tenant, const std::string& host,
                     std::chrono::milliseconds max_age) {
  kb_store* kb = svc.kb();
  if (!kb) return make_error(errc::unavailable, "kb: no store");
  auto last = kb->synced_at(tenant, host);
  if (!last) return last.err();
  const auto now = svc.clk().now();
  if (*last && now - **last < max_age) return {};
  std::vector<kb_article_row> rows;
  std::string cursor;
  for (int page = 0; page < max_pages; ++page) {
    auto p = ad.list_articles(cursor, page_size);
    if (!p) {
      if (p.err().code == errc::unsupported) return {};
      return p.err();
    }
    for (auto& art : p->articles) {
      kb_article_row r;
      r.host = host;
      r.article_id = art.id;
      r.title = std::move(art.title);
      r.body = std::move(art.body);
      r.url = std::move(art.url);
      r.locale = std::move(art.locale);
      r.draft = art.draft;
      r.origin = "host";
      rows.push_back(std::move(r));
    }
    if (p->next_cursor.empty()) break;
    cursor = p->next_cursor;
  }
  return kb->replace_host_articles(tenant, host, rows, now);
}

adapters::action_outcome execute(services& svc, adapters::adapter& ad, const action& a) {
  if (!svc.kb()) return adapters::action_outcome::failed("the KB index needs a file store (store.path is :memory:)");
  std::lock_guard lk(host_mutex(a.tenant, a.host));
  if (auto r = refresh(svc, ad, a.tenant, a.host, refresh_every); !r) {
    // Work from the local copy; a failing listing must not stop drafting or suggesting.
    spdlog::warn("kb: cannot read the articles of tenant={} host={}: {}", a.tenant, a.host, r.err().message);
  }
  return a.type == action_type::suggest_kb_articles ? suggest(svc, ad, a) : create(svc, ad, a);
}

json report_json(kb_store& kb, const std::string& tenant, const kb_report_options& o) {
  auto rows = kb.report(tenant, o);
  if (!rows) return {{"error", rows.err().message}};
  json arts = json::array(), weak = json::array();
  for (const auto& r : *rows) {
    arts.push_back({{"host", r.host},
                    {"article_id", r.article_id},
                    {"title", r.title},
                    {"url", r.url},
                    {"tickets", r.tickets},
                    {"suggested", r.suggested},
                    {"used", r.used},
                    {"answered", r.answered},
                    {"avg_score", r.answered ? json(r.avg_score) : json()},
                    {"solved", r.solved},
                    {"reopened", r.reopened},
                    {"reopen_rate", r.solved ? json(r.reopen_rate) : json()},
                    {"weak", r.weak},
                    {"why", r.why}});
    if (r.weak) weak.push_back(r.host + "/" + r.article_id);
  }
  return {{"tenant", tenant},
          {"min_tickets", o.min_tickets},
          {"weak_avg_score", o.weak_avg_score},
          {"weak_reopen_rate", o.weak_reopen_rate},
          {"articles", arts},
          {"weak", weak}};
}

namespace {

bool has_kb(const http_request& req, services& svc, const std::string& tenant, respond_fn& respond) {
  if (!svc.tenant(tenant)) {
    respond(json_error(req, http::status::not_found, "unknown_tenant", "no tenant \"" + tenant + "\""));
    return false;
  }
  if (!svc.has_store() || !svc.kb()) {
    respond(json_error(req, http::status::service_unavailable, "no_store", "the KB index needs a file store"));
    return false;
  }
  return true;
}

}  // namespace

void handle_report(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string& tenant = p.at("tenant");
  if (!has_kb(req, svc, tenant, respond)) return;
  json body = report_json(*svc.kb(), tenant);
  respond(json_response(req, body.contains("error") ? http::status::service_unavailable : http::status::ok, body));
}

result<json> suggestions_for(services& svc, const std::string& tenant, const std::string& host, const ticket_state& st,
                             int limit) {
  if (!svc.kb()) return make_error(errc::unavailable, "the KB index needs a file store");
  std::string query = st.subject;
  if (auto it = st.kb.find("messages"); it != st.kb.end() && it->is_array() && !it->empty())
    query += "\n" + (*it)[0].value("text", "");
  else
    query += "\n" + st.problem;
  auto arts = svc.kb()->articles(tenant, host);
  if (!arts) return std::move(arts).err();
  const auto* rt = svc.tenant(tenant);
  const double min_sim = rt && rt->cfg ? rt->cfg->pol.kb.suggest.min_similarity : 0.15;
  json list = json::array();
  for (const auto& h : search(*arts, query, static_cast<std::size_t>(limit), min_sim))
    list.push_back({{"article_id", h.art.article_id},
                    {"title", h.art.title},
                    {"url", h.art.url},
                    {"draft", h.art.draft},
                    {"origin", h.art.origin},
                    {"score", h.score},
                    {"similarity", h.similarity}});
  return json{{"indexed", arts->size()}, {"suggestions", std::move(list)}};
}

void handle_suggestions(const http_request& req, services& svc, const route_params& p, respond_fn respond) {
  const std::string_view target = req.target();
  const std::string& tenant = p.at("tenant");
  if (!has_kb(req, svc, tenant, respond)) return;
  const std::string& host = p.at("host");
  const std::string& ticket = p.at("ticket");
  if (!svc.adapter_for(tenant, host)) {
    respond(json_error(req, http::status::not_found, "unknown_host", "tenant \"" + tenant + "\" has no host \"" + host + "\""));
    return;
  }
  int limit = 3;
  if (auto l = query_param(target, "limit")) {
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || end != l->data() + l->size() || limit < 1 || limit > 10) {
      respond(json_error(req, http::status::bad_request, "bad_limit", "limit must be an integer 1..10, got \"" + *l + "\""));
      return;
    }
  }
  auto st = svc.db().state(tenant, host, ticket);
  if (!st) {
    respond(json_error(req, http::status::service_unavailable, "store", st.err().message));
    return;
  }
  if (!st->known) {
    respond(json_error(req, http::status::not_found, "unknown_ticket", "closeloop has seen no event of ticket \"" + ticket + "\""));
    return;
  }
  auto found = suggestions_for(svc, tenant, host, *st, limit);
  if (!found) {
    respond(json_error(req, http::status::service_unavailable, "store", found.err().message));
    return;
  }
  json list = std::move((*found)["suggestions"]);
  const auto indexed = (*found)["indexed"];
  json linked = json::array();
  if (auto ls = svc.kb()->links(tenant, host, ticket))
    for (const auto& l : *ls) linked.push_back({{"article_id", l.article_id}, {"kind", l.kind}, {"score", l.score}});
  respond(json_response(req, http::status::ok,
                        {{"tenant", tenant}, {"host", host}, {"ticket_id", ticket}, {"indexed", indexed},
                         {"suggestions", list}, {"linked", linked}}));
}

}  // namespace closeloop::server::kb
