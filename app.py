"""The chat page (Gradio 6): layout, event wiring, and the `/ask` API. Run: `python app.py` or `qa serve`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402 - analytics must be off before gradio is imported
import yaml  # noqa: E402

from qa import Asker, Filters, QAError, Settings  # noqa: E402
from qa.render import cards_html, esc, inline, md_text, panel_html, reply_html, streaming_html, written_html  # noqa: E402
from qa.written import Answer, LLMConfig, stream_written, write_answer  # noqa: E402 - written answers (issue 10)

log = logging.getLogger("newsqa.app")
CSS = (Path(__file__).parent / "app.css").read_text(encoding="utf-8")
# Clicking [n] opens that answer's card n (<details id="qa-cite-<turn>-<n>">, maybe inside the folded
# "earlier questions") and scrolls to it.
JS = """
() => {
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a.qa-marker, a[href^="#qa-cite-"]');
    if (!a) return;
    ev.preventDefault(); ev.stopPropagation();
    const n = a.dataset.cite || a.getAttribute('href').replace('#qa-cite-', '');
    const card = document.getElementById('qa-cite-' + n);
    if (!card) return;
    document.querySelectorAll('.qa-card.qa-flash').forEach(c => c.classList.remove('qa-flash'));
    for (let d = card.parentElement; d; d = d.parentElement) { if (d.tagName === 'DETAILS') d.open = true; }
    card.open = true; card.classList.add('qa-flash');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
  }, true);
}
"""
MAX_EARLIER = 10  # earlier answers whose cards stay in the panel (folded)
FALLBACK_EXAMPLES = ["这些文章主要讲了什么？", "What are these articles about?"]


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


class Page:
    """Holds the Asker (or the reason it could not open) and turns answers into page updates."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.asker: Asker | None = None
        self.problem: str | None = None
        self.llm = LLMConfig.from_settings(settings)  # None: quoted answers only (qa/written.py)
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
        return (f'<div class="qa-status">{c.get("articles", 0)} articles · {c.get("chunks", 0)} passages · '
                f'model {esc(m.get("model", {}).get("model"))} · built {esc(str(m.get("created", ""))[:16])}'
                + self.llm_status() + '</div>')

    def answer(self, question: str, history: list[str], k: int, mode: str, source: str, since: str, until: str,
               write: bool = True):
        self.reopen()
        if self.asker is None:
            raise QAError(self.problem or "the index is not available")
        filters = Filters(source.strip() or None, since.strip() or None, until.strip() or None)
        ans = self.asker.ask(question, history, int(k), mode, filters)
        return write_answer(ans, self.llm, self.asker.scorer.sentence_model) if self.llm and write else ans

    def respond(self, question, chat, questions, earlier, k, mode, source, since, until):
        chat = list(chat or [])
        questions = list(questions or [])
        earlier = list(earlier or [])
        turn = sum(1 for m in chat if m.get("role") == "user") + 1
        try:
            ans = self.answer(question or "", questions, k, mode, source or "", since or "", until or "")
            chat += [{"role": "user", "content": md_text(ans.question or question or "")},
                     {"role": "assistant", "content": reply_html(ans, turn)}]
            if ans.question:
                questions.append(ans.question)
            latest = cards_html(ans, self.asker.retriever.index.articles, turn)
            cards = panel_html(latest, earlier)
            if ans.hits:
                earlier = [(ans.question, latest), *earlier][:MAX_EARLIER]
        except QAError as e:
            chat += [{"role": "user", "content": md_text(question or "")},
                     {"role": "assistant", "content": f'<p class="qa-error">{inline(str(e))}</p>'}]
            cards = ""
        except Exception:  # noqa: BLE001 - the page shows a sentence, the log keeps the traceback
            log.error("answering %r failed:\n%s", question, traceback.format_exc())
            chat += [{"role": "user", "content": md_text(question or "")},
                     {"role": "assistant", "content": "Something went wrong while answering; the server log "
                      "has the details. 回答时出错，详情见服务器日志。"}]
            cards = ""
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
        base, questions, earlier = list(chat or []), list(questions or []), list(earlier or [])
        try:
            quoted = self.answer(question or "", questions, k, mode, source or "", since or "", until or "", write=False)
        except Exception:  # noqa: BLE001 - `respond` renders the error (or the log keeps the traceback)
            yield self.respond(question, chat, questions, earlier, k, mode, source, since, until)
            return
        turn = sum(1 for m in base if m.get("role") == "user") + 1
        user = {"role": "user", "content": md_text(quoted.question or question or "")}
        articles = self.asker.retriever.index.articles
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
            questions.append(final.question)
        cards = panel_html(latest, earlier)
        if final.hits:
            earlier = [(final.question, latest), *earlier][:MAX_EARLIER]
        yield base + [user, {"role": "assistant", "content": reply}], cards, questions, earlier, "", self.status()


def build_page(settings: Settings) -> gr.Blocks:
    page = Page(settings)

    def ask(question: str, history: list[str] | None = None, k: int = 5, mode: str = "hybrid",
            source: str = "", since: str = "", until: str = "") -> dict:
        """Answer a question from the articles: the `qa ask --json` object plus answer, abstained,
        searched_for and evidence. `history` is the list of earlier questions, oldest first."""
        try:
            return page.answer(question, list(history or []), k, mode, source, since, until).as_json()
        except QAError as e:
            return {"question": question, "results": [], "answer": "", "abstained": True,
                    "searched_for": "", "evidence": [], "error": str(e)}

    with gr.Blocks(title="newsqa") as demo:
        gr.HTML('<div class="qa-header"><h1>newsqa</h1><span>Ask the news articles · 向新闻提问</span></div>')
        status = gr.HTML(page.status(), elem_id="qa-status")
        questions = gr.State([])
        earlier = gr.State([])  # [(question, cards html)] of earlier turns, newest first
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=320):
                chat = gr.Chatbot(label="Answers", elem_id="qa-chat", height=520, sanitize_html=True,
                                  render_markdown=True, show_label=False, buttons=["copy"])
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question in any language · 用任何语言提问", lines=1,
                                     max_lines=4, show_label=False, elem_id="qa-input", scale=6, autofocus=True)
                    send = gr.Button("Ask · 提问", variant="primary", scale=1, min_width=90, elem_id="qa-send")
                gr.Examples(examples(settings), inputs=box, label="Examples · 示例")
                with gr.Accordion("Settings · 设置", open=False):
                    k = gr.Slider(1, 10, value=settings.k, step=1, label="Passages · 段落数")
                    mode = gr.Radio(["hybrid", "dense", "keyword"], value=settings.mode, label="Search mode")
                    with gr.Row():
                        source = gr.Textbox(label="Outlet contains · 来源", max_lines=1)
                        since = gr.Textbox(label="Since (YYYY-MM-DD)", max_lines=1)
                        until = gr.Textbox(label="Until (YYYY-MM-DD)", max_lines=1)
                    clear = gr.Button("New conversation · 新对话", size="sm")
            with gr.Column(scale=4, min_width=300):
                gr.HTML('<div class="qa-panel-title">Citations · 引用</div>')
                cards = gr.HTML('<div class="qa-empty">Citations appear here. 引用将显示在这里。</div>',
                                elem_id="qa-cards")
        inputs = [box, chat, questions, earlier, k, mode, source, since, until]
        outputs = [chat, cards, questions, earlier, box, status]
        respond = page.respond_stream if page.llm else page.respond
        box.submit(respond, inputs, outputs, api_visibility="private")
        send.click(respond, inputs, outputs, api_visibility="private")
        clear.click(lambda: ([], "", [], [], page.status()), None, [chat, cards, questions, earlier, status],
                    api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def serve(settings: Settings) -> int:
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {settings.host}:{settings.port}, reachable from other machines "
              "(the default is 127.0.0.1)", file=sys.stderr)
    demo = build_page(settings)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=settings.host, server_port=settings.port, share=False, css=CSS, js=JS,
        theme=gr.themes.Soft(font=["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"]),
        show_error=False, footer_links=["api"], quiet=False)
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
