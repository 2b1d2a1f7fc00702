() => {
  // newsqa page behaviour (loaded by app.py as the Blocks' js). Gradio renders the chat; this adds:
  // [n] markers that open only their own card, a sheet with the card at phone width with a way back,
  // a copy button that copies the answer as plain text, and plain-text aria-labels on messages.
  const narrow = () => window.matchMedia('(max-width: 720px)').matches;
  const sheet = document.createElement('div');
  sheet.id = 'qa-sheet'; sheet.hidden = true;
  sheet.setAttribute('role', 'dialog'); sheet.setAttribute('aria-label', 'Citation · 引用');
  sheet.innerHTML = '<button type="button" class="qa-back">↩ Back to the answer · 返回回答</button><div class="qa-sheet-body"></div>';
  document.body.appendChild(sheet);
  let lastMarker = null;
  const back = () => {
    sheet.hidden = true;
    if (lastMarker && lastMarker.isConnected) {
      lastMarker.scrollIntoView({block: 'center'}); lastMarker.focus({preventScroll: true});
    }
  };
  sheet.querySelector('.qa-back').addEventListener('click', back);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !sheet.hidden) back(); });

  const openCard = (card) => {
    // an old turn's marker opens that turn (and that card) only: other turns fold again
    document.querySelectorAll('#qa-cards details.qa-turn[open]').forEach(t => { if (!t.contains(card)) t.open = false; });
    document.querySelectorAll('.qa-card.qa-flash').forEach(c => c.classList.remove('qa-flash'));
    for (let d = card.parentElement; d; d = d.parentElement) { if (d.tagName === 'DETAILS') d.open = true; }
    card.open = true; card.classList.add('qa-flash');
  };

  const plainText = (row) => {
    const content = row && row.querySelector('.message-content');
    return content ? content.innerText.replace(/\n{3,}/g, '\n\n').trim() : '';
  };
  const rowOf = (buttons) => {
    for (let r = buttons.previousElementSibling; r; r = r.previousElementSibling) {
      if (r.classList.contains('message-row')) return r;
    }
    return null;
  };

  document.addEventListener('click', (ev) => {
    const t = ev.target;
    if (!t.closest) return;
    const a = t.closest('a.qa-marker, a[href^="#qa-cite-"]');
    if (a) {
      ev.preventDefault(); ev.stopPropagation();
      const id = a.dataset.cite || a.getAttribute('href').replace('#qa-cite-', '');
      const card = document.getElementById('qa-cite-' + id);
      if (!card) return;
      lastMarker = a;
      openCard(card);
      if (narrow()) {  // the card over the lower part of the screen, the answer stays in view above it
        const body = sheet.querySelector('.qa-sheet-body');
        const copy = card.cloneNode(true);
        copy.removeAttribute('id'); copy.open = true; copy.classList.remove('qa-flash');
        body.replaceChildren(copy);
        sheet.hidden = false;
        a.scrollIntoView({block: 'start'});
        sheet.querySelector('.qa-back').focus({preventScroll: true});
      } else {
        card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
      }
      return;
    }
    const button = t.closest('#qa-chat .message-buttons button');
    if (button && /copy|复制/i.test((button.getAttribute('aria-label') || '') + (button.title || ''))) {
      // Gradio would copy the message's HTML source; copy what the reader sees, [n] markers included
      const text = plainText(rowOf(button.closest('.message-buttons')));
      if (!text) return;
      ev.preventDefault(); ev.stopImmediatePropagation();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text);
      } else {
        const area = document.createElement('textarea');
        area.value = text; area.style.position = 'fixed'; area.style.left = '-9999px';
        document.body.appendChild(area); area.select();
        try { document.execCommand('copy'); } finally { area.remove(); }
      }
      button.dataset.copied = '1';
    }
  }, true);

  // Gradio labels each message with its source (HTML for answers): label it with the text instead
  const relabel = () => {
    document.querySelectorAll('#qa-chat [data-testid="bot"], #qa-chat [data-testid="user"]').forEach(m => {
      const content = m.querySelector('.message-content');
      if (!content) return;
      const who = m.dataset.testid === 'user' ? 'Question · 问题: ' : 'Answer · 回答: ';
      const label = who + content.innerText.replace(/\s+/g, ' ').trim();
      if (m.getAttribute('aria-label') !== label) m.setAttribute('aria-label', label);
    });
  };
  let pending = false;
  const soon = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; relabel(); }); } };
  new MutationObserver(soon).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                        attributeFilter: ['aria-label']});
}
