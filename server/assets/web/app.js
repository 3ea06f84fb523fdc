// Fieldwork web app: refreshes page regions when records the user sees
// change (server-sent events from /web/events), and lets deals be dragged
// between stages on the pipeline board. Every page works without it: the
// regions are plain server-rendered HTML and every action is a form.
'use strict';

(function () {
  const body = document.body;
  const liveKinds = (body.dataset.live || '').split(' ').filter(Boolean);
  const status = document.getElementById('live-status');
  let timer = null;
  let busy = false;
  let again = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  // A region holding a form the user has started to fill in (or one that
  // shows refusals) is not replaced: nothing typed is lost.
  function keep(region) {
    if (region.hasAttribute('data-hold')) return true;
    if (!region.hasAttribute('data-keep-when-dirty')) return false;
    const active = document.activeElement;
    if (active && region.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    for (const el of region.querySelectorAll('input, textarea, select')) {
      if (el.type === 'hidden') continue;
      if (el.tagName === 'SELECT') {
        for (const o of el.options) if (o.selected !== o.defaultSelected) return true;
      } else if (el.value !== el.defaultValue) {
        return true;
      }
    }
    return false;
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const res = await fetch(window.location.href, {
        credentials: 'same-origin',
        headers: { Accept: 'text/html' },
      });
      if (res.redirected || res.status === 401) {
        window.location.reload();
        return;
      }
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      let kept = false;
      for (const region of document.querySelectorAll('[data-region]')) {
        const fresh = doc.getElementById(region.id);
        if (!fresh) continue;
        if (keep(region)) {
          kept = true;
          continue;
        }
        region.replaceWith(document.importNode(fresh, true));
      }
      bindBoard();
      say(kept ? 'This record changed elsewhere; reload to see it.' : 'Updated.');
    } catch (e) {
      say('Could not refresh; the page may be out of date.');
    } finally {
      busy = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 200);
  }

  if (liveKinds.length > 0 && 'EventSource' in window) {
    const source = new EventSource('/web/events');
    source.addEventListener('change', function (e) {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      const records = Array.isArray(data.records) ? data.records : [];
      if (records.some(function (r) { return liveKinds.indexOf(r.kind) >= 0; })) schedule();
    });
    source.addEventListener('refresh', schedule);
    source.addEventListener('signed-out', function () {
      source.close();
      window.location.reload();
    });
    source.addEventListener('open', function () {
      body.setAttribute('data-live-open', '1');
    });
  }

  // Drag a deal onto another column: sets the card's stage select and
  // submits its form (the same POST the Move button makes).
  function bindBoard() {
    for (const card of document.querySelectorAll('.deal[data-deal]')) {
      card.addEventListener('dragstart', function (e) {
        e.dataTransfer.setData('text/plain', card.dataset.deal);
        e.dataTransfer.effectAllowed = 'move';
      });
    }
    for (const column of document.querySelectorAll('.column[data-stage]')) {
      column.addEventListener('dragover', function (e) {
        e.preventDefault();
        column.classList.add('drop');
      });
      column.addEventListener('dragleave', function () {
        column.classList.remove('drop');
      });
      column.addEventListener('drop', function (e) {
        e.preventDefault();
        column.classList.remove('drop');
        const id = e.dataTransfer.getData('text/plain');
        const card = document.getElementById('deal-' + id);
        if (!card) return;
        const form = card.querySelector('form.move');
        const select = form && form.querySelector('select[name="stage"]');
        if (!select || select.value === column.dataset.stage) return;
        select.value = column.dataset.stage;
        form.submit();
      });
    }
  }

  bindBoard();

  // A model file chosen on the processes page is read into the text box
  // (the form posts text; without script, the text is pasted).
  for (const input of document.querySelectorAll('input[type=file][data-fills]')) {
    const pick = input.closest('.file-pick');
    if (pick) pick.hidden = false;
    input.addEventListener('change', async function () {
      const file = input.files && input.files[0];
      const box = document.getElementById(input.dataset.fills);
      if (!file || !box) return;
      box.value = await file.text();
      const format = document.getElementById(input.dataset.format);
      const ext = (file.name.split('.').pop() || '').toLowerCase();
      const chosen = { bpmn: 'bpmn', xml: 'bpmn', toml: 'toml', json: 'json' }[ext];
      if (format && chosen) format.value = chosen;
    });
  }
})();
