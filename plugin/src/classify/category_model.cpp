// The category model: an ensemble of fastText supervised models; see category_model.hpp.
#include "category_model_impl.hpp"
#include "closeloop/sentiment.hpp"
#include "closeloop/utf8.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <fasttext/fasttext.h>
#include <nlohmann/json.hpp>

namespace closeloop {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace category_detail;

namespace {

constexpr std::size_t max_tokens = 2000;  // tokens per text seen by the model

// ---------------------------------------------------------------------------------------------
// Normalisation

// Simple lower-casing for the scripts a helpdesk meets most (Latin, Greek, Cyrillic).
char32_t to_lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
    bool odd_is_lower = (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (odd_is_lower) return (c % 2 == 0) ? c + 1 : c;
    return (c % 2 == 1) ? c + 1 : c;  // 0x139..0x148, 0x179..0x17E: even is lower
  }
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool is_cjk_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x2FA1F) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF);
}
bool is_emoji(char32_t c) { return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF); }
bool is_separator(char32_t c) {
  if (c < 0x80) return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  return (c >= 0x80 && c <= 0xBF) || c == 0xD7 || c == 0xF7 || (c >= 0x2000 && c <= 0x206F) ||
         (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF65) ||
         c == 0xFEFF || c == 0xFFFD || (c >= 0xFE00 && c <= 0xFE0F) || c == 0x200D;
}

std::string label_token(std::size_t i) { return std::string(label_prefix) + std::to_string(i); }

// ---------------------------------------------------------------------------------------------
// Checksums and temp files


class temp_file {
 public:
  explicit temp_file(std::string_view tag) {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("closeloop-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
             "-" + std::to_string(rd()));
  }
  ~temp_file() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};



struct scored {
  float p;
  bool correct;
};

// Smallest probability t such that predictions with p >= t are right at least `target` of the
// time (the largest such top slice); 1.01 when no slice reaches the target.
double precision_threshold(std::vector<scored> v, double target) {
  std::sort(v.begin(), v.end(), [](const scored& a, const scored& b) { return a.p > b.p; });
  std::size_t right = 0, best = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    right += v[i].correct ? 1 : 0;
    if (static_cast<double>(right) >= target * static_cast<double>(i + 1)) best = i + 1;
  }
  if (best == 0) return 1.01;
  // Break ties: everything with the same probability as the last kept one is in.
  return v[best - 1].p;
}

// Smallest probability t such that predictions with t <= p < high (the Medium band alone) are
// right at least `target` of the time; `high` when no such slice exists.
double slice_threshold(std::vector<scored> v, double high, double target) {
  std::sort(v.begin(), v.end(), [](const scored& a, const scored& b) { return a.p > b.p; });
  std::size_t right = 0, n = 0;
  double best = high;
  for (const auto& s : v) {
    if (s.p >= high) continue;
    ++n;
    right += s.correct ? 1 : 0;
    if (static_cast<double>(right) >= target * static_cast<double>(n)) best = s.p;
  }
  return best;
}

}  // namespace

namespace category_detail {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// fastText reads its own header (magic, version) only when loading from a file name.
result<std::shared_ptr<fasttext::FastText>> from_bytes(const std::string& bytes) {
  temp_file f("ftz");
  {
    std::ofstream out(f.path(), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return make_error(errc::internal, "category model: cannot write a temp file");
  }
  auto ft = std::make_shared<fasttext::FastText>();
  try {
    ft->loadModel(f.path());
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("fastText model: ") + e.what());
  }
  return ft;
}

}  // namespace category_detail

const char* to_string(confidence_band b) noexcept {
  switch (b) {
    case confidence_band::high: return "high";
    case confidence_band::medium: return "medium";
    case confidence_band::low: return "low";
  }
  return "low";
}

std::string normalize_for_category(std::string_view text) {
  if (text.size() > max_text_bytes) text = text.substr(0, max_text_bytes);
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t tokens = 0;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) {
      out += ' ';
      ++tokens;
      in_word = false;
    }
  };
  for (std::size_t i = 0; i < text.size() && tokens < max_tokens;) {
    char32_t c = utf8::next(text, i);
    if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;  // full-width ASCII
    c = to_lower(c);
    if (c == '\'' && in_word && i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      out += '\'';
      continue;
    }
    if (c == '?' || c == '!') {
      end_word();
      out += static_cast<char>(c);
      out += ' ';
      ++tokens;
      continue;
    }
    if (is_cjk_char(c) || is_emoji(c)) {
      end_word();
      utf8::append(out, c);
      out += ' ';
      ++tokens;
      continue;
    }
    if (is_separator(c) || c < 0x20) {
      end_word();
      continue;
    }
    utf8::append(out, c);
    in_word = true;
  }
  end_word();
  if (!out.empty()) out.pop_back();
  return out;
}

std::vector<category_member_settings> category_train_options::default_members() {
  // One fastText member next to the hashed linear model (tests/bench/README.md, "Category"): on
  // banking77 more fastText members added < 0.5 points each for ~4 s of training and half the
  // prediction speed each. 50 dimensions, 15 epochs, words + bigrams + char 3..5-grams, 50k buckets.
  std::vector<category_member_settings> m(1);
  m[0].dim = 50;
  m[0].epoch = 15;
  m[0].bucket = 50000;
  m[0].seed = 1;
  return m;
}

// ---------------------------------------------------------------------------------------------


category_model::category_model() : impl_(std::make_unique<impl>()) {}
category_model::~category_model() = default;
category_model::category_model(category_model&&) noexcept = default;
category_model& category_model::operator=(category_model&&) noexcept = default;

namespace {

// Trains one fastText member on a prepared file. Exceptions become errors.
result<std::shared_ptr<fasttext::FastText>> train_member(const std::string& input, const category_member_settings& s,
                                                         const std::function<void(float)>& on_progress) {
  fasttext::Args a;
  a.input = input;
  a.model = fasttext::model_name::sup;
  a.loss = fasttext::loss_name::softmax;
  a.dim = s.dim;
  a.epoch = s.epoch;
  a.lr = s.lr;
  a.wordNgrams = s.word_ngrams;
  a.minn = s.minn;
  a.maxn = s.maxn;
  a.bucket = s.bucket;
  a.seed = s.seed;
  a.minCount = 1;
  a.thread = 1;
  a.verbose = 0;
  a.lrUpdateRate = 100;
  auto ft = std::make_shared<fasttext::FastText>();
  try {
    ft->train(a, [&](float progress, float, double, double, int64_t) {
      if (on_progress) on_progress(progress);
    });
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("category model: fastText training failed: ") + e.what());
  }
  return ft;
}

result<std::string> to_bytes(fasttext::FastText& ft) {
  temp_file f("ftz");
  try {
    ft.saveModel(f.path());
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string("category model: cannot save: ") + e.what());
  }
  return read_all(f.path());
}


// Quantises a trained member so that it fits in `budget` bytes (pruning the least important
// embeddings), reloading the full model and pruning harder when the first try is too large.
result<std::string> quantize_member(std::shared_ptr<fasttext::FastText>& ft, const std::string& input,
                                    std::size_t budget, std::size_t max_quantized_rows) {
  auto full = to_bytes(*ft);
  if (!full) return full.err();
  const int dim = ft->getDimension();
  const std::size_t rows = static_cast<std::size_t>(ft->getInputMatrix()->size(0));
  const std::size_t fixed = static_cast<std::size_t>(dim) * 256 * 4 + 4096 +
                            static_cast<std::size_t>(ft->getDictionary()->nlabels()) * (dim * 4 + 24);
  const std::size_t per_row = static_cast<std::size_t>(dim) / 2 + 1 + 12;
  // At most max_quantized_rows embeddings are kept (the largest by norm): k-means time grows with
  // them and the rest carry little.
  std::size_t cutoff = std::min(max_quantized_rows, budget > fixed ? (budget - fixed) / per_row : 1000);
  for (int attempt = 0; attempt < 6; ++attempt) {
    auto q = std::make_shared<fasttext::FastText>();
    try {
      auto loaded = from_bytes(*full);
      if (!loaded) return loaded.err();
      q = *loaded;
      fasttext::Args qa;
      qa.input = input;
      qa.qout = false;
      qa.qnorm = true;
      qa.retrain = false;
      qa.dsub = 2;
      qa.cutoff = cutoff < rows ? cutoff : 0;
      qa.verbose = 0;
      q->quantize(qa);
    } catch (const std::exception& e) {
      return make_error(errc::internal, std::string("category model: quantisation failed: ") + e.what());
    }
    auto bytes = to_bytes(*q);
    if (!bytes) return bytes.err();
    if (bytes->size() <= budget || cutoff < 2000) {
      ft = q;
      return bytes;
    }
    cutoff = static_cast<std::size_t>(static_cast<double>(cutoff) * 0.8 * static_cast<double>(budget) /
                                      static_cast<double>(bytes->size()));
  }
  return make_error(errc::internal, "category model: cannot quantise within the size budget");
}

}  // namespace

result<category_model> category_model::train(const std::vector<labelled_text>& examples,
                                             const category_train_options& opt) {
  if (opt.members.empty() && !opt.linear)
    return make_error(errc::invalid_argument, "category model: no ensemble members configured");
  category_model model;
  impl& m = *model.impl_;
  // Label table (sorted, stable) and normalised texts, made once and shared by every member.
  std::map<std::string, std::size_t> label_index;
  for (const auto& e : examples) label_index.emplace(e.label, 0);
  if (label_index.size() < 2)
    return make_error(errc::invalid_argument, "category model: need at least 2 different labels, found " +
                                                  std::to_string(label_index.size()));
  for (auto& [l, i] : label_index) {
    i = m.labels.size();
    m.labels.push_back(l);
  }
  m.features = opt.features;
  m.reject_label = !opt.reject_label.empty() ? opt.reject_label : label_index.count("oos") ? "oos" : "other";

  std::vector<std::string> texts;
  std::vector<std::size_t> gold;
  texts.reserve(examples.size());
  for (const auto& e : examples) {
    std::string n = m.featurize(e.text);
    if (n.empty()) continue;
    gold.push_back(label_index[e.label]);
    texts.push_back(std::move(n));
  }
  if (texts.size() < 2) return make_error(errc::invalid_argument, "category model: no usable training text");
  m.trained_examples = texts.size();

  // Stratified hold-out.
  std::vector<std::vector<std::size_t>> by_label(m.labels.size());
  for (std::size_t i = 0; i < gold.size(); ++i) by_label[gold[i]].push_back(i);
  std::mt19937 rng(opt.split_seed);
  std::vector<char> held(gold.size(), 0);
  std::size_t n_held = 0;
  for (auto& idx : by_label) {
    std::shuffle(idx.begin(), idx.end(), rng);
    std::size_t k = static_cast<std::size_t>(std::floor(opt.holdout * static_cast<double>(idx.size()) + 0.5));
    if (idx.size() < 3) k = 0;
    for (std::size_t j = 0; j < k; ++j) held[idx[j]] = 1;
    n_held += k;
  }
  const bool calibrate = opt.holdout > 0 && n_held >= 10 && n_held < gold.size();

  auto write_file = [&](const std::string& path, bool include_held) {
    std::ofstream out(path, std::ios::binary);
    // Shuffle the order so fastText's single pass sees labels mixed.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (include_held || !held[i]) order.push_back(i);
    std::mt19937 r(opt.split_seed + 1);
    std::shuffle(order.begin(), order.end(), r);
    for (auto i : order) out << label_token(gold[i]) << ' ' << texts[i] << '\n';
    return static_cast<bool>(out);
  };

  // Size budget: the linear model takes its own share, the fastText members split the rest.
  const std::size_t margin = std::min<std::size_t>(opt.max_model_bytes / 4, 64 * 1024);
  hashed_linear_settings lin_settings = opt.linear_settings;
  if (opt.linear) {
    const std::size_t ft_floor = opt.members.size() * 200 * 1024;
    const std::size_t room = opt.max_model_bytes - margin;
    lin_settings.max_bytes = std::min(lin_settings.max_bytes, room > ft_floor ? room - ft_floor : room / 2);
  }
  const std::size_t ft_budget =
      opt.members.empty() ? 0
                          : (opt.max_model_bytes - margin - (opt.linear ? lin_settings.max_bytes : 0)) / opt.members.size();

  std::mutex progress_mu;
  std::size_t total_steps = 0, done_steps = 0;
  auto report = [&](std::string_view stage) {
    std::lock_guard lock(progress_mu);
    ++done_steps;
    if (opt.progress) opt.progress(stage, done_steps, total_steps);
  };
  // Runs independent tasks (each returns an error message or "") on `threads` threads, in order.
  auto run_tasks = [&](std::vector<std::function<std::string()>>& tasks) -> result<void> {
    std::vector<std::string> errors(tasks.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
      for (std::size_t i; (i = next++) < tasks.size();) errors[i] = tasks[i]();
    };
    std::vector<std::thread> pool;
    const std::size_t nthreads =
        std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, opt.threads)), 1, std::max<std::size_t>(1, tasks.size()));
    for (std::size_t t = 1; t < nthreads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    for (const auto& e : errors)
      if (!e.empty()) return make_error(errc::invalid_argument, e);
    return {};
  };

  temp_file part("train"), all("train");
  if (calibrate && !write_file(part.path(), false))
    return make_error(errc::internal, "category model: cannot write a temp file");
  if (!opt.members.empty() && (!calibrate || opt.retrain_members) && !write_file(all.path(), true))
    return make_error(errc::internal, "category model: cannot write a temp file");

  // fastText members: trained (and quantised) on `input`; one task each.
  std::vector<std::shared_ptr<fasttext::FastText>> fts(opt.members.size());
  std::vector<std::string> ft_bytes(opt.members.size());
  auto member_tasks = [&](const std::string& input, std::string_view stage) {
    std::vector<std::function<std::string()>> tasks;
    for (std::size_t i = 0; i < opt.members.size(); ++i)
      tasks.push_back([&, i, input, stage]() -> std::string {
        auto r = train_member(input, opt.members[i], {});
        if (!r) return r.err().message;
        fts[i] = *r;
        auto b = opt.quantize ? quantize_member(fts[i], input, ft_budget, opt.max_quantized_rows) : to_bytes(*fts[i]);
        if (!b) return b.err().message;
        ft_bytes[i] = std::move(*b);
        report(stage);
        return {};
      });
    return tasks;
  };

  std::vector<std::pair<std::string_view, int>> lin_part_rows, lin_all_rows;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    lin_all_rows.emplace_back(texts[i], static_cast<int>(gold[i]));
    if (!held[i]) lin_part_rows.emplace_back(texts[i], static_cast<int>(gold[i]));
  }
  std::optional<hashed_linear> lin_part, lin_all;
  std::vector<std::function<std::string()>> tasks = member_tasks(calibrate ? part.path() : all.path(), "train");
  if (opt.linear) {
    if (calibrate)
      tasks.push_back([&]() -> std::string {
        auto r = hashed_linear::train(lin_part_rows, static_cast<int>(m.labels.size()), lin_settings);
        if (!r) return r.err().message;
        lin_part = std::move(*r);
        report("linear");
        return {};
      });
    tasks.push_back([&]() -> std::string {
      auto r = hashed_linear::train(lin_all_rows, static_cast<int>(m.labels.size()), lin_settings);
      if (!r) return r.err().message;
      lin_all = std::move(*r);
      report("linear");
      return {};
    });
  }
  total_steps = tasks.size() + (calibrate && opt.retrain_members ? opt.members.size() : 0);
  if (auto r = run_tasks(tasks); !r) return r.err();

  auto install = [&]() -> result<void> {
    m.members.clear();
    for (std::size_t i = 0; i < fts.size(); ++i) {
      impl::member mem;
      mem.settings = opt.members[i];
      mem.ft = fts[i];
      mem.bytes = ft_bytes[i];
      if (auto b = m.bind(mem); !b) return b.err();
      m.members.push_back(std::move(mem));
    }
    return {};
  };
  if (auto r = install(); !r) return r.err();

  m.linear_weight = m.members.empty() ? 1.0f : 0.5f;
  m.linear_temperature = 1.0f;
  if (calibrate) {
    // The mixing weight and the linear model's temperature, then the bands and the gate, on the
    // held-out slice (models trained without it).
    std::vector<std::size_t> hi_idx;
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (held[i]) hi_idx.push_back(i);
    std::vector<std::vector<float>> pf, sl;
    for (auto i : hi_idx) {
      pf.push_back(m.fasttext_probabilities(texts[i]));
      std::vector<float> s;
      if (lin_part) lin_part->scores(texts[i], s);
      sl.push_back(std::move(s));
    }
    if (lin_part) {
      auto softmax_t = [](const std::vector<float>& s, float t) {
        std::vector<float> p(s);
        float mx = *std::max_element(p.begin(), p.end()), sum = 0;
        for (auto& x : p) sum += (x = std::exp((x - mx) / t));
        for (auto& x : p) x /= sum;
        return p;
      };
      double best_nll = 1e300;
      for (float t : {0.25f, 0.35f, 0.5f, 0.7f, 1.0f, 1.4f, 2.0f}) {
        double nll = 0;
        for (std::size_t j = 0; j < hi_idx.size(); ++j)
          nll -= std::log(std::max(1e-9f, softmax_t(sl[j], t)[gold[hi_idx[j]]]));
        if (nll < best_nll) {
          best_nll = nll;
          m.linear_temperature = t;
        }
      }
      std::vector<std::vector<float>> pl;
      for (const auto& s : sl) pl.push_back(softmax_t(s, m.linear_temperature));
      if (!m.members.empty()) {
        std::size_t best_right = 0;
        double best_w_nll = 1e300;
        for (int k = 0; k <= 20; ++k) {
          const float w = static_cast<float>(k) / 20.0f;
          std::size_t right = 0;
          double nll = 0;
          for (std::size_t j = 0; j < hi_idx.size(); ++j) {
            std::size_t best = 0;
            float bp = -1;
            for (std::size_t c = 0; c < m.labels.size(); ++c) {
              float v = (1 - w) * pf[j][c] + w * pl[j][c];
              if (v > bp) {
                bp = v;
                best = c;
              }
            }
            right += best == gold[hi_idx[j]] ? 1 : 0;
            nll -= std::log(std::max(1e-9f, (1 - w) * pf[j][gold[hi_idx[j]]] + w * pl[j][gold[hi_idx[j]]]));
          }
          if (right > best_right || (right == best_right && nll < best_w_nll)) {
            best_right = right;
            best_w_nll = nll;
            m.linear_weight = w;
          }
        }
      }
      m.linear = std::move(lin_part);
    }
    std::vector<scored> sc;
    std::size_t right = 0;
    for (auto i : hi_idx) {
      auto p = m.probabilities_normalized(texts[i]);
      auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      bool ok = best == gold[i];
      right += ok ? 1 : 0;
      sc.push_back({p[best], ok});
    }
    m.thresholds.high = std::max(0.5, precision_threshold(sc, opt.high_precision));
    m.thresholds.medium = std::min(m.thresholds.high, std::max(0.2, slice_threshold(sc, m.thresholds.high, opt.medium_precision)));
    // Reject below the probability where predictions are more often wrong than right: the
    // largest bottom slice whose precision is under 0.5.
    std::vector<scored> asc = sc;
    std::sort(asc.begin(), asc.end(), [](const scored& a, const scored& b) { return a.p < b.p; });
    std::size_t r2 = 0;
    double reject = 0;
    for (std::size_t i = 0; i < asc.size(); ++i) {
      r2 += asc[i].correct ? 1 : 0;
      if (static_cast<double>(r2) < 0.5 * static_cast<double>(i + 1) && i + 1 < asc.size()) reject = asc[i + 1].p;
    }
    m.thresholds.reject = std::min(reject, m.thresholds.medium);
    m.gate.n = sc.size();
    m.gate.accuracy = sc.empty() ? 0 : static_cast<double>(right) / static_cast<double>(sc.size());
    std::size_t hi = 0, med = 0;
    for (const auto& s : sc) {
      hi += s.p >= m.thresholds.high ? 1 : 0;
      med += s.p >= m.thresholds.medium ? 1 : 0;
    }
    m.gate.high_share = sc.empty() ? 0 : static_cast<double>(hi) / static_cast<double>(sc.size());
    m.gate.medium_or_better = sc.empty() ? 0 : static_cast<double>(med) / static_cast<double>(sc.size());
    m.gate.active = m.gate.high_share >= 0.30 && m.gate.medium_or_better >= 0.60;

    if (opt.retrain_members && !opt.members.empty()) {
      auto again = member_tasks(all.path(), "retrain");
      if (auto r = run_tasks(again); !r) return r.err();
      if (auto r = install(); !r) return r.err();
    }
  }
  if (lin_all) {
    m.linear = std::move(lin_all);
    m.linear_bytes = m.linear->to_bytes();
  } else {
    m.linear.reset();
  }
  return model;
}

category_prediction category_model::predict(std::string_view text) const {
  category_prediction out;
  // The top of probabilities(text), without every label's exact value (impl::top_normalized).
  const auto [best, top] = impl_->top_normalized(impl_->featurize(text));
  const auto& th = impl_->thresholds;
  if (impl_->labels.empty() || top <= 0.0f) {
    out.label = impl_->reject_label;
    out.needs_review = true;
    return out;
  }
  out.top_label = impl_->labels[best];
  out.probability = top;
  out.band = out.probability >= th.high ? confidence_band::high
             : out.probability >= th.medium ? confidence_band::medium
                                            : confidence_band::low;
  const bool rejected = out.probability < th.reject || out.top_label == impl_->reject_label;
  out.label = rejected ? impl_->reject_label : out.top_label;
  out.needs_review = rejected || !impl_->gate.active;
  return out;
}

std::vector<float> category_model::probabilities(std::string_view text) const {
  return impl_->probabilities_normalized(impl_->featurize(text));
}

std::string category_model::predict_raw_first_member(std::string_view normalized_text) const {
  if (impl_->members.empty()) return {};
  std::istringstream in(std::string(normalized_text) + "\n");
  std::vector<std::pair<fasttext::real, std::string>> preds;
  impl_->members.front().ft->predictLine(in, preds, 1, 0.0);
  return preds.empty() ? std::string() : preds.front().second;
}

reject_calibration category_model::calibrate_reject(const std::vector<labelled_text>& examples, double min_in_scope,
                                                    double min_oos_recall) {
  reject_calibration rc;
  struct row {
    float p;
    bool oos, top_is_reject, top_right;
  };
  std::vector<row> rows;
  for (const auto& e : examples) {
    auto p = probabilities(e.text);
    row r{0, e.label == impl_->reject_label, true, false};
    if (!p.empty()) {
      auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      r.p = p[best];
      r.top_is_reject = impl_->labels[best] == impl_->reject_label || r.p <= 0;
      r.top_right = impl_->labels[best] == e.label;
    }
    (r.oos ? rc.n_oos : rc.n_in_scope)++;
    rows.push_back(r);
  }
  if (rc.n_oos == 0 || rc.n_in_scope == 0) return rc;
  auto figures = [&](double t) {
    std::size_t in_ok = 0, oos_ok = 0;
    for (const auto& r : rows) {
      bool rejected = r.top_is_reject || r.p < t;
      if (r.oos) oos_ok += rejected ? 1 : 0;
      else in_ok += (!rejected && r.top_right) ? 1 : 0;
    }
    return std::pair{static_cast<double>(in_ok) / static_cast<double>(rc.n_in_scope),
                     static_cast<double>(oos_ok) / static_cast<double>(rc.n_oos)};
  };
  double best_t = 0, best_score = -1;
  bool best_meets = false;
  for (int k = 0; k <= 100; ++k) {
    double t = k / 100.0;
    auto [in_acc, oos_rec] = figures(t);
    bool meets = in_acc >= min_in_scope && oos_rec >= min_oos_recall;
    // Prefer thresholds meeting both targets and, among them, the largest worst-case margin over
    // the targets (so neither figure sits on its edge); if none meets both, the best sum.
    double score = meets ? std::min(in_acc - min_in_scope, oos_rec - min_oos_recall) : in_acc + oos_rec;
    if ((meets && !best_meets) || (meets == best_meets && score > best_score)) {
      best_t = t;
      best_score = score;
      best_meets = meets;
    }
  }
  auto [in_acc, oos_rec] = figures(best_t);
  rc.threshold = best_t;
  rc.in_scope_accuracy = in_acc;
  rc.oos_recall = oos_rec;
  impl_->thresholds.reject = best_t;
  return rc;
}

const std::vector<std::string>& category_model::labels() const { return impl_->labels; }
const category_thresholds& category_model::thresholds() const { return impl_->thresholds; }
void category_model::set_thresholds(const category_thresholds& t) { impl_->thresholds = t; }
const activation_gate& category_model::gate() const { return impl_->gate; }
const std::string& category_model::reject_label() const { return impl_->reject_label; }
std::size_t category_model::members() const { return impl_->members.size(); }
text_features category_model::features() const { return impl_->features; }
bool category_model::has_linear() const { return impl_->linear.has_value(); }
double category_model::linear_weight() const {
  return impl_->linear ? (impl_->members.empty() ? 1.0 : impl_->linear_weight) : 0.0;
}
}  // namespace closeloop
