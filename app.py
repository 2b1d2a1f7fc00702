"""The chat page (Gradio 6): layout, event wiring, and the `/ask` API. Run: `python app.py` or `qa serve`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import traceback
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402 - analytics must be off before gradio is imported
import yaml  # noqa: E402

from qa import Asker, Filters, QAError, Settings, crossnames  # noqa: E402
from qa.errors import InputError  # noqa: E402
from qa.limits import BodyLimit, CallArguments, Lanes  # noqa: E402
from qa.render import (  # noqa: E402
    cards_html,
    esc,
    inline,
    md_text,
    panel_html,
    reply_html,
    streaming_html,
    written_html,
)
from qa.written import Answer, LLMConfig, stream_written, write_answer  # noqa: E402 - written answers (issue 10)

log = logging.getLogger("newsqa.app")
CSS = (Path(__file__).parent / "app.css").read_text(encoding="utf-8")
JS = (Path(__file__).parent / "app.js").read_text(encoding="utf-8")  # markers, phone sheet, copy, aria-labels
MAX_EARLIER = 10  # earlier answers whose cards stay in the panel (folded, without "whole article")
MAX_HISTORY = 10  # earlier questions the page sends with a question
FALLBACK_EXAMPLES = ["这些文章主要讲了什么？", "What are these articles about?"]
EMPTY_PANEL = '<div class="qa-empty">Citations appear here. 引用将显示在这里。</div>'
MODES = [("Both · 两者", "hybrid"), ("Meaning · 语义", "dense"), ("Exact words · 字词", "keyword")]
ASK_ARGUMENTS = {"question": "", "history": [], "k": 5, "mode": "hybrid", "source": "", "since": "", "until": ""}
MAX_K = 50  # /ask accepts k in 1..MAX_K, like `qa ask -k`
QUEUE_SIZE = 24  # requests waiting for a worker; beyond it the page says "busy, try again"
WORKERS = 16  # requests handled at once; long ones share one lane (see Lanes)


def examples(settings: Settings) -> list[str]:
    """Example questions: `<seeds>/examples.yaml` (a list of strings) when present."""
    path = settings.seeds / "examples.yaml"
    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        items = None
    if isinstance(items, list) and all(isinstance(i, str) for i in items):
        return items[:6]
    return FALLBACK_EXAMPLES


def api_arguments(question, history, k, mode, source, since, until) -> tuple:
    """Check /ask's arguments as they came in (JSON: anything), with one clear sentence per problem."""
    if not isinstance(question, str):
        raise InputError(f"question must be text (a string), not {type(question).__name__}: "
                         'e.g. "联合国大会哪天通过了决议？"')
    if history is None:
        history = []
    if isinstance(history, str) or not isinstance(history, list):
        raise InputError(f"history must be a list of earlier questions (strings, oldest first), not "
                         f'{type(history).__name__}: e.g. ["中国主提的决议是什么？"], or [] for none')
    bad = [i for i, h in enumerate(history) if not isinstance(h, str)]
    if bad:
        raise InputError(f"history[{bad[0]}] is {type(history[bad[0]]).__name__}: history holds the earlier "
                         "questions as plain strings, oldest first")
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InputError(f"k={k!r}: ask for 1 to {MAX_K} passages (a whole number)")
    mode = "hybrid" if mode is None else mode
    if mode not in ("hybrid", "dense", "keyword"):
        raise InputError(f"mode={mode!r}: use hybrid, dense or keyword")
    filters = []
    for name, value in (("source", source), ("since", since), ("until", until)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name} must be text or empty, not {type(value).__name__}")
        filters.append(value or "")
    return (question, history, k, mode, *filters)


class Page:
    """Holds the Asker (or the reason it could not open) and turns answers into page updates."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.asker: Asker | None = None
        self.problem: str | None = None
        self.lanes = Lanes()
        self.llm = LLMConfig.from_settings(settings)  # None: quoted answers only (qa/written.py)
        if self.llm:  # the grounding check's name dictionary loads in seconds: not on the first answer
            threading.Thread(target=crossnames.dictionary, daemon=True, name="qa-dictionary").start()
        self.reopen()

    def reopen(self) -> None:
        try:
            if self.asker is None:
                self.asker = Asker.open(self.settings)
                self.asker.warm()
            else:
                self.asker.refresh()
            self.problem = None
        except QAError as e:
            self.problem = str(e)

    def status(self) -> str:
        if self.problem:
            return f'<div class="qa-banner">⚠ {esc(self.problem)}</div>'
        m = self.asker.retriever.index.manifest if self.asker else {}
        c = m.get("counts", {})
        n_articles, n_chunks = c.get("articles", 0), c.get("chunks", 0)
        return (f'<div class="qa-status">{n_articles} article{"" if n_articles == 1 else "s"} · '
                f'{n_chunks} passage{"" if n_chunks == 1 else "s"} · '
                f'model {esc(m.get("model", {}).get("model"))} · built {esc(str(m.get("created", ""))[:16])}'
                + self.llm_status() + '</div>')

    def answer(self, question: str, history: list[str], k: int, mode: str, source: str, since: str, until: str,
               write: bool = True):
        self.reopen()
        if self.asker is None or self.problem:
            # a problem with an open Asker: e.g. the index was rebuilt with another model and the
            # generation this Asker reads is gone; answering from it would be answering from nothing
            raise QAError(self.problem or "the index is not available")
        filters = Filters(source.strip() or None, since.strip() or None, until.strip() or None)
        cost = len(question) + sum(len(h) for h in history)
        ans = self.lanes.run(cost, lambda: self.asker.ask(question, history, int(k), mode, filters))
        return write_answer(ans, self.llm, self.asker.scorer.sentence_model) if self.llm and write else ans

    def api(self, question, history, k, mode, source, since, until) -> dict:
        """/ask: the answer's JSON, or the same keys with `error` set to a sentence naming the fix."""
        try:
            return self.answer(*api_arguments(question, history, k, mode, source, since, until)).as_json()
        except QAError as e:
            error = str(e)
        except Exception:  # noqa: BLE001 - the caller gets a sentence, the log keeps the traceback
            log.error("/ask %r failed:\n%s", question, traceback.format_exc())
            error = "answering failed on the server: its log has the details"
        return {"question": question if isinstance(question, str) else "", "results": [], "answer": "",
                "abstained": True, "searched_for": "", "evidence": [], "error": error}

    def respond(self, question, chat, questions, earlier, k, mode, source, since, until):
        if not (question or "").strip():  # an empty question changes nothing
            return (gr.skip(),) * 6
        chat = list(chat or [])
        questions = list(questions or [])[-MAX_HISTORY:]
        earlier = list(earlier or [])
        turn = sum(1 for m in chat if m.get("role") == "user") + 1
        try:
            ans = self.answer(question or "", questions, k, mode, source or "", since or "", until or "")
            chat += [{"role": "user", "content": md_text(ans.question or question or "")},
                     {"role": "assistant", "content": reply_html(ans, turn)}]
            if ans.question:
                questions = [*questions, ans.question][-MAX_HISTORY:]
            index_articles = self.asker.retriever.index.articles  # read from disk per lookup: once per article
            articles = {aid: index_articles.get(aid, {}) for aid in dict.fromkeys(h.article_id for h in ans.hits)}
            cards = panel_html(cards_html(ans, articles, turn), earlier)
            if ans.hits:
                earlier = [(ans.question, cards_html(ans, articles, turn, earlier=True)), *earlier][:MAX_EARLIER]
        except QAError as e:
            chat += [{"role": "user", "content": md_text(question or "")},
                     {"role": "assistant", "content": f'<p class="qa-error">{inline(str(e))}</p>'}]
            cards = gr.skip()  # the panel keeps the last answer's citations
        except Exception:  # noqa: BLE001 - the page shows a sentence, the log keeps the traceback
            log.error("answering %r failed:\n%s", question, traceback.format_exc())
            chat += [{"role": "user", "content": md_text(question or "")},
                     {"role": "assistant", "content": "Something went wrong while answering; the server log "
                      "has the details. 回答时出错，详情见服务器日志。"}]
            cards = gr.skip()
        return chat, cards, questions, earlier, "", self.status()

    # Written answers (issue 10): used instead of `respond` when a model is configured.
    def llm_status(self) -> str:
        if not self.llm:
            return ""
        note = "" if self.llm.is_local else f" (questions and passages are sent to {self.llm.host})"
        return f' · answers written by {esc(self.llm.model)} at {esc(self.llm.host)}{esc(note)}'

    def respond_stream(self, question, chat, questions, earlier, k, mode, source, since, until):
        """`respond` with a written answer: the model's tokens stream into the bubble, then the checked answer
        (or the quoted one with the reason) replaces it. The cards of the passages sent show meanwhile."""
        if not (question or "").strip():  # an empty question changes nothing
            yield (gr.skip(),) * 6
            return
        base, questions, earlier = list(chat or []), list(questions or [])[-MAX_HISTORY:], list(earlier or [])
        try:
            quoted = self.answer(question or "", questions, k, mode, source or "", since or "", until or "", write=False)
        except Exception:  # noqa: BLE001 - `respond` renders the error (or the log keeps the traceback)
            yield self.respond(question, chat, questions, earlier, k, mode, source, since, until)
            return
        turn = sum(1 for m in base if m.get("role") == "user") + 1
        user = {"role": "user", "content": md_text(quoted.question or question or "")}
        index_articles = self.asker.retriever.index.articles  # read from disk per lookup: once per article
        articles = {aid: index_articles.get(aid, {}) for aid in dict.fromkeys(h.article_id for h in quoted.hits)}
        final = quoted
        try:
            cards = panel_html(cards_html(quoted, articles, turn), earlier)
            for item in stream_written(quoted, self.llm, self.asker.scorer.sentence_model):
                if isinstance(item, Answer):
                    final = item
                    break
                bubble = streaming_html(item, self.llm.model, self.llm.host)
                yield base + [user, {"role": "assistant", "content": bubble}], cards, questions, earlier, "", \
                    self.status()
            reply = (written_html(final, turn, self.llm.model, self.llm.host, self.llm.is_local) if final.generated
                     else reply_html(final, turn))
        except Exception:  # noqa: BLE001 - the page shows a sentence, the log keeps the traceback
            log.error("writing the answer to %r failed:\n%s", question, traceback.format_exc())
            final, reply = quoted, reply_html(quoted, turn)
        latest = cards_html(final, articles, turn)
        if final.question:
            questions = [*questions, final.question][-MAX_HISTORY:]
        cards = panel_html(latest, earlier)
        if final.hits:
            earlier = [(final.question, cards_html(final, articles, turn, earlier=True)), *earlier][:MAX_EARLIER]
        yield base + [user, {"role": "assistant", "content": reply}], cards, questions, earlier, "", self.status()


def build_page(settings: Settings) -> gr.Blocks:
    page = Page(settings)

    def ask(question: str = "", history: list[str] | None = None, k: int = 5, mode: str = "hybrid",
            source: str = "", since: str = "", until: str = "") -> dict:
        """Answer a question from the articles: the `qa ask --json` object plus answer, abstained,
        searched_for and evidence. `history` is the list of earlier questions, oldest first; k is 1..50."""
        return page.api(question, history, k, mode, source, since, until)

    with gr.Blocks(title="newsqa") as demo:
        gr.HTML('<div class="qa-header"><h1>newsqa</h1><span>Ask the news articles · 向新闻提问</span></div>')
        status = gr.HTML(page.status(), elem_id="qa-status")
        questions = gr.State([])
        earlier = gr.State([])  # [(question, cards html)] of earlier turns, newest first
        with gr.Row(equal_height=False, elem_id="qa-main"):
            with gr.Column(scale=5, min_width=320, elem_id="qa-left"):
                chat = gr.Chatbot(label="Answers · 回答", elem_id="qa-chat", height=520, sanitize_html=True,
                                  render_markdown=True, show_label=False, buttons=["copy"])
                with gr.Row(elem_id="qa-ask-row"):
                    box = gr.Textbox(placeholder="Ask a question in any language · 用任何语言提问", lines=1,
                                     max_lines=4, show_label=False, elem_id="qa-input", scale=6, autofocus=True,
                                     max_length=settings.max_question_chars)
                    send = gr.Button("Ask · 提问", variant="primary", scale=1, min_width=90, elem_id="qa-send")
                with gr.Row(elem_id="qa-tools"):
                    clear = gr.Button("↺ New conversation · 新对话", variant="secondary", size="sm", scale=0,
                                      min_width=180, elem_id="qa-new")
                with gr.Column(elem_id="qa-extras"):
                    gr.Examples(examples(settings), inputs=box, label="Examples · 示例")
                    with gr.Accordion("Settings · 设置", open=False):
                        k = gr.Slider(1, 10, value=settings.k, step=1, label="Passages to show · 显示的段落数")
                        mode = gr.Radio(MODES, value=settings.mode, label="Search by · 检索方式")
                        with gr.Row():
                            source = gr.Textbox(label="Outlet contains · 来源包含", max_lines=1, max_length=200)
                            since = gr.Textbox(label="From date · 起始日期 (YYYY-MM-DD)", max_lines=1, max_length=10)
                            until = gr.Textbox(label="To date · 截止日期 (YYYY-MM-DD)", max_lines=1, max_length=10)
            with gr.Column(scale=4, min_width=300, elem_id="qa-right"):
                gr.HTML('<div class="qa-panel-title">Citations · 引用</div>')
                cards = gr.HTML(EMPTY_PANEL, elem_id="qa-cards")
        inputs = [box, chat, questions, earlier, k, mode, source, since, until]
        outputs = [chat, cards, questions, earlier, box, status]
        respond = page.respond_stream if page.llm else page.respond  # written answers stream
        for event in (box.submit, send.click):
            event(respond, inputs, outputs, api_visibility="private", concurrency_limit=WORKERS,
                  concurrency_id="answer")
        # one conversation state: whatever empties the chat empties the history, the cards and the panel
        clear.click(lambda: ([], EMPTY_PANEL, [], [], "", page.status()), None,
                    [chat, cards, questions, earlier, box, status], api_visibility="private")
        chat.clear(lambda: (EMPTY_PANEL, [], [], page.status()), None, [cards, questions, earlier, status],
                   api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=WORKERS, concurrency_id="answer")
    return demo


def serve(settings: Settings) -> int:
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {settings.host}:{settings.port}, reachable from other machines "
              "(the default is 127.0.0.1)", file=sys.stderr)
    demo = build_page(settings)
    from starlette.middleware import Middleware

    ask_index = next((i for i, fn in demo.fns.items() if fn.api_name == "ask"), None)
    page_events = {i: len(fn.inputs) for i, fn in demo.fns.items() if i != ask_index}

    demo.queue(default_concurrency_limit=4, max_size=QUEUE_SIZE).launch(
        server_name=settings.host, server_port=settings.port, share=False, css=CSS, js=JS,
        theme=gr.themes.Soft(font=["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"]),
        show_error=False, footer_links=["api"], quiet=False, max_file_size=settings.max_request_bytes,
        app_kwargs={"middleware": [  # outermost first: the size cap comes before anything reads a body
            Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
            Middleware(CallArguments, name="ask", fn_index=ask_index, names=list(ASK_ARGUMENTS),
                       defaults=[ASK_ARGUMENTS[n] if n != "k" else settings.k for n in ASK_ARGUMENTS],
                       page_events=page_events)]})
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="newsqa chat page")
    ap.add_argument("--host", help="address to bind (QA_HOST, default 127.0.0.1)")
    ap.add_argument("--port", type=int, help="port (QA_PORT, default 7860)")
    ap.add_argument("--seeds", help="articles folder (QA_SEEDS)")
    ap.add_argument("--index", help="index folder (QA_INDEX)")
    ap.add_argument("--model", help="embedding model (QA_MODEL)")
    args = ap.parse_args(argv)
    try:
        settings = Settings.load(host=args.host, port=args.port, seeds=args.seeds, index=args.index, model=args.model)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
