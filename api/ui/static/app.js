// pixring investigator page: search a key/user/device/ring, draw its subgraph (cytoscape, fCoSE force-directed
// layout, labels kept apart), click a node to expand it, read a ring's evidence in words and its timeline, trace a
// transaction, and work the case queue (open a case, record a disposition). Talks to /v1 with the bearer token.
// Everything that comes from data is written with textContent, never as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; };
  const tokenInput = $("token");
  tokenInput.value = sessionStorage.getItem("pixring-token") || "";
  tokenInput.addEventListener("change", () => { sessionStorage.setItem("pixring-token", tokenInput.value); showHint(); loadQueue(); loadRings(); });

  // fCoSE (vendored by build.sh) registers itself when cytoscape is loaded first; cose is the fallback
  const HAS_FCOSE = typeof window.cytoscapeFcose === "function";

  const COLORS = { usuario: "#1f77b4", chave: "#2ca02c", dispositivo: "#ff7f0e", anel: "#d62728" };
  const cy = cytoscape({
    container: $("cy"),
    elements: [],
    minZoom: 0.2, maxZoom: 3,
    style: [
      { selector: "node", style: { "background-color": (n) => COLORS[n.data("tipo")] || "#888", "label": "data(label)",
          "font-size": 9, "width": 18, "height": 18, "text-valign": "bottom", "text-margin-y": 2, "color": "#222",
          "text-background-color": "#fff", "text-background-opacity": 0.85, "text-background-padding": 1, "min-zoomed-font-size": 0 } },
      { selector: "node[?centro]", style: { "border-width": 3, "border-color": "#000", "width": 26, "height": 26 } },
      { selector: "node[?suspeito]", style: { "shape": "diamond" } },
      { selector: "edge", style: { "width": 1.2, "line-color": "#aab", "target-arrow-shape": "triangle",
          "target-arrow-color": "#aab", "curve-style": "bezier" } },
      { selector: "edge[tipo = 'TRANSFERIU'], edge[tipo = 'PAGOU']", style: { "line-color": "#d62728", "target-arrow-color": "#d62728" } },
      { selector: "edge[?rastreio]", style: { "line-color": "#9467bd", "target-arrow-color": "#9467bd", "width": 3 } },
      { selector: "edge:selected, edge.hover", style: { "label": "data(label)", "font-size": 8, "text-background-color": "#fff", "text-background-opacity": 1 } },
    ],
    layout: { name: "grid" },
  });
  window.pixringCy = cy; // for the end-to-end test and the browser console
  cy.on("mouseover", "edge", (e) => e.target.addClass("hover"));
  cy.on("mouseout", "edge", (e) => e.target.removeClass("hover"));

  function status(text, isError) { const s = $("status"); s.textContent = text; s.className = isError ? "error" : ""; }

  async function api(path, opts) {
    const o = opts || {};
    const headers = { Authorization: "Bearer " + tokenInput.value };
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method: o.method || "GET", headers, body: o.body !== undefined ? JSON.stringify(o.body) : undefined });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { throw new Error((body.title || res.status) + (body.detail ? ": " + body.detail : "")); }
    return body;
  }
  const enc = encodeURIComponent;
  const money = (v) => v == null ? "–" : "R$ " + Number(v).toLocaleString("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const when = (t) => t ? new Date(t).toLocaleString("pt-BR", { dateStyle: "short", timeStyle: "short" }) : "–";
  const short = (s) => { s = String(s); return s.length > 14 ? s.slice(0, 6) + "…" + s.slice(-5) : s; };

  // --- layout: force-directed, then no two labels overlap ---------------------------------------------------
  function box(n) { return n.boundingBox({ includeLabels: true, includeOverlays: false }); }
  function separateLabels(maxRounds) {
    const nodes = cy.nodes().toArray();
    for (let round = 0; round < (maxRounds || 200); round++) {
      let moved = false;
      const boxes = nodes.map(box);
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) {
          const a = boxes[i], b = boxes[j];
          const ox = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1), oy = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
          if (ox <= 0 || oy <= 0) continue;
          moved = true;
          const pa = nodes[i].position(), pb = nodes[j].position();
          // push apart along the axis of the smaller overlap, half each, plus a small gap
          if (ox < oy) {
            const d = (ox / 2 + 2) * (pa.x <= pb.x ? 1 : -1);
            nodes[i].position({ x: pa.x - d, y: pa.y }); nodes[j].position({ x: pb.x + d, y: pb.y });
          } else {
            const d = (oy / 2 + 2) * (pa.y <= pb.y ? 1 : -1);
            nodes[i].position({ x: pa.x, y: pa.y - d }); nodes[j].position({ x: pb.x, y: pb.y + d });
          }
          boxes[i] = box(nodes[i]); boxes[j] = box(nodes[j]);
        }
      }
      if (!moved) return true;
    }
    return false;
  }
  function layout() {
    const opts = HAS_FCOSE
      ? { name: "fcose", quality: "proof", randomize: true, animate: false, nodeDimensionsIncludeLabels: true,
          nodeRepulsion: () => 9000, idealEdgeLength: () => 80, nodeSeparation: 90, packComponents: true }
      : { name: "cose", animate: false, randomize: false, nodeDimensionsIncludeLabels: true, nodeOverlap: 40,
          padding: 30, nodeRepulsion: () => 9000, idealEdgeLength: () => 80 };
    cy.layout(opts).run();
    separateLabels();
    cy.fit(undefined, 30);
  }
  window.pixringLayout = layout; // the test lays out a graph of its own

  function addGraph(g) {
    const els = [];
    for (const n of g.nodes) {
      if (cy.getElementById(n.key).length) continue;
      const score = n.props && n.props.score_gnn;
      els.push({ group: "nodes", data: { id: n.key, tipo: n.tipo, ident: n.id, label: n.label || short(n.id),
        props: n.props, suspeito: score != null && score >= 0.5, centro: n.key === g.center } });
    }
    for (const e of g.edges) {
      if (cy.getElementById(e.id).length) continue;
      const v = e.props && e.props.valor_total;
      els.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target, tipo: e.tipo,
        label: v != null ? money(v) : e.tipo } });
    }
    cy.add(els);
    layout();
    status(cy.nodes().length + " nós, " + cy.edges().length + " arestas" + (g.truncated ? " (limite atingido)" : ""));
  }

  async function loadSubgraph(kind, ident, hops, reset) {
    if (kind === "anel") { return loadRing(ident); }
    status("carregando…");
    try {
      const g = await api(`/v1/graph/${kind}/${enc(ident)}?hops=${hops}`);
      if (reset) cy.elements().remove();
      addGraph(g);
    } catch (err) { status(err.message, true); }
  }

  async function loadRing(id) {
    status("carregando anel…");
    try {
      const r = await api(`/v1/rings/${enc(id)}`);
      cy.elements().remove();
      const nodes = r.membros.map((m) => ({ key: "usuario:" + m.id, tipo: "usuario", id: m.id, label: short(m.id) + (m.nucleo ? " ★" : ""),
        props: { score_gnn: m.score_gnn, nucleo: m.nucleo } }));
      const known = new Set(nodes.map((n) => n.key));
      for (const f of r.fluxos) for (const u of [f.de, f.para]) {
        if (!known.has("usuario:" + u)) { known.add("usuario:" + u); nodes.push({ key: "usuario:" + u, tipo: "usuario", id: u, props: {} }); }
      }
      nodes.push({ key: "anel:" + r.ring.id, tipo: "anel", id: r.ring.id, label: "anel " + short(r.ring.id), props: {} });
      const edges = r.fluxos.map((f, i) => ({ id: "f" + i, tipo: "TRANSFERIU", source: "usuario:" + f.de, target: "usuario:" + f.para, props: { valor_total: f.valor_total } }))
        .concat(r.membros.map((m) => ({ id: "m" + m.id, tipo: "MEMBRO_DE", source: "usuario:" + m.id, target: "anel:" + r.ring.id, props: {} })));
      addGraph({ nodes, edges, center: "anel:" + r.ring.id, truncated: false });
      showRing(r);
      showTimeline(r);
    } catch (err) { status(err.message, true); }
  }

  // --- evidence in words -------------------------------------------------------------------------------------
  const MOTIF_NAMES = { repasse: "repasse rápido", cadeia: "cadeia de repasses", ciclo: "ciclo de transferências",
    dispositivo_compartilhado: "dispositivo compartilhado", fan_in_jovem: "conta jovem recebendo de muitos" };
  const motifName = (k) => MOTIF_NAMES[k] || String(k).replace(/_/g, " ");
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  function motifSentence(k, m) {
    if (m == null || typeof m !== "object") return `Padrão de ${motifName(k)}.`;
    switch (k) {
      case "repasse": return `${plural(m.n || 0, "repasse", "repasses")} por ${plural((m.repassadores || []).length, "conta", "contas")}, ` +
        `${money(m.valor)} repassados de ${money(m.valor_recebido)} recebidos` +
        (m.atraso_mediano_min != null ? `, em mediana ${m.atraso_mediano_min} min após receber` : "") + ".";
      case "cadeia": return `${plural(m.n || 0, "cadeia", "cadeias")} de repasse (A → B → C) somando ${money(m.valor)}.`;
      case "ciclo": return `${plural(m.n || 0, "ciclo", "ciclos")} em que o dinheiro volta à origem` +
        ((m.comprimentos || []).length ? ` (comprimento ${m.comprimentos.join(", ")})` : "") + ".";
      case "dispositivo_compartilhado": return `${plural(m.n_dispositivos || 0, "dispositivo usado", "dispositivos usados")} por várias contas` +
        (m.recentes ? `, ${m.recentes} recentes` : "") + (m.falhas_login ? `, ${m.falhas_login} falhas de login` : "") + ".";
      case "fan_in_jovem": return `${plural(m.n || 0, "conta jovem recebeu", "contas jovens receberam")} de até ${m.max_remetentes_24h || "?"} remetentes em 24 h.`;
      default: return `${motifName(k)}: ${Object.entries(m).filter(([, v]) => typeof v !== "object").map(([a, v]) => `${a.replace(/_/g, " ")} ${v}`).join(", ")}.`;
    }
  }

  function evidenceSentences(ev, r) {
    const out = [];
    let e = ev;
    if (typeof e === "string") { try { e = JSON.parse(e); } catch (x) { e = null; } }
    if (e && typeof e === "object") {
      for (const why of e.razoes || []) out.push(String(why));
      const motivos = e.motivos;
      if (Array.isArray(motivos)) { if (motivos.length) out.push("Padrões encontrados: " + motivos.map(motifName).join(", ") + "."); }
      else if (motivos && typeof motivos === "object") for (const [k, m] of Object.entries(motivos)) out.push(motifSentence(k, m));
      if ((e.contas_jovens || []).length) out.push(`${plural(e.contas_jovens.length, "conta aberta", "contas abertas")} há pouco tempo.`);
      if (e.valor_repassado != null) out.push(`Valor repassado dentro do anel: ${money(e.valor_repassado)}.`);
    }
    const counts = {};
    for (const m of r.motivos || []) counts[m.motivo] = (counts[m.motivo] || 0) + 1;
    for (const [k, n] of Object.entries(counts)) if (!out.some((s) => s.toLowerCase().includes(motifName(k)))) out.push(`${plural(n, "ocorrência", "ocorrências")} de ${motifName(k)}.`);
    const rs = r.gnn && r.gnn.ring_score;
    if (rs && rs.score != null) out.push(`O modelo (GNN, versão ${rs.modelo_versao || "?"}) dá ao anel score ${Number(rs.score).toFixed(2)}` +
      (rs.n_sinalizados != null ? `, com ${rs.n_sinalizados} de ${rs.n_membros} membros sinalizados.` : "."));
    return out.length ? out : ["Sem evidências registradas para este anel."];
  }

  function showRing(r) {
    const body = $("ring-body"); body.textContent = "";
    const head = el("p");
    head.append(el("b", r.ring.id, null)); head.lastChild.id = "ring-id";
    head.append(" — risco ", el("span", Number(r.ring.risco || 0).toFixed(2), "risk"),
      `, ${r.membros.length} membros, em risco ${money(r.ring.valor_em_risco)}, situação ${r.ring.status || (r.ring.ativo ? "ativo" : "retirado")}`);
    body.append(head, el("p", `entrou ${money(r.valor_entrada)} · circulou dentro ${money(r.valor_interno)} · saiu ${money(r.valor_saida)}`));
    const counts = {};
    for (const m of r.motivos) counts[m.motivo] = (counts[m.motivo] || 0) + 1;
    const mp = el("p", "motivos: "); const ms = el("span", Object.entries(counts).map(([k, v]) => `${k} ×${v}`).join(", ") || "–"); ms.id = "ring-motifs"; mp.append(ms);
    body.append(mp, el("h3", "por que é suspeito"));
    const ul = el("ul"); ul.id = "ring-evidence";
    for (const s of evidenceSentences(r.evidencias, r)) ul.append(el("li", s));
    body.append(ul);
    const expl = Object.entries((r.gnn && r.gnn.explicacoes) || {}).slice(0, 5);
    if (expl.length) {
      const ex = el("ul");
      for (const [id, e] of expl) ex.append(el("li", `${short(id)}: score ${e.score != null ? Number(e.score).toFixed(2) : "–"} (${e.metodo || "modelo"})`));
      body.append(el("h3", "membros mais suspeitos segundo o modelo"), ex);
    }
    const open = el("button", "abrir caso deste anel"); open.id = "ring-open-case";
    open.addEventListener("click", () => openCase("anel", r.ring.id));
    body.append(open);
  }

  // --- timeline of the ring's transfers (per pair: first and last transfer, count, value) --------------------
  function showTimeline(r) {
    const box = $("ring-timeline"); box.textContent = "";
    const items = [];
    for (const f of r.fluxos) if (f.primeiro) items.push({ t0: Date.parse(f.primeiro), t1: Date.parse(f.ultimo || f.primeiro),
      text: `${short(f.de)} → ${short(f.para)}: ${plural(f.n || 1, "transferência", "transferências")}, ${money(f.valor_total)}${f.interno ? "" : (f.para && r.membros.some((m) => m.id === f.para) ? " (entrada)" : " (saída)")}` });
    for (const m of r.motivos || []) if (m.inicio) items.push({ t0: Date.parse(m.inicio), t1: Date.parse(m.fim || m.inicio), motif: true,
      text: `${motifName(m.motivo)}${m.valor != null ? ": " + money(m.valor) : ""} (${(m.usuarios || []).length} contas)` });
    $("timeline-panel").hidden = !items.length;
    if (!items.length) return;
    items.sort((a, b) => a.t0 - b.t0);
    const lo = items[0].t0, hi = Math.max(...items.map((i) => i.t1)), span = Math.max(hi - lo, 1);
    box.append(el("p", `de ${when(lo)} a ${when(hi)}`, "hint"));
    const ol = el("ol"); ol.className = "timeline";
    for (const it of items) {
      const li = el("li", null, it.motif ? "motif" : "flow");
      const track = el("div", null, "track"), bar = el("div", null, "bar");
      bar.style.left = (100 * (it.t0 - lo) / span) + "%";
      bar.style.width = Math.max(1.5, 100 * (it.t1 - it.t0) / span) + "%";
      track.append(bar);
      li.append(el("span", when(it.t0), "when"), el("span", it.text, "what"), track);
      ol.append(li);
    }
    box.append(ol);
  }

  async function trace(id) {
    status("rastreando…");
    try {
      const t = await api(`/v1/transactions/${enc(id)}/trace`);
      const body = $("trace-body"); body.textContent = "";
      const p = el("p", `valor inicial ${money(t.valor_inicial)} · `); const b = el("b", "recuperável "); const rec = el("span", money(t.valor_recuperavel)); rec.id = "trace-recoverable";
      b.append(rec); p.append(b); if (t.truncado) p.append(" (truncado)");
      const table = el("table"); const hr = el("tr"); for (const h of ["salto", "de", "para", "rastreado"]) hr.append(el("th", h)); table.append(hr);
      for (const h of t.hops) { const tr = el("tr"); for (const v of [h.hop, h.de, h.para, money(h.valor_rastreado)]) tr.append(el("td", v)); table.append(tr); }
      body.append(p, table);
      const nodes = [], edges = [], seen = new Set();
      for (const h of t.hops) for (const u of [h.de, h.para]) if (u && !seen.has(u)) { seen.add(u); nodes.push({ key: "usuario:" + u, tipo: "usuario", id: u, props: {} }); }
      t.hops.forEach((h) => edges.push({ id: "t:" + h.id_transacao, tipo: "TRACE", source: "usuario:" + h.de, target: "usuario:" + h.para, props: { valor_total: h.valor_rastreado } }));
      addGraph({ nodes, edges, center: null, truncated: t.truncado });
      cy.edges().filter((e) => e.id().startsWith("t:")).data("rastreio", true);
      status(`rastreio: ${t.hops.length} transferências, recuperável ${money(t.valor_recuperavel)}`);
    } catch (err) { status(err.message, true); }
  }

  async function loadRings() {
    try {
      const page = await api("/v1/rings?limit=10");
      const ol = $("rings-list"); ol.textContent = "";
      for (const r of page.items) {
        const li = el("li", `${short(r.id)} — risco ${Number(r.risco || 0).toFixed(2)}, ${r.tamanho} membros, ${money(r.valor_em_risco)}`);
        li.title = r.id;
        li.addEventListener("click", () => { $("kind").value = "anel"; $("ident").value = r.id; loadRing(r.id); });
        ol.appendChild(li);
      }
    } catch (err) { /* no token yet */ }
  }

  // --- cases: the queue (ordered by the API: risk × value at risk, sized to the analysts' capacity) ---------
  const DISPOSITIONS = { mula_confirmada: "mula confirmada", descartado: "descartado", precisa_informacao: "precisa de informação" };
  let currentCase = null;

  async function loadQueue() {
    const ol = $("queue-list");
    try {
      const q = await api("/v1/cases/queue");
      $("queue-cap").textContent = `(${q.itens.length} de capacidade ${q.capacidade})`;
      ol.textContent = "";
      for (const it of q.itens) {
        const li = el("li", null, "queue-item");
        li.dataset.tipo = it.tipo; li.dataset.id = it.id;
        li.append(el("b", `${it.tipo === "anel" ? "anel" : "conta"} ${short(it.id)}`),
          ` — risco ${Number(it.risco || 0).toFixed(2)} × ${money(it.valor_em_risco)} = prioridade ${Number(it.prioridade || 0).toFixed(1)} · `,
          el("span", it.id_caso ? `caso ${it.status}` : "sem caso", "case-state"));
        li.title = it.id;
        li.addEventListener("click", () => pickQueueItem(it));
        ol.append(li);
      }
      if (!q.itens.length) ol.append(el("li", "fila vazia", "hint"));
    } catch (err) { ol.textContent = ""; ol.append(el("li", "fila indisponível: " + err.message, "hint")); }
  }

  async function pickQueueItem(it) {
    if (it.tipo === "anel") { $("kind").value = "anel"; $("ident").value = it.id; loadRing(it.id); }
    else { $("kind").value = "usuario"; $("ident").value = it.id; loadSubgraph("usuario", it.id, 1, true); }
    if (it.id_caso) await showCase(it.id_caso); else await openCase(it.tipo, it.id);
  }

  async function openCase(tipo, id) {
    try {
      const c = await api("/v1/cases", { method: "POST", body: { tipo, id } });
      await showCase(c.id_caso);
      loadQueue();
    } catch (err) {
      // already open (409): show the open case from the queue instead
      const q = await api("/v1/cases/queue").catch(() => ({ itens: [] }));
      const it = q.itens.find((i) => i.tipo === tipo && i.id === id && i.id_caso);
      if (it) await showCase(it.id_caso); else status("caso: " + err.message, true);
    }
  }

  async function showCase(idCaso) {
    try {
      const c = await api(`/v1/cases/${enc(idCaso)}`);
      currentCase = c;
      $("case-panel").hidden = false;
      $("case-id").textContent = c.id_caso;
      $("case-summary").textContent = `${c.tipo === "anel" ? "anel" : "conta"} ${c.id} — situação: ${DISPOSITIONS[c.status] || c.status}`;
      const ol = $("case-history"); ol.textContent = "";
      for (const h of c.historico || []) ol.append(el("li", `${when(h.em)} · ${DISPOSITIONS[h.disposicao] || h.disposicao || "aberto"} por ${h.por || "?"}${h.notas ? ": " + h.notas : ""}`));
      if (!(c.historico || []).length) ol.append(el("li", "sem disposições ainda", "hint"));
      $("case-status").textContent = "";
    } catch (err) { status("caso: " + err.message, true); }
  }

  $("disposition-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!currentCase) return;
    const body = { disposicao: $("disposicao").value };
    const notas = $("notas").value.trim(); if (notas) body.notas = notas;
    try {
      await api(`/v1/cases/${enc(currentCase.id_caso)}/disposicoes`, { method: "POST", body });
      $("notas").value = "";
      await showCase(currentCase.id_caso);
      $("case-status").textContent = "registrado: " + DISPOSITIONS[body.disposicao];
      loadQueue();
    } catch (err) { $("case-status").textContent = err.message; $("case-status").className = "error"; }
  });

  // --- first use: how to get a token --------------------------------------------------------------------------
  async function showHint() {
    const box = $("token-hint");
    if (tokenInput.value) { box.hidden = true; cy.resize(); return; }
    try {
      const h = await (await fetch("hint.json")).json();
      box.textContent = "";
      if (h.laptop) {
        box.append("Primeiro acesso? Neste laptop o token de investigador é ");
        const code = el("code", h.token); code.id = "token-hint-value"; box.append(code, ` (padrão de ${h.variavel}). `);
        const use = el("button", "usar este token"); use.type = "button";
        use.addEventListener("click", () => { tokenInput.value = h.token; tokenInput.dispatchEvent(new Event("change")); });
        box.append(use);
      } else {
        box.append(`Informe seu token de investigador: ${h.texto}.`);
      }
      box.hidden = false;
    } catch (err) { box.hidden = true; }
  }

  cy.on("tap", "node", (evt) => {
    const n = evt.target;
    const dl = $("node-props"); dl.textContent = "";
    const props = { tipo: n.data("tipo"), id: n.data("ident"), ...n.data("props") };
    for (const [k, v] of Object.entries(props)) { if (v == null || typeof v === "object") continue; dl.append(el("dt", k.replace(/_/g, " ")), el("dd", String(v))); }
    if (n.data("tipo") === "anel") { loadRing(n.data("ident")); return; }
    loadSubgraph(n.data("tipo"), n.data("ident"), 1, false);
  });
  $("search").addEventListener("click", () => {
    sessionStorage.setItem("pixring-token", tokenInput.value);
    showHint();
    loadSubgraph($("kind").value, $("ident").value.trim(), $("hops").value, true);
    loadRings();
    loadQueue();
  });
  $("ident").addEventListener("keydown", (e) => { if (e.key === "Enter") $("search").click(); });
  $("trace-btn").addEventListener("click", () => trace($("trace-id").value.trim()));
  showHint();
  if (tokenInput.value) { loadRings(); loadQueue(); }
})();
