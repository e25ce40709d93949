// The report as one self-contained HTML page: inline CSS and SVG, no script, no external asset
// (report.hpp). Every text from the data is escaped.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "monitor/report.hpp"

namespace closeloop::monitor {
namespace {

using nlohmann::json;

std::string esc(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string url_enc(std::string_view s) {
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      o += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      o += b;
    }
  }
  return o;
}

std::string num(double v, int decimals = 1) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string fig(const json& block, const char* key, const char* unit = "", int decimals = 1) {
  const json& v = block.value(key, json());
  if (!v.is_number()) return "&ndash;";
  return num(v.get<double>(), decimals) + unit;
}

std::string duration(const json& block, const char* key) {
  const json& v = block.value(key, json());
  if (!v.is_number()) return "&ndash;";
  double s = v.get<double>();
  if (s < 90) return num(s, 0) + " s";
  if (s < 5400) return num(s / 60, 0) + " min";
  if (s < 48 * 3600) return num(s / 3600, 1) + " h";
  return num(s / 86400, 1) + " d";
}

// A line chart of one or two series over the trend's periods.
std::string line_chart(const std::string& title, const json& trend, const std::vector<std::pair<const char*, const char*>>& series,
                       double ymin, double ymax) {
  const int w = 640, h = 220, l = 44, r = 12, t = 14, b = 36;
  const std::size_t n = trend.size();
  std::string s = "<figure><figcaption>" + esc(title) + "</figcaption><svg role=\"img\" aria-label=\"" + esc(title) +
                  "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) +
                  "\" xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\">";
  auto x_of = [&](std::size_t i) { return l + (n <= 1 ? (w - l - r) / 2.0 : (w - l - r) * static_cast<double>(i) / (n - 1)); };
  auto y_of = [&](double v) { return t + (h - t - b) * (1 - (v - ymin) / (ymax - ymin)); };
  for (int k = 0; k <= 4; ++k) {
    double v = ymin + (ymax - ymin) * k / 4;
    s += "<line x1=\"" + num(l, 0) + "\" x2=\"" + num(w - r, 0) + "\" y1=\"" + num(y_of(v)) + "\" y2=\"" + num(y_of(v)) +
         "\" class=\"grid\"/><text x=\"" + num(l - 6, 0) + "\" y=\"" + num(y_of(v) + 4) + "\" class=\"ax\" text-anchor=\"end\">" +
         num(v, 0) + "</text>";
  }
  const std::size_t every = std::max<std::size_t>(1, n / 8);
  for (std::size_t i = 0; i < n; i += every)
    s += "<text x=\"" + num(x_of(i)) + "\" y=\"" + num(h - b + 16, 0) + "\" class=\"ax\" text-anchor=\"middle\">" +
         esc(trend[i].value("period", "").substr(5)) + "</text>";
  for (std::size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    std::string dots;
    for (std::size_t i = 0; i < n; ++i) {
      const json& v = trend[i].value(series[k].first, json());
      if (!v.is_number()) continue;
      double y = y_of(std::clamp(v.get<double>(), ymin, ymax));
      pts += num(x_of(i)) + "," + num(y) + " ";
      dots += "<circle cx=\"" + num(x_of(i)) + "\" cy=\"" + num(y) + "\" r=\"3\" class=\"s" + std::to_string(k) +
              "\"><title>" + esc(trend[i].value("period", "")) + ": " + num(v.get<double>()) + "</title></circle>";
    }
    s += "<polyline points=\"" + pts + "\" class=\"l" + std::to_string(k) + "\"/>" + dots;
  }
  s += "</svg><p class=\"legend\">";
  for (std::size_t k = 0; k < series.size(); ++k)
    s += "<span class=\"key s" + std::to_string(k) + "\"></span>" + esc(series[k].second) + " ";
  return s + "</p></figure>";
}

// Horizontal bars of CSAT % per segment (the 12 with most tickets).
std::string segment_bars(const std::string& title, const json& rows) {
  std::vector<const json*> list;
  for (const auto& r : rows) list.push_back(&r);
  std::stable_sort(list.begin(), list.end(),
                   [](const json* a, const json* b) { return a->value("tickets", 0) > b->value("tickets", 0); });
  if (list.size() > 12) list.resize(12);
  const int row_h = 22, l = 150, w = 640;
  const int h = static_cast<int>(list.size()) * row_h + 10;
  std::string s = "<figure><figcaption>" + esc(title) + "</figcaption><svg role=\"img\" aria-label=\"" + esc(title) +
                  "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) +
                  "\" xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\">";
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& r = *list[i];
    const double y = 5 + static_cast<double>(i) * row_h;
    std::string name = r.value("segment", "");
    s += "<text x=\"" + std::to_string(l - 6) + "\" y=\"" + num(y + 15) + "\" class=\"ax\" text-anchor=\"end\">" +
         esc(name.empty() ? "(none)" : name.substr(0, 24)) + "</text>";
    const json& v = r.value("csat", json());
    if (v.is_number()) {
      double width = (w - l - 60) * std::clamp(v.get<double>(), 0.0, 100.0) / 100;
      s += "<rect x=\"" + std::to_string(l) + "\" y=\"" + num(y + 3) + "\" width=\"" + num(width) +
           "\" height=\"16\" class=\"bar\"/><text x=\"" + num(l + width + 4) + "\" y=\"" + num(y + 15) +
           "\" class=\"ax\">" + num(v.get<double>()) + " % (" + std::to_string(r.value("csat_n", 0)) + ")</text>";
    } else {
      s += "<text x=\"" + std::to_string(l + 4) + "\" y=\"" + num(y + 15) + "\" class=\"ax\">no CSAT answers</text>";
    }
  }
  return s + "</svg></figure>";
}

std::string nps_chart(const json& hist) {
  const int w = 640, h = 200, l = 30, b = 30, t = 10;
  std::int64_t mx = 1;
  for (const auto& v : hist) mx = std::max<std::int64_t>(mx, v.get<std::int64_t>());
  std::string s = "<figure><figcaption>NPS answers by score (0–10)</figcaption><svg role=\"img\" aria-label=\"NPS "
                  "distribution\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) +
                  "\" xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\">";
  const double bw = (w - l - 10) / 11.0;
  for (int i = 0; i <= 10; ++i) {
    const std::int64_t n = hist.size() > static_cast<std::size_t>(i) ? hist[static_cast<std::size_t>(i)].get<std::int64_t>() : 0;
    const double bh = (h - b - t) * static_cast<double>(n) / static_cast<double>(mx);
    const char* cls = i <= 6 ? "det" : i <= 8 ? "pas" : "pro";
    s += "<rect x=\"" + num(l + i * bw + 3) + "\" y=\"" + num(h - b - bh) + "\" width=\"" + num(bw - 6) + "\" height=\"" +
         num(bh) + "\" class=\"" + cls + "\"><title>" + std::to_string(i) + ": " + std::to_string(n) +
         "</title></rect><text x=\"" + num(l + i * bw + bw / 2) + "\" y=\"" + num(h - b + 16, 0) +
         "\" class=\"ax\" text-anchor=\"middle\">" + std::to_string(i) + "</text>";
  }
  return s + "</svg><p class=\"legend\"><span class=\"key det\"></span>detractors 0–6 <span class=\"key pas\"></span>passives "
             "7–8 <span class=\"key pro\"></span>promoters 9–10</p></figure>";
}

std::string drill_link(const std::string& base, const json& r, const std::string& dim, const std::string& segment,
                       const char* metric, const std::string& text) {
  if (base.empty()) return text;
  std::string href = base + "?from=" + url_enc(r.value("from", "")) + "&to=" + url_enc(r.value("to", "")) +
                     "&metric=" + metric;
  if (!dim.empty()) href += "&by=" + url_enc(dim) + "&value=" + url_enc(segment);
  return "<a href=\"" + esc(href) + "\">" + text + "</a>";
}

}  // namespace

std::string report_html(const json& r, const std::string& drill_base) {
  const json& tot = r["totals"];
  std::string title = r.value("title", "Satisfaction report");
  std::string s =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\"><title>" +
      esc(title) + " — " + esc(r.value("tenant", "")) +
      "</title><style>"
      "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:16px;color:#1b1f24}"
      "h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccd}"
      ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ccd;border-radius:8px;padding:8px 12px;min-width:120px}"
      ".card b{display:block;font-size:1.5em}.card.inferred{border-style:dashed;color:#555}"
      "table{border-collapse:collapse;width:100%;font-size:.9em}th,td{padding:3px 6px;border-bottom:1px solid #e3e3ea;text-align:right}"
      "th:first-child,td:first-child{text-align:left}.chart{width:100%;max-width:640px;height:auto}"
      ".grid{stroke:#e3e3ea}.ax{font-size:11px;fill:#555}.l0{fill:none;stroke:#1565c0;stroke-width:2}"
      ".l1{fill:none;stroke:#ef6c00;stroke-width:2}circle.s0,.key.s0{fill:#1565c0;background:#1565c0}"
      "circle.s1,.key.s1{fill:#ef6c00;background:#ef6c00}.bar{fill:#2e7d32}.det,.key.det{fill:#c62828;background:#c62828}"
      ".pas,.key.pas{fill:#9e9e9e;background:#9e9e9e}.pro,.key.pro{fill:#2e7d32;background:#2e7d32}"
      ".key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}figure{margin:10px 0}"
      "figcaption{font-weight:600}.note{color:#555;font-size:.9em}.tbl{overflow-x:auto}"
      "</style></head><body><header><h1>" +
      esc(title) + "</h1><p>" + esc(r.value("tenant", "")) + " · " + esc(r.value("from", "")) + " to " +
      esc(r.value("to", "")) + " · by " + esc(r.value("period", "")) + "</p></header><main>";
  s += "<section aria-label=\"Headline figures\" class=\"cards\">";
  auto card = [&](const std::string& label, const std::string& value, const std::string& sub, const char* cls = "card") {
    s += "<div class=\"" + std::string(cls) + "\">" + esc(label) + "<b>" + value + "</b><span class=\"note\">" + sub +
         "</span></div>";
  };
  card("CSAT", drill_link(drill_base, r, "", "", "csat", fig(tot, "csat", " %")), std::to_string(tot.value("csat_n", 0)) + " answers");
  card("NPS", drill_link(drill_base, r, "", "", "nps", fig(tot, "nps", "", 0)), std::to_string(tot.value("nps_n", 0)) + " answers");
  card("CES", drill_link(drill_base, r, "", "", "ces", fig(tot, "ces", "", 2)), std::to_string(tot.value("ces_n", 0)) + " answers");
  card("Response rate", drill_link(drill_base, r, "", "", "response_rate", fig(tot, "response_rate", " %")),
       std::to_string(tot.value("surveyed", 0)) + " surveyed");
  card("Reopen rate", drill_link(drill_base, r, "", "", "reopen_rate", fig(tot, "reopen_rate", " %")),
       std::to_string(tot.value("solved", 0)) + " solved");
  card("First response", duration(tot, "first_response_s"), "mean");
  card("Resolution", duration(tot, "resolution_s"), "mean");
  card("Negative sentiment", fig(tot, "negative_share", " %"), std::to_string(tot.value("tickets", 0)) + " tickets");
  card("Inferred CSAT", drill_link(drill_base, r, "", "", "inferred_csat", fig(tot, "inferred_csat", " %")),
       std::to_string(tot.value("inferred_n", 0)) + " non-responders, from sentiment — not part of CSAT",
       "card inferred");
  s += "</section>";
  s += "<h2>Trend</h2>";
  s += line_chart("CSAT and response rate (%) by " + r.value("period", std::string("period")), r["trend"],
                  {{"csat", "CSAT %"}, {"response_rate", "response rate %"}}, 0, 100);
  s += line_chart("NPS and negative sentiment by " + r.value("period", std::string("period")), r["trend"],
                  {{"nps", "NPS"}, {"negative_share", "negative sentiment %"}}, -100, 100);
  s += "<h2>NPS distribution</h2>" + nps_chart(r["nps_distribution"]);
  for (const auto& [dim, rows] : r["segments"].items()) {
    if (rows.empty()) continue;
    s += "<h2>By " + esc(dim) + "</h2>" + segment_bars("CSAT % by " + dim, rows);
    s += "<div class=\"tbl\"><table><thead><tr><th>" + esc(dim) +
         "</th><th>tickets</th><th>CSAT</th><th>NPS</th><th>CES</th><th>response</th><th>reopen</th><th>first "
         "response</th><th>resolution</th><th>inferred CSAT</th></tr></thead><tbody>";
    for (const auto& row : rows) {
      std::string seg = row.value("segment", "");
      s += "<tr><td>" + esc(seg.empty() ? "(none)" : seg) + "</td><td>" +
           drill_link(drill_base, r, dim, seg, "tickets", std::to_string(row.value("tickets", 0))) + "</td><td>" +
           drill_link(drill_base, r, dim, seg, "csat", fig(row, "csat", " %")) + "</td><td>" +
           drill_link(drill_base, r, dim, seg, "nps", fig(row, "nps", "", 0)) + "</td><td>" + fig(row, "ces", "", 2) +
           "</td><td>" + fig(row, "response_rate", " %") + "</td><td>" +
           drill_link(drill_base, r, dim, seg, "reopen_rate", fig(row, "reopen_rate", " %")) + "</td><td>" +
           duration(row, "first_response_s") + "</td><td>" + duration(row, "resolution_s") + "</td><td>" +
           fig(row, "inferred_csat", " %") + "</td></tr>";
    }
    s += "</tbody></table></div>";
  }
  s += "<p class=\"note\">CSAT: share of 4–5 answers on the 1–5 scale. NPS: % promoters (9–10) − % detractors (0–6). "
       "Inferred CSAT: positive sentiment among surveyed customers who did not answer; shown apart, never mixed into "
       "CSAT. A ticket counts in the day of its first solve.</p></main></body></html>";
  return s;
}

}  // namespace closeloop::monitor
