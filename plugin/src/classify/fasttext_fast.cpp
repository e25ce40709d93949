// fastText prediction for the category model's members without fastText's per-call overhead;
// see category_model_impl.hpp (fasttext_fast). Same arithmetic as fastText 0.9.2's supervised
// softmax prediction (FastText::predict -> Model::computeHidden -> SoftmaxLoss::computeOutput ->
// Loss::findKBest), in the same order per value, so the probabilities are the same bits:
//   - the words of a line: Dictionary::getLine's rules (each token's id and subword ids or, out of
//     vocabulary, its hashed character n-grams; then the word n-grams), from the already split
//     normalised text instead of re-reading it through an istream;
//   - the input rows decoded once at load (a quantised row is norm * centroid per value, which
//     is what fastText adds each time), summed in the line's order and scaled by 1 / n;
//   - the output matrix transposed so each label's dot product runs over the dimensions in
//     order, four labels at a time (SSE2: one multiply and one add per value, no fused
//     multiply-add);
//   - softmax with the same max, exp, sum and division; log(p + 1e-5) as fastText reports it.
// tests/unit/test_category_model.cpp and the pipeline benchmark compare it with fastText's own
// predict on every text they see.
#include "category_model_impl.hpp"

#include <atomic>
#include <cmath>
#include <functional>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace closeloop::category_detail {
namespace {

// Dictionary::pruneidx_size_ and pruneidx_ are protected; a pointer to member formed
// through a derived class reaches them on any Dictionary without copying it.
struct dictionary_access : fasttext::Dictionary {
  using fasttext::Dictionary::Dictionary;
  static constexpr auto pruned_size = &dictionary_access::pruneidx_size_;
  static constexpr auto pruned_index = &dictionary_access::pruneidx_;
};

std::atomic<std::uint64_t> next_generation{1};

constexpr std::size_t max_decoded_rows = 400000;  // ~80 MB at dim 50; beyond: fastText's own path

bool is_fasttext_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}

}  // namespace

std::shared_ptr<const fasttext_fast> prepare_fasttext_fast(fasttext::FastText& ft) {
  const fasttext::Args args = ft.getArgs();
  if (args.model != fasttext::model_name::sup || args.loss != fasttext::loss_name::softmax) return nullptr;
  if (ft.isQuant() && args.qout) return nullptr;
  auto f = std::make_shared<fasttext_fast>();
  f->generation = next_generation++;
  f->dict = ft.getDictionary();
  f->dim = args.dim;
  f->nlabels = f->dict->nlabels();
  f->word_ngrams = args.wordNgrams;
  f->maxn = args.maxn;
  f->bucket = args.bucket;
  f->nwords = f->dict->nwords();
  f->pruned = (*f->dict).*dictionary_access::pruned_size;
  if (f->pruned > 0) {
    const auto& index = (*f->dict).*dictionary_access::pruned_index;
    std::size_t size = 16;
    unsigned bits = 4;
    while (size < index.size() * 2) {
      size <<= 1;
      ++bits;
    }
    f->prune_shift = 32 - bits;
    f->prune_table.assign(size, {-1, 0});
    for (const auto& [from, to] : index) {
      if (from < 0) return nullptr;  // fastText never stores one; the table's empty mark
      std::size_t slot = (static_cast<std::uint32_t>(from) * 2654435769u) >> f->prune_shift;
      while (f->prune_table[slot].first != -1) slot = (slot + 1) & (size - 1);
      f->prune_table[slot] = {from, to};
    }
  }
  if (f->dim <= 0 || f->nlabels <= 0) return nullptr;
  const auto dim = static_cast<std::size_t>(f->dim);
  const auto nl = static_cast<std::size_t>(f->nlabels);
  try {
    if (ft.isQuant()) {
      const std::int64_t pruned = (*f->dict).*dictionary_access::pruned_size;
      const std::int64_t rows = f->dict->nwords() + (pruned >= 0 ? pruned : args.bucket);
      if (rows <= 0 || static_cast<std::size_t>(rows) > max_decoded_rows) return nullptr;
      f->nrows = static_cast<std::size_t>(rows);
      f->decoded.resize(f->nrows * dim);
      fasttext::Vector v(f->dim);
      for (std::size_t r = 0; r < f->nrows; ++r) {
        ft.getInputVector(v, static_cast<std::int32_t>(r));
        std::memcpy(&f->decoded[r * dim], v.data(), dim * sizeof(float));
      }
      f->input = f->decoded.data();
    } else {
      f->input_matrix = ft.getInputMatrix();
      f->nrows = static_cast<std::size_t>(f->input_matrix->size(0));
      if (static_cast<std::size_t>(f->input_matrix->size(1)) != dim) return nullptr;
      f->input = f->input_matrix->data();
    }
    auto out = ft.getOutputMatrix();
    if (!out || static_cast<std::size_t>(out->size(0)) != nl || static_cast<std::size_t>(out->size(1)) != dim)
      return nullptr;
    f->output_t.resize(dim * nl);
    for (std::size_t i = 0; i < nl; ++i)
      for (std::size_t j = 0; j < dim; ++j) f->output_t[j * nl + i] = out->data()[i * dim + j];
  } catch (const std::exception&) {
    return nullptr;  // anything fastText refuses to export: its own path stays
  }
  return f;
}

namespace {

// What one token contributes to a line: its hash (for the word n-grams), whether it counts as a
// word, and its ids (the word and its subwords, or its hashed character n-grams). It depends on
// the token and the dictionary only, so each thread keeps the answers per model (by generation;
// bounded, cleared when full).
struct token_ids {
  std::uint32_t hash = 0;
  bool word = false;
  std::vector<std::int32_t> ids;
};
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using token_cache = std::unordered_map<std::string, token_ids, string_hash, std::equal_to<>>;
constexpr std::size_t max_cached_tokens = 50000;
constexpr std::size_t max_cached_models = 8;

}  // namespace

void fasttext_fast::words(std::string_view normalized, std::vector<std::int32_t>& line) const {
  thread_local std::unordered_map<std::uint64_t, token_cache> caches;
  thread_local std::vector<std::int32_t> hashes;
  if (caches.size() > max_cached_models && !caches.count(generation)) caches.clear();
  token_cache& cache = caches[generation];
  if (cache.size() > max_cached_tokens) cache.clear();
  line.clear();
  hashes.clear();
  const fasttext::Dictionary& d = *dict;
  const std::string& eos = fasttext::Dictionary::EOS;
  // Dictionary::getLine's rules for one token (addSubwords, and the hash kept for word n-grams).
  auto compute = [&](const std::string& token) {
    token_ids t;
    t.hash = d.hash(token);
    const std::int32_t wid = d.getId(token, t.hash);
    const fasttext::entry_type type = wid < 0 ? d.getType(token) : d.getType(wid);
    if (type != fasttext::entry_type::word) return t;
    t.word = true;
    if (wid < 0) {
      if (token != eos) d.computeSubwords(fasttext::Dictionary::BOW + token + fasttext::Dictionary::EOW, t.ids);
    } else if (maxn <= 0) {
      t.ids.push_back(wid);
    } else {
      const auto& sub = d.getSubwords(wid);
      t.ids.assign(sub.begin(), sub.end());
    }
    return t;
  };
  auto add = [&](std::string_view token) {
    auto it = cache.find(token);
    if (it == cache.end()) {
      std::string key(token);
      token_ids t = compute(key);
      it = cache.emplace(std::move(key), std::move(t)).first;
    }
    const token_ids& t = it->second;
    if (!t.word) return;
    line.insert(line.end(), t.ids.begin(), t.ids.end());
    hashes.push_back(static_cast<std::int32_t>(t.hash));
  };
  // The reference reads `normalized + "\n"`: its tokens, then the end-of-sentence token.
  // A newline is the end-of-sentence token itself (Dictionary::readWord), and getLine stops there
  // (normalised text has none; kept for fidelity).
  bool ended = false;
  for (std::size_t i = 0; i < normalized.size() && !ended;) {
    while (i < normalized.size() && is_fasttext_space(normalized[i]) && normalized[i] != '\n') ++i;
    if (i < normalized.size() && normalized[i] == '\n') break;
    std::size_t j = i;
    while (j < normalized.size() && !is_fasttext_space(normalized[j])) ++j;
    if (j > i) {
      const std::string_view token = normalized.substr(i, j - i);
      add(token);
      ended = token == eos;  // getLine stops at the end-of-sentence token
    }
    i = j;
  }
  if (!ended) add(eos);
  add_word_ngrams(line, hashes);
}

// Dictionary::addWordNgrams and pushHash (fastText 0.9.2) with the same integer arithmetic: the
// hash starts from the int32 sign-extended to 64 bits, each next word's hash is added the same
// way, the id is the hash modulo the bucket count; a pruned model keeps only the ids in its
// index (mapped), an unpruned one all of them, after the words.
void fasttext_fast::add_word_ngrams(std::vector<std::int32_t>& line, const std::vector<std::int32_t>& hashes) const {
  if (bucket <= 0) return;  // fastText would divide by zero; such a model has no word n-grams
  const std::size_t n = hashes.size();
  const auto wn = static_cast<std::size_t>(std::max(word_ngrams, 0));
  const std::size_t mask = prune_table.size() - 1;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t h = static_cast<std::uint64_t>(static_cast<std::int64_t>(hashes[i]));
    for (std::size_t j = i + 1; j < n && j < i + wn; ++j) {
      h = h * 116049371 + static_cast<std::uint64_t>(static_cast<std::int64_t>(hashes[j]));
      auto id = static_cast<std::int32_t>(h % static_cast<std::uint64_t>(bucket));
      if (pruned == 0 || id < 0) continue;
      if (pruned > 0) {
        std::size_t slot = (static_cast<std::uint32_t>(id) * 2654435769u) >> prune_shift;
        for (;; slot = (slot + 1) & mask) {
          const auto& e = prune_table[slot];
          if (e.first == id || e.first == -1) break;
        }
        if (prune_table[slot].first == -1) continue;
        id = prune_table[slot].second;
      }
      line.push_back(nwords + id);
    }
  }
}

bool fasttext_fast::log_probabilities(std::string_view normalized, std::vector<float>& out) const {
  if (!softmax(normalized, out)) return false;
  for (float& o : out) o = log_prob(o);
  return true;
}

namespace {

#if defined(__GNUC__) && defined(__x86_64__)
#define CLOSELOOP_FT_AVX512 1
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* operands); they are fine.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

// The hidden vector and the label scores with AVX-512 for dim <= 64 and nl <= 128: the hidden
// sum kept in four 16-float registers over the line's rows, then every label's dot product with
// the scores in registers, the dimensions in order. Per value the same operations in the same
// order as the SSE2 / scalar loops (one add per row value; one multiply and one add per output
// value; contraction into fused multiply-add switched off), so the same bits.
#define CLOSELOOP_FT_TARGET __attribute__((target("avx512f"), optimize("fp-contract=off")))
template <int B>
CLOSELOOP_FT_TARGET void scores_avx512(const float* input, const std::int32_t* line, std::size_t n, std::size_t dim,
                                       const float* output_t, std::size_t nl, float* hidden, float* o) {
  const __mmask16 all = 0xFFFF;
  auto tail_mask = [](std::size_t rest) -> __mmask16 {
    return rest >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << rest) - 1);
  };
  const __mmask16 m0 = dim > 0 ? tail_mask(dim) : 0, m1 = dim > 16 ? tail_mask(dim - 16) : 0,
                  m2 = dim > 32 ? tail_mask(dim - 32) : 0, m3 = dim > 48 ? tail_mask(dim - 48) : 0;
  __m512 h0 = _mm512_setzero_ps(), h1 = h0, h2 = h0, h3 = h0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = input + static_cast<std::size_t>(line[i]) * dim;
    h0 = _mm512_add_ps(h0, _mm512_maskz_loadu_ps(m0, row));
    if (m1) h1 = _mm512_add_ps(h1, _mm512_maskz_loadu_ps(m1, row + 16));
    if (m2) h2 = _mm512_add_ps(h2, _mm512_maskz_loadu_ps(m2, row + 32));
    if (m3) h3 = _mm512_add_ps(h3, _mm512_maskz_loadu_ps(m3, row + 48));
  }
  const __m512 sc = _mm512_set1_ps(static_cast<float>(1.0 / static_cast<double>(n)));
  _mm512_mask_storeu_ps(hidden, m0, _mm512_mul_ps(h0, sc));
  if (m1) _mm512_mask_storeu_ps(hidden + 16, m1, _mm512_mul_ps(h1, sc));
  if (m2) _mm512_mask_storeu_ps(hidden + 32, m2, _mm512_mul_ps(h2, sc));
  if (m3) _mm512_mask_storeu_ps(hidden + 48, m3, _mm512_mul_ps(h3, sc));
  const __mmask16 lt = tail_mask(nl - 16 * (B - 1));  // the last block of labels
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (std::size_t j = 0; j < dim; ++j) {
    const float* r = output_t + j * nl;
    const __m512 hv = _mm512_set1_ps(hidden[j]);
#define CLOSELOOP_FT_STEP(a, b) \
  if constexpr (B > (b)) a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_maskz_loadu_ps((b) == B - 1 ? lt : all, r + 16 * (b)), hv));
    CLOSELOOP_FT_STEP(a0, 0)
    CLOSELOOP_FT_STEP(a1, 1)
    CLOSELOOP_FT_STEP(a2, 2)
    CLOSELOOP_FT_STEP(a3, 3)
    CLOSELOOP_FT_STEP(a4, 4)
    CLOSELOOP_FT_STEP(a5, 5)
    CLOSELOOP_FT_STEP(a6, 6)
    CLOSELOOP_FT_STEP(a7, 7)
#undef CLOSELOOP_FT_STEP
  }
#define CLOSELOOP_FT_STORE(a, b) \
  if constexpr (B > (b)) _mm512_mask_storeu_ps(o + 16 * (b), (b) == B - 1 ? lt : all, a);
  CLOSELOOP_FT_STORE(a0, 0)
  CLOSELOOP_FT_STORE(a1, 1)
  CLOSELOOP_FT_STORE(a2, 2)
  CLOSELOOP_FT_STORE(a3, 3)
  CLOSELOOP_FT_STORE(a4, 4)
  CLOSELOOP_FT_STORE(a5, 5)
  CLOSELOOP_FT_STORE(a6, 6)
  CLOSELOOP_FT_STORE(a7, 7)
#undef CLOSELOOP_FT_STORE
}
#undef CLOSELOOP_FT_TARGET

// False when the sizes are outside what scores_avx512 handles (or the CPU lacks AVX-512).
bool scores_wide(const float* input, const std::int32_t* line, std::size_t n, std::size_t dim, const float* output_t,
                 std::size_t nl, float* hidden, float* o) {
  if (!have_avx512() || dim == 0 || dim > 64 || nl == 0 || n == 0) return false;
  switch ((nl + 15) / 16) {
    case 1: scores_avx512<1>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 2: scores_avx512<2>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 3: scores_avx512<3>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 4: scores_avx512<4>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 5: scores_avx512<5>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 6: scores_avx512<6>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 7: scores_avx512<7>(input, line, n, dim, output_t, nl, hidden, o); return true;
    case 8: scores_avx512<8>(input, line, n, dim, output_t, nl, hidden, o); return true;
    default: return false;
  }
}
#pragma GCC diagnostic pop
#endif

}  // namespace

bool fasttext_fast::softmax(std::string_view normalized, std::vector<float>& out) const {
  thread_local std::vector<std::int32_t> line;
  thread_local std::vector<float> hidden;
  words(normalized, line);
  if (line.empty()) return false;
  const auto dim = static_cast<std::size_t>(this->dim);
  const auto nl = static_cast<std::size_t>(nlabels);
  for (const std::int32_t id : line)
    if (id < 0 || static_cast<std::size_t>(id) >= nrows) return false;
  hidden.assign(dim, 0.0f);
  out.assign(nl, 0.0f);
  float* o = out.data();
#if defined(CLOSELOOP_FT_AVX512)
  const bool wide = scores_wide(input, line.data(), line.size(), dim, output_t.data(), nl, hidden.data(), o);
#else
  const bool wide = false;
#endif
  if (!wide) {
    for (const std::int32_t id : line) {
      const float* row = input + static_cast<std::size_t>(id) * dim;
      float* hd = hidden.data();
      std::size_t j = 0;
#if defined(__SSE2__)
      for (; j + 4 <= dim; j += 4) _mm_storeu_ps(hd + j, _mm_add_ps(_mm_loadu_ps(hd + j), _mm_loadu_ps(row + j)));
#endif
      for (; j < dim; ++j) hd[j] += row[j];
    }
    const float scale = static_cast<float>(1.0 / static_cast<double>(line.size()));
    for (std::size_t j = 0; j < dim; ++j) hidden[j] *= scale;
    std::size_t i0 = 0;
#if defined(__SSE2__)
    for (; i0 + 4 <= nl; i0 += 4) {
      __m128 acc = _mm_setzero_ps();
      for (std::size_t j = 0; j < dim; ++j)
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(&output_t[j * nl + i0]), _mm_set1_ps(hidden[j])));
      _mm_storeu_ps(o + i0, acc);
    }
#endif
    for (std::size_t i = i0; i < nl; ++i) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < dim; ++j) acc += output_t[j * nl + i] * hidden[j];
      o[i] = acc;
    }
  }
  float mx = o[0], z = 0.0f;
  for (std::size_t i = 0; i < nl; ++i) mx = std::max(o[i], mx);
  for (std::size_t i = 0; i < nl; ++i) {
    o[i] = static_cast<float>(::exp(static_cast<double>(o[i] - mx)));
    z += o[i];
  }
  for (std::size_t i = 0; i < nl; ++i) o[i] /= z;
  return true;
}

}  // namespace closeloop::category_detail

namespace closeloop {

std::vector<float> category_model::probabilities_reference(std::string_view text) const {
  return impl_->probabilities_normalized(impl_->featurize(text), true);
}

std::size_t category_model::fast_path_members() const {
  std::size_t n = 0;
  for (const auto& m : impl_->members) n += m.fast ? 1 : 0;
  return n;
}

}  // namespace closeloop
