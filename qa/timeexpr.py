"""Time in questions: "2024年7月", "去年", "上个月", "截至上周", "latest", "in March 2023", "as of …" become a
`TimeScope`: a date range and/or a preference for recent articles, relative to a given today.

Chinese numerals inside time expressions ("二〇二三年三月", "三年前") are read by cn2an; English dates by
dateparser; the expressions themselves are a small table of patterns (no library resolves "前年的6月").
The scope is used softly by search (`prefer`): passages dated inside the range move up, nothing is
removed, because a question's "上周" often means "the latest report", not a hard calendar fence.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Range = tuple[dt.date, dt.date]

_CN_NUM = re.compile(r"[〇零一二两三四五六七八九十]+(?=年|月|日|号|天|周|个月|个星期|星期)")
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_UNTIL = r"(?P<until>截至|截止到?|直到|到|as of|until|up to|by)?\s*"

# Each pattern: regex (after numeral normalisation, on the lower-cased question) -> resolver(match, today).
_ABS_YMD = re.compile(r"(?<!\d)(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*(?:日|号)?")
_ABS_YM = re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月(?!\s*\d)|(?<!\d)(\d{4})-(\d{1,2})(?![\d-])")
_ABS_Y = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!\s*\d{1,2}\s*月)")
_REL_YEAR = re.compile(r"(今年|去年|前年|大前年|明年|(?<!\d)(\d{1,2})年前|(\d{1,2})\s+years?\s+ago|this year|last year)"
                       r"(?:的)?(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?)?")
_REL_MONTH = re.compile(r"上个?月|本月|这个月|当月|下个?月|(\d{1,2})个月前|last month|this month|(\d{1,2})\s+months?\s+ago")
_REL_WEEK = re.compile(r"上(?:个)?(?:周|星期|礼拜)|本周|这周|这个星期|下周|last week|this week")
_REL_DAY = re.compile(r"今天|今日|昨天|昨日|(?<![年月周个])前天|(\d{1,3})天前|today|yesterday|(\d{1,3})\s+days?\s+ago")
_LAST_N = re.compile(r"(?:近|最近|过去|前)\s*(\d{1,3})\s*(天|日|周|个?星期|个月|年)|(?:past|last)\s+(\d{1,3})\s+(day|week|month|year)s?")
_EN_DAY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b|\b(\d{{1,2}})\s+({_MONTH_RE})\.?,?\s+(\d{{4}})\b")
_EN_MONTH = re.compile(rf"\b({_MONTH_RE})\.?,?\s+(?:of\s+)?(\d{{4}})\b")
_EN_YEAR = re.compile(r"\b(?:in|during|since|of|by|before|after)\s+((?:19|20)\d{2})\b")
_HALF_AGO = re.compile(r"(?<!\d)(\d{1,2})?年半前|半年前")
_HALF_YEAR = re.compile(r"(上|下)半年")
_QUARTER = re.compile(r"(上|本|这)个?季度")
_FEW_AGO = re.compile(r"几(年|个月|天|周|个星期)前")
_MONTH_ONLY = re.compile(r"(?<![\d年.\-/])(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?")
ANCHORS = {"当天": "day", "当日": "day", "同一天": "day", "同一个月": "month", "同一年": "year"}
ANCHOR_WORDS = ("当天", "当日")  # "X当天，Y…" states it; "是同一天发生的吗" asks it (the answer may be no)
_ANCHOR = re.compile("|".join(ANCHOR_WORDS))
_TOPIC = re.compile(rf"(?:{'|'.join(ANCHOR_WORDS)})\s*[，,]\s*(.{{4,}})$")  # "X当天，Y…" with X and Y both said
_RECENT = re.compile(r"最新|最近|近期|目前|现在|如今|当前|latest|most recent|recently|currently|right now|these days")
_AS_OF = re.compile(r"截至|截止|as of|up to")
_SINCE = re.compile(r"以来|自从|since")


@dataclass(frozen=True)
class TimeScope:
    since: dt.date | None = None
    until: dt.date | None = None
    recent: bool = False  # prefer newer articles (within the range, when there is one)
    expression: str = ""  # the words of the question that said it
    resolved: str = ""  # absolute wording of a relative expression ("2022年6月"), added to the keyword query
    more: tuple[Range, ...] = ()  # further dates the question names ("A（2020年11月19日）和B（2021年12月5日）哪个更早")
    anchor: str = ""  # "day"/"month"/"year": the time is another event's ("X当天，Y…"), read off the best passage
    topic: str = ""  # "X当天，Y…": Y, what is asked; X only dates it, and is often in no article (search adds Y alone)

    def label(self) -> str:
        """For "Searched for": "2024-07-01…2024-07-31", "…2024-06-09, latest first", "latest first"."""
        span = "" if not (self.since or self.until) else (
            f"{self.since.isoformat() if self.since else ''}…{self.until.isoformat() if self.until else ''}")
        more = [f"{a.isoformat()}…{b.isoformat()}" for a, b in self.more]
        anchor = f"the same {self.anchor} as the best passage" if self.anchor else ""
        if self.topic:
            anchor += f", with “{self.topic}” also searched alone"
        return ", ".join(x for x in (span, *more, anchor, "latest first" if self.recent else "") if x)

    def contains(self, r: Range) -> bool:
        return (self.since is None or r[1] >= self.since) and (self.until is None or r[0] <= self.until)

    def fits(self, r: Range) -> bool | None:
        """None: the date `r` is outside every asked range; True: inside one and as fine as it ("2023年6月5日"
        for 2023年6月); False: inside only as a coarser date ("2023年" for 2023年6月)."""
        got = None
        if r[0].year == YEAR_UNKNOWN:  # a day without its year matches the asked day or month of any year
            asked = [x for x in ((self.since, self.until), *self.more) if x[0] and x[1] and _span(x) <= 31]
            return True if any(_yearless_in(r[0], x) for x in asked) else None
        for since, until in ((self.since, self.until), *self.more):
            if (since or until) and (since is None or r[1] >= since) and (until is None or r[0] <= until):
                if since is None or until is None or _span(r) <= _span((since, until)):
                    return True
                got = False
        return got


def _month(y: int, m: int) -> Range | None:
    if not (1 <= m <= 12 and 1 <= y <= 9999):
        return None
    return dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])


def _day(y: int, m: int, d: int) -> Range | None:
    try:
        day = dt.date(y, m, d)
    except ValueError:
        return None
    return day, day


def _shift_month(today: dt.date, n: int) -> Range | None:
    k = today.year * 12 + today.month - 1 + n
    return _month(k // 12, k % 12 + 1)


def _normalise(text: str) -> str:
    import cn2an

    def num(m: re.Match) -> str:
        try:
            return str(cn2an.cn2an(m.group(0).replace("〇", "零"), "smart")) if len(m.group(0)) < 5 else \
                "".join("0123456789"["零〇一二三四五六七八九".index(c) % 10 if c in "零〇一二三四五六七八九" else 0]
                        for c in m.group(0))
        except (ValueError, KeyError):
            return m.group(0)

    return _CN_NUM.sub(num, text).lower()


_SAME_TIME = re.compile(r"的?(这个月|本月|当月|这个星期|这周|这一周|本周|今天|昨天)")


def _shift_years(day: dt.date, back: int) -> dt.date:
    try:
        return day.replace(year=day.year - back)
    except ValueError:  # 29 February
        return day.replace(year=day.year - back, day=28)


def _relative_year(m: re.Match, today: dt.date) -> tuple[Range | None, str]:
    word = m.group(1)
    back = {"今年": 0, "this year": 0, "去年": 1, "last year": 1, "前年": 2, "大前年": 3, "明年": -1}.get(word)
    if back is None:
        back = int(m.group(2) or m.group(3))
    year = today.year - back
    if same := _SAME_TIME.match(m.string, m.end()):  # "两年前的这个月", "一年前的这个星期", "四年前的昨天"
        then = _shift_years(today, back)
        if same[1] in ("这个月", "本月", "当月"):
            return _month(then.year, then.month), f"{then.year}年{then.month}月"
        if same[1] in ("今天", "昨天"):
            day = then - dt.timedelta(days=same[1] == "昨天")
            return (day, day), f"{day.year}年{day.month}月{day.day}日"
        monday = then - dt.timedelta(days=then.weekday())
        return (monday, monday + dt.timedelta(days=6)), ""
    if m.group(4):
        month = int(m.group(4))
        if m.group(5):
            r = _day(year, month, int(m.group(5)))
            return r, f"{year}年{month}月{int(m.group(5))}日"
        return _month(year, month), f"{year}年{month}月"
    return (dt.date(year, 1, 1), dt.date(year, 12, 31)), f"{year}年"


def _yearless_in(day: dt.date, r: Range) -> bool:
    for year in {r[0].year, r[1].year}:
        try:
            if r[0] <= day.replace(year=year) <= r[1]:
                return True
        except ValueError:
            pass
    return False


def _absolute(text: str, today: dt.date, question: str = "") -> tuple[Range | None, str, str]:
    """(range, the matched words, an absolute wording for relative words or "")."""
    if m := _ABS_YMD.search(text):
        return _day(int(m[1]), int(m[2]), int(m[3])), m.group(0), ""
    if m := _ABS_YM.search(text):
        y, mo = (m[1], m[2]) if m[1] else (m[3], m[4])
        return _month(int(y), int(mo)), m.group(0), ""
    if m := _EN_DAY.search(text):
        import dateparser

        when = dateparser.parse(m.group(0), languages=["en"])
        return ((when.date(), when.date()) if when else None), m.group(0), ""
    if m := _EN_MONTH.search(text):
        return _month(int(m[2]), _MONTHS[m[1]]), m.group(0), ""
    if m := _REL_YEAR.search(text):
        r, words = _relative_year(m, today)
        return r, m.group(0), words
    if m := _ABS_Y.search(text) or _EN_YEAR.search(text):
        y = int(m[1])
        return (dt.date(y, 1, 1), dt.date(y, 12, 31)), m.group(0), ""
    if m := _REL_MONTH.search(text):
        n = {"上月": -1, "上个月": -1, "last month": -1, "下月": 1, "下个月": 1}.get(m.group(0), 0)
        if m.group(1) or m.group(2):
            n = -int(m.group(1) or m.group(2))
        r = _shift_month(today, n)
        return r, m.group(0), f"{r[0].year}年{r[0].month}月" if r else ""
    if m := _REL_WEEK.search(text):
        n = -1 if m.group(0).startswith(("上", "last")) else 1 if m.group(0).startswith("下") else 0
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=n)
        return (monday, monday + dt.timedelta(days=6)), m.group(0), ""
    if m := _REL_DAY.search(text):
        back = {"今天": 0, "今日": 0, "today": 0, "昨天": 1, "昨日": 1, "yesterday": 1, "前天": 2}.get(m.group(0))
        day = today - dt.timedelta(days=back if back is not None else int(m.group(1) or m.group(2)))
        return (day, day), m.group(0), f"{day.month}月{day.day}日"
    if m := _LAST_N.search(text):
        n, unit = int(m[1] or m[3]), (m[2] or m[4])
        days = n * (1 if unit in ("天", "日", "day") else 7 if unit in ("周", "星期", "个星期", "week")
                    else 31 if unit in ("个月", "month") else 366)
        return (today - dt.timedelta(days=days), today), m.group(0), ""
    return _vague(text, today, question)


def _vague(text: str, today: dt.date, question: str) -> tuple[Range | None, str, str]:
    """Half years, quarters, "几个月前", and a month or day without its year: the latest one before today.
    A month in Chinese numerals alone is often a name ("五月天", "十月革命"): only with a day or "底/初/份"."""
    if m := _HALF_AGO.search(text):
        r = _shift_month(today, -(int(m[1] or 0) * 12 + 6))
        return r, m.group(0), f"{r[0].year}年{r[0].month}月" if r else ""
    if m := _HALF_YEAR.search(text):
        first = m[1] == "上"
        return (dt.date(today.year, 1 if first else 7, 1), dt.date(today.year, 6 if first else 12, 30 if first else 31)), \
            m.group(0), ""
    if m := _QUARTER.search(text):
        q = (today.month - 1) // 3 - (m[1] == "上")
        start, end = _shift_month(dt.date(today.year, 1, 1), 3 * q), _shift_month(dt.date(today.year, 1, 1), 3 * q + 2)
        return (start[0], end[1]), m.group(0), ""
    if m := _FEW_AGO.search(text):
        unit = {"年": 365, "个月": 30, "天": 1, "周": 7, "个星期": 7}[m[1]]
        return (today - dt.timedelta(days=9 * unit), today - dt.timedelta(days=unit)), m.group(0), ""
    if m := _MONTH_ONLY.search(text):
        month, day = int(m[1]), int(m[2]) if m[2] else None
        named = day or re.search(rf"(?<!\d){month}\s*月", question) or re.match(r"\s*(?:份|初|中旬|上旬|下旬|底|末)",
                                                                                  text[m.end():])
        if not 1 <= month <= 12 or not named or re.search(r"哪[一1]?年|何年|几年|每年", text):
            return None, "", ""
        year = today.year if (month, day or 1) <= (today.month, today.day) else today.year - 1
        r = _day(year, month, day) if day else _month(year, month)
        return r, m.group(0), ""
    return None, "", ""


def parse(question: str, today: dt.date | None = None) -> TimeScope | None:
    """The question's time scope, or None when it says nothing about time.

    >>> parse("前年的6月中国人民银行发布了哪项法律修订草案？", dt.date(2024, 11, 12)).label()
    '2022-06-01…2022-06-30'
    >>> parse("截至上周，荣盛发展的股价连续多少日涨停？", dt.date(2023, 6, 14)).label()
    '…2023-06-11, latest first'
    >>> parse("What is the latest on the Harbour Bridge?").label()
    'latest first'
    """
    today = today or dt.date.today()
    text = _normalise(question)
    r, words, resolved = _absolute(text, today, question)
    as_of = bool(_AS_OF.search(text))
    recent = bool(_RECENT.search(text)) or as_of
    if r is None and (m := _ANCHOR.search(text)):
        topic = t.group(1).strip() if (t := _TOPIC.search(question)) and t.start() >= 4 else ""
        return TimeScope(recent=recent, expression=m.group(0), anchor=ANCHORS[m.group(0)], topic=topic)
    if r is None:
        return TimeScope(recent=True, expression=(_RECENT.search(text) or _AS_OF.search(text)).group(0)) if recent else None
    since, until = r
    more = tuple(x for x in _all_absolute(text) if x != r)
    if as_of:  # "截至上周": everything up to the end of it
        since = None
    elif _SINCE.search(text):
        until = None
    return TimeScope(since, until, recent, words.strip(), resolved, more)


def _all_absolute(text: str) -> list[Range]:
    """Every full date, month and year a question names, in order, once each (a question comparing events)."""
    return list(dict.fromkeys(passage_dates(_MONTH_DAY.sub(" ", text))))


_BARE = re.compile(r"[\d\s年月日号时分至，。、,.:：()（）\-]")
_MONTH_DAY = re.compile(r"(?<![\d年/.-])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")


def passage_dates(text: str, limit: int = 12) -> list[Range]:
    """Dates a passage states ("2020年4月2日", "2023年6月", "2024-07-15", "2023年，"), in the order they appear;
    a day without its year ("5月28日") takes the year stated last before it ("2019年6月8日 …… 5月28日，").
    The whole passage is read: a biography's "1992年4月" is often its fifth date (cmrc2018). A passage that
    is nothing but a date ("2024年3月22日", a heading cut from its story, as chronoqa has) says nothing happened
    then, so it gets none (it took the first place from the story of that day)."""
    if len(_BARE.sub("", text)) < 6:
        return []
    out: list[tuple[int, Range]] = []
    taken: list[tuple[int, int]] = []
    for m in _ABS_YMD.finditer(text):
        if r := _day(int(m[1]), int(m[2]), int(m[3])):
            out.append((m.start(), r))
            taken.append(m.span())
    for m in _ABS_YM.finditer(text):
        y, mo = (m[1], m[2]) if m[1] else (m[3], m[4])
        if r := _month(int(y), int(mo)):
            out.append((m.start(), r))
    for m in _ABS_Y.finditer(text):
        y = int(m[1])
        out.append((m.start(), (dt.date(y, 1, 1), dt.date(y, 12, 31))))
    years = sorted((pos, r[0].year) for pos, r in out)
    for m in _MONTH_DAY.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        before = [y for pos, y in years if pos < m.start()]
        # no year anywhere ("北京时间4月29日，NBA季后赛"): the day alone, year unknown
        if (before or not years) and (r := _day(before[-1] if before else YEAR_UNKNOWN, int(m[1]), int(m[2]))):
            out.append((m.start(), r))
    return [r for _, r in sorted(out)[:limit]]


YEAR_UNKNOWN = 4  # the year of a day a passage states without any year (a leap year: "2月29日" exists)


def _span(r: Range) -> int:
    return (r[1] - r[0]).days


IN_RANGE_BONUS = 0.4  # in fused-score units ([0, 1]); 0.15-1.0 tried on chronoqa, 0.4 best for hybrid and keyword
RECENT_BONUS = 0.05
ANCHOR_BONUS = 0.3  # chosen on half of chronoqa from 0.0-0.3 (benchmarks/timeexpr_misses.py --grid)
ANCHOR_FROM = 1  # how many of the best passages may give the anchor's date (the first one dated)
COARSE_SHARE = 0.25  # of the in-range bonus, for a passage date coarser than the asked range ("2023年" for
# 2023年6月); 1.0 (as before) cost chronoqa .002, 0 and 0.25 tie (benchmarks/timeexpr_misses.py --grid)


def prefer(ranked: Sequence[tuple[int, float]], scope: TimeScope, dates_of: Callable[[int], list[Range]],
           scale: float = 1.0, in_range: float | None = None, recent: float | None = None,
           coarse: float | None = None, anchor: float | None = None) -> list[tuple[int, float]]:
    """Re-rank (row, score) pairs: passages dated inside the scope's range gain `IN_RANGE_BONUS × scale`;
    with a recency preference, newer dated passages gain up to `RECENT_BONUS × scale`."""
    in_range = IN_RANGE_BONUS if in_range is None else in_range  # (other values: benchmarks/timeexpr_tune.py)
    recent = RECENT_BONUS if recent is None else recent
    coarse = COARSE_SHARE if coarse is None else coarse
    dated = {row: dates_of(row) for row, _ in ranked}
    if scope.anchor and not (scope.since or scope.until):  # "X当天，Y…": X's day is the best passage's own date
        own = next((ds[0] for ds in (dated[row] for row, _ in ranked[:ANCHOR_FROM]) if ds
                    and ds[0][0].year != YEAR_UNKNOWN), None)
        if own is None:
            return sorted(ranked, key=lambda x: (-x[1], x[0]))
        day = own[0]
        r = (day, day) if scope.anchor == "day" else _month(day.year, day.month) if scope.anchor == "month" else \
            (dt.date(day.year, 1, 1), dt.date(day.year, 12, 31))
        scope = TimeScope(r[0], r[1], scope.recent)
        in_range = ANCHOR_BONUS if anchor is None else anchor
    dated = {row: [r for r in ds if r[0].year != YEAR_UNKNOWN] if scope.recent else ds for row, ds in dated.items()}
    newest = [max(r[1] for r in ds) for ds in dated.values() if ds]
    lo, hi = (min(newest), max(newest)) if newest else (None, None)
    out = []
    for row, score in ranked:
        ds = dated[row]
        bonus = 0.0
        if ds and (scope.since or scope.until):
            fit = [f for f in map(scope.fits, ds) if f is not None]
            bonus += in_range * (1.0 if any(fit) else coarse if fit else 0.0)
        if ds and scope.recent and hi and hi > lo:
            bonus += recent * (max(r[1] for r in ds) - lo).days / (hi - lo).days
        out.append((row, score + bonus * scale))
    return sorted(out, key=lambda x: (-x[1], x[0]))
