// pixring investigator page: search a key/user/device/ring, draw its subgraph (cytoscape), click a node to
// expand it, show ring evidence and a fund trace. Talks to /v1 with the bearer token typed above.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const tokenInput = $("token");
  tokenInput.value = sessionStorage.getItem("pixring-token") || "";
  tokenInput.addEventListener("change", () => sessionStorage.setItem("pixring-token", tokenInput.value));

  const COLORS = { usuario: "#1f77b4", chave: "#2ca02c", dispositivo: "#ff7f0e", anel: "#d62728" };
  const cy = cytoscape({
    container: $("cy"),
    elements: [],
    style: [
      { selector: "node", style: { "background-color": (n) => COLORS[n.data("tipo")] || "#888", "label": "data(label)",
          "font-size": 8, "width": 18, "height": 18, "text-valign": "bottom", "color": "#333" } },
      { selector: "node[?centro]", style: { "border-width": 3, "border-color": "#000", "width": 26, "height": 26 } },
      { selector: "node[?suspeito]", style: { "shape": "diamond" } },
      { selector: "edge", style: { "width": 1.2, "line-color": "#aab", "target-arrow-shape": "triangle",
          "target-arrow-color": "#aab", "curve-style": "bezier", "label": "data(label)", "font-size": 6 } },
      { selector: "edge[tipo = 'TRANSFERIU'], edge[tipo = 'PAGOU']", style: { "line-color": "#d62728", "target-arrow-color": "#d62728" } },
      { selector: "edge[?rastreio]", style: { "line-color": "#9467bd", "target-arrow-color": "#9467bd", "width": 3 } },
    ],
    layout: { name: "grid" },
  });
  window.pixringCy = cy; // for the end-to-end test and the browser console

  function status(text, isError) { const s = $("status"); s.textContent = text; s.className = isError ? "error" : ""; }

  async function api(path) {
    const res = await fetch(path, { headers: { Authorization: "Bearer " + tokenInput.value } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { throw new Error((body.title || res.status) + (body.detail ? ": " + body.detail : "")); }
    return body;
  }
  const enc = encodeURIComponent;
  const money = (v) => v == null ? "–" : "R$ " + Number(v).toLocaleString("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function addGraph(g) {
    const els = [];
    for (const n of g.nodes) {
      if (cy.getElementById(n.key).length) continue;
      const score = n.props && n.props.score_gnn;
      els.push({ group: "nodes", data: { id: n.key, tipo: n.tipo, ident: n.id, label: n.label || n.id,
        props: n.props, suspeito: score != null && score >= 0.5, centro: n.key === g.center } });
    }
    for (const e of g.edges) {
      if (cy.getElementById(e.id).length) continue;
      const v = e.props && e.props.valor_total;
      els.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target, tipo: e.tipo,
        label: v != null ? money(v) : "" } });
    }
    cy.add(els);
    cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: () => 6000 }).run();
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
      const nodes = r.membros.map((m) => ({ key: "usuario:" + m.id, tipo: "usuario", id: m.id, label: m.id + (m.nucleo ? " ★" : ""),
        props: { score_gnn: m.score_gnn, nucleo: m.nucleo } }));
      const known = new Set(nodes.map((n) => n.key));
      for (const f of r.fluxos) for (const u of [f.de, f.para]) {
        if (!known.has("usuario:" + u)) { known.add("usuario:" + u); nodes.push({ key: "usuario:" + u, tipo: "usuario", id: u, label: u, props: {} }); }
      }
      nodes.push({ key: "anel:" + r.ring.id, tipo: "anel", id: r.ring.id, label: "anel " + r.ring.id, props: {} });
      const edges = r.fluxos.map((f, i) => ({ id: "f" + i, tipo: "TRANSFERIU", source: "usuario:" + f.de, target: "usuario:" + f.para, props: { valor_total: f.valor_total } }))
        .concat(r.membros.map((m) => ({ id: "m" + m.id, tipo: "MEMBRO_DE", source: "usuario:" + m.id, target: "anel:" + r.ring.id, props: {} })));
      addGraph({ nodes, edges, center: "anel:" + r.ring.id, truncated: false });
      showRing(r);
    } catch (err) { status(err.message, true); }
  }

  function showRing(r) {
    const motifs = {};
    for (const m of r.motivos) motifs[m.motivo] = (motifs[m.motivo] || 0) + 1;
    const expl = Object.entries((r.gnn && r.gnn.explicacoes) || {}).slice(0, 5)
      .map(([id, e]) => `<li>${id}: score ${e.score != null ? Number(e.score).toFixed(2) : "–"}</li>`).join("");
    $("ring-body").innerHTML = `
      <p><b id="ring-id"></b> — risco <span class="risk">${Number(r.ring.risco || 0).toFixed(2)}</span>,
      ${r.membros.length} membros, em risco ${money(r.ring.valor_em_risco)}, status ${r.ring.status || (r.ring.ativo ? "ativo" : "retirado")}</p>
      <p>entrada ${money(r.valor_entrada)} · interno ${money(r.valor_interno)} · saída ${money(r.valor_saida)}</p>
      <p>motivos: <span id="ring-motifs"></span></p>
      <ul>${expl}</ul>
      <pre id="ring-evidence"></pre>`;
    $("ring-id").textContent = r.ring.id;
    $("ring-motifs").textContent = Object.entries(motifs).map(([k, v]) => `${k} ×${v}`).join(", ") || "–";
    $("ring-evidence").textContent = JSON.stringify(r.evidencias, null, 1);
  }

  async function trace(id) {
    status("rastreando…");
    try {
      const t = await api(`/v1/transactions/${enc(id)}/trace`);
      const rows = t.hops.map((h) => `<tr><td>${h.hop}</td><td class="de"></td><td class="para"></td><td>${money(h.valor_rastreado)}</td></tr>`).join("");
      $("trace-body").innerHTML = `<p>valor inicial ${money(t.valor_inicial)} · <b>recuperável <span id="trace-recoverable">${money(t.valor_recuperavel)}</span></b>${t.truncado ? " (truncado)" : ""}</p>
        <table><tr><th>salto</th><th>de</th><th>para</th><th>rastreado</th></tr>${rows}</table>`;
      const trs = $("trace-body").querySelectorAll("tr");
      t.hops.forEach((h, i) => { trs[i + 1].querySelector(".de").textContent = h.de; trs[i + 1].querySelector(".para").textContent = h.para; });
      const nodes = [], edges = [], seen = new Set();
      for (const h of t.hops) for (const u of [h.de, h.para]) if (u && !seen.has(u)) { seen.add(u); nodes.push({ key: "usuario:" + u, tipo: "usuario", id: u, label: u, props: {} }); }
      t.hops.forEach((h) => edges.push({ id: "t:" + h.id_transacao, tipo: "TRACE", source: "usuario:" + h.de, target: "usuario:" + h.para, props: { valor_total: h.valor_rastreado } }));
      addGraph({ nodes, edges, center: null, truncated: t.truncado });
      cy.edges().filter((e) => e.id().startsWith("t:")).data("rastreio", true);
      status(`rastreio: ${t.hops.length} transferências, recuperável ${money(t.valor_recuperavel)}`);
    } catch (err) { status(err.message, true); }
  }

  async function loadRings() {
    try {
      const page = await api("/v1/rings?limit=10");
      const ol = $("rings-list"); ol.innerHTML = "";
      for (const r of page.items) {
        const li = document.createElement("li");
        li.textContent = `${r.id} — risco ${Number(r.risco || 0).toFixed(2)}, ${r.tamanho} membros, ${money(r.valor_em_risco)}`;
        li.addEventListener("click", () => { $("kind").value = "anel"; $("ident").value = r.id; loadRing(r.id); });
        ol.appendChild(li);
      }
    } catch (err) { /* no token yet */ }
  }

  cy.on("tap", "node", (evt) => {
    const n = evt.target;
    $("node-props").textContent = JSON.stringify({ tipo: n.data("tipo"), id: n.data("ident"), ...n.data("props") }, null, 1);
    if (n.data("tipo") === "anel") { loadRing(n.data("ident")); return; }
    loadSubgraph(n.data("tipo"), n.data("ident"), 1, false);
  });
  $("search").addEventListener("click", () => {
    sessionStorage.setItem("pixring-token", tokenInput.value);
    loadSubgraph($("kind").value, $("ident").value.trim(), $("hops").value, true);
    loadRings();
  });
  $("ident").addEventListener("keydown", (e) => { if (e.key === "Enter") $("search").click(); });
  $("trace-btn").addEventListener("click", () => trace($("trace-id").value.trim()));
  if (tokenInput.value) loadRings();
})();
