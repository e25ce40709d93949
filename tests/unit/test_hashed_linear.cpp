// The hashed linear model (second family in the category ensemble): features, training,
// serialisation and its bad-input behaviour; and the category model's format versions.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <random>

#include "closeloop/category_model.hpp"
#include "closeloop/hashed_linear.hpp"

using namespace closeloop;

namespace {

std::vector<std::pair<std::string, int>> corpus(unsigned seed, int per_label) {
  const std::vector<std::vector<std::string>> words = {
      {"invoice", "refund", "charged", "payment", "发", "票"},
      {"password", "login", "locked", "signin", "密", "码"},
      {"delivery", "parcel", "tracking", "courier", "快", "递"},
  };
  const std::vector<std::string> filler = {"please", "help", "my", "the", "i", "need", "today"};
  std::mt19937 rng(seed);
  std::vector<std::pair<std::string, int>> out;
  for (int i = 0; i < per_label; ++i)
    for (int y = 0; y < 3; ++y) {
      std::string t;
      for (int k = 0; k < 6; ++k) {
        const auto& pool = (k % 2 == 0) ? words[static_cast<std::size_t>(y)] : filler;
        if (!t.empty()) t += ' ';
        t += pool[rng() % pool.size()];
      }
      out.emplace_back(t, y);
    }
  return out;
}

std::vector<std::pair<std::string_view, int>> views(const std::vector<std::pair<std::string, int>>& v) {
  std::vector<std::pair<std::string_view, int>> out;
  for (const auto& [t, y] : v) out.emplace_back(t, y);
  return out;
}

}  // namespace

TEST_CASE("hashed linear: features are words, bigrams and in-word character n-grams", "[unit][classify]") {
  hashed_linear_settings s;
  auto f = hashed_features("ab cd", s);
  // "ab": unigram + <ab> n-grams 2..3 (<a, ab, b>, <ab, ab>); "cd" the same; one bigram.
  float total = 0;
  for (const auto& [h, c] : f) total += c;
  CHECK(total == Approx(1 + 5 + 1 + 5 + 1));
  CHECK(std::is_sorted(f.begin(), f.end()));
  // Single CJK characters give only their unigram (and bigrams).
  auto z = hashed_features("退 款", s);
  float zt = 0;
  for (const auto& [h, c] : z) zt += c;
  CHECK(zt == Approx(3));
  CHECK(hashed_features("", s).empty());
  s.minn = 0;
  s.word_bigrams = false;
  CHECK(hashed_features("ab cd ab", s).size() == 2);
}

TEST_CASE("hashed linear: learns, fits its byte budget and round-trips", "[unit][classify]") {
  auto train = corpus(1, 60);
  hashed_linear_settings s;
  s.epochs = 5;
  auto m = hashed_linear::train(views(train), 3, s);
  REQUIRE(m);
  CHECK(m->n_labels() == 3);
  auto test = corpus(2, 20);
  std::size_t right = 0;
  std::vector<float> p;
  for (const auto& [t, y] : test) {
    m->probabilities(t, 1.0f, p);
    REQUIRE(p.size() == 3);
    right += static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()) == y ? 1 : 0;
  }
  CHECK(static_cast<double>(right) / static_cast<double>(test.size()) > 0.95);

  const std::string bytes = m->to_bytes();
  auto back = hashed_linear::from_bytes(bytes);
  REQUIRE(back);
  std::vector<float> a, b;
  m->scores("refund my invoice", a);
  back->scores("refund my invoice", b);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);

  s.max_bytes = 2000;  // prunes to a handful of rows
  auto small = hashed_linear::train(views(train), 3, s);
  REQUIRE(small);
  CHECK(small->to_bytes().size() <= 2000 + 64);
  CHECK(small->n_features() < m->n_features());

  CHECK_FALSE(hashed_linear::from_bytes("nonsense"));
  CHECK_FALSE(hashed_linear::from_bytes(bytes.substr(0, bytes.size() - 3)));
  CHECK_FALSE(hashed_linear::train(views(train), 1, s));
  CHECK_FALSE(hashed_linear::train({{"x", 5}}, 3, s));
}

TEST_CASE("hashed linear: bad input stays bounded", "[unit][classify]") {
  auto m = hashed_linear::train(views(corpus(3, 20)), 3, hashed_linear_settings{});
  REQUIRE(m);
  const auto t0 = std::chrono::steady_clock::now();
  std::string garbage;
  for (int i = 0; i < (1 << 20); ++i) garbage += static_cast<char>(0x80 + (i * 7) % 128);
  for (const std::string& t : {std::string(), std::string(1 << 20, 'x'), garbage,
                               normalize_for_category(std::string(1 << 20, 'x')), normalize_for_category(garbage)}) {
    std::vector<float> p;
    m->probabilities(normalize_for_category(t), 1.0f, p);
    REQUIRE(p.size() == 3);
    for (float x : p) CHECK(std::isfinite(x));
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("category: format 2 carries the linear model; unknown versions are refused clearly", "[unit][classify]") {
  std::vector<labelled_text> rows;
  for (const auto& [t, y] : corpus(4, 40)) rows.push_back({t, y == 0 ? "billing" : y == 1 ? "login" : "shipping"});
  category_train_options o;
  o.members.clear();  // the linear model alone: fast
  o.quantize = false;
  auto m = category_model::train(rows, o);
  REQUIRE(m);
  CHECK(m->has_linear());
  CHECK(m->members() == 0);
  CHECK(m->linear_weight() == 1.0);
  CHECK(m->predict("refund for my invoice").top_label == "billing");
  std::string bytes = m->serialize();
  CHECK(bytes.rfind("CLOSELOOP-CATEGORY-MODEL 2\n", 0) == 0);
  auto back = category_model::load_from_memory(bytes);
  REQUIRE(back);
  CHECK(back->has_linear());
  CHECK(back->predict("refund for my invoice").probability == Approx(m->predict("refund for my invoice").probability));
  std::string future = bytes;
  future[std::string("CLOSELOOP-CATEGORY-MODEL ").size()] = '9';
  auto refused = category_model::load_from_memory(future);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.err().message, Catch::Contains("unsupported format version 9"));
  // A format 1 file (fastText members only, as older builds wrote) still loads.
  category_train_options ft_only;
  ft_only.linear = false;
  ft_only.quantize = false;
  for (auto& mem : ft_only.members) {
    mem.dim = 8;
    mem.epoch = 5;
    mem.bucket = 1000;
  }
  auto old = category_model::train(rows, ft_only);
  REQUIRE(old);
  CHECK_FALSE(old->has_linear());
  std::string v1 = old->serialize();
  v1[std::string("CLOSELOOP-CATEGORY-MODEL ").size()] = '1';
  auto v1_back = category_model::load_from_memory(v1);
  REQUIRE(v1_back);
  CHECK(v1_back->members() == old->members());
  CHECK(v1_back->predict("refund for my invoice").top_label == old->predict("refund for my invoice").top_label);
  std::string flipped = bytes;
  flipped[flipped.size() - 10] ^= 0x55;
  auto broken = category_model::load_from_memory(flipped);
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.err().message, Catch::Contains("checksum"));
}

TEST_CASE("hashed linear: the SIMD scoring gives the same bits as the scalar loop", "[unit][classify]") {
  // 37 labels: two full blocks of 16 classes and a tail of 5 (SSE2: 16 then 4 at a time);
  // 16, 77 and 128 (AVX-512: 1, 5 and 8 registers of 16 classes) and 129 (beyond them: SSE2).
  for (const int n_labels : {37, 16, 77, 128, 129}) {
    CAPTURE(n_labels);
    std::vector<std::pair<std::string, int>> train;
    std::mt19937 rng(9);
    for (int i = 0; i < n_labels * 8; ++i) {
      const int y = i % n_labels;
      std::string t = "w" + std::to_string(y) + " x" + std::to_string(y * 7 % n_labels) + " filler" +
                      std::to_string(rng() % 5) + " 发" + std::to_string(y % 3);
      train.emplace_back(t, y);
    }
    hashed_linear_settings s;
    s.epochs = 3;
    auto m = hashed_linear::train(views(train), n_labels, s);
    REQUIRE(m);
    std::vector<std::string> texts = {"w3 x21 filler1", "unknown words only", "", "发 票 w36", std::string(5000, 'w')};
    for (const auto& [t, y] : train) texts.push_back(t);
    // Reloaded (the packed rows rebuilt from the file's arrays) and a copy (its own rows).
    auto again = hashed_linear::from_bytes(m->to_bytes());
    REQUIRE(again);
    const hashed_linear copy = *m;
    for (const auto& t : texts) {
      std::vector<float> a, b, c, d;
      m->scores(t, a, hashed_linear::scoring::fast);
      m->scores(t, b, hashed_linear::scoring::reference);
      again->scores(t, c, hashed_linear::scoring::fast);
      copy.scores(t, d, hashed_linear::scoring::fast);
      REQUIRE(a.size() == static_cast<std::size_t>(n_labels));
      REQUIRE(b.size() == static_cast<std::size_t>(n_labels));
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(c.data(), b.data(), c.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(d.data(), b.data(), d.size() * sizeof(float)) == 0);
    }
  }
}
