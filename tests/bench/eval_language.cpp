// closeloop_bench_eval_language: issue 4's language goals on more text than the unit tests hold.
//
//   closeloop_bench_eval_language --datasets DIR [--max-rows N]
//
// - Sentences in ten common languages: support-desk sentences written for this program (ten per
//   language: en fr de es it pt ru ja ko nl), plus real short English queries (banking77 train,
//   CLINC150 val in scope). Goal >= 97 %.
// - Two Chinese characters: the first two Han characters of each review of waimai_10k and
//   online_shopping_10_cats (distinct pairs). Right when the answer is Chinese (zh-Hans or
//   zh-Hant: most pairs use characters both standards share). Goal >= 90 %.
// - Simplified vs Traditional: ChnSentiCorp dev and waimai_10k sentences (Simplified; a text that
//   OpenCC's t2s changes has a Traditional character — mostly Simplified with a stray one, read by
//   hand — and only its answers are counted), each also converted by OpenCC's s2tw (Taiwan
//   standard). A text the conversion leaves unchanged has no character of either
//   standard alone and is counted apart (either answer is right). Goal >= 98 %. Note: the
//   identifier reads the variant from OpenCC's own tables, so the converted half measures the
//   identifier on text written in that standard, not OpenCC's conversion.
// The Chinese sets are test fixtures (../shared/datasets/README.md): measured here, never shipped.
#include <opencc/opencc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "closeloop/dataset.hpp"
#include "closeloop/language.hpp"

namespace {

using closeloop::identify_language;

struct sample {
  std::string text, tag;
};

// Written for this program: what customers write to a helpdesk.
const std::vector<sample>& written_sentences() {
  static const std::vector<sample> s = {
      {"The app crashes every time I open the settings page.", "en"},
      {"Could you please cancel my subscription before the next billing date?", "en"},
      {"I never received the confirmation email for my order.", "en"},
      {"The printer in our office stopped working after the update.", "en"},
      {"Why was my refund request rejected without any explanation?", "en"},
      {"Our whole team is locked out of the dashboard since this morning.", "en"},
      {"Please change the delivery address to my new apartment.", "en"},
      {"The invoice lists three licences but we only bought two.", "en"},
      {"Thanks for the quick fix, everything works again.", "en"},
      {"How long does it take until the money is back on my card?", "en"},
      {"L'application plante chaque fois que j'ouvre la page des paramètres.", "fr"},
      {"Pourriez-vous annuler mon abonnement avant la prochaine date de facturation ?", "fr"},
      {"Je n'ai jamais reçu l'e-mail de confirmation de ma commande.", "fr"},
      {"L'imprimante de notre bureau ne fonctionne plus depuis la mise à jour.", "fr"},
      {"Pourquoi ma demande de remboursement a-t-elle été refusée sans explication ?", "fr"},
      {"Toute notre équipe est bloquée hors du tableau de bord depuis ce matin.", "fr"},
      {"Merci de changer l'adresse de livraison pour mon nouvel appartement.", "fr"},
      {"La facture mentionne trois licences alors que nous n'en avons acheté que deux.", "fr"},
      {"Merci pour la correction rapide, tout fonctionne de nouveau.", "fr"},
      {"Combien de temps faut-il pour que l'argent revienne sur ma carte ?", "fr"},
      {"Die App stürzt jedes Mal ab, wenn ich die Einstellungen öffne.", "de"},
      {"Könnten Sie bitte mein Abonnement vor dem nächsten Abrechnungsdatum kündigen?", "de"},
      {"Ich habe die Bestätigungsmail für meine Bestellung nie erhalten.", "de"},
      {"Der Drucker in unserem Büro funktioniert seit dem Update nicht mehr.", "de"},
      {"Warum wurde mein Antrag auf Rückerstattung ohne Begründung abgelehnt?", "de"},
      {"Unser ganzes Team ist seit heute Morgen aus dem Dashboard ausgesperrt.", "de"},
      {"Bitte ändern Sie die Lieferadresse auf meine neue Wohnung.", "de"},
      {"Auf der Rechnung stehen drei Lizenzen, wir haben aber nur zwei gekauft.", "de"},
      {"Danke für die schnelle Lösung, jetzt funktioniert wieder alles.", "de"},
      {"Wie lange dauert es, bis das Geld wieder auf meiner Karte ist?", "de"},
      {"La aplicación se cierra cada vez que abro la página de configuración.", "es"},
      {"¿Podrían cancelar mi suscripción antes de la próxima fecha de facturación?", "es"},
      {"Nunca recibí el correo de confirmación de mi pedido.", "es"},
      {"La impresora de nuestra oficina dejó de funcionar después de la actualización.", "es"},
      {"¿Por qué rechazaron mi solicitud de reembolso sin ninguna explicación?", "es"},
      {"Todo nuestro equipo no puede entrar al panel desde esta mañana.", "es"},
      {"Por favor, cambien la dirección de entrega a mi nuevo piso.", "es"},
      {"La factura muestra tres licencias, pero solo compramos dos.", "es"},
      {"Gracias por la solución rápida, todo vuelve a funcionar.", "es"},
      {"¿Cuánto tiempo tarda en volver el dinero a mi tarjeta?", "es"},
      {"L'app si chiude ogni volta che apro la pagina delle impostazioni.", "it"},
      {"Potreste annullare il mio abbonamento prima della prossima data di fatturazione?", "it"},
      {"Non ho mai ricevuto l'email di conferma del mio ordine.", "it"},
      {"La stampante del nostro ufficio non funziona più dopo l'aggiornamento.", "it"},
      {"Perché la mia richiesta di rimborso è stata respinta senza spiegazioni?", "it"},
      {"Tutto il nostro team è bloccato fuori dalla dashboard da stamattina.", "it"},
      {"Per favore cambiate l'indirizzo di consegna con quello del mio nuovo appartamento.", "it"},
      {"In fattura ci sono tre licenze, ma ne abbiamo comprate solo due.", "it"},
      {"Grazie per la soluzione veloce, adesso funziona di nuovo tutto.", "it"},
      {"Quanto tempo ci vuole perché i soldi tornino sulla mia carta?", "it"},
      {"O aplicativo fecha sozinho toda vez que abro a página de configurações.", "pt"},
      {"Vocês podem cancelar minha assinatura antes da próxima data de cobrança?", "pt"},
      {"Nunca recebi o e-mail de confirmação do meu pedido.", "pt"},
      {"A impressora do nosso escritório parou de funcionar depois da atualização.", "pt"},
      {"Por que meu pedido de reembolso foi recusado sem nenhuma explicação?", "pt"},
      {"Toda a nossa equipe está sem acesso ao painel desde hoje de manhã.", "pt"},
      {"Por favor, alterem o endereço de entrega para o meu novo apartamento.", "pt"},
      {"A fatura mostra três licenças, mas só compramos duas.", "pt"},
      {"Obrigado pela correção rápida, tudo voltou a funcionar.", "pt"},
      {"Quanto tempo leva para o dinheiro voltar para o meu cartão?", "pt"},
      {"Приложение вылетает каждый раз, когда я открываю страницу настроек.", "ru"},
      {"Не могли бы вы отменить мою подписку до следующей даты списания?", "ru"},
      {"Я так и не получил письмо с подтверждением заказа.", "ru"},
      {"Принтер в нашем офисе перестал работать после обновления.", "ru"},
      {"Почему мою заявку на возврат денег отклонили без объяснения причин?", "ru"},
      {"С сегодняшнего утра вся наша команда не может войти в панель управления.", "ru"},
      {"Пожалуйста, измените адрес доставки на мою новую квартиру.", "ru"},
      {"В счёте указаны три лицензии, а мы купили только две.", "ru"},
      {"Спасибо за быстрое исправление, всё снова работает.", "ru"},
      {"Сколько времени нужно, чтобы деньги вернулись на мою карту?", "ru"},
      {"設定画面を開くたびにアプリが落ちてしまいます。", "ja"},
      {"次回の請求日までにサブスクリプションを解約していただけますか。", "ja"},
      {"注文の確認メールがまだ届いていません。", "ja"},
      {"アップデートの後、事務所のプリンターが動かなくなりました。", "ja"},
      {"返金の申請が理由もなく却下されたのはなぜですか。", "ja"},
      {"今朝からチーム全員がダッシュボードに入れません。", "ja"},
      {"お届け先の住所を新しいマンションに変更してください。", "ja"},
      {"請求書にはライセンスが三つ載っていますが、購入したのは二つだけです。", "ja"},
      {"すぐに直していただきありがとうございます。すべて元どおりに動いています。", "ja"},
      {"カードに返金されるまでどのくらいかかりますか。", "ja"},
      {"설정 페이지를 열 때마다 앱이 종료됩니다.", "ko"},
      {"다음 결제일 전에 구독을 해지해 주실 수 있나요?", "ko"},
      {"주문 확인 이메일을 아직 받지 못했습니다.", "ko"},
      {"업데이트 이후 사무실 프린터가 작동하지 않습니다.", "ko"},
      {"환불 요청이 아무 설명 없이 거절된 이유가 무엇인가요?", "ko"},
      {"오늘 아침부터 팀 전체가 대시보드에 접속할 수 없습니다.", "ko"},
      {"배송 주소를 새 아파트로 변경해 주세요.", "ko"},
      {"청구서에는 라이선스가 세 개로 되어 있는데 저희는 두 개만 구매했습니다.", "ko"},
      {"빠르게 해결해 주셔서 감사합니다. 이제 모두 잘 작동합니다.", "ko"},
      {"카드로 환불되기까지 얼마나 걸리나요?", "ko"},
      {"De app loopt vast telkens als ik de pagina met instellingen open.", "nl"},
      {"Kunt u mijn abonnement opzeggen voor de volgende factuurdatum?", "nl"},
      {"Ik heb de bevestigingsmail van mijn bestelling nooit ontvangen.", "nl"},
      {"De printer op ons kantoor werkt niet meer sinds de update.", "nl"},
      {"Waarom is mijn verzoek om terugbetaling zonder uitleg afgewezen?", "nl"},
      {"Ons hele team kan sinds vanochtend niet meer in het dashboard.", "nl"},
      {"Wilt u het bezorgadres wijzigen naar mijn nieuwe appartement?", "nl"},
      {"Op de factuur staan drie licenties, maar we hebben er maar twee gekocht.", "nl"},
      {"Bedankt voor de snelle oplossing, alles werkt weer.", "nl"},
      {"Hoe lang duurt het voordat het geld weer op mijn kaart staat?", "nl"},
  };
  return s;
}

std::vector<std::string> texts_of(const std::string& path, std::size_t max_rows) {
  closeloop::dataset_options o;
  o.max_rows = max_rows;
  auto d = closeloop::read_dataset(path, o);
  if (!d) {
    std::cerr << "closeloop_bench_eval_language: " << path << ": " << d.err().message << "\n";
    std::exit(1);
  }
  std::vector<std::string> out;
  for (auto& r : d->rows) out.push_back(std::move(r.text));
  return out;
}

// ChnSentiCorp's TSV has no header: text<TAB>label.
std::vector<std::string> chnsenticorp(const std::string& path, std::size_t max_rows) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "closeloop_bench_eval_language: cannot read " << path << "\n";
    std::exit(1);
  }
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line) && out.size() < max_rows;) {
    const auto tab = line.rfind('\t');
    if (tab != std::string::npos && tab > 0) out.push_back(line.substr(0, tab));
  }
  return out;
}

// UTF-8 code points of `s` with whether each is a Han ideograph (CJK Unified, Ext. A, compat).
bool han(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

// The first two adjacent Han characters of `s`, or "".
std::string first_han_pair(const std::string& s) {
  std::size_t i = 0, run_start = 0;
  int run = 0;
  while (i < s.size()) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    const std::size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (i + len > s.size()) break;
    char32_t c = 0;
    if (len == 3) c = ((b & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    if (len == 3 && han(c)) {
      if (run == 0) run_start = i;
      if (++run == 2) return s.substr(run_start, i + len - run_start);
    } else {
      run = 0;
    }
    i += len;
  }
  return "";
}

struct converter {
  opencc_t h;
  explicit converter(const char* config) : h(opencc_open(config)) {
    if (h == reinterpret_cast<opencc_t>(-1)) {
      std::cerr << "closeloop_bench_eval_language: OpenCC cannot open " << config << ": " << opencc_error() << "\n";
      std::exit(1);
    }
  }
  ~converter() { opencc_close(h); }
  std::string operator()(const std::string& s) const {
    char* out = opencc_convert_utf8(h, s.c_str(), s.size());
    std::string r = out ? out : "";
    opencc_convert_utf8_free(out);
    return r;
  }
};

struct tally {
  std::size_t n = 0, right = 0;
  std::map<std::string, std::size_t> wrong;  // answer -> count
  void add(bool ok, const std::string& answer) {
    ++n;
    if (ok) ++right;
    else ++wrong[answer];
  }
  double acc() const { return n ? static_cast<double>(right) / static_cast<double>(n) : 0; }
  std::string mistakes() const {
    std::vector<std::pair<std::size_t, std::string>> v;
    for (const auto& [k, c] : wrong) v.push_back({c, k});
    std::sort(v.rbegin(), v.rend());
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < 4; ++i) out += (i ? ", " : "") + v[i].second + " " + std::to_string(v[i].first);
    return out.empty() ? "" : " (wrong: " + out + ")";
  }
};

void line(const char* name, const tally& t, const char* goal = nullptr, double need = 0) {
  std::printf("  %-44s %6zu  %6.2f %%%s%s\n", name, t.n, 100 * t.acc(), t.mistakes().c_str(),
              goal ? (std::string("  [goal ") + goal + (t.acc() >= need ? ": met]" : ": NOT met]")).c_str() : "");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::size_t max_rows = static_cast<std::size_t>(-1);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--datasets" && i + 1 < argc) dir = argv[++i];
    else if (a == "--max-rows" && i + 1 < argc) max_rows = std::stoul(argv[++i]);
    else {
      std::cerr << "usage: closeloop_bench_eval_language --datasets DIR [--max-rows N]\n";
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr << "closeloop_bench_eval_language: --datasets DIR is required (../shared/datasets)\n";
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t calls = 0;
  auto guess = [&](const std::string& t) {
    ++calls;
    return identify_language(t).tag;
  };

  std::printf("sentences in ten common languages\n");
  std::map<std::string, tally> per_lang;
  tally written;
  for (const auto& s : written_sentences()) {
    const std::string g = guess(s.text);
    per_lang[s.tag].add(g == s.tag, g);
    written.add(g == s.tag, g);
  }
  for (const auto& [tag, t] : per_lang) line(("written, " + tag).c_str(), t);
  line("written, all ten", written, ">= 97 %", 0.97);
  // Short queries: CLD2 is often unsure of them, and unsure Latin text is reported as English
  // (the "fallback" method); the methods are printed so that is visible.
  for (const char* set : {"/intent/banking77/train.csv", "/intent/clinc150/val.json"}) {
    tally t;
    std::map<std::string, std::size_t> how;
    for (const auto& text : texts_of(dir + set, max_rows)) {
      ++calls;
      const auto g = identify_language(text);
      t.add(g.tag == "en", g.tag);
      ++how[g.method];
    }
    line((std::string(set).substr(8) + " (en)").c_str(), t, ">= 97 %", 0.97);
    std::printf("    by method:");
    for (const auto& [m, n] : how) std::printf(" %s %zu", m.c_str(), n);
    std::printf("\n");
  }

  std::printf("two Chinese characters (the first two of each review, distinct)\n");
  std::set<std::string> pairs;
  for (const char* f : {"/sentiment_zh/waimai_10k.csv", "/category_zh/online_shopping_10_cats.csv"})
    for (const auto& t : texts_of(dir + f, max_rows))
      if (auto p = first_han_pair(t); !p.empty()) pairs.insert(p);
  tally two;
  for (const auto& p : pairs) {
    const std::string g = guess(p);
    two.add(g == "zh-Hans" || g == "zh-Hant", g);
  }
  line("two Han characters -> Chinese", two, ">= 90 %", 0.90);

  std::printf("Simplified vs Traditional\n");
  const converter to_trad("s2tw.json"), to_simp("t2s.json");
  tally simp, trad, either;
  std::map<std::string, std::size_t> mixed;  // answer -> count
  std::vector<std::string> zh = chnsenticorp(dir + "/sentiment_zh/chnsenticorp/dev.tsv", max_rows);
  for (auto& t : texts_of(dir + "/sentiment_zh/waimai_10k.csv", max_rows)) zh.push_back(std::move(t));
  for (const auto& t : zh) {
    if (to_simp(t) != t) {  // has a Traditional character: no gold label (read, they are mixed)
      ++mixed[guess(t)];
      continue;
    }
    const std::string tw = to_trad(t);
    if (tw == t) {  // no character of one standard alone: either answer is right
      const std::string g = guess(t);
      either.add(g == "zh-Hans" || g == "zh-Hant", g);
      continue;
    }
    const std::string gs = guess(t), gt = guess(tw);
    simp.add(gs == "zh-Hans", gs);
    trad.add(gt == "zh-Hant", gt);
  }
  line("Simplified (ChnSentiCorp dev + waimai)", simp, ">= 98 %", 0.98);
  line("Traditional (the same through OpenCC s2tw)", trad, ">= 98 %", 0.98);
  line("shared characters only (either variant)", either);
  std::printf("  texts with a Traditional character (no gold label; mostly Simplified with a stray one):");
  for (const auto& [tag, n] : mixed) std::printf(" %s %zu", tag.c_str(), n);
  std::printf("\n");

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu identifications in %.2f s (with reading and OpenCC conversion)\n", calls, secs);
  return 0;
}
