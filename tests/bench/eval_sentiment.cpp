// closeloop_bench_eval_sentiment: the cold-start sentiment (closeloop::score_sentiment after
// closeloop::identify_language) on ../shared/datasets, and its speed.
//
//   closeloop_bench_eval_sentiment --datasets DIR [--max-rows N] [--dump-english FILE]
//
// Protocol (the same for the VADER baseline, tests/bench/node/vader.js):
// - English (VADER ground truth: mean of human ratings): items whose |mean| >= 0.5 are polar;
//   a prediction is positive when the score is > 0, else negative; binary accuracy.
// - Chinese (ChnSentiCorp dev, waimai_10k): labels positive/negative (1/0); same rule.
// --dump-english writes the English polar items (gold<TAB>text) for the baseline to read.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "closeloop/language.hpp"
#include "closeloop/sentiment.hpp"

namespace {

struct item {
  std::string text;
  bool positive;
};

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// VADER ground truth: id<TAB>mean<TAB>text
std::vector<item> load_vader(const std::string& path, std::size_t max_rows) {
  std::vector<item> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line) && out.size() < max_rows) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto cols = split(line, '\t');
    if (cols.size() < 3) continue;
    double mean = std::atof(cols[1].c_str());
    if (mean > -0.5 && mean < 0.5) continue;
    out.push_back({cols[2], mean > 0});
  }
  return out;
}

// ChnSentiCorp: text<TAB>label (positive|negative)
std::vector<item> load_chnsenticorp(const std::string& path, std::size_t max_rows) {
  std::vector<item> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line) && out.size() < max_rows) {
    auto tab = line.rfind('\t');
    if (tab == std::string::npos) continue;
    std::string label = line.substr(tab + 1);
    if (label != "positive" && label != "negative") continue;
    out.push_back({line.substr(0, tab), label == "positive"});
  }
  return out;
}

// waimai_10k.csv: label,review (1 positive, 0 negative); reviews have no quoted commas issue we care about
std::vector<item> load_waimai(const std::string& path, std::size_t max_rows) {
  std::vector<item> out;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line) && out.size() < max_rows) {
    auto comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string text = line.substr(comma + 1);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
    out.push_back({text, line[0] == '1'});
  }
  return out;
}

struct outcome {
  std::size_t n = 0, right = 0, neutral = 0;
  double seconds = 0;
};

outcome run(const std::vector<item>& items) {
  outcome o;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& it : items) {
    const auto lang = closeloop::identify_language(it.text);
    const auto s = closeloop::score_sentiment(it.text, lang.tag);
    ++o.n;
    if (s.score == 0) ++o.neutral;
    if ((s.score > 0) == it.positive) ++o.right;
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::size_t max_rows = static_cast<std::size_t>(-1);
  std::string dump;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--datasets" && i + 1 < argc) dir = argv[++i];
    else if (a == "--max-rows" && i + 1 < argc) max_rows = std::stoul(argv[++i]);
    else if (a == "--dump-english" && i + 1 < argc) dump = argv[++i];
    else {
      std::cerr << "usage: closeloop_bench_eval_sentiment --datasets DIR [--max-rows N] [--dump-english FILE]\n";
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr << "closeloop_bench_eval_sentiment: --datasets DIR is required (../shared/datasets)\n";
    return 2;
  }
  struct set {
    std::string name;
    std::vector<item> items;
  };
  std::vector<set> sets = {
      {"vader amazon (en)", load_vader(dir + "/sentiment_en/vader/amazon_groundtruth.tsv", max_rows)},
      {"vader movie (en)", load_vader(dir + "/sentiment_en/vader/movie_groundtruth.tsv", max_rows)},
      {"vader tweets (en)", load_vader(dir + "/sentiment_en/vader/tweets_groundtruth.tsv", max_rows)},
      {"vader nyt (en)", load_vader(dir + "/sentiment_en/vader/nyt_groundtruth.tsv", max_rows)},
      {"chnsenticorp dev (zh)", load_chnsenticorp(dir + "/sentiment_zh/chnsenticorp/dev.tsv", max_rows)},
      {"waimai_10k (zh)", load_waimai(dir + "/sentiment_zh/waimai_10k.csv", max_rows)},
  };
  if (!dump.empty()) {
    std::ofstream out(dump);
    for (std::size_t k = 0; k < 4; ++k)
      for (const auto& it : sets[k].items) out << sets[k].name << '\t' << (it.positive ? 1 : -1) << '\t' << it.text << '\n';
  }
  int failures = 0;
  std::printf("%-24s %7s %9s %9s %12s\n", "dataset", "n", "accuracy", "no-cue", "texts/s");
  for (const auto& s : sets) {
    if (s.items.empty()) {
      std::printf("%-24s missing or empty\n", s.name.c_str());
      ++failures;
      continue;
    }
    auto o = run(s.items);
    std::printf("%-24s %7zu %9.3f %9.3f %12.0f\n", s.name.c_str(), o.n, static_cast<double>(o.right) / o.n,
                static_cast<double>(o.neutral) / o.n, o.n / o.seconds);
    std::printf("{\"dataset\":\"%s\",\"n\":%zu,\"accuracy\":%.4f,\"texts_per_s\":%.0f}\n", s.name.c_str(), o.n,
                static_cast<double>(o.right) / o.n, o.n / o.seconds);
  }
  return failures == 0 ? 0 : 1;
}
