// The agent sidebar's HTML (sidebar.hpp): texts in en / zh-CN / zh-TW, one narrow column for a
// 320 px host sidebar, no JavaScript ("correct this" is a <details> with a plain form).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "closeloop/text.hpp"
#include "server/sidebar.hpp"
#include "server/survey_html.hpp"

namespace closeloop::server::sidebar {
namespace {

using survey::html::esc;

struct texts {
  const char *lang_attr, *title, *ticket, *classification, *category, *confidence, *sentiment, *language, *priority,
      *why, *corrected, *customer, *health, *score, *healthy, *at_risk, *churn_risk, *surveys, *no_answers,
      *this_ticket, *articles, *no_articles, *draft, *similarity, *correct_this, *save, *no_health, *reasons_en,
      *unknown, *not_classified, *correction_error;
  // Service level: the two due times, their states, and duration units.
  const char *first_reply_due, *resolution_due, *met, *missed_by, *overdue_by, *due_in, *u_day, *u_hour, *u_min;
  std::map<std::string, std::string, std::less<>> values;  // category/sentiment/priority values
  std::map<std::string, std::string, std::less<>> reason_labels;  // health reason codes
};

const texts& texts_for(std::string_view lang) {
  static const texts en{
      "en", "closeloop", "Ticket", "Classification", "Category", "confidence", "Sentiment", "Language",
      "Priority", "Why", "corrected by an agent to", "Customer", "Health", "score", "Healthy", "At risk",
      "Churn risk", "Survey history", "No survey answers yet.", "this ticket", "Suggested articles",
      "No article matches this ticket yet.", "draft", "match", "Correct this", "Save correction",
      "No recent tickets of this customer.", "", "unknown", "not classified yet", "Not recorded",
      "First reply due", "Resolution due", "met", "missed by", "overdue by", "due in", "d", "h", "min",
      {},
      {}};
  static const texts zh_cn{
      "zh-Hans", "closeloop", "工单", "分类", "分类", "置信度", "情绪", "语言", "优先级", "原因",
      "已由客服纠正为", "客户", "健康度", "分数", "健康", "有风险", "流失风险", "满意度调查记录",
      "暂无调查回复。", "本工单", "建议文章", "暂无与此工单匹配的文章。", "草稿", "相似度", "纠正",
      "保存纠正", "该客户近期没有工单。", "详情（英文）", "未知", "尚未分类", "未记录",
      "首次回复期限", "解决期限", "已达成", "超时", "已逾期", "剩余", "天", "小时", "分钟",
      {{"positive", "积极"}, {"neutral", "中性"}, {"negative", "消极"},
       {"normal", "一般"}, {"urgent", "紧急"}, {"critical", "重大"}, {"other", "其他"}},
      {{"negative_answers", "差评"}, {"positive_answers", "好评"}, {"negative_sentiment", "负面情绪的工单"},
       {"worsening", "情绪变差"}, {"improving", "情绪好转"}, {"repeat_contacts", "重复联系"},
       {"reopens", "重新打开"}, {"late_first_reply", "首次回复超时"},
       {"sla_breaches", "违反服务级别"}}};
  static const texts zh_tw{
      "zh-Hant", "closeloop", "工單", "分類", "分類", "信賴度", "情緒", "語言", "優先順序", "原因",
      "已由客服更正為", "客戶", "健康度", "分數", "健康", "有風險", "流失風險", "滿意度調查紀錄",
      "尚無調查回覆。", "本工單", "建議文章", "尚無與此工單相符的文章。", "草稿", "相似度", "更正",
      "儲存更正", "此客戶近期沒有工單。", "詳細（英文）", "未知", "尚未分類", "未記錄",
      "首次回覆期限", "解決期限", "已達成", "逾時", "已逾期", "剩餘", "天", "小時", "分鐘",
      {{"positive", "正面"}, {"neutral", "中性"}, {"negative", "負面"},
       {"normal", "一般"}, {"urgent", "緊急"}, {"critical", "重大"}, {"other", "其他"}},
      {{"negative_answers", "負評"}, {"positive_answers", "好評"}, {"negative_sentiment", "負面情緒的工單"},
       {"worsening", "情緒變差"}, {"improving", "情緒好轉"}, {"repeat_contacts", "重複聯絡"},
       {"reopens", "重新開啟"}, {"late_first_reply", "首次回覆逾時"},
       {"sla_breaches", "違反服務等級"}}};
  if (lang == "zh-CN") return zh_cn;
  if (lang == "zh-TW") return zh_tw;
  return en;
}

std::string value_text(const texts& t, const std::string& v) {
  if (auto it = t.values.find(v); it != t.values.end()) return it->second + " (" + v + ")";
  return v.empty() ? t.unknown : v;
}

std::string pct(double v) { return std::to_string(static_cast<int>(std::lround(v * 100))) + "%"; }

constexpr std::string_view k_style =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",\"Noto Sans CJK SC\",\"Noto Sans CJK TC\",sans-serif;"
    "font-size:.875rem;line-height:1.45;margin:0;padding:.6rem;color:#1d2330;background:#fff;max-width:40rem}"
    "h1{font-size:1rem;margin:0 0 .5rem}h2{font-size:.9rem;margin:0 0 .3rem;color:#2b3445}"
    "section{border-top:1px solid #d5d9e0;padding:.55rem 0}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .6rem;margin:0}dt{color:#4d5566}dd{margin:0}"
    "ul{margin:.2rem 0;padding-left:1.1rem}li{margin:.1rem 0}"
    ".band{display:inline-block;padding:.05rem .45rem;border-radius:.7rem;font-weight:600}"
    ".healthy{background:#dff3e4;color:#14532d}.at_risk{background:#fff1c2;color:#6b4500}"
    ".churn_risk{background:#fde0de;color:#8a1c12}"
    ".neg{color:#8a1c12;font-weight:600}.muted{color:#5d6678}"
    ".notice{background:#dff3e4;border-left:4px solid #1f7a3a;padding:.4rem .5rem;margin:.3rem 0}"
    ".error{background:#fde0de;border-left:4px solid #a3241a;padding:.4rem .5rem;margin:.3rem 0}"
    "details{margin:.3rem 0}summary{cursor:pointer;color:#1a5fd0;font-weight:600}"
    "form{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.35rem 0}"
    "select,button{font:inherit;padding:.3rem .45rem;border:1px solid #5d6678;border-radius:.3rem;background:#fff}"
    "button{background:#1a5fd0;color:#fff;border-color:#1a5fd0;cursor:pointer}"
    "a{color:#1a5fd0}:focus-visible{outline:3px solid #b35c00;outline-offset:2px}"
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}";

std::string shell(const texts& t, std::string_view title, const std::string& content) {
  std::string out = "<!DOCTYPE html><html lang=\"";
  out += t.lang_attr;
  out += "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         "<title>";
  out += esc(title);
  out += "</title><style>";
  out += k_style;
  out += "</style></head><body><main>";
  out += content;
  out += "</main></body></html>";
  return out;
}

std::string field_label(const texts& t, std::string_view field) {
  if (field == "category") return t.category;
  if (field == "priority") return t.priority;
  return t.sentiment;
}

void correction(std::string& o, const texts& t, const view& v, const correction_form& f) {
  const std::string id = "fix-" + f.field;
  o += "<details><summary>" + esc(t.correct_this) + "<span class=\"sr\"> — " + esc(field_label(t, f.field)) +
       "</span></summary><form method=\"post\" action=\"/sidebar\">";
  o += "<input type=\"hidden\" name=\"ctx\" value=\"" + esc(v.ctx) + "\">";
  o += "<input type=\"hidden\" name=\"_sid\" value=\"" + esc(f.sid) + "\">";
  o += "<input type=\"hidden\" name=\"_csrf\" value=\"" + esc(f.csrf) + "\">";
  o += "<input type=\"hidden\" name=\"field\" value=\"" + esc(f.field) + "\">";
  o += "<label for=\"" + id + "\">" + esc(field_label(t, f.field)) + "</label><select id=\"" + id + "\" name=\"value\">";
  for (const auto& c : f.choices)
    o += "<option value=\"" + esc(c) + "\"" + (c == f.current ? " selected" : "") + ">" + esc(value_text(t, c)) +
         "</option>";
  o += "</select><button type=\"submit\">" + esc(t.save) + "</button></form></details>";
}

const correction_form* form_for(const view& v, std::string_view field) {
  for (const auto& f : v.forms)
    if (f.field == field) return &f;
  return nullptr;
}

std::string corrected_value(const view& v, std::string_view field) {
  std::string out;
  for (const auto& [f, value] : v.corrected)
    if (f == field) out = value;
  return out;
}

// One due time: when, and met / missed by / overdue by / due in.
void due_row(std::string& o, const texts& t, const char* label, timestamp due, const std::optional<timestamp>& done,
             timestamp now) {
  const span_units units{t.u_day, t.u_hour, t.u_min};
  auto span_text = [&](std::chrono::milliseconds d) { return format_span(d, units); };
  const std::string when = format_rfc3339(due);  // 2026-11-20T10:00:00.000Z
  o += "<dt>" + esc(label) + "</dt><dd>" + esc(when.substr(0, 10) + " " + when.substr(11, 5) + " UTC") + " · ";
  if (done && *done <= due) o += esc(t.met);
  else if (done) o += "<span class=\"neg\">" + esc(std::string(t.missed_by) + " " + span_text(*done - due)) + "</span>";
  else if (now > due) o += "<span class=\"neg\">" + esc(std::string(t.overdue_by) + " " + span_text(now - due)) + "</span>";
  else o += esc(std::string(t.due_in) + " " + span_text(due - now));
  o += "</dd>";
}

void classification(std::string& o, const texts& t, const view& v) {
  o += "<section aria-labelledby=\"h-class\"><h2 id=\"h-class\">" + esc(t.classification) + "</h2><dl>";
  auto row = [&](std::string_view field, const std::string& label, const std::string& value) {
    o += "<dt>" + esc(label) + "</dt><dd>" + value;
    if (const std::string c = corrected_value(v, field); !c.empty())
      o += " <span class=\"muted\">(" + esc(t.corrected) + " " + esc(value_text(t, c)) + ")</span>";
    o += "</dd>";
  };
  std::string cat = v.category.empty() ? esc(t.not_classified) : esc(value_text(t, v.category));
  if (v.confidence) cat += " <span class=\"muted\">(" + esc(t.confidence) + " " + pct(*v.confidence) + ")</span>";
  row("category", t.category, cat);
  row("sentiment", t.sentiment, esc(value_text(t, v.sentiment)));
  o += "<dt>" + esc(t.language) + "</dt><dd>" + esc(v.language.empty() ? t.unknown : v.language) + "</dd>";
  row("priority", t.priority, esc(value_text(t, v.priority)));
  if (v.first_reply_due) due_row(o, t, t.first_reply_due, *v.first_reply_due, v.first_reply_at, v.now);
  if (v.resolution_due) due_row(o, t, t.resolution_due, *v.resolution_due, v.resolved_at, v.now);
  o += "</dl>";
  if (!v.priority_reasons.empty()) {
    o += "<h2 id=\"h-why\" class=\"sr\">" + esc(t.why) + "</h2><p class=\"muted\" style=\"margin:.3rem 0 0\">" +
         esc(t.why) + ":</p><ul aria-labelledby=\"h-why\">";
    for (const auto& r : v.priority_reasons) o += "<li>" + esc(r) + "</li>";
    o += "</ul>";
  }
  for (const char* f : {"category", "priority", "sentiment"})
    if (const auto* form = form_for(v, f)) correction(o, t, v, *form);
  o += "</section>";
}

void customer(std::string& o, const texts& t, const view& v) {
  o += "<section aria-labelledby=\"h-cust\"><h2 id=\"h-cust\">" + esc(t.customer) + "</h2>";
  if (!v.customer.empty()) o += "<p style=\"margin:0 0 .3rem;overflow-wrap:anywhere\">" + esc(v.customer) + "</p>";
  if (v.health) {
    const auto& h = *v.health;
    const std::string band(health::to_string(h.level));
    const char* band_text = h.level == health::band::healthy ? t.healthy : h.level == health::band::at_risk ? t.at_risk
                                                                                                              : t.churn_risk;
    o += "<p style=\"margin:0\">" + esc(t.health) + ": <span class=\"band " + band + "\">" + esc(band_text) +
         "</span> <span class=\"muted\">(" + esc(t.score) + " " + std::to_string(h.score) + "/100)</span></p>";
    if (!h.reasons.empty()) {
      o += "<ul>";
      for (const auto& r : h.reasons) {
        o += "<li>";
        if (auto it = t.reason_labels.find(r.code); it != t.reason_labels.end())
          o += esc(it->second) + " (" + (r.points > 0 ? "+" : "") + std::to_string(r.points) + ") <span lang=\"en\" class=\"muted\">" +
               esc(r.text) + "</span>";
        else
          o += esc(r.text) + " <span class=\"muted\">(" + (r.points > 0 ? "+" : "") + std::to_string(r.points) + ")</span>";
        o += "</li>";
      }
      o += "</ul>";
    }
  } else {
    o += "<p class=\"muted\" style=\"margin:0\">" + esc(t.no_health) + "</p>";
  }
  o += "<h2 id=\"h-surveys\" style=\"margin-top:.5rem\">" + esc(t.surveys) + "</h2>";
  if (v.answers.empty()) {
    o += "<p class=\"muted\" style=\"margin:0\">" + esc(t.no_answers) + "</p>";
  } else {
    o += "<ul aria-labelledby=\"h-surveys\">";
    for (const auto& a : v.answers) {
      o += "<li><span" + std::string(a.negative ? " class=\"neg\"" : "") + ">" + esc(a.kind) + " " +
           std::to_string(a.score) + "</span> · " + esc(t.ticket) + " #" + esc(a.ticket) +
           (a.this_ticket ? " <span class=\"muted\">(" + esc(t.this_ticket) + ")</span>" : "") + " · " + esc(a.date) +
           "</li>";
    }
    o += "</ul>";
  }
  o += "</section>";
}

void articles(std::string& o, const texts& t, const view& v) {
  o += "<section aria-labelledby=\"h-kb\"><h2 id=\"h-kb\">" + esc(t.articles) + "</h2>";
  if (v.articles.empty()) {
    o += "<p class=\"muted\" style=\"margin:0\">" + esc(t.no_articles) + "</p></section>";
    return;
  }
  o += "<ul>";
  for (const auto& a : v.articles) {
    o += "<li>";
    if (!a.url.empty())
      o += "<a href=\"" + esc(a.url) + "\" target=\"_blank\" rel=\"noopener noreferrer\">" + esc(a.title) + "</a>";
    else
      o += esc(a.title);
    o += " <span class=\"muted\">(" + esc(t.similarity) + " " + pct(a.similarity) + (a.draft ? ", " + std::string(t.draft) : "") +
         ")</span></li>";
  }
  o += "</ul></section>";
}

}  // namespace

std::string render_page(const view& v) {
  const texts& t = texts_for(v.lang);
  std::string o;
  o += "<h1>" + esc(t.ticket) + " #" + esc(v.ticket);
  if (!v.subject.empty()) o += " <span class=\"muted\" style=\"font-weight:400\">" + esc(v.subject) + "</span>";
  o += "</h1>";
  if (!v.notice.empty()) o += "<p class=\"notice\" role=\"status\">" + esc(v.notice) + "</p>";
  if (!v.error.empty()) o += "<p class=\"error\" role=\"alert\">" + esc(v.error) + "</p>";
  classification(o, t, v);
  customer(o, t, v);
  articles(o, t, v);
  return shell(t, std::string(t.title) + " · " + t.ticket + " #" + v.ticket, o);
}

std::string render_message(std::string_view lang, std::string_view title, std::string_view detail) {
  const texts& t = texts_for(lang);
  std::string o = "<h1>" + esc(title) + "</h1>";
  if (!detail.empty()) o += "<p>" + esc(detail) + "</p>";
  return shell(t, title, o);
}

}  // namespace closeloop::server::sidebar
