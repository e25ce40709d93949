// Extractive KB drafting and HTML-to-text (closeloop/kb.hpp).
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "closeloop/kb.hpp"
#include "closeloop/text.hpp"
#include "closeloop/utf8.hpp"

namespace closeloop::kb {
namespace {

constexpr std::size_t max_title = 120;
constexpr std::size_t max_problem = 700;
constexpr std::size_t max_step = 300;
constexpr std::size_t max_steps = 12;
constexpr std::size_t max_input = 64 * 1024;  // per message: a huge message is cut, not processed whole

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    utf8::next(s, i);
    ++n;
  }
  return n;
}

std::string trim(std::string_view s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  const auto z = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, z - a + 1));
}

std::string html_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// A greeting, thanks or sign-off carries nothing for an article.
bool is_pleasantry(const std::string& sentence) {
  const std::string l = lower_ascii(sentence);
  static const std::array<const char*, 30> starts = {
      "hi", "hello", "dear", "thanks", "thank you", "best", "regards", "kind regards", "cheers", "sincerely",
      "good morning", "good afternoon", "hope this helps", "let us know", "please let me know", "sorry for",
      "您好", "你好", "谢谢", "感谢", "此致", "祝好", "如有", "如果还有", "有问题请", "抱歉", "不好意思", "[name]",
      "best regards", "many thanks"};
  for (const char* s : starts) {
    if (!starts_with(l, s)) continue;
    // "Hi Ann," / "Thanks!" / "谢谢！" — short lines only; a long sentence starting "Thanks" may carry content.
    if (utf8_chars(sentence) <= 40) return true;
  }
  return false;
}

// "Hello, my printer ..." -> "my printer ...": a greeting before the first comma goes.
std::string drop_greeting(const std::string& sentence) {
  const std::string l = lower_ascii(sentence);
  for (std::string_view g : {"hello", "hi", "dear", "good morning", "good afternoon", "hey", "您好", "你好"}) {
    if (!starts_with(l, g)) continue;
    std::size_t comma = sentence.find(',');
    const std::size_t wide = sentence.find("，");
    const std::size_t bang = sentence.find("！");
    if (wide != std::string::npos && (comma == std::string::npos || wide < comma)) comma = wide;
    if (bang != std::string::npos && (comma == std::string::npos || bang < comma)) comma = bang;
    if (comma == std::string::npos || comma > 40) return sentence;
    const std::size_t skip = static_cast<unsigned char>(sentence[comma]) >= 0x80 ? 3 : 1;
    std::string rest = trim(std::string_view(sentence).substr(comma + skip));
    if (!rest.empty() && rest[0] >= 'a' && rest[0] <= 'z') rest[0] = static_cast<char>(rest[0] - 'a' + 'A');
    return rest;
  }
  return sentence;
}

// A numbered or bulleted line: returns the text after the marker, or empty.
std::string list_item(const std::string& line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  std::string_view s = std::string_view(line).substr(i);
  if (s.empty()) return {};
  auto rest = [&](std::size_t k) { return trim(s.substr(k)); };
  if (s[0] == '-' || s[0] == '*') return s.size() > 1 && s[1] == ' ' ? rest(2) : std::string();
  for (std::string_view bullet : {"•", "·", "①", "②", "③", "④", "⑤", "⑥", "⑦", "⑧", "⑨"})
    if (starts_with(s, bullet)) return rest(bullet.size());
  std::size_t d = 0;
  while (d < s.size() && d < 3 && std::isdigit(static_cast<unsigned char>(s[d]))) ++d;
  if (d > 0 && d < s.size() && (s[d] == '.' || s[d] == ')' || s[d] == ':')) {
    if (s[d] == '.' && d + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[d + 1]))) return {};  // 2.5
    return rest(d + 1);
  }
  if (d > 0 && starts_with(s.substr(d), "、")) return rest(d + 3);
  for (std::string_view zh : {"第一步", "第二步", "第三步", "第四步", "第五步", "第六步", "首先", "然后", "最后", "接着"})
    if (starts_with(s, zh)) return rest(zh.size() + (starts_with(s.substr(zh.size()), "，") || starts_with(s.substr(zh.size()), "：") ? 3 : 0));
  if (starts_with(s, "步骤")) {
    std::size_t k = 6;
    while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
    if (starts_with(s.substr(k), "：") || starts_with(s.substr(k), "，")) k += 3;
    else if (k < s.size() && (s[k] == ':' || s[k] == '.')) ++k;
    return rest(k);
  }
  return {};
}

// A sentence that tells the customer what to do.
bool is_instruction(const std::string& sentence, bool zh) {
  if (zh) {
    static const std::array<const char*, 30> cues = {"点击", "打开", "进入", "选择", "重启", "重新", "清除", "更新",
                                                     "检查", "输入", "设置", "登录", "删除", "安装", "卸载", "确认",
                                                     "关闭", "开启", "尝试", "下载", "上传", "修改", "重置", "连接",
                                                     "拔掉", "插上", "按住", "切换", "升级", "联系"};
    return std::any_of(cues.begin(), cues.end(), [&](const char* c) { return sentence.find(c) != std::string::npos; });
  }
  std::string l = lower_ascii(sentence);
  for (std::string_view p : {"please ", "you can ", "you need to ", "you should ", "try to ", "just ", "then ", "first, ",
                             "first ", "next, ", "next ", "finally, ", "after that, ", "now "})
    if (starts_with(l, p)) {
      l = l.substr(p.size());
      break;
    }
  static const std::array<const char*, 44> verbs = {
      "go ", "open ", "click", "select ", "restart", "reinstall", "clear ", "update ", "check ", "enter ",
      "press ", "set ", "choose ", "run ", "delete ", "remove ", "change ", "reset ", "log ", "sign ",
      "navigate", "install", "try ", "make sure", "turn ", "disable ", "enable ", "wait ", "contact ", "use ",
      "download", "upload", "type ", "tap ", "connect", "unplug", "replace", "reboot", "hold ", "switch ",
      "upgrade", "re-enter", "power ", "plug "};
  return std::any_of(verbs.begin(), verbs.end(), [&](const char* v) { return starts_with(l, v); });
}

std::string strip_subject_prefixes(std::string s) {
  for (bool again = true; again;) {
    again = false;
    const std::string l = lower_ascii(s);
    for (std::string_view p : {"re:", "fw:", "fwd:", "aw:", "回复：", "回复:", "转发：", "答复："}) {
      if (starts_with(l, p)) {
        s = trim(std::string_view(s).substr(p.size()));
        again = true;
      }
    }
  }
  return s;
}

}  // namespace

std::string plain_text(std::string_view body) {
  if (body.size() > max_input) body = body.substr(0, max_input);
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (c == '<') {
      const auto close = body.find('>', i);
      if (close == std::string_view::npos) break;  // a cut tag at the end
      std::string tag = lower_ascii(std::string(body.substr(i + 1, std::min<std::size_t>(close - i - 1, 12))));
      if (!tag.empty() && tag[0] == '/') tag.erase(0, 1);
      auto is = [&](std::string_view t) {
        return starts_with(tag, t) && (tag.size() == t.size() || !std::isalpha(static_cast<unsigned char>(tag[t.size()])));
      };
      if (is("script") || is("style")) {
        // skip the element's content
        const auto end = lower_ascii(std::string(body.substr(close))).find(is("script") ? "</script" : "</style");
        i = end == std::string::npos ? body.size() : close + end;
        const auto gt = body.find('>', i);
        i = gt == std::string_view::npos ? body.size() : gt + 1;
        continue;
      }
      if (is("br") || is("p") || is("div") || is("li") || is("tr") || is("h1") || is("h2") || is("h3") || is("ol") ||
          is("ul") || is("blockquote"))
        out += '\n';
      if (is("li") && body[i + 1] != '/') out += "- ";
      i = close + 1;
      continue;
    }
    if (c == '&') {
      static const std::array<std::pair<const char*, const char*>, 7> ents = {
          {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", " "}, {"&apos;", "'"}}};
      bool hit = false;
      for (const auto& [e, r] : ents) {
        if (body.substr(i, std::string_view(e).size()) == e) {
          out += r;
          i += std::string_view(e).size();
          hit = true;
          break;
        }
      }
      if (hit) continue;
    }
    out += c == '\r' ? '\n' : c;
    ++i;
  }
  // Lines: drop quoted replies and everything after a signature or an "On ... wrote:" line.
  std::string clean;
  std::size_t k = 0;
  int blank = 0;
  while (k <= out.size()) {
    std::size_t e = out.find('\n', k);
    if (e == std::string::npos) e = out.size();
    std::string line = out.substr(k, e - k);
    k = e + 1;
    const std::string t = trim(line);
    if (t == "--" || line == "-- " || (starts_with(lower_ascii(t), "on ") && t.size() > 6 && t.substr(t.size() - 6) == "wrote:") ||
        starts_with(t, "-----Original Message") || starts_with(t, "------------------ 原始邮件"))
      break;
    if (!t.empty() && t[0] == '>') continue;
    if (t.empty()) {
      if (++blank > 1 || clean.empty()) continue;
    } else {
      blank = 0;
    }
    clean += t;
    clean += '\n';
    if (e == out.size()) break;
  }
  return trim(clean);
}

draft make_draft(const draft_input& in) {
  draft d;
  const bool zh = in.language.substr(0, 2) == "zh";
  auto scrub = [&](std::string_view s) { return scrub_pii(s, in.names); };

  // Problem: the customer's messages, pleasantries dropped.
  std::vector<std::string> problem_sentences;
  std::size_t problem_len = 0;
  for (const auto& m : in.messages) {
    if (m.role != "customer") continue;
    for (auto& s0 : sentences(scrub(plain_text(m.text)), in.language)) {
      if (is_pleasantry(s0) || problem_len > max_problem) continue;
      std::string s = drop_greeting(s0);
      if (s.empty()) continue;
      problem_len += s.size();
      problem_sentences.push_back(std::move(s));
    }
  }
  std::string problem;
  for (const auto& s : problem_sentences) problem += (problem.empty() || zh ? "" : " ") + s;
  problem = truncate_utf8(trim(problem), max_problem);

  std::string title = truncate_utf8(trim(scrub(strip_subject_prefixes(plain_text(in.subject)))), max_title);
  if (title.empty() && !problem_sentences.empty()) title = truncate_utf8(problem_sentences.front(), 80);

  // Steps: the agent's replies (the resolution text last, unless it repeats a reply).
  std::vector<std::string> answers;
  for (const auto& m : in.messages)
    if (m.role == "agent") answers.push_back(plain_text(m.text));
  if (!in.resolution.empty()) {
    std::string r = plain_text(in.resolution);
    if (std::find(answers.begin(), answers.end(), r) == answers.end()) answers.push_back(std::move(r));
  }
  std::vector<std::string> listed, instructions;
  for (const auto& a0 : answers) {
    const std::string a = scrub(a0);
    d.answer_chars += utf8_chars(a);
    std::size_t k = 0;
    while (k < a.size()) {
      std::size_t e = a.find('\n', k);
      if (e == std::string::npos) e = a.size();
      const std::string line = a.substr(k, e - k);
      k = e + 1;
      if (auto item = list_item(line); !item.empty()) listed.push_back(truncate_utf8(item, max_step));
    }
    for (auto& s : sentences(a, in.language)) {
      if (s.find('\n') != std::string::npos) s = s.substr(0, s.find('\n'));
      if (!list_item(s).empty() || is_pleasantry(s)) continue;
      if (is_instruction(s, zh)) instructions.push_back(truncate_utf8(s, max_step));
    }
  }
  d.numbered = listed.size() >= 2;
  d.steps = d.numbered ? listed : instructions;
  if (!d.numbered) d.steps.insert(d.steps.end(), listed.begin(), listed.end());
  // Same step twice (a reply quoted in the resolution): keep the first.
  std::vector<std::string> unique;
  for (auto& s : d.steps)
    if (std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(std::move(s));
  d.steps = std::move(unique);
  if (d.steps.size() > max_steps) d.steps.resize(max_steps);

  if (answers.empty() || d.answer_chars == 0) {
    d.reason = "no agent reply to draft the resolution from";
    return d;
  }
  if (problem.empty()) {
    d.reason = "no problem statement: the customer's messages have no text (attachments or markup only)";
    return d;
  }
  if (title.empty()) {
    d.reason = "no title: the ticket has no subject and no problem text";
    return d;
  }
  if (d.steps.empty()) {
    d.reason = "no resolution steps in the agent's replies (no list and no instruction sentence)";
    return d;
  }
  d.title = title;
  d.problem = problem;
  d.summary = truncate_utf8(d.steps.front(), 200);
  const std::string h_problem = zh ? "问题" : "Problem";
  const std::string h_steps = zh ? "解决步骤" : "Resolution";
  d.body = h_problem + "\n\n" + problem + "\n\n" + h_steps + "\n\n";
  d.body_html = "<h2>" + h_problem + "</h2>\n<p>" + html_escape(problem) + "</p>\n<h2>" + h_steps + "</h2>\n<ol>\n";
  for (std::size_t i = 0; i < d.steps.size(); ++i) {
    d.body += std::to_string(i + 1) + ". " + d.steps[i] + "\n";
    d.body_html += "<li>" + html_escape(d.steps[i]) + "</li>\n";
  }
  d.body_html += "</ol>\n";
  d.ok = true;
  return d;
}

}  // namespace closeloop::kb
