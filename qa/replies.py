"""The reply's own words (lead line, "not in the articles", notices, "Searched for") per language.

One table, keyed by phrase then language code; `phrase(key, lang)` falls back to English. The
language of a question is decided by `language_of` (zh or en for now; a library detector replaces it).
"""

from __future__ import annotations

from .text import is_chinese

PHRASES: dict[str, dict[str, str]] = {
    "lead": {"zh": "以下是文章原文：", "en": "In the articles' own words:"},
    "not_found": {"zh": "这些文章没有回答这个问题。右侧列出的是最接近的段落，仅供参考。",
                  "en": "The articles do not answer this. The closest passages are listed with the citations, "
                        "for reference only."},
    "type_question": {"zh": "请输入一个问题。", "en": "Please type a question."},
    "searched_for": {"zh": "检索内容：", "en": "Searched for: "},
    "question_cut": {"zh": "问题过长，只使用了前 {limit} 个字符。",
                     "en": "The question was cut to its first {limit} characters."},
}


def phrase(key: str, lang: str, **values: object) -> str:
    """The phrase in `lang`, else English, with `{name}` fields filled from `values`."""
    table = PHRASES[key]
    return table.get(lang, table["en"]).format(**values)


def language_of(question: str) -> str:
    """The reply language of a question: a language code."""
    return "zh" if is_chinese(question) or not question.strip() else "en"
