/**
 * The test eID's own pages (in place of oidc-provider's devInteractions): choose a test person
 * and the assurance level, or cancel. Server-rendered, no script, in Vietnamese and English;
 * native form controls with labels, fieldsets and legends, so they work with a keyboard, a screen
 * reader and on a phone. Every value shown is escaped.
 */

export interface PagePerson {
  accountId: string;
  label: string;
}

export interface PageLevel {
  value: string;
  label: string;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.45; }
  body { margin: 0; padding: 1rem; }
  main { max-width: 36rem; margin: 0 auto; }
  .banner { border: 2px dashed #b45309; padding: .5rem .75rem; border-radius: .5rem; font-size: .95rem; }
  h1 { font-size: 1.5rem; margin: 1rem 0 .25rem; }
  fieldset { border: 1px solid #8884; border-radius: .5rem; margin: 1rem 0; padding: .5rem .75rem; }
  legend { font-weight: 600; padding: 0 .25rem; }
  .choice { display: flex; gap: .6rem; align-items: center; padding: .55rem .25rem; min-height: 2.75rem; }
  .choice input { width: 1.3rem; height: 1.3rem; margin: 0; flex: none; }
  .choice label { flex: 1; cursor: pointer; }
  .actions { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1rem; }
  button { font: inherit; min-height: 2.75rem; padding: .5rem 1.25rem; border-radius: .5rem; border: 1px solid #555; cursor: pointer; }
  button.primary { background: #1d4ed8; color: #fff; border-color: #1d4ed8; }
  :focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
  .muted { opacity: .8; font-size: .9rem; }
`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="banner" role="note"><strong>eID thử nghiệm / Test eID.</strong> <span lang="en">Synthetic people for demos and tests only: this is not VNeID.</span></p>
${body}
</main>
</body>
</html>`;
}

export function loginPage(input: {
  action: string;
  clientId: string;
  persons: readonly PagePerson[];
  levels: readonly PageLevel[];
  /** The level pre-selected (the first acceptable value the relying party asked for). */
  preferredLevel: string | undefined;
}): string {
  const persons = input.persons.length === 0
    ? '<p>Chưa có người thử nghiệm nào / <span lang="en">No test person yet (the demo registry may still be loading: reload in a moment).</span></p>'
    : input.persons.map((p, i) => `<div class="choice"><input type="radio" name="person" id="person-${i}" value="${escapeHtml(p.accountId)}" required${i === 0 ? ' checked' : ''}><label for="person-${i}">${escapeHtml(p.label)}</label></div>`).join('\n');
  const preferred = input.levels.some((l) => l.value === input.preferredLevel) ? input.preferredLevel : input.levels[0]?.value;
  const levels = input.levels.map((l, i) =>
    `<div class="choice"><input type="radio" name="acr" id="acr-${i}" value="${escapeHtml(l.value)}" required${l.value === preferred ? ' checked' : ''}><label for="acr-${i}">${escapeHtml(l.label)}</label></div>`).join('\n');
  return layout('Đăng nhập eID thử nghiệm / Test eID sign-in', `
<h1>Đăng nhập / <span lang="en">Sign in</span></h1>
<p class="muted"><span lang="en">Requested by</span> <code>${escapeHtml(input.clientId)}</code></p>
<form method="post" action="${escapeHtml(input.action)}">
<fieldset>
<legend>Chọn người thử nghiệm / <span lang="en">Choose a test person</span></legend>
${persons}
</fieldset>
<fieldset>
<legend>Mức đảm bảo / <span lang="en">Assurance level</span></legend>
${levels}
</fieldset>
<div class="actions">
<button class="primary" type="submit" name="action" value="login">Đăng nhập / <span lang="en">Sign in</span></button>
<button type="submit" name="action" value="cancel" formnovalidate>Hủy / <span lang="en">Cancel</span></button>
</div>
</form>`);
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}
