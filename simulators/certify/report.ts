// The certification reports: JSON for machines, one self-contained HTML page for people (inline CSS, no scripts, no
// external assets). Messages in a report are already masked by describe(); as a last line of defence every clear
// identifier the run handed out is searched for in the finished text and masked if it is there.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CaseResult, Report, StepResult } from './runner.ts';

export const REPORT_JSON = 'certification-report.json';
export const REPORT_HTML = 'certification-report.html';

/** Shorter strings are not searched for: they could be anything (a STAN, an amount). */
const MIN_IDENTIFIER_CHARS = 8;

/** NHI numbers keep their last 4 digits, ID numbers their first character — as the switch's logs show them. */
export function maskIdentifier(v: string): string {
  if (/^\d+$/.test(v)) return '*'.repeat(Math.max(0, v.length - 4)) + v.slice(-4);
  return v.slice(0, 1) + '*'.repeat(v.length - 1);
}

/** Masks every occurrence of the given identifiers in `text`. */
export function scrub(text: string, identifiers: Iterable<string>): string {
  let out = text;
  for (const id of identifiers) {
    if (id.length < MIN_IDENTIFIER_CHARS || !out.includes(id)) continue;
    out = out.split(id).join(maskIdentifier(id));
  }
  return out;
}

export async function writeReports(report: Report, dir: string, identifiers: string[] = []): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, REPORT_JSON);
  const html = path.join(dir, REPORT_HTML);
  const files = { json: path.resolve(json), html: path.resolve(html) };
  await writeFile(json, scrub(JSON.stringify({ ...report, files }, null, 2), identifiers) + '\n');
  await writeFile(html, scrub(renderHtml(report), identifiers));
  return files;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2327;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;margin-bottom:16px}
.summary{display:flex;gap:12px;margin:12px 0 20px}
.box{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:90px}.box b{display:block;font-size:20px}
.verdict{font-size:18px;font-weight:600;padding:10px 14px;border-radius:6px;display:inline-block}
.ok{background:#e3f4e8;color:#13612e}.bad{background:#fbe4e4;color:#8a1c1c}.skip{background:#f3f0e0;color:#6b5a00}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #e6e6e6;text-align:left;padding:4px 8px;vertical-align:top}
th{background:#f6f7f7;font-weight:600}
.badge{font-size:12px;font-weight:600;padding:1px 8px;border-radius:10px;white-space:nowrap}
.passed{background:#e3f4e8;color:#13612e}.failed{background:#fbe4e4;color:#8a1c1c}.skipped,.not_run{background:#f3f0e0;color:#6b5a00}
details{border:1px solid #e3e3e3;border-radius:6px;margin:8px 0;padding:6px 10px}summary{cursor:pointer;font-weight:600}
code,pre,.msg{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.msg{word-break:break-all}pre{background:#f7f7f7;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.fail{color:#8a1c1c}.num{text-align:right;white-space:nowrap}
`;

function badge(status: string): string {
  return `<span class="badge ${esc(status)}">${esc(status)}</span>`;
}

function stepRow(s: StepResult): string {
  const failures = s.failures.length ? `<div class="fail">${s.failures.map((f) => esc(f)).join('<br>')}</div>` : '';
  return `<tr><td class="num">${s.step}</td><td>${esc(s.label)}<br><small>${esc(s.kind)} · ${esc(s.conn)}</small>${failures}</td>` +
    `<td>${badge(s.status)}</td><td class="num">${s.status === 'not_run' ? '' : `${s.startedMs} ms`}</td>` +
    `<td class="num">${s.status === 'not_run' ? '' : `${s.durationMs} ms`}</td>` +
    `<td class="msg">${s.request ? `→ ${esc(s.request)}` : ''}${s.response ? `<br>← ${esc(s.response)}` : ''}</td></tr>`;
}

function caseSection(c: CaseResult): string {
  const people = Object.entries(c.people).map(([r, k]) => `${r} (${k})`).join(', ');
  const transcript = c.transcript.map((l) => `${String(l.atMs).padStart(6)} ms ${l.conn.padEnd(6)} ${l.dir === 'out' ? '→' : l.dir === 'in' ? '←' : '·'} ${l.text}`).join('\n');
  return `<details id="${esc(c.name)}"${c.status === 'failed' ? ' open' : ''}><summary>${badge(c.status)} ${esc(c.name)} <small>(${c.durationMs} ms)</small></summary>
<p>${esc(c.description)}<br><small>Spec: ${esc(c.spec)} · file ${esc(c.file)}${people ? ` · people: ${esc(people)}` : ''}${c.tags.length ? ` · tags: ${esc(c.tags.join(', '))}` : ''}</small></p>
${c.reason ? `<p class="${c.status === 'failed' ? 'fail' : ''}">${esc(c.reason)}</p>` : ''}
${c.steps.length ? `<table><tr><th>#</th><th>Step</th><th>Result</th><th>At</th><th>Took</th><th>Messages (identifiers masked)</th></tr>${c.steps.map(stepRow).join('')}</table>` : ''}
${transcript ? `<details><summary>Transcript</summary><pre>${esc(transcript)}</pre></details>` : ''}
</details>`;
}

export function renderHtml(r: Report): string {
  const t = r.totals;
  const verdict = r.passed
    ? `<span class="verdict ok">Certified: all ${t.cases} cases passed</span>`
    : `<span class="verdict bad">Not certified: ${t.failed} failed, ${t.skipped} skipped of ${t.cases}</span>`;
  const rows = r.cases
    .map((c) => `<tr><td>${badge(c.status)}</td><td><a href="#${esc(c.name)}">${esc(c.name)}</a></td><td>${esc(c.spec)}</td><td class="num">${c.durationMs} ms</td><td>${esc(c.reason ?? '')}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Certification report — bank ${esc(r.bank)} against ${esc(r.switch)}</title>
<style>${CSS}</style></head><body>
<h1>Partner interface certification</h1>
<div class="meta">Switch ${esc(r.switch)} · bank ${esc(r.bank)} · MAC ${r.mac ? 'on' : 'off'} · ${esc(r.startedAt)} → ${esc(r.finishedAt)} (${r.durationMs} ms)</div>
${verdict}
<div class="summary"><div class="box">cases<b>${t.cases}</b></div><div class="box">passed<b>${t.passed}</b></div><div class="box">failed<b>${t.failed}</b></div><div class="box">skipped<b>${t.skipped}</b></div></div>
<table><tr><th>Result</th><th>Case</th><th>Spec</th><th>Took</th><th>Reason</th></tr>
${rows}
</table>
<h2>Cases</h2>
${r.cases.map(caseSection).join('\n')}
</body></html>
`;
}
