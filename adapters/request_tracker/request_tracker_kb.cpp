// The request_tracker adapter's knowledge-base half: RT articles of the configured class —
// create_kb_article, list_articles (the KB sync) and search_articles (suggestions). Tickets,
// fields and messages are in request_tracker_adapter.cpp.
#include "request_tracker/request_tracker_adapter.hpp"
#include "request_tracker/request_tracker_detail.hpp"

namespace closeloop::adapters::request_tracker {

using namespace detail;
using nlohmann::json;

result<std::string> request_tracker_adapter::class_id(const std::string& name) const {
  auto r = call("GET", "/class/" + encode_segment(name), nullptr);
  if (!r) return std::move(r).err();
  if (r->status == 404) return make_error(errc::not_found, "RT article class \"" + name + "\" does not exist");
  if (r->status < 200 || r->status >= 300) {
    return make_error(errc::upstream, "RT answered GET class \"" + name + "\" with HTTP " + std::to_string(r->status) +
                                          ": " + host_message(*r),
                      r->status >= 500);
  }
  const json c = parse_or_null(r->body);
  std::string id = c.is_object() ? scalar_text(c.value("id", json())) : std::string();
  if (id.empty()) return make_error(errc::upstream, "RT answered GET class \"" + name + "\" without an id");
  return id;
}

action_outcome request_tracker_adapter::create_kb_article(const action& a) const {
  const std::string title = string_param(a, "title");
  const std::string body = string_param(a, "body");
  if (title.empty() || body.empty()) return action_outcome::failed("create_kb_article: params.title and params.body are required");
  // Idempotent by title within the class: an article of the same name is the same article.
  auto cls = class_id(s_.article_class);
  if (!cls && cls.err().code == errc::unavailable) return outcome_from_error(cls.err());
  if (cls) {
    article_search search;
    search.query = json::array({{{"field", "Name"}, {"operator", "="}, {"value", title}}});
    search.per_page = 100;
    search.max_pages = 5;
    auto hits = search_articles(search);
    if (!hits) {
      if (hits.err().retryable) return action_outcome::retry(hits.err().message);
      return action_outcome::failed(hits.err().message);
    }
    for (const auto& h : *hits) {
      if (h.name == title) {
        auto done = action_outcome::done(200);
        done.message = "already in RT as article " + h.id;
        done.created_id = h.id;
        return done;
      }
    }
  }
  json article = {{"Class", s_.article_class}, {"Name", title}, {"CustomFields", {{"Content", body}}}};
  if (auto summary = string_param(a, "summary"); !summary.empty()) article["Summary"] = summary;
  auto r = call("POST", "/article", &article);
  if (!ok(r)) return outcome_of(r);
  const json created = parse_or_null(r->body);
  const std::string id = created.is_object() ? scalar_text(created.value("id", json())) : std::string();
  if (id.empty()) return action_outcome::failed("RT answered POST /article without an article id: " + host_message(*r), r->status);
  auto done = action_outcome::done(r->status);
  done.message = "created article " + id;
  done.created_id = id;
  return done;
}

result<kb_page> request_tracker_adapter::list_articles(const std::string& cursor, int limit) {
  try {
    int page = 1;
    if (!cursor.empty()) {
      auto [p, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), page);
      if (ec != std::errc() || p != cursor.data() + cursor.size() || page < 1)
        return make_error(errc::invalid_argument, "list_articles: cursor \"" + cursor + "\" is not an RT page number");
    }
    if (limit < 1 || limit > 100) return make_error(errc::invalid_argument, "list_articles: limit must be 1..100");
    auto cls = class_id(s_.article_class);
    if (!cls) return std::move(cls).err();
    json query = json::array({{{"field", "Class"}, {"value", *cls}}});
    const std::string path = "/articles?page=" + std::to_string(page) + "&per_page=" + std::to_string(limit) +
                             "&fields=Name,Summary";
    auto r = call("POST", path, &query);
    if (!r) return std::move(r).err();
    if (r->status < 200 || r->status >= 300) {
      return make_error(errc::upstream,
                        "RT answered the article list with HTTP " + std::to_string(r->status) + ": " + host_message(*r),
                        r->status >= 500 || r->status == 408 || r->status == 429);
    }
    const json body = parse_or_null(r->body);
    if (!body.is_object() || !body.contains("items") || !body["items"].is_array())
      return make_error(errc::upstream, "RT answered the article list without an items list");
    kb_page out;
    for (const auto& item : body["items"]) {
      if (!item.is_object()) continue;
      kb_article a;
      a.id = scalar_text(item.value("id", json()));
      if (a.id.empty()) continue;
      a.title = scalar_text(item.value("Name", json()));
      a.url = s_.base_url + "/Articles/Article/Display.html?id=" + a.id;
      auto one = call("GET", "/article/" + encode_segment(a.id), nullptr);
      if (!one) return std::move(one).err();
      if (one->status >= 200 && one->status < 300) {
        const json art = parse_or_null(one->body);
        if (art.is_object() && art.contains("CustomFields") && art["CustomFields"].is_array()) {
          for (const auto& cf : art["CustomFields"]) {
            if (!cf.is_object() || cf.value("name", "") != "Content") continue;
            if (auto v = cf.find("values"); v != cf.end() && v->is_array() && !v->empty())
              a.body = scalar_text((*v)[0]);
          }
        }
        if (a.body.empty()) a.body = scalar_text(item.value("Summary", json()));
      }
      out.articles.push_back(std::move(a));
    }
    const int pages = body.value("pages", 0);
    if (body.contains("next_page") && !body["items"].empty() && (pages == 0 || page < pages))
      out.next_cursor = std::to_string(page + 1);
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("list_articles: ") + e.what());
  }
}

result<std::vector<article_hit>> request_tracker_adapter::search_articles(const article_search& search) const {
  try {
    if (!search.query.is_array()) {
      return make_error(errc::invalid_argument, "article search: query must be a JSON array of {field, operator, value}");
    }
    if (search.per_page < 1 || search.per_page > 100) {
      return make_error(errc::invalid_argument, "article search: per_page must be 1..100");
    }
    json query = search.query;
    if (search.in_article_class) {
      auto cls = class_id(s_.article_class);
      if (!cls) return std::move(cls).err();
      query.push_back({{"field", "Class"}, {"value", *cls}});
    }
    std::vector<article_hit> out;
    for (int page = 1; page <= std::max(1, search.max_pages); ++page) {
      // RT's next_page URL is built from its WebBaseURL (and mangles the query string), so the
      // next page is asked for by number on our own base URL.
      const std::string path = "/articles?page=" + std::to_string(page) + "&per_page=" + std::to_string(search.per_page) +
                               "&fields=Name,Summary,Class";
      auto r = call("POST", path, &query);
      if (!r) return std::move(r).err();
      if (r->status < 200 || r->status >= 300) {
        return make_error(errc::upstream,
                          "RT answered the article search with HTTP " + std::to_string(r->status) + ": " +
                              host_message(*r),
                          r->status >= 500 || r->status == 408 || r->status == 429);
      }
      const json body = parse_or_null(r->body);
      if (!body.is_object() || !body.contains("items") || !body["items"].is_array()) {
        return make_error(errc::upstream, "RT answered the article search without an items list");
      }
      for (const auto& item : body["items"]) {
        if (!item.is_object()) continue;
        article_hit h;
        h.id = scalar_text(item.value("id", json()));
        h.name = scalar_text(item.value("Name", json()));
        h.summary = scalar_text(item.value("Summary", json()));
        h.class_id = ref_id(item, "Class");
        out.push_back(std::move(h));
      }
      if (!body.contains("next_page") || body["items"].empty()) break;
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("article search: ") + e.what());
  }
}

}  // namespace closeloop::adapters::request_tracker
