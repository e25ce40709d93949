// Hashed-feature linear classifier (multinomial logistic regression, SGD); see hashed_linear.hpp.
#include "closeloop/hashed_linear.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace closeloop {

namespace {

constexpr std::string_view blob_magic = "CLOSELOOP-HLIN 1\n";

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline std::uint64_t fnv_start(std::uint64_t seed) { return 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL); }
inline std::uint64_t fnv_step(std::uint64_t h, unsigned char c) { return (h ^ c) * 1099511628211ULL; }

inline std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed) {
  std::uint64_t h = fnv_start(seed);
  for (unsigned char c : s) h = fnv_step(h, c);
  return mix64(h);
}

template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <typename T>
void put_vec(std::string& out, const std::vector<T>& v) {
  if (!v.empty()) out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

struct reader {
  std::string_view b;
  bool ok = true;
  template <typename T>
  T get() {
    T v{};
    if (b.size() < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, b.data(), sizeof(T));
    b.remove_prefix(sizeof(T));
    return v;
  }
  template <typename T>
  void get_vec(std::vector<T>& v, std::size_t n) {
    if (n > b.size() / sizeof(T)) {
      ok = false;
      return;
    }
    v.resize(n);
    if (n) std::memcpy(v.data(), b.data(), n * sizeof(T));
    b.remove_prefix(n * sizeof(T));
  }
};

// Ascending order, as std::sort gives. For the few hundred hashes of a text: one counting pass
// on the top 8 bits puts them in 256 ordered buckets (about one hash each), then an insertion
// sort fixes the order inside the buckets — about three times as fast as a 4-pass radix sort.
void sort_hashes(std::vector<std::uint32_t>& v) {
  if (v.size() < 64) {
    std::sort(v.begin(), v.end());
    return;
  }
  thread_local std::vector<std::uint32_t> tmp;
  const std::size_t n = v.size();
  tmp.resize(n);
  std::uint32_t count[257] = {};
  const std::uint32_t* a = v.data();
  for (std::size_t i = 0; i < n; ++i) ++count[(a[i] >> 24) + 1];
  for (std::size_t d = 1; d < 257; ++d) count[d] += count[d - 1];
  std::uint32_t* b = tmp.data();
  for (std::size_t i = 0; i < n; ++i) b[count[a[i] >> 24]++] = a[i];
  for (std::size_t i = 1; i < n; ++i) {
    const std::uint32_t x = b[i];
    std::size_t j = i;
    for (; j > 0 && b[j - 1] > x; --j) b[j] = b[j - 1];
    b[j] = x;
  }
  v.swap(tmp);
}

void softmax(std::vector<float>& v, float inv_t) {
  if (v.empty()) return;
  float mx = *std::max_element(v.begin(), v.end());
  float sum = 0;
  for (auto& x : v) {
    x = std::exp((x - mx) * inv_t);
    sum += x;
  }
  for (auto& x : v) x /= sum;
}

}  // namespace

void hashed_features(std::string_view text, const hashed_linear_settings& s,
                     std::vector<std::pair<std::uint32_t, float>>& out) {
  // Scratch kept per thread: no allocation per text once warm. Character n-grams are hashed on
  // slices of "<tok>" (the word with its boundary marks) built in one reused buffer.
  thread_local std::vector<std::uint32_t> h;
  thread_local std::string padded;
  thread_local std::vector<std::size_t> offs;
  h.clear();
  out.clear();
  std::uint64_t prev = 0;
  bool have_prev = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view tok = text.substr(pos, end - pos);
    pos = end + 1;
    if (tok.empty()) continue;
    const std::uint64_t u = hash_bytes(tok, 1);
    h.push_back(static_cast<std::uint32_t>(u));
    if (s.word_bigrams && have_prev) h.push_back(static_cast<std::uint32_t>(mix64(prev * 116049371ULL + u + 2)));
    prev = u;
    have_prev = true;
    if (s.minn <= 0 || s.maxn < s.minn) continue;
    // Code point starts of "<tok>".
    padded.clear();
    padded.push_back('<');
    padded.append(tok);
    padded.push_back('>');
    offs.clear();
    for (std::size_t i = 0; i < padded.size(); ++i)
      if ((static_cast<unsigned char>(padded[i]) & 0xC0) != 0x80) offs.push_back(i);
    const std::size_t ncp = offs.size();
    if (ncp <= 3) continue;  // a single character: the unigram says it all
    offs.push_back(padded.size());
    // hash_bytes(g, 3) of every n-gram starting at i: the n-grams starting at one place are
    // prefixes of each other, so the FNV state runs on from one to the next (same values).
    const std::uint64_t start = fnv_start(3);
    for (std::size_t i = 0; i < ncp; ++i) {
      std::uint64_t state = start;
      std::size_t b = offs[i];
      for (int n = 1; n <= s.maxn && i + static_cast<std::size_t>(n) <= ncp; ++n) {
        for (const std::size_t e = offs[i + static_cast<std::size_t>(n)]; b < e; ++b)
          state = fnv_step(state, static_cast<unsigned char>(padded[b]));
        if (n < s.minn || n == static_cast<int>(ncp)) continue;  // n == ncp: the whole word, the unigram
        h.push_back(static_cast<std::uint32_t>(mix64(state)));
      }
    }
  }
  sort_hashes(h);
  for (std::size_t i = 0; i < h.size();) {
    std::size_t j = i;
    while (j < h.size() && h[j] == h[i]) ++j;
    out.emplace_back(h[i], static_cast<float>(j - i));
    i = j;
  }
}

std::vector<std::pair<std::uint32_t, float>> hashed_features(std::string_view text, const hashed_linear_settings& s) {
  std::vector<std::pair<std::uint32_t, float>> out;
  hashed_features(text, s, out);
  return out;
}

result<hashed_linear> hashed_linear::train(const std::vector<std::pair<std::string_view, int>>& examples, int n_labels,
                                           const hashed_linear_settings& s) {
  if (n_labels < 2) return make_error(errc::invalid_argument, "hashed linear: need at least 2 labels");
  if (examples.empty()) return make_error(errc::invalid_argument, "hashed linear: no examples");
  const auto K = static_cast<std::size_t>(n_labels);
  // Features, dictionary and document frequencies.
  std::unordered_map<std::uint32_t, std::uint32_t> index;
  std::vector<std::uint32_t> keys, df;
  std::vector<std::vector<std::pair<std::uint32_t, float>>> rows;  // (dense index, raw count)
  rows.reserve(examples.size());
  for (const auto& [text, y] : examples) {
    if (y < 0 || y >= n_labels) return make_error(errc::invalid_argument, "hashed linear: label out of range");
    auto f = hashed_features(text, s);
    for (auto& [k, c] : f) {
      auto [it, fresh] = index.emplace(k, static_cast<std::uint32_t>(keys.size()));
      if (fresh) {
        keys.push_back(k);
        df.push_back(0);
      }
      df[it->second]++;
      k = it->second;
    }
    rows.push_back(std::move(f));
  }
  const std::size_t F = keys.size();
  const double N = static_cast<double>(examples.size());
  std::vector<float> idf(F);
  for (std::size_t i = 0; i < F; ++i) idf[i] = static_cast<float>(std::log((N + 1) / (df[i] + 1.0)) + 1.0);
  const float default_idf = static_cast<float>(std::log((N + 1) / 2.0) + 1.0);
  // Weighted, L2-normalised values; mass = sum of a feature's values over documents.
  std::vector<double> mass(F, 0.0);
  for (auto& r : rows) {
    double norm = 0;
    for (auto& [k, c] : r) {
      c = std::log1p(c) * idf[k];
      norm += static_cast<double>(c) * c;
    }
    const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (auto& [k, c] : r) {
      c *= inv;
      mass[k] += c;
    }
  }
  // SGD on the softmax loss, weights kept as wscale * W (lazy L2 decay).
  std::vector<float> W(F * K, 0.0f), b(K, 0.0f), p(K);
  double wscale = 1.0;
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(s.seed);
  const double T = static_cast<double>(std::max(1, s.epochs)) * static_cast<double>(rows.size());
  double t = 0;
  // Weights averaged over the ends of the later epochs (a cheap Polyak average).
  const int epochs = std::max(1, s.epochs);
  const int avg_from = s.average ? epochs / 2 : epochs - 1;
  std::vector<float> Wavg, bavg(K, 0.0f);
  int n_avg = 0;
  for (int ep = 0; ep < epochs; ++ep) {
    std::shuffle(order.begin(), order.end(), rng);
    for (auto i : order) {
      const double lr = s.lr * std::max(0.02, 1.0 - t / T);
      t += 1;
      const auto& r = rows[i];
      const int y = examples[i].second;
      for (std::size_t k = 0; k < K; ++k) p[k] = b[k];
      const float ws = static_cast<float>(wscale);
      for (const auto& [f, x] : r) {
        const float* w = &W[f * K];
        const float xv = x * ws;
        for (std::size_t k = 0; k < K; ++k) p[k] += xv * w[k];
      }
      softmax(p, 1.0f);
      p[static_cast<std::size_t>(y)] -= 1.0f;  // gradient of the loss w.r.t. the scores
      wscale *= (1.0 - lr * s.lambda);
      const float step = static_cast<float>(lr / wscale);
      for (const auto& [f, x] : r) {
        float* w = &W[f * K];
        const float g = step * x;
        for (std::size_t k = 0; k < K; ++k) w[k] -= g * p[k];
      }
      for (std::size_t k = 0; k < K; ++k) b[k] -= static_cast<float>(lr * 0.1) * p[k];
      if (wscale < 1e-4) {
        for (auto& w : W) w *= static_cast<float>(wscale);
        wscale = 1.0;
      }
    }
    if (ep >= avg_from) {
      if (Wavg.empty()) Wavg.assign(W.size(), 0.0f);
      const auto ws = static_cast<float>(wscale);
      for (std::size_t i = 0; i < W.size(); ++i) Wavg[i] += ws * W[i];
      for (std::size_t k = 0; k < K; ++k) bavg[k] += b[k];
      ++n_avg;
    }
  }
  {
    const float inv = 1.0f / static_cast<float>(n_avg);
    for (std::size_t i = 0; i < W.size(); ++i) W[i] = Wavg[i] * inv;
    for (std::size_t k = 0; k < K; ++k) b[k] = bavg[k] * inv;
    Wavg.clear();
    Wavg.shrink_to_fit();
  }

  // Prune: keep the rows with the largest (weight norm x feature mass) that fit the budget.
  hashed_linear m;
  m.s_ = s;
  m.n_labels_ = n_labels;
  m.default_idf_ = default_idf;
  m.bias_ = b;
  const std::size_t fixed = 256 + K * 4;
  const std::size_t per_row = 12 + K;
  const std::size_t keep = std::min(F, s.max_bytes > fixed ? (s.max_bytes - fixed) / per_row : 0);
  std::vector<std::uint32_t> ids(F);
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<double> importance(F);
  for (std::size_t f = 0; f < F; ++f) {
    double n2 = 0;
    for (std::size_t k = 0; k < K; ++k) n2 += static_cast<double>(W[f * K + k]) * W[f * K + k];
    importance[f] = std::sqrt(n2) * mass[f];
  }
  if (keep < F)
    std::nth_element(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(),
                     [&](std::uint32_t a, std::uint32_t c) { return importance[a] > importance[c]; });
  ids.resize(keep);
  std::sort(ids.begin(), ids.end(), [&](std::uint32_t a, std::uint32_t c) { return keys[a] < keys[c]; });
  m.keys_.reserve(keep);
  m.idf_.reserve(keep);
  m.scale_.reserve(keep);
  m.w_.resize(keep * K);
  for (std::size_t r = 0; r < keep; ++r) {
    const std::size_t f = ids[r];
    float mx = 0;
    for (std::size_t k = 0; k < K; ++k) mx = std::max(mx, std::fabs(W[f * K + k]));
    const float scale = mx > 0 ? mx / 127.0f : 1.0f;
    m.keys_.push_back(keys[f]);
    m.idf_.push_back(idf[f]);
    m.scale_.push_back(scale);
    for (std::size_t k = 0; k < K; ++k)
      m.w_[r * K + k] = static_cast<std::int8_t>(std::lround(std::clamp(W[f * K + k] / scale, -127.0f, 127.0f)));
  }
  m.build_index();
  return m;
}

void hashed_linear::build_index() {
  std::size_t size = 16;
  unsigned bits = 4;
  while (size < keys_.size() * 2) {
    size <<= 1;
    ++bits;
  }
  slots_.assign(size, 0);
  table_shift_ = 32 - bits;
  for (std::size_t r = 0; r < keys_.size(); ++r) {
    std::size_t slot = (keys_[r] * 2654435769u) >> table_shift_;
    while (slots_[slot] != 0) slot = (slot + 1) & (size - 1);
    slots_[slot] = keys_[r] | (static_cast<std::uint64_t>(r + 1) << 32);
  }
  // The packed rows: idf, scale, weights (zero-padded), from a 64-byte aligned base.
  const auto K = static_cast<std::size_t>(n_labels_);
  const std::size_t padded_k = (K + 15) / 16 * 16;
  row_stride_ = (8 + padded_k + 31) / 32 * 32;
  packed_.assign((keys_.size() * row_stride_ + 63) / 64, cache_line{});
  for (std::size_t r = 0; r < keys_.size(); ++r) {
    auto* row = const_cast<unsigned char*>(packed_row(r));
    std::memcpy(row, &idf_[r], 4);
    std::memcpy(row + 4, &scale_[r], 4);
    if (K) std::memcpy(row + 8, &w_[r * K], K);
  }
}

inline const unsigned char* hashed_linear::packed_row(std::size_t r) const {
  return reinterpret_cast<const unsigned char*>(packed_.data()) + r * row_stride_;
}

inline std::size_t hashed_linear::find(std::uint32_t key) const {
  if (slots_.empty()) return SIZE_MAX;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = (key * 2654435769u) >> table_shift_;; slot = (slot + 1) & mask) {
    const std::uint64_t e = slots_[slot];
    if (e == 0) return SIZE_MAX;
    if (static_cast<std::uint32_t>(e) == key) return static_cast<std::size_t>(e >> 32) - 1;
  }
}

namespace {

// out[k] += g * w[k] for k < K: one int8 weight row scaled into the class scores. The SSE2 path
// does per class exactly what the scalar loop does (an int8 -> float conversion, one float
// multiply, one float add; no fused multiply-add), so both give the same bits.
void add_row_scalar(float* out, const std::int8_t* w, float g, std::size_t K) {
  for (std::size_t k = 0; k < K; ++k) out[k] += g * static_cast<float>(w[k]);
}

#if defined(__SSE2__)
void add_row_sse2(float* out, const std::int8_t* w, float g, std::size_t K) {
  const __m128 gv = _mm_set1_ps(g);
  std::size_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k));
    // Sign-extend 16 int8 to 4 x 4 int32: unpack into the high byte, arithmetic shift down.
    const __m128i lo16 = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
    const __m128i hi16 = _mm_srai_epi16(_mm_unpackhi_epi8(b, b), 8);
    const __m128i q0 = _mm_srai_epi32(_mm_unpacklo_epi16(lo16, lo16), 16);
    const __m128i q1 = _mm_srai_epi32(_mm_unpackhi_epi16(lo16, lo16), 16);
    const __m128i q2 = _mm_srai_epi32(_mm_unpacklo_epi16(hi16, hi16), 16);
    const __m128i q3 = _mm_srai_epi32(_mm_unpackhi_epi16(hi16, hi16), 16);
    float* o = out + k;
    _mm_storeu_ps(o, _mm_add_ps(_mm_loadu_ps(o), _mm_mul_ps(gv, _mm_cvtepi32_ps(q0))));
    _mm_storeu_ps(o + 4, _mm_add_ps(_mm_loadu_ps(o + 4), _mm_mul_ps(gv, _mm_cvtepi32_ps(q1))));
    _mm_storeu_ps(o + 8, _mm_add_ps(_mm_loadu_ps(o + 8), _mm_mul_ps(gv, _mm_cvtepi32_ps(q2))));
    _mm_storeu_ps(o + 12, _mm_add_ps(_mm_loadu_ps(o + 12), _mm_mul_ps(gv, _mm_cvtepi32_ps(q3))));
  }
  for (; k + 4 <= K; k += 4) {
    std::int32_t four;
    std::memcpy(&four, w + k, 4);
    const __m128i b = _mm_cvtsi32_si128(four);
    const __m128i b16 = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
    const __m128i q = _mm_srai_epi32(_mm_unpacklo_epi16(b16, b16), 16);
    _mm_storeu_ps(out + k, _mm_add_ps(_mm_loadu_ps(out + k), _mm_mul_ps(gv, _mm_cvtepi32_ps(q))));
  }
  add_row_scalar(out + k, w + k, g, K - k);
}
#endif

// A known feature's packed row and its factor (value x the row's scale).
struct known_row {
  const unsigned char* row;
  float g;
};

#if defined(__GNUC__) && defined(__x86_64__)
#define CLOSELOOP_HLIN_AVX512 1
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* as a "maybe uninitialized"
// operand of the conversions); the intrinsics are fine.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// All rows of a text added with the class scores kept in up to eight 16-float registers (K <=
// 128) instead of loading and storing them for every row. Per class it is the scalar loop's
// arithmetic in the same order — int8 -> float, one multiply, one add, no fused multiply-add
// (AVX-512 has fused multiply-add: contraction is switched off for this function; the unit test
// and the bench compare the bits) — so the same bits. Rows are packed rows
// (packed_row: the weights at +8, zero-padded to a multiple of 16), so every load is whole.
template <int B>
__attribute__((target("avx512f,avx512bw,avx512vl"), optimize("fp-contract=off"))) void add_rows_avx512(float* out, const known_row* rows,
                                                                            std::size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char* w = rows[i].row + 8;
    if (i + 4 < n) {
      _mm_prefetch(reinterpret_cast<const char*>(rows[i + 4].row), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(rows[i + 4].row) + 64, _MM_HINT_T0);
    }
    const __m512 g = _mm512_set1_ps(rows[i].g);
// (A macro, not a lambda: a lambda would not inherit the function's target.)
#define CLOSELOOP_HLIN_STEP(a, b)                                                          \
  if constexpr (B > (b)) {                                                                \
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16 * (b)));   \
    a = _mm512_add_ps(a, _mm512_mul_ps(g, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(x)))); \
  }
    CLOSELOOP_HLIN_STEP(a0, 0)
    CLOSELOOP_HLIN_STEP(a1, 1)
    CLOSELOOP_HLIN_STEP(a2, 2)
    CLOSELOOP_HLIN_STEP(a3, 3)
    CLOSELOOP_HLIN_STEP(a4, 4)
    CLOSELOOP_HLIN_STEP(a5, 5)
    CLOSELOOP_HLIN_STEP(a6, 6)
    CLOSELOOP_HLIN_STEP(a7, 7)
#undef CLOSELOOP_HLIN_STEP
  }
  // out has room for B * 16 floats.
  if constexpr (B > 0) _mm512_storeu_ps(out, a0);
  if constexpr (B > 1) _mm512_storeu_ps(out + 16, a1);
  if constexpr (B > 2) _mm512_storeu_ps(out + 32, a2);
  if constexpr (B > 3) _mm512_storeu_ps(out + 48, a3);
  if constexpr (B > 4) _mm512_storeu_ps(out + 64, a4);
  if constexpr (B > 5) _mm512_storeu_ps(out + 80, a5);
  if constexpr (B > 6) _mm512_storeu_ps(out + 96, a6);
  if constexpr (B > 7) _mm512_storeu_ps(out + 112, a7);
}

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
}

// Adds the rows into out (size >= 16 * ceil(K / 16), zeroed); false when K is too large.
bool add_rows_wide(float* out, const known_row* rows, std::size_t n, std::size_t K) {
  if (!have_avx512()) return false;
  switch ((K + 15) / 16) {
    case 1: add_rows_avx512<1>(out, rows, n); return true;
    case 2: add_rows_avx512<2>(out, rows, n); return true;
    case 3: add_rows_avx512<3>(out, rows, n); return true;
    case 4: add_rows_avx512<4>(out, rows, n); return true;
    case 5: add_rows_avx512<5>(out, rows, n); return true;
    case 6: add_rows_avx512<6>(out, rows, n); return true;
    case 7: add_rows_avx512<7>(out, rows, n); return true;
    case 8: add_rows_avx512<8>(out, rows, n); return true;
    default: return false;
  }
}
#pragma GCC diagnostic pop
#endif

// std::log1p of a feature's count. Counts are small whole numbers, so the first ones come from a
// table filled by the same library call at run time. (Filled from constants the compiler would
// fold the calls with correctly rounded values, which are not always glibc's: the index goes
// through an empty asm so that each entry is the library's own answer.)
float log1p_count(float c) {
  static const auto table = [] {
    std::array<float, 32> t{};
    for (std::size_t i = 0; i < t.size(); ++i) {
      std::size_t opaque = i;
#if defined(__GNUC__)
      asm volatile("" : "+r"(opaque));
#endif
      t[i] = std::log1p(static_cast<float>(opaque));
    }
    return t;
  }();
  const auto i = static_cast<std::size_t>(c);
  return c >= 0 && c < 32 && static_cast<float>(i) == c ? table[i] : std::log1p(c);
}

}  // namespace

void hashed_linear::scores(std::string_view normalized, std::vector<float>& out, scoring how) const {
  const auto K = static_cast<std::size_t>(n_labels_);
  out.assign(K, 0.0f);
  if (normalized.empty() || K == 0) return;
  thread_local std::vector<std::pair<std::uint32_t, float>> f;
  hashed_features(normalized, s_, f);
  thread_local std::vector<std::size_t> rows;
  rows.resize(f.size());
#if defined(__SSE2__)
  if (how == scoring::fast) {
    // Rows first (their slots and packed rows fetched ahead: the model is ~1 MB and each text
    // touches ~100 scattered rows), then the norm in feature order as the reference does, then
    // the known rows' sums in feature order.
    thread_local std::vector<known_row> known;
    known.clear();
    if (!slots_.empty())
      for (const auto& [h, c] : f)
        _mm_prefetch(reinterpret_cast<const char*>(&slots_[(h * 2654435769u) >> table_shift_]), _MM_HINT_T0);
    for (std::size_t i = 0; i < f.size(); ++i) {
      rows[i] = find(f[i].first);
      if (rows[i] != SIZE_MAX && i >= 8) {
        // The first rows are read right away; later ones are prefetched by the sum loop too.
        const char* p = reinterpret_cast<const char*>(packed_row(rows[i]));
        _mm_prefetch(p, _MM_HINT_T0);
        if (row_stride_ > 64) _mm_prefetch(p + 64, _MM_HINT_T0);
      }
    }
    double norm = 0;
    for (std::size_t i = 0; i < f.size(); ++i) {
      const std::size_t r = rows[i];
      const unsigned char* row = r != SIZE_MAX ? packed_row(r) : nullptr;
      float idf = default_idf_, scale = 0;
      if (row) {
        std::memcpy(&idf, row, 4);
        std::memcpy(&scale, row + 4, 4);
      }
      const float v = log1p_count(f[i].second) * idf;
      norm += static_cast<double>(v) * v;
      if (row) known.push_back({row, v * scale});
    }
    const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
#if defined(CLOSELOOP_HLIN_AVX512)
    thread_local std::vector<float> wide;
    wide.assign((K + 15) / 16 * 16, 0.0f);
    if (add_rows_wide(wide.data(), known.data(), known.size(), K)) {
      for (std::size_t k = 0; k < K; ++k) out[k] = wide[k] * inv + bias_[k];
      return;
    }
#endif
    for (const auto& [row, g] : known) add_row_sse2(out.data(), reinterpret_cast<const std::int8_t*>(row + 8), g, K);
    for (std::size_t k = 0; k < K; ++k) out[k] = out[k] * inv + bias_[k];
    return;
  }
#endif
  // The reference: the straightforward scalar loop over the model's own arrays.
  double norm = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const float c = f[i].second;
    const std::size_t found = find(f[i].first);
    const bool known = found != SIZE_MAX;
    const std::size_t r = known ? found : 0;
    const float v = std::log1p(c) * (known ? idf_[r] : default_idf_);
    norm += static_cast<double>(v) * v;
    if (!known) continue;
    add_row_scalar(out.data(), &w_[r * K], v * scale_[r], K);
  }
  const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  for (std::size_t k = 0; k < K; ++k) out[k] = out[k] * inv + bias_[k];
}

void hashed_linear::probabilities(std::string_view normalized, float temperature, std::vector<float>& out,
                                  scoring how) const {
  scores(normalized, out, how);
  softmax(out, 1.0f / std::max(1e-3f, temperature));
}

std::string hashed_linear::to_bytes() const {
  std::string out(blob_magic);
  put(out, static_cast<std::int32_t>(s_.epochs));
  put(out, s_.lr);
  put(out, s_.lambda);
  put(out, static_cast<std::int32_t>(s_.minn));
  put(out, static_cast<std::int32_t>(s_.maxn));
  put(out, static_cast<std::int32_t>(s_.word_bigrams ? 1 : 0));
  put(out, static_cast<std::uint32_t>(s_.seed));
  put(out, static_cast<std::int32_t>(n_labels_));
  put(out, static_cast<std::uint64_t>(keys_.size()));
  put(out, default_idf_);
  put_vec(out, bias_);
  put_vec(out, keys_);
  put_vec(out, idf_);
  put_vec(out, scale_);
  put_vec(out, w_);
  return out;
}

result<hashed_linear> hashed_linear::from_bytes(std::string_view bytes) {
  auto bad = [](const char* what) {
    return make_error(errc::invalid_argument, std::string("hashed linear model: ") + what);
  };
  if (bytes.substr(0, blob_magic.size()) != blob_magic) return bad("wrong magic or version");
  reader r{bytes.substr(blob_magic.size())};
  hashed_linear m;
  m.s_.epochs = r.get<std::int32_t>();
  m.s_.lr = r.get<double>();
  m.s_.lambda = r.get<double>();
  m.s_.minn = r.get<std::int32_t>();
  m.s_.maxn = r.get<std::int32_t>();
  m.s_.word_bigrams = r.get<std::int32_t>() != 0;
  m.s_.seed = r.get<std::uint32_t>();
  m.n_labels_ = r.get<std::int32_t>();
  const auto n = r.get<std::uint64_t>();
  m.default_idf_ = r.get<float>();
  if (!r.ok || m.n_labels_ < 2 || m.n_labels_ > 100000 || m.s_.minn < 0 || m.s_.maxn > 16) return bad("bad header");
  const auto K = static_cast<std::size_t>(m.n_labels_);
  r.get_vec(m.bias_, K);
  if (!r.ok || n > r.b.size()) return bad("truncated");
  r.get_vec(m.keys_, n);
  r.get_vec(m.idf_, n);
  r.get_vec(m.scale_, n);
  if (!r.ok || (n && r.b.size() / n < K)) return bad("truncated");
  r.get_vec(m.w_, n * K);
  if (!r.ok) return bad("truncated");
  if (!r.b.empty()) return bad("trailing bytes");
  if (!std::is_sorted(m.keys_.begin(), m.keys_.end())) return bad("keys not sorted");
  m.build_index();
  return m;
}

}  // namespace closeloop
