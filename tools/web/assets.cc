#include "tools/web/assets.h"

#include <map>

namespace strata::tools::web {
namespace {

const std::string kStyle = R"css(
:root { --fg: #1d2430; --muted: #667085; --line: #d6dae1; --bg: #ffffff; --soft: #f5f7fa; --accent: #2f6fde; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
nav { display: flex; gap: 16px; align-items: center; padding: 8px 20px; border-bottom: 1px solid var(--line); background: var(--soft); }
nav .brand { font-weight: 700; color: var(--fg); }
nav #fresh { margin-left: auto; color: #b54708; }
main { padding: 12px 20px 40px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 20px; margin: 8px 0; word-break: break-all; }
h1 small { font-weight: 400; color: var(--muted); }
h2 { font-size: 15px; margin: 18px 0 6px; }
code, .id, .msg, .name { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.block { display: flex; align-items: flex-start; content-visibility: auto; contain-intrinsic-size: auto 1400px; }
.block svg.dag { flex: none; display: block; }
.rows { flex: 1; min-width: 0; }
.row { height: 28px; line-height: 28px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row:hover { background: var(--soft); }
.row .name { color: var(--muted); margin-right: 6px; }
.ref { display: inline-block; border: 1px solid #9ab8ef; background: #eaf1fd; border-radius: 10px; padding: 0 7px; line-height: 18px; margin-right: 4px; font-size: 12px; }
.ref.tag { border-color: #e2c36b; background: #fdf6e1; }
.metric { color: #027a48; margin-left: 8px; font-size: 12px; }
.sig { font-size: 12px; margin-left: 8px; }
.sig.ok { color: #027a48; } .sig.warn { color: #b54708; } .sig.bad { color: #d92d20; font-weight: 700; }
.pager { color: var(--muted); }
svg .edge { fill: none; stroke-width: 2; }
svg .node { stroke: #fff; stroke-width: 2; }
svg .node.merge { stroke: #1d2430; }
.l0 { stroke: #2f6fde; fill: #2f6fde; } .l1 { stroke: #e04f39; fill: #e04f39; } .l2 { stroke: #12a150; fill: #12a150; }
.l3 { stroke: #9a4fd6; fill: #9a4fd6; } .l4 { stroke: #d48806; fill: #d48806; } .l5 { stroke: #0e9aa7; fill: #0e9aa7; }
.l6 { stroke: #c2418f; fill: #c2418f; } .l7 { stroke: #5c6b7a; fill: #5c6b7a; }
svg .edge.l0, svg .edge.l1, svg .edge.l2, svg .edge.l3, svg .edge.l4, svg .edge.l5, svg .edge.l6, svg .edge.l7 { fill: none; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
table.kv th { color: var(--muted); font-weight: 500; }
table.kv td { font-family: ui-monospace, monospace; word-break: break-all; }
table.diff td:nth-child(n+4) { text-align: right; font-variant-numeric: tabular-nums; }
table.diff tr.same { color: var(--muted); }
table.compare tr.section th { padding-top: 14px; color: var(--muted); text-transform: uppercase; font-size: 12px; }
table.compare tr.differs td { background: #fffbeb; }
.best { color: var(--muted); font-size: 12px; }
.cols { display: flex; gap: 40px; flex-wrap: wrap; }
.toggle { border: 1px solid var(--line); border-radius: 4px; padding: 2px 8px; margin-right: 6px; }
.toggle.on { background: var(--accent); color: #fff; border-color: var(--accent); }
svg.graph .box rect { fill: var(--soft); stroke: #9aa4b2; }
svg.graph text { font: 12px ui-monospace, monospace; fill: var(--fg); }
svg.graph .op { fill: var(--accent); } svg.graph .shape { fill: var(--muted); }
svg.graph .wire { fill: none; stroke: #9aa4b2; stroke-width: 1.5; }
svg.bars rect { fill: var(--accent); } svg.bars text { font-size: 12px; fill: var(--fg); }
svg.plot .axis { stroke: #9aa4b2; } svg.plot .tick, svg.plot .label { font-size: 11px; fill: var(--muted); }
svg.plot .series polyline { fill: none; stroke-width: 2; }
svg.plot .series circle { stroke: #fff; stroke-width: 1; cursor: pointer; }
.s0 polyline { stroke: #2f6fde; } .s0 circle { fill: #2f6fde; } .s1 polyline { stroke: #e04f39; } .s1 circle { fill: #e04f39; }
.s2 polyline { stroke: #12a150; } .s2 circle { fill: #12a150; } .s3 polyline { stroke: #9a4fd6; } .s3 circle { fill: #9a4fd6; }
.s4 polyline { stroke: #d48806; } .s4 circle { fill: #d48806; } .s5 polyline { stroke: #0e9aa7; } .s5 circle { fill: #0e9aa7; }
.s6 polyline { stroke: #c2418f; } .s6 circle { fill: #c2418f; } .s7 polyline { stroke: #5c6b7a; } .s7 circle { fill: #5c6b7a; }
.key { border-left: 14px solid; padding-left: 6px; margin-right: 12px; }
.key.s0 { border-color: #2f6fde; } .key.s1 { border-color: #e04f39; } .key.s2 { border-color: #12a150; } .key.s3 { border-color: #9a4fd6; }
.key.s4 { border-color: #d48806; } .key.s5 { border-color: #0e9aa7; } .key.s6 { border-color: #c2418f; } .key.s7 { border-color: #5c6b7a; }
.hover { min-height: 20px; font-family: ui-monospace, monospace; }
.error { color: #d92d20; }
)css";

// Hover values on the curves, and a note when the log has new versions (the API is polled; the
// page itself changes only when reloaded, so a shared link stays what it showed).
const std::string kScript = R"js(
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const hover = document.getElementById('hover');
  if (hover) {
    for (const dot of document.querySelectorAll('svg.plot circle[data-value]')) {
      dot.addEventListener('mouseenter', () => { hover.textContent = dot.dataset.value; });
    }
  }
  const history = document.querySelector('.history[data-versions]');
  const fresh = document.getElementById('fresh');
  if (history && fresh) {
    const known = Number(history.dataset.versions);
    // Every 10 s while the tab is visible: the answer reads every record (300 ms of server CPU
    // at 10,000 versions).
    const poll = () => document.visibilityState !== 'visible' ? null : fetch('/api/log?all=1').then((r) => r.ok ? r.json() : null).then((log) => {
      if (log && log.versions.length > known) {
        fresh.hidden = false;
        fresh.textContent = (log.versions.length - known) + ' new version(s): reload to see them';
      }
    }).catch(() => {});
    setInterval(poll, 10000);
  }
});
)js";

const std::string kFavicon =
    R"svg(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="5" cy="4" r="3" fill="#2f6fde"/><circle cx="5" cy="12" r="3" fill="#2f6fde"/><circle cx="12" cy="8" r="3" fill="#e04f39"/><path d="M5 4v8M5 4l7 4" stroke="#2f6fde" stroke-width="1.5" fill="none"/></svg>)svg";

}  // namespace

const Asset* find_asset(const std::string& name) {
  static const std::map<std::string, Asset> assets = {{"style.css", {"text/css; charset=utf-8", &kStyle}},
                                                      {"app.js", {"text/javascript; charset=utf-8", &kScript}},
                                                      {"favicon.svg", {"image/svg+xml", &kFavicon}}};
  auto it = assets.find(name);
  return it == assets.end() ? nullptr : &it->second;
}

}  // namespace strata::tools::web
